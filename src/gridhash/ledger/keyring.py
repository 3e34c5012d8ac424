"""A party's trust root: the parties' public keys and the agreement's signing rule, in TOML.

Each party builds the keyring once from the parties' ``.pub`` files
(``gridhash ledger keyring``), compares the fingerprints with the others out
of band (by phone, on paper), and from then on checks every ledger against it
alone: never against keys the ledger itself records.  The file::

    # gridhash keyring: exchange out of band, compare the fingerprints
    format = "gridhash-keyring/1"

    [rule]
    required = ["operator", "ua-grid"]   # must sign every complete tree head
    threshold = 4                        # and at least this many parties in all

    [parties.operator]
    public_key = "<base64 of the 32 raw Ed25519 key bytes>"
    fingerprint = "0f1e2d3c4b5a6978"     # first 16 hex digits of SHA-256(key); checked

A tree head is *complete* when every ``required`` party and at least
``threshold`` parties of the keyring have validly signed it.  Without a
``[rule]`` table every party is required.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridhash.ledger.errors import KeyFileError
from gridhash.ledger.note import vkey
from gridhash.ledger.signing import (
    PUBLIC_SUFFIX,
    PublicKey,
    check_party,
    load_public_key,
)

__all__ = ["KEYRING_FORMAT", "HeadCheck", "Keyring"]

KEYRING_FORMAT = "gridhash-keyring/1"


@dataclass(frozen=True)
class HeadCheck:
    """How a tree head's signatures stand against a keyring.

    Attributes
    ----------
    valid : tuple of str
        Keyring parties whose signature verifies with their keyring key.
    wrong_key : tuple of str
        Keyring parties whose name signed with another key.
    invalid : tuple of str
        Keyring parties whose signature (with the right key) does not verify.
    unknown : tuple of str
        Signers the keyring does not know (ignored).
    missing : tuple of str
        What the rule still needs: the required parties that have not validly
        signed, then (when the threshold needs more) the other parties, or
        ``"2 of b/c/d"``.
    complete : bool
        The rule is met.
    """

    valid: tuple[str, ...]
    wrong_key: tuple[str, ...]
    invalid: tuple[str, ...]
    unknown: tuple[str, ...]
    missing: tuple[str, ...]
    complete: bool


@dataclass(frozen=True)
class Keyring:
    """The parties' public keys and the signing rule.

    Attributes
    ----------
    keys : dict of str to PublicKey
        Party id → key, in file order.
    required : tuple of str
        Parties that must sign every complete head.
    threshold : int
        Valid signatures needed in all (``>= len(required)``, ``<= len(keys)``).
    source : str or None
        Where it was read from (for messages).
    """

    keys: dict[str, PublicKey]
    required: tuple[str, ...]
    threshold: int
    source: str | None = None

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeyFileError("a keyring needs at least one party", source=self.source)
        for party in self.required:
            if party not in self.keys:
                raise KeyFileError(
                    "a required party has no key in the keyring",
                    source=self.source,
                    field="rule.required",
                    value=party,
                    expected=f"one of {', '.join(self.keys)}",
                )
        if not max(1, len(self.required)) <= self.threshold <= len(self.keys):
            raise KeyFileError(
                "threshold out of range",
                source=self.source,
                field="rule.threshold",
                value=self.threshold,
                expected=f"{max(1, len(self.required))}..{len(self.keys)} "
                "(at least the required parties, at most every party)",
            )

    # ------------------------------------------------------------------ building
    @classmethod
    def of(
        cls,
        keys: Mapping[str, PublicKey] | Iterable[PublicKey],
        *,
        required: Iterable[str] | None = None,
        threshold: int | None = None,
        source: str | None = None,
    ) -> Keyring:
        """A keyring of ``keys``; by default every party is required."""
        items = list(keys.values()) if isinstance(keys, Mapping) else list(keys)
        by_party = {k.party: k for k in items}
        req = tuple(by_party) if required is None else tuple(dict.fromkeys(required))
        if threshold is None:
            threshold = len(by_party) if required is None else max(1, len(req))
        return cls(by_party, req, threshold, source)

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str], **rule: Any) -> Keyring:
        """A keyring of every ``<party>.pub`` in ``directory`` (private keys are not read).

        Raises
        ------
        KeyFileError
            The directory is missing or holds no ``.pub`` file.
        """
        folder = Path(directory)
        if not folder.is_dir():
            raise KeyFileError("key directory not found", source=str(folder))
        keys = [load_public_key(p) for p in sorted(folder.glob(f"*{PUBLIC_SUFFIX}"))]
        if not keys:
            raise KeyFileError(
                "no public keys in directory",
                source=str(folder),
                expected=f"<party>{PUBLIC_SUFFIX} PEM files (the parties' public keys)",
            )
        return cls.of(keys, source=str(folder), **rule)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read a keyring file.

        Raises
        ------
        KeyFileError
            Missing, not TOML, or a field is wrong (named, with what was expected).
        """
        file = Path(path)
        src = str(file)
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyFileError("keyring file not found", source=src) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyFileError(f"cannot read keyring: {exc}", source=src) from None
        except tomllib.TOMLDecodeError as exc:
            raise KeyFileError(f"not TOML: {exc}", source=src) from None
        if data.get("format") != KEYRING_FORMAT:
            raise KeyFileError(
                "unknown keyring format",
                source=src,
                field="format",
                value=data.get("format"),
                expected=KEYRING_FORMAT,
            )
        parties = data.get("parties")
        if not isinstance(parties, dict) or not parties:
            raise KeyFileError(
                "no parties", source=src, field="parties", expected="[parties.<id>] tables"
            )
        keys = []
        for party, entry in parties.items():
            check_party(party)
            where = f"parties.{party}"
            text = entry.get("public_key") if isinstance(entry, dict) else None
            try:
                raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise KeyFileError(
                    "malformed public key",
                    source=src,
                    field=f"{where}.public_key",
                    value=text,
                    expected="the base64 of the 32 raw Ed25519 public key bytes",
                )
            key = PublicKey.from_raw(party, raw)
            fp = entry.get("fingerprint")
            if fp is not None and fp != key.fingerprint:
                raise KeyFileError(
                    "the fingerprint does not match the key",
                    source=src,
                    field=f"{where}.fingerprint",
                    value=fp,
                    expected=key.fingerprint,
                )
            keys.append(key)
        rule = data.get("rule", {})
        if not isinstance(rule, dict):
            raise KeyFileError("[rule] must be a table", source=src, field="rule")
        required = rule.get("required")
        threshold = rule.get("threshold")
        if required is not None and (
            not isinstance(required, list) or not all(isinstance(p, str) for p in required)
        ):
            raise KeyFileError(
                "wrong type", source=src, field="rule.required", value=required,
                expected="a list of party ids",
            )
        if threshold is not None and (type(threshold) is not int):
            raise KeyFileError(
                "wrong type", source=src, field="rule.threshold", value=threshold,
                expected="an integer",
            )
        return cls.of(keys, required=required, threshold=threshold, source=src)

    def to_toml(self) -> str:
        """The keyring file's text (see the module docstring)."""
        lines = [
            "# gridhash keyring: the parties' public keys and the signing rule.",
            "# Exchange it out of band and compare the fingerprints with each party.",
            f"format = {json.dumps(KEYRING_FORMAT)}",
            "",
            "[rule]",
            f"required = [{', '.join(json.dumps(p) for p in self.required)}]",
            f"threshold = {self.threshold}",
        ]
        for party, key in self.keys.items():
            lines += [
                "",
                f"[parties.{json.dumps(party)}]",
                f"public_key = {json.dumps(base64.b64encode(key.raw).decode())}",
                f"fingerprint = {json.dumps(key.fingerprint)}",
                f"# note verifier key: {vkey(party, key.raw)}",
            ]
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the keyring file (refuses to overwrite one)."""
        file = Path(path)
        try:
            with open(file, "x", encoding="utf-8") as fh:
                fh.write(self.to_toml())
        except FileExistsError:
            raise KeyFileError(
                "keyring file already exists", source=str(file), expected="a new path"
            ) from None
        return file

    # ------------------------------------------------------------------ checking
    @property
    def parties(self) -> tuple[str, ...]:
        """Party ids, in file order."""
        return tuple(self.keys)

    def describe_rule(self) -> str:
        """``all of operator, ua-grid`` or ``operator and 3 of 5 parties``."""
        if self.threshold == len(self.keys) and set(self.required) == set(self.keys):
            return f"all of {', '.join(self.keys)}"
        req = ", ".join(self.required)
        return (f"{req} and " if req else "") + f"{self.threshold} of {len(self.keys)} parties"

    def check_head(self, head: Any) -> HeadCheck:
        """Check every signature of ``head`` (a :class:`~gridhash.ledger.records.TreeHead`)."""
        signed = head.signed_bytes()
        valid, wrong, invalid, unknown = [], [], [], []
        for sig in head.signatures:
            key = self.keys.get(sig.party)
            if key is None:
                unknown.append(sig.party)
            elif sig.public_key != key.raw:
                wrong.append(sig.party)
            elif key.verify(sig.signature, signed):
                valid.append(sig.party)
            else:
                invalid.append(sig.party)
        ok = set(valid)
        missing = [p for p in self.required if p not in ok]
        complete = not missing and len(ok) >= self.threshold
        short = self.threshold - len(ok) - len(missing)
        if short > 0:  # beyond the required ones, any `short` of the others
            others = [p for p in self.keys if p not in ok and p not in missing]
            missing += others if short >= len(others) else [f"{short} of {'/'.join(others)}"]
        return HeadCheck(
            tuple(valid), tuple(wrong), tuple(invalid), tuple(unknown), tuple(missing), complete
        )
