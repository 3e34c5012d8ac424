"""Who is calling, and what their role lets them do.

Tokens
    Every party of the agreement and every mining site's agent gets its own API
    token: ``gh_`` + 32 random bytes (``secrets.token_urlsafe``).  The service
    stores only its SHA-256 (hex) and compares digests with
    :func:`hmac.compare_digest`.  A token is shown once, when it is issued.
    Clients send ``Authorization: Bearer <token>``; the dashboard keeps it in an
    HttpOnly, SameSite=Strict cookie after the login form.

Roles (from the agreement)
    ``operator`` proposes plans and posts meter data and plant state;
    ``owner`` and ``offtaker`` approve or reject plans, sign statements and
    read their own; ``monitor`` reads safety and raises or lifts a safety hold
    (and vetoes, when the approval rule lists it); ``auditor`` reads everything
    and writes nothing.  Site agents (role ``site``) read their own setpoint.
    :data:`PERMISSIONS` is the whole table; docs/service.md prints it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from gridhash.service.errors import ForbiddenError

TOKEN_PREFIX = "gh_"
PARTY_ROLES = ("operator", "owner", "offtaker", "monitor", "auditor")
SIGNER_ROLES = ("owner", "offtaker")

#: action → roles allowed (``*own`` actions also need the party to be the one named).
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(PARTY_ROLES),
    "setpoint:read": frozenset((*PARTY_ROLES, "site")),
    "plans:propose": frozenset({"operator"}),
    "plans:vote": frozenset({"owner", "offtaker"}),
    "safety:hold": frozenset({"monitor"}),
    "plant:report": frozenset({"operator"}),
    "meters:write": frozenset({"operator"}),
    "statements:produce": frozenset({"operator"}),
    "statements:read_all": frozenset({"operator", "auditor"}),
    "statements:read_own": frozenset({"owner", "offtaker"}),
    "statements:sign_own": frozenset(SIGNER_ROLES),
    "keys:register_own": frozenset(SIGNER_ROLES),
    "ledger:verify": frozenset(PARTY_ROLES),
    # issue 17: site agents report telemetry; tokens rotate (own; the operator: sites' too)
    "telemetry:write": frozenset({"site"}),
    "tokens:rotate_own": frozenset((*PARTY_ROLES, "site")),
    "tokens:rotate_sites": frozenset({"operator"}),
}


def new_token() -> str:
    """A fresh API token (shown once; only its hash is stored)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 of the token, hex (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Caller:
    """An authenticated principal: a party (with its agreement role) or a site agent."""

    id: str
    kind: str  # party | site
    role: str
    name: str
    site: str | None = None

    @property
    def is_party(self) -> bool:
        return self.kind == "party"

    def can(self, action: str) -> bool:
        return self.role in PERMISSIONS[action]

    def require(self, action: str, what: str) -> None:
        """Raise 403 unless the caller's role allows ``action``."""
        if not self.can(action):
            allowed = ", ".join(sorted(PERMISSIONS[action]))
            raise ForbiddenError(
                f"{self.id} ({self.role}) may not {what}; allowed roles: {allowed}",
                role=self.role,
            )

    def require_own(self, action: str, party: str, what: str) -> None:
        """Raise 403 unless the role allows ``action`` and ``party`` is the caller itself."""
        self.require(action, what)
        if party != self.id:
            raise ForbiddenError(
                f"{self.id} may not {what} for another party ({party})", role=self.role
            )
