"""Exceptions of gridhash: one family per domain, each message written for people.

Every error names where the problem is (file, field path), the value found and
what was expected.  The CLI turns any :class:`GridhashError` into exit code 2
without a traceback; the service turns it into a 4xx JSON body.
"""

from __future__ import annotations

from typing import Any


class GridhashError(Exception):
    """Base class of every error gridhash raises on purpose."""

    exit_code: int = 2


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


class DispatchError(GridhashError):
    """The dispatch problem cannot be solved."""


class InfeasibleError(DispatchError):
    """No dispatch satisfies every constraint; ``reasons`` says which and from when."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        lines = "\n".join(f"  - {r}" for r in reasons)
        super().__init__(f"the dispatch problem is infeasible:\n{lines}")
