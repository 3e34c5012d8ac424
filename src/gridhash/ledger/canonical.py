"""The ledger's canonical JSON and timestamps: defined once, used for every hash and signature.

Canonical JSON is ``json.dumps(value, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)`` encoded as UTF-8: object keys sorted,
no whitespace, non-ASCII characters written as themselves.  Only JSON's own
types are accepted (``dict`` with ``str`` keys, ``list``/``tuple``, ``str``,
``int``, ``float``, ``bool``, ``None``); NaN and infinities are refused, as are
non-string keys (``json`` would silently turn ``1`` into ``"1"``, and the value
read back would no longer be the value recorded).  Floats are written as
Python's shortest round-tripping ``repr``, so a float read back from the ledger
re-serialises to the same bytes.  A verifier in another language should hash
the stored payload *text* (which :mod:`gridhash.ledger.store` keeps verbatim)
rather than re-serialise a parsed value.

Timestamps are UTC, ISO 8601 with microseconds and a ``Z``
(``2027-01-01T00:00:00.000000Z``): fixed width, so they sort as text.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from gridhash.ledger.errors import PayloadError

__all__ = [
    "KIND_PATTERN",
    "TIMESTAMP_PATTERN",
    "canonical_json",
    "check_kind",
    "entry_leaf_bytes",
    "entry_leaf_bytes_many",
    "format_timestamp",
    "parse_timestamp",
]

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
"""Entry kinds: lower-case identifiers such as ``meter`` or ``safety_event``."""

TIMESTAMP_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _check(value: Any, where: str) -> None:
    """Refuse anything whose JSON would not read back as the same value."""
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(
                "not allowed in canonical JSON",
                field=where,
                value=value,
                expected="a finite number",
            )
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(
                    "object keys must be strings",
                    field=where,
                    value=key,
                    expected="a str key",
                )
            _check(item, f"{where}.{key}")
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    raise PayloadError(
        f"{type(value).__name__} is not a JSON type",
        field=where,
        value=value,
        expected="dict, list, str, int, float, bool or None",
    )


_CONTAINERS = (dict, list, tuple)


def _plain(value: Any) -> bool:
    """Fast path: every object key is exactly ``str`` (the encoder itself refuses NaN and
    foreign types); anything else goes through :func:`_check` for a precise message."""
    t = type(value)
    if t is dict:
        for key, item in value.items():
            if type(key) is not str or (type(item) in _CONTAINERS and not _plain(item)):
                return False
    elif t is list or t is tuple:
        for item in value:
            if type(item) in _CONTAINERS and not _plain(item):
                return False
    return True


def canonical_json(value: Any, *, where: str = "payload") -> bytes:
    """The canonical JSON bytes of ``value``.

    Parameters
    ----------
    value : Any
        A JSON value (see the module docstring for what is accepted).
    where : str
        Field path used in error messages.

    Returns
    -------
    bytes
        UTF-8, keys sorted, no whitespace.

    Raises
    ------
    PayloadError
        ``value`` holds something canonical JSON cannot represent exactly.
    """
    if not _plain(value):
        _check(value, where)  # raises with the field path, unless only str subclasses were seen
    try:
        return _ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates in a str
        raise PayloadError(
            "a string is not valid Unicode",
            field=where,
            value=exc.object[exc.start : exc.end],
            expected="text without lone surrogates",
        ) from None
    except (ValueError, TypeError):  # NaN or a foreign type: say where
        _check(value, where)
        raise


def check_kind(kind: Any) -> str:
    """Return ``kind`` if it is a valid entry kind, else raise :class:`PayloadError`."""
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise PayloadError(
            "invalid entry kind",
            field="kind",
            value=kind,
            expected="a lower-case identifier like 'meter' or 'safety_event' (a-z, 0-9, _)",
        )
    return kind


def entry_leaf_bytes(seq: int, kind: str, payload: bytes, timestamp: str) -> bytes:
    """The bytes an entry's leaf hash is taken over.

    Equal to ``canonical_json({"kind": kind, "payload": <payload>, "seq": seq,
    "timestamp": timestamp})``, assembled from the already canonical payload
    bytes (``kind`` and ``timestamp`` need no escaping: see :data:`KIND_PATTERN`
    and :data:`TIMESTAMP_PATTERN`).
    """
    return b"".join(
        (
            b'{"kind":"',
            kind.encode(),
            b'","payload":',
            payload,
            b',"seq":',
            str(seq).encode(),
            b',"timestamp":"',
            timestamp.encode(),
            b'"}',
        )
    )


def entry_leaf_bytes_many(rows: Iterable[tuple[int, str, str, str, Any]]) -> list[bytes]:
    """:func:`entry_leaf_bytes` of many entries, given as rows of the ``entries`` table.

    Parameters
    ----------
    rows : iterable of (seq, kind, payload, timestamp, leaf_hash)
        Entries as read (``SELECT seq, kind, payload, timestamp, leaf_hash``), the
        payload as text; ``leaf_hash`` is not used.  ``kind``, ``payload`` and
        ``timestamp`` must be ``str`` and ``seq`` an ``int`` (the caller checks: any
        other type would be formatted rather than refused).

    Returns
    -------
    list of bytes
        Each row's leaf bytes, equal to :func:`entry_leaf_bytes` of it (one
        f-string and one UTF-8 encoding per row, the fast path of full verification).
    """
    return [
        f'{{"kind":"{k}","payload":{p},"seq":{s},"timestamp":"{t}"}}'.encode()
        for s, k, p, t, _ in rows
    ]


def format_timestamp(when: datetime) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` for an aware datetime."""
    if when.tzinfo is None:
        raise PayloadError(
            "timestamp has no time zone",
            field="timestamp",
            value=when,
            expected="an aware datetime (e.g. datetime.now(UTC))",
        )
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_timestamp() -> str:
    """The current time as a ledger timestamp."""
    return format_timestamp(datetime.now(UTC))


def parse_timestamp(text: str) -> datetime:
    """Parse a ledger timestamp back into an aware UTC datetime."""
    if not isinstance(text, str) or not TIMESTAMP_PATTERN.fullmatch(text):
        raise PayloadError(
            "malformed timestamp",
            field="timestamp",
            value=text,
            expected="YYYY-MM-DDTHH:MM:SS.ffffffZ (UTC)",
        )
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
