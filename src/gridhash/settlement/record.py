"""Settlement on the ledger: write signed statements, and check them on verification.

``gridhash settle`` appends, in one transaction:

* ``scenario`` — the scenario's text, source and the agreement's name;
* ``agreement`` — the agreement (as data) and every party's public key;
* ``safety_event`` — each event and each restriction of the safety envelope;
* ``plan`` — the dispatch's totals;
* per period, ``meter`` (the hourly records settlement reads) then
  ``statement`` (the period's statements and pools, with one Ed25519 signature
  per party over the canonical JSON of the statement without its signatures);

then signs the tree head with every party's key.  :data:`CHECKERS` plug into
:func:`gridhash.ledger.verify.verify_ledger`: each ``statement`` is recomputed
from the ``meter`` entry of its period and the latest ``agreement`` entry, field
by field, and every party's signature is checked against the key the
``agreement`` entry recorded.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gridhash.ledger.canonical import canonical_json

if TYPE_CHECKING:
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
)


def party_keys(agreement: Any, folder: Path) -> dict[str, PartyKey]:
    """Each party's Ed25519 key from ``folder``, created (mode 0600) when missing."""
    from gridhash.ledger.signing import PRIVATE_SUFFIX, generate_key, load_private_key

    folder.mkdir(parents=True, exist_ok=True)
    keys = {}
    for p in agreement.parties:
        path = folder / f"{p.id}{PRIVATE_SUFFIX}"
        keys[p.id] = load_private_key(path) if path.exists() else generate_key(folder, p.id)
    return keys


def unsigned(statement: dict[str, Any]) -> bytes:
    """The bytes each party signs: the statement without its signatures."""
    return canonical_json({k: v for k, v in statement.items() if k != "signatures"})


def sign_statement(statement: dict[str, Any], keys: dict[str, PartyKey]) -> dict[str, Any]:
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
                        s["costs_cents"], s["btc_sats"], s["usd_owed_cents"]])
    return buf.getvalue()


def ledger_items(run: Run, periods: list[dict[str, Any]], meters: list[dict[str, Any]],
                 keys: dict[str, PartyKey], plan: dict[str, Any]) -> list[tuple[str, Any]]:
    """The entries ``gridhash settle`` appends, in order.

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
                       "party_keys": {pid: k.public.raw.hex() for pid, k in keys.items()}}),
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
                                             "revenue_usd", "cost_usd", "btc_mined",
                                             "unserved_firm_mwh", "safety")}
                  | {"agreement": agreement.name}))
    for meter, per in zip(meters, periods, strict=True):
        items.append(("meter", {"agreement": agreement.name, **meter}))
        items.append(("statement", sign_statement(per, keys)))
    return items


def write_settlement(run: Run, out: Path, keys_dir: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """Statements as JSON and CSV in ``out``, and everything appended to ``out/ledger.sqlite``.

    ``plan``: the run's summary, whose totals the ledger's ``plan`` entry records.
    """
    from gridhash.files import atomic_write_text
    from gridhash.ledger.store import Ledger
    from gridhash.settlement.statements import meter_records, settle_period, totals

    agreement = run.agreement
    assert agreement is not None
    keys = party_keys(agreement, keys_dir)
    meters = meter_records(run, agreement)
    periods = [settle_period(m, agreement) for m in meters]
    out.mkdir(parents=True, exist_ok=True)
    import json

    doc = {"scenario": run.name, "agreement": agreement.name, "periods": periods,
           "totals": totals(periods)}
    atomic_write_text(out / "statements.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(out / "statements.csv", statements_csv(periods))
    path = out / "ledger.sqlite"
    ledger = Ledger.open(path) if path.exists() else Ledger.create(path)
    try:
        entries = ledger.append_many(ledger_items(run, periods, meters, keys, plan))
        head = ledger.sign_head(keys)
    finally:
        ledger.close()
    return {"periods": periods, "totals": doc["totals"], "ledger": path,
            "entries": len(entries), "tree_size": head.size, "keys": keys_dir}


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
        keys = {pid: PublicKey.from_raw(pid, bytes.fromhex(h))
                for pid, h in payload["party_keys"].items()}
    except Exception as exc:  # a malformed record is a discrepancy, not a crash
        return [ctx.discrepancy(entry, "agreement", "a valid agreement with party keys",
                                type(exc).__name__, f"cannot read the agreement: {exc}")]
    ctx.state["agreement"] = (agreement, keys)
    ctx.state.setdefault("meters", {})
    return []


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
    sigs = found.get("signatures", {})
    for pid, pub in keys.items():
        sig = sigs.get(pid)
        if sig is None:
            return [ctx.discrepancy(entry, f"signatures.{pid}", "a signature", "none",
                                    f"party {pid} has not signed the statement")]
        try:
            ok = pub.verify(bytes.fromhex(sig), data)
        except ValueError:
            ok = False
        if not ok:
            return [ctx.discrepancy(entry, f"signatures.{pid}",
                                    f"a valid signature by {pid} ({pub.fingerprint})", sig[:16],
                                    f"party {pid}'s signature does not match the statement")]
    return []


#: The settlement checkers for :func:`gridhash.ledger.verify.verify_ledger`.
CHECKERS = {"agreement": _check_agreement, "meter": _check_meter, "statement": _check_statement}
