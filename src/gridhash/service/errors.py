"""Errors of the operations service: each becomes a 4xx JSON body naming what is wrong.

Every body has the same shape::

    {"error": "conflict", "message": "...", "field": "readings[3].value", ...}

``error`` is a short machine-readable code, ``message`` a sentence for people,
``field`` (when one is at fault) the path of the offending field in the request.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A request the service refuses, with its HTTP status and a JSON body."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        out.update(self.extra)
        return out


class UnauthorizedError(ServiceError):
    """No token, or a token the service does not know (401)."""

    status = 401
    code = "unauthorized"


class ForbiddenError(ServiceError):
    """Authenticated, but the party's role (or ownership) does not allow it (403)."""

    status = 403
    code = "forbidden"


class NotFoundError(ServiceError):
    """The plan, statement, site or party named does not exist (404)."""

    status = 404
    code = "not_found"


class ConflictError(ServiceError):
    """The request contradicts the service's state (409): a conflicting re-send, a plan
    already decided, a statement already produced, meter data missing."""

    status = 409
    code = "conflict"


class InvalidError(ServiceError):
    """A well-formed request with a value the service cannot use (422)."""

    status = 422
    code = "invalid"
