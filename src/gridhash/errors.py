"""Exceptions of gridhash: one family per domain, each message written for people.

Every error names where the problem is (file, field path), the value found and
what was expected.  The CLI turns any :class:`GridhashError` into exit code 2
without a traceback; the service turns it into a 4xx JSON body.
"""

from __future__ import annotations

import re
from typing import Any

#: C0 controls except tab and newline, DEL, and C1 controls (what could move the
#: cursor, retitle a window or clear a screen if printed raw), and the bidirectional
#: overrides that make text read differently from what it is.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``), safe to print.

    Scenario files, agreements and ledgers are exchanged between parties who do
    not trust each other; nothing read from them may rewrite a terminal.
    """
    return _CONTROL.sub(_escape_one, text)


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class GridhashError(Exception):
    """Base class of every error gridhash raises on purpose."""

    exit_code: int = 2


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` in at most ``limit`` characters: its start and its end (where a
    path keeps its file name), the middle elided."""
    text = repr(value)
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head):]


class InputError(GridhashError):
    """Bad input: names the source (file), the field path, the value and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        field: str | None = None,
        value: Any = ...,
        expected: str | None = None,
        note: str | None = None,
    ) -> None:
        self.source = source
        self.field = field
        self.value = value
        self.expected = expected
        self.detail = message
        parts = []
        where = ": ".join(p for p in (source, field) if p)
        if where:
            parts.append(where)
        head = message
        if value is not ...:
            head += f" (got {_short(value)})"
        if expected:
            head += f"; expected {expected}"
        if note:
            head += f" {note}"
        parts.append(head)
        super().__init__(": ".join(parts))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly view, used by the API's 4xx bodies."""
        return {
            "error": type(self).__name__,
            "message": str(self),
            "source": self.source,
            "field": self.field,
            "value": None if self.value is ... else _short(self.value),
            "expected": self.expected,
        }


class ScenarioError(InputError):
    """A scenario file, or a series it refers to, is missing, malformed or invalid."""


class CatalogueError(InputError):
    """An ASIC model or catalogue entry is unknown or invalid."""


class OutputError(GridhashError):
    """An output cannot be written as promised (e.g. a figure that is not a finite number)."""


class DispatchError(GridhashError):
    """The dispatch problem cannot be solved."""


class InfeasibleError(DispatchError):
    """No dispatch satisfies every constraint; ``reasons`` says which and from when."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        lines = "\n".join(f"  - {r}" for r in reasons)
        super().__init__(f"the dispatch problem is infeasible:\n{lines}")
