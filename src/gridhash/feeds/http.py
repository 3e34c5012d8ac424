"""HTTP with retries: exponential backoff on transport errors and 5xx, ``Retry-After``
on HTTP 429/503, and one clear :class:`FeedError` when the retries run out.

Built on httpx (imported lazily, so ``gridhash --help`` stays light).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from gridhash.feeds.errors import FeedError
from gridhash.feeds.store import redact_url

if TYPE_CHECKING:
    import httpx

#: Statuses worth another try: rate limit, busy or restarting server.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    Parameters
    ----------
    retries : int
        Further attempts after the first. [-]
    backoff_s : float
        First wait; doubled after each failure. [s]
    max_wait_s : float
        Longest single wait, also the cap on a server's ``Retry-After``. [s]
    timeout_s : float
        Connect/read timeout of one request. [s]
    """

    retries: int = 5
    backoff_s: float = 0.5
    max_wait_s: float = 30.0
    timeout_s: float = 30.0

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt ``attempt + 1``. [s]"""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_wait_s)
        return min(self.backoff_s * 2.0**attempt, self.max_wait_s)


def retry_after_s(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


class Connection:
    """An HTTP connection to one service: ``url`` (shown), ``policy``, ``concurrency``;
    closes its client on exit."""

    def __init__(self, url: str, policy: RetryPolicy | None, concurrency: int,
                 **client_kwargs: Any) -> None:
        from gridhash.feeds.store import redact_url

        self.url = redact_url(url)
        self.policy = policy or RetryPolicy()
        self.concurrency = max(1, concurrency)
        self._http: httpx.Client = client(self.policy, **client_kwargs)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def libraries(self) -> dict[str, str]:
        """The client libraries used (for the provenance)."""
        from gridhash.feeds.store import library_versions

        return library_versions("httpx")


def client(policy: RetryPolicy, **kwargs: Any) -> httpx.Client:
    """An httpx client with the policy's timeout (redirects followed)."""
    import httpx

    return httpx.Client(timeout=httpx.Timeout(policy.timeout_s), follow_redirects=True,
                        **kwargs)


def request(c: httpx.Client, method: str, url: str, policy: RetryPolicy, *,
            what: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
    """Send with retries; return the first response whose status is in ``ok`` or that
    is not worth retrying (the caller then explains it).

    Raises
    ------
    FeedError
        The server could not be reached, or kept answering a retryable status, after
        ``policy.retries`` further attempts.
    """
    import httpx

    shown = redact_url(url)
    last = ""
    for attempt in range(policy.retries + 1):
        wait = None
        try:
            resp = c.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if resp.status_code in ok or resp.status_code not in RETRY_STATUSES:
                return resp
            last = f"HTTP {resp.status_code} {resp.reason_phrase}".strip()
            wait = retry_after_s(resp) if resp.status_code in (429, 503) else None
        if attempt < policy.retries:
            time.sleep(policy.wait(attempt, wait))
    raise FeedError(
        f"cannot get {what}: {last} (after {policy.retries + 1} attempts)",
        source=shown,
        expected="a reachable server that answers (check the URL, the network, and that "
        "the service is running)",
    )
