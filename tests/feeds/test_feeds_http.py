"""Retry timing: backoff doubles up to a cap; ``Retry-After`` in seconds or as a date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from gridhash.feeds.http import RetryPolicy, retry_after_s
from gridhash.feeds.store import redact_url


def test_backoff_doubles_and_is_capped() -> None:
    p = RetryPolicy(backoff_s=0.5, max_wait_s=3.0)
    assert [p.wait(k) for k in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert p.wait(0, retry_after=10.0) == 3.0 and p.wait(3, retry_after=0.2) == 0.2


def test_retry_after_forms() -> None:
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": when})) == \
        pytest.approx(30, abs=2)
    assert retry_after_s(httpx.Response(429)) is None
    assert retry_after_s(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_redact_url_removes_credentials_and_tokens() -> None:
    assert redact_url("http://alice:s3cret@127.0.0.1:8332/") == "http://127.0.0.1:8332/"
    assert redact_url("https://x.eu/api?securityToken=abc&documentType=A44") == \
        "https://x.eu/api?securityToken=***&documentType=A44"
