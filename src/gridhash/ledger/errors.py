"""Errors of the ledger: bad files, keys and proofs become exit code 2, failed checks exit 1.

Input problems (a malformed key or proof file, a path that is not a ledger, a
payload that is not canonical JSON) are :class:`gridhash.errors.InputError`
subclasses: the CLI prints them, naming the file and field, and exits 2.  A
proof that is well formed but does not hold is a :class:`ProofError`, whose
exit code is 1, the same as a ledger that fails verification.
"""

from __future__ import annotations

from gridhash.errors import GridhashError, InputError

__all__ = [
    "BundleError",
    "KeyFileError",
    "LedgerError",
    "LedgerFileError",
    "PayloadError",
    "ProofError",
]


class LedgerError(GridhashError):
    """The ledger cannot do what was asked (an entry or tree head that does not exist, ...)."""


class LedgerFileError(InputError, LedgerError):
    """A ledger file is missing, is not a gridhash ledger, or cannot be read."""


class KeyFileError(InputError, LedgerError):
    """A key file or directory is missing, malformed or unsafe (a private key others can read)."""


class PayloadError(InputError, LedgerError):
    """An entry's kind or payload cannot be recorded (not canonical JSON, bad kind name)."""


class BundleError(InputError, LedgerError):
    """A proof bundle file is not valid JSON or lacks a field, or a field has the wrong form."""


class ProofError(LedgerError):
    """A proof bundle is well formed but does not verify; exit code 1 like a failed verification."""

    exit_code = 1
