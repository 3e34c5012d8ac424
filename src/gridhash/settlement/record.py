"""Settlement on the ledger: write signed statements, and check them on verification.

``gridhash settle`` appends, in ONE transaction together with a tree head
signed by the settling party (or, in demo mode, by every party):

* ``scenario`` — the scenario's text, source and the agreement's name;
* ``agreement`` — the agreement (as data) and every party's public key, taken
  from the settling party's keyring (never from keys lying in a folder);
* ``safety_event`` — each event and each restriction of the safety envelope;
* ``plan`` — the dispatch's totals;
* per period, ``meter`` (the hourly records settlement reads) then
  ``statement`` (the period's statements and pools, with an Ed25519 signature
  by each signing party over the canonical JSON of the statement without its
  signatures).

``statements.json`` and ``statements.csv`` are moved into place only after
that transaction has committed, so a settle run killed at any moment leaves
either nothing new or the committed entries with their head (and perhaps not
yet the statement files).  Periods already settled in the ledger are refused,
and so is a ledger of another agreement or with other party keys.  The other
parties then verify and countersign the head on their own machines
(``gridhash ledger sign LEDGER --key THEIR.key --keyring KEYRING``).

:data:`CHECKERS` plug into :func:`gridhash.ledger.verify.verify_ledger`: each
``agreement`` entry's keys must be the verifier's keyring keys; each
``statement`` is recomputed from the ``meter`` entry of its period and the
latest ``agreement`` entry, field by field; every signature on it must be a
keyring party's valid signature; and a period may be settled only once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridhash.errors import InputError
from gridhash.ledger.canonical import canonical_json

if TYPE_CHECKING:
    from gridhash.ledger.keyring import Keyring
    from gridhash.ledger.records import Entry
    from gridhash.ledger.signing import PartyKey
    from gridhash.ledger.verify import CheckContext, Discrepancy
    from gridhash.pipeline import Run

STATEMENT_CSV_COLUMNS = (
    "period",
    "start",
    "party",
    "role",
    "entitlement_kwh",
    "revenue_cents",
    "costs_cents",
    "btc_sats",
    "usd_owed_cents",
    "demand_response_cents",
)
LEDGER_NAME = "ledger.sqlite"


class SettlementError(InputError):
    """A settle run that would record something wrong or twice (exit code 2)."""


def demo_keys(agreement: Any, folder: Path) -> dict[str, PartyKey]:
    """DEMO ONLY: every party's Ed25519 key from ``folder``, created (mode 0600) when missing.

    One holder then holds every party's key, which defeats the point of the
    ledger; ``gridhash settle --demo-keys`` says so on every run.
    """
    from gridhash.ledger.signing import PRIVATE_SUFFIX, generate_key, load_private_key

    folder.mkdir(parents=True, exist_ok=True)
    keys = {}
    for p in agreement.parties:
        path = folder / f"{p.id}{PRIVATE_SUFFIX}"
        keys[p.id] = load_private_key(path) if path.exists() else generate_key(folder, p.id)
    return keys


def check_keyring(agreement: Any, keyring: Keyring, signers: dict[str, PartyKey]) -> None:
    """Every party of the agreement is in the keyring, and each signing key is its party's."""
    missing = [p.id for p in agreement.parties if p.id not in keyring.keys]
    if missing:
        raise SettlementError(
            "the keyring lacks parties of the agreement",
            source=keyring.source,
            value=", ".join(missing),
            expected=f"a public key for each of {', '.join(p.id for p in agreement.parties)}",
        )
    for pid, key in signers.items():
        known = keyring.keys.get(pid)
        if known is None or known.raw != key.public.raw:
            raise SettlementError(
                "the signing key is not its party's key in the keyring",
                source=keyring.source,
                field=f"parties.{pid}",
                value=f"{pid} {key.public.fingerprint}",
                expected=f"{known.fingerprint if known else 'a keyring entry'} "
                "(or a party id the agreement names)",
            )


def unsigned(statement: dict[str, Any]) -> bytes:
    """The bytes each party signs: the statement without its signatures."""
    return canonical_json({k: v for k, v in statement.items() if k != "signatures"})


def sign_statement(statement: dict[str, Any], keys: dict[str, PartyKey]) -> dict[str, Any]:
    """The statement with a ``signatures`` object: party id → hex Ed25519 signature."""
    data = unsigned(statement)
    return {**statement, "signatures": {pid: keys[pid].sign(data).hex() for pid in keys}}


def statements_csv(periods: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STATEMENT_CSV_COLUMNS)
    for per in periods:
        for s in per["statements"]:
            w.writerow([per["period"], per["start"], s["party"], s["role"],
                        s["energy_kwh"].get("entitlement", 0), s["revenue_cents"],
                        s["costs_cents"], s["btc_sats"], s["usd_owed_cents"],
                        s.get("demand_response_cents", 0)])
    return buf.getvalue()


def ledger_items(run: Run, periods: list[dict[str, Any]], meters: list[dict[str, Any]],
                 keys: dict[str, PartyKey], keyring: Keyring,
                 plan: dict[str, Any]) -> list[tuple[str, Any]]:
    """The entries ``gridhash settle`` appends, in order (statements signed by ``keys``).

    ``plan`` is the run's summary (:func:`gridhash.report.summary.summary`, as in
    summary.json): the ``plan`` entry records its totals.
    """
    from gridhash import __version__
    from gridhash.scenario.series import hour_stamp

    agreement = run.agreement
    assert agreement is not None
    loaded = run.loaded
    items: list[tuple[str, Any]] = [
        ("scenario", {"name": loaded.name, "source": loaded.source or "",
                      "text": loaded.text or "", "agreement": agreement.name,
                      "gridhash": __version__}),
        ("agreement", {"agreement": agreement.model_dump(mode="json"),
                       "party_keys": {p.id: keyring.keys[p.id].raw.hex()
                                      for p in agreement.parties}}),
    ]
    env = run.envelope
    if env is not None:
        for e in env.state.events:
            items.append(("safety_event", {"kind": e.kind, "from": hour_stamp(env.index, e.start),
                                           "to": hour_stamp(env.index, e.end), "text": e.text}))
        for a in env.activations:
            items.append(("safety_event", {"kind": f"restriction:{a.kind}", "rule": a.rule,
                                           "from": hour_stamp(env.index, a.start),
                                           "to": hour_stamp(env.index, a.end), "effect": a.effect,
                                           "condition": a.condition}))
    items.append(("plan", {k: plan[k] for k in ("scenario", "start", "hours", "energy_mwh",
                                             "revenue_usd", "cost_usd", "net_usd",
                                             "penalty_usd", "btc_mined",
                                             "unserved_firm_mwh", "safety")}
                  | {"agreement": agreement.name}))
    for meter, per in zip(meters, periods, strict=True):
        items.append(("meter", {"agreement": agreement.name, **meter}))
        items.append(("statement", sign_statement(per, keys)))
    return items


def _check_existing(path: Path, agreement: Any, keyring: Keyring,
                    periods: list[dict[str, Any]]) -> None:
    """Refuse a ledger of another agreement or other keys, and periods it already settled."""
    from gridhash.ledger.store import Ledger

    with Ledger.open(path, readonly=True) as ledger:
        recorded = None
        for entry in ledger.entries_of_kind("agreement"):
            recorded = entry.payload
        settled = {}
        for entry in ledger.entries_of_kind("statement"):
            p = entry.payload
            if isinstance(p, dict) and p.get("agreement") == agreement.name:
                settled[p.get("start")] = entry.seq
    if recorded is not None:
        name = (recorded.get("agreement") or {}).get("name")
        if name != agreement.name:
            raise SettlementError(
                "the folder holds the ledger of another agreement",
                source=str(path),
                field="agreement",
                value=name,
                expected=f"{agreement.name} (choose another --out folder)",
            )
        keys = recorded.get("party_keys") or {}
        want = {p.id: keyring.keys[p.id].raw.hex() for p in agreement.parties}
        differ = sorted(p for p in set(keys) | set(want) if keys.get(p) != want.get(p))
        if differ:
            raise SettlementError(
                "the ledger's agreement entry records other keys than your keyring",
                source=str(path),
                field="party_keys",
                value=", ".join(differ),
                expected="the keyring's key for each party",
            )
    again = [per for per in periods if per["start"] in settled]
    if again:
        def name(p: dict[str, Any]) -> str:
            return f"{p['period']} from {p['start']} (entry {settled[p['start']]})"

        shown = [name(p) for p in again[:5]]
        if len(again) > 6:
            shown.append(f"... {len(again) - 6} more ...")
        if len(again) > 5:
            shown.append(name(again[-1]))
        raise SettlementError(
            f"{len(again)} period(s) already settled in the ledger: {', '.join(shown)}; "
            "a period is settled once",
            source=str(path),
            field="period",
            value=f"{again[0]['start']} .. {again[-1]['start']}",
            expected="periods not yet in the ledger",
        )


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_settlement(run: Run, out: Path, signers: dict[str, PartyKey],
                     keyring: Keyring, plan: dict[str, Any]) -> dict[str, Any]:
    """Append the settlement to ``out/ledger.sqlite`` with a signed head in one transaction,
    then move ``statements.json`` and ``statements.csv`` into place.

    Parameters
    ----------
    run : Run
        The planned run (with its agreement).
    out : Path
        The settle folder.
    signers : dict of str to PartyKey
        Who signs the statements and the head: the settling party's key alone
        (or, in demo mode, every party's).
    keyring : Keyring
        The settling party's keyring: the agreement entry records its keys.
    plan : dict
        The run's summary (summary.json), whose totals the ``plan`` entry records.

    Raises
    ------
    SettlementError
        The keyring lacks a party or disagrees with a signing key, the folder
        holds another agreement's ledger, or a period is already settled.
    """
    from gridhash.files import atomic_write_text
    from gridhash.ledger.store import Ledger
    from gridhash.settlement.statements import meter_records, settle_period, totals

    agreement = run.agreement
    assert agreement is not None
    check_keyring(agreement, keyring, signers)
    meters = meter_records(run, agreement)
    periods = [settle_period(m, agreement) for m in meters]
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{LEDGER_NAME}.*.tmp*"):  # left by a run killed while creating
        stale.unlink(missing_ok=True)
    path = out / LEDGER_NAME
    items = ledger_items(run, periods, meters, signers, keyring, plan)
    if path.exists():
        _check_existing(path, agreement, keyring, periods)
        with Ledger.open(path) as ledger:
            entries = ledger.append_many(items, sign=signers)
            head = ledger.head()
    else:
        # A new ledger is built beside its final name and renamed into place
        # whole: a run killed before the rename leaves no ledger at all.
        tmp = out / f".{LEDGER_NAME}.{os.getpid()}.tmp"
        try:
            with Ledger.create(tmp) as ledger:
                entries = ledger.append_many(items, sign=signers)
                head = ledger.head()
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.link(tmp, path)  # never replaces a ledger another run made meanwhile
        except FileExistsError:
            raise SettlementError(
                "another settle run created the ledger meanwhile", source=str(path),
                expected="one settle run at a time per folder") from None
        finally:
            tmp.unlink(missing_ok=True)
        _sync_dir(out)
    assert head is not None
    doc = {"scenario": run.name, "agreement": agreement.name, "periods": periods,
           "totals": totals(periods)}
    atomic_write_text(out / "statements.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(out / "statements.csv", statements_csv(periods))
    return {"periods": periods, "totals": doc["totals"], "ledger": path,
            "entries": len(entries), "tree_size": head.size, "head": head,
            "signed_by": sorted(signers),
            "pending": [p for p in keyring.check_head(head).missing]}


# --------------------------------------------------------------------------- #
# Verification
# --------------------------------------------------------------------------- #


def _diff(expected: Any, found: Any, path: str) -> tuple[str, Any, Any] | None:
    """The first place two JSON values differ: (path, expected, found)."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for k in sorted(set(expected) | set(found)):
            if k not in found or k not in expected:
                return (f"{path}.{k}", expected.get(k, "<absent>"), found.get(k, "<absent>"))
            d = _diff(expected[k], found[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(expected, list) and isinstance(found, list):
        for i, (a, b) in enumerate(zip(expected, found, strict=False)):
            d = _diff(a, b, f"{path}[{i}]")
            if d:
                return d
        if len(expected) != len(found):
            return (f"{path}.length", len(expected), len(found))
        return None
    if expected != found or type(expected) is not type(found):
        return (path, expected, found)
    return None


def _check_agreement(entry: Entry, ctx: CheckContext) -> list[Discrepancy]:
    from gridhash.ledger.signing import PublicKey
    from gridhash.scenario.agreement import Agreement

    payload = entry.payload
    try:
        agreement = Agreement.model_validate(payload["agreement"])
        recorded = {pid: PublicKey.from_raw(pid, bytes.fromhex(h))
                    for pid, h in payload["party_keys"].items()}
    except Exception as exc:  # a malformed record is a discrepancy, not a crash
        return [ctx.discrepancy(entry, "agreement", "a valid agreement with party keys",
                                type(exc).__name__, f"cannot read the agreement: {exc}")]
    ring = ctx.keyring
    out = []
    if ring is None:
        keys = recorded  # integrity only: the ledger's own record of the keys
    else:
        keys = dict(ring.keys)
        for pid, key in recorded.items():
            mine = ring.keys.get(pid)
            if mine is None:
                out.append(ctx.discrepancy(
                    entry, f"party_keys.{pid}", "a party of the keyring", f"key {key.fingerprint}",
                    f"the agreement entry records a key for {pid}, whom the keyring does not "
                    "know"))
            elif mine.raw != key.raw:
                out.append(ctx.discrepancy(
                    entry, f"party_keys.{pid}", f"key {mine.fingerprint} (keyring)",
                    f"key {key.fingerprint}",
                    f"the agreement entry records another key for {pid} than the keyring: "
                    "keys planted in the ledger"))
    ctx.state["agreement"] = (agreement, keys)
    ctx.state.setdefault("meters", {})
    return out


def _check_meter(entry: Entry, ctx: CheckContext) -> list[Discrepancy]:
    payload = entry.payload
    ctx.state.setdefault("meters", {})[(payload.get("agreement"), payload.get("period"))] = (
        entry.seq, payload
    )
    return []


def _check_statement(entry: Entry, ctx: CheckContext) -> list[Discrepancy]:
    from gridhash.settlement.statements import settle_period

    found = entry.payload
    if "agreement" not in ctx.state:
        return [ctx.discrepancy(entry, "agreement", "an agreement entry before the statement",
                                "none", "statement without a recorded agreement")]
    agreement, keys = ctx.state["agreement"]
    key = (found.get("agreement"), found.get("period"))
    once = (found.get("agreement"), found.get("start"))
    settled = ctx.state.setdefault("settled", {})
    if once in settled:
        return [ctx.discrepancy(entry, "period", f"one statement for the period from {once[1]} "
                                f"of {once[0]} (entry {settled[once]})", "a second statement",
                                f"the period from {once[1]} is settled twice (entries "
                                f"{settled[once]} and {entry.seq})")]
    settled[once] = entry.seq
    meter = ctx.state.get("meters", {}).get(key)
    if meter is None or found.get("agreement") != agreement.name:
        return [ctx.discrepancy(entry, "period", f"a meter entry for {key}", "none",
                                "statement without the meter records it settles")]
    seq, record = meter
    expected = settle_period({k: v for k, v in record.items() if k != "agreement"}, agreement)
    body = {k: v for k, v in found.items() if k != "signatures"}
    d = _diff(expected, body, "statement")
    if d:
        where, exp, got = d
        return [ctx.discrepancy(entry, where, exp, got,
                                f"recomputed from meter entry {seq} and the agreement, "
                                f"{where} differs")]
    data = unsigned(found)
    sigs = found.get("signatures")
    if not isinstance(sigs, dict) or not sigs:
        return [ctx.discrepancy(entry, "signatures", "a signature by the settling party",
                                "none", "the statement is not signed")]
    source = "keyring" if ctx.keyring is not None else "agreement entry"
    for pid, sig in sigs.items():
        pub = keys.get(pid)
        if pub is None:
            return [ctx.discrepancy(entry, f"signatures.{pid}", f"a party of the {source}",
                                    pid, f"{pid} signed the statement but has no key in the "
                                    f"{source}")]
        try:
            ok = pub.verify(bytes.fromhex(sig), data)
        except (ValueError, TypeError):
            ok = False
        if not ok:
            return [ctx.discrepancy(entry, f"signatures.{pid}",
                                    f"a valid signature by {pid} ({pub.fingerprint}, {source})",
                                    str(sig)[:16],
                                    f"party {pid}'s signature does not match the statement")]
    return []


#: The settlement checkers for :func:`gridhash.ledger.verify.verify_ledger`.
CHECKERS = {"agreement": _check_agreement, "meter": _check_meter, "statement": _check_statement}
