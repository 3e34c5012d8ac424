"""Settlement statements from metered data, signed by the parties through the API.

The operator asks for a settlement period's statements once every meter has a
reading for every hour of it.  The service builds the period's meter record
from the readings (:meth:`gridhash.service.plant.Plant.meter_record`), settles
it with :func:`gridhash.settlement.statements.settle_period` (integer cents and
satoshis) and appends the record to the ledger as a ``meter`` entry.

Each signing party (owners and offtakers) registers its Ed25519 public key
once, then posts its signature over the period's signing bytes,
``gridhash.settlement.record.unsigned(statement)``, the canonical JSON of the
whole period (every party's statement and every pool: a signer attests that
the settlement as a whole follows from the meters).  The service checks each
signature against the registered key.  When every signer has signed, the
statement is appended as a ``statement`` entry carrying all signatures, in
exactly the form ``gridhash settle`` writes, so ``gridhash ledger verify``
recomputes it from the ``meter`` entry and checks every signature.

In demo mode the service holds each signing party's key (in the keys folder)
and signs for the party when the request carries no signature.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gridhash.ledger.signing import PublicKey, fingerprint, verify
from gridhash.service.auth import Caller
from gridhash.service.db import Principal, Statement, StatementSignature, from_db, to_db
from gridhash.service.errors import ConflictError, ForbiddenError, InvalidError, NotFoundError
from gridhash.service.plant import stamp


def signing_bytes(doc: dict[str, Any]) -> bytes:
    from gridhash.settlement.record import unsigned

    return unsigned(doc)


def _view(svc: Any, caller: Caller, st: Statement, sigs: list[StatementSignature]
          ) -> dict[str, Any]:
    signers = svc.plant.signers
    signed = {g.party: g for g in sigs}
    doc = st.data
    everything = caller.can("statements:read_all")
    statements = doc["statements"] if everything else [
        x for x in doc["statements"] if x["party"] == caller.id
    ]
    out = {
        "period": st.period,
        "start": stamp(from_db(st.start)),
        "hours": doc["hours"],
        "status": st.status,
        "created_by": st.created_by,
        "created_at": from_db(st.created_at).isoformat(),
        "signed_at": None if st.signed_at is None else from_db(st.signed_at).isoformat(),
        "signers": signers,
        "signed_by": [p for p in signers if p in signed],
        "awaiting": [p for p in signers if p not in signed],
        "unserved_firm_kwh": doc["unserved_firm_kwh"],
        "statements": statements,
    }
    if everything:
        out["pools"] = doc["pools"]
        out["signatures"] = {p: g.signature for p, g in signed.items()}
    return out


def _read_check(caller: Caller) -> None:
    if not (caller.can("statements:read_all") or caller.can("statements:read_own")):
        raise ForbiddenError(f"{caller.id} ({caller.role}) may not read settlement statements; "
                        "allowed roles: auditor, offtaker, operator, owner", role=caller.role)


def produce(svc: Any, caller: Caller, period: int) -> dict[str, Any]:
    """Settle ``period`` from its meter readings (operator)."""
    caller.require("statements:produce", "produce settlement statements")
    from gridhash.service.meters import period_readings
    from gridhash.settlement.statements import settle_period

    plant = svc.plant
    first, stop = plant.period_span(period)
    with svc.db.read() as s:
        if s.get(Statement, period) is not None:
            raise ConflictError(f"statements for period {period} were already produced",
                           field="period")
    readings = period_readings(svc, first, stop)
    missing = [(m, t) for t in range(first, stop) for m in sorted(plant.meters)
               if (m, t) not in readings]
    if missing:
        m, t = missing[0]
        raise ConflictError(
            f"meter data missing for period {period}: meter {m} at {stamp(plant.hour_start(t))}"
            f"{f' and {len(missing) - 1} more reading(s)' if len(missing) > 1 else ''}; see "
            "GET /api/meters/gaps", field="period", missing=len(missing),
            first_missing={"meter": m, "interval_start": stamp(plant.hour_start(t))},
        )
    record = plant.meter_record(period, readings)
    doc = settle_period(record, plant.agreement)
    now = svc.now()
    try:
        with svc.db.write() as s:
            st = Statement(period=period, start=to_db(plant.hour_start(first)),
                           status="awaiting_signatures", created_by=caller.id,
                           created_at=to_db(now), data=doc, meter_record=record)
            s.add(st)
            s.flush()
            svc.log.record(s, "meter", {"agreement": plant.agreement.name, **record}, now)
            view = _view(svc, caller, st, [])
    except IntegrityError:
        raise ConflictError(f"statements for period {period} were already produced",
                       field="period") from None
    svc.log.flush()
    return view


def list_statements(svc: Any, caller: Caller, limit: int = 100) -> list[dict[str, Any]]:
    _read_check(caller)
    with svc.db.read() as s:
        rows = list(s.scalars(select(Statement).order_by(Statement.period.desc()).limit(limit)))
        sigs = _signatures(s, [r.period for r in rows])
        return [_view(svc, caller, r, sigs[r.period]) for r in rows]


def _signatures(s: Any, periods: list[int]) -> dict[int, list[StatementSignature]]:
    out: dict[int, list[StatementSignature]] = {p: [] for p in periods}
    if periods:
        for g in s.scalars(select(StatementSignature)
                           .where(StatementSignature.period.in_(periods))):
            out[g.period].append(g)
    return out


def get_statement(svc: Any, caller: Caller, period: int) -> dict[str, Any]:
    _read_check(caller)
    with svc.db.read() as s:
        st = s.get(Statement, period)
        if st is None:
            raise NotFoundError(f"no statements for period {period}", field="period")
        return _view(svc, caller, st, _signatures(s, [period])[period])


def get_party_statement(svc: Any, caller: Caller, period: int, party: str) -> dict[str, Any]:
    """One party's statement: its own for owners and offtakers, any for operator and auditor."""
    _read_check(caller)
    if not caller.can("statements:read_all") and party != caller.id:
        raise ForbiddenError(f"{caller.id} may read only its own statements, not {party}'s",
                        role=caller.role)
    view = get_statement(svc, caller, period)
    found = [x for x in view["statements"] if x["party"] == party]
    if not found:
        raise NotFoundError(f"party {party!r} has no statement in period {period}", field="party")
    return {"period": period, "start": view["start"], "status": view["status"],
            "statement": found[0]}


def signing_payload(svc: Any, caller: Caller, period: int) -> dict[str, Any]:
    """The exact bytes a signer signs (canonical JSON of the whole period)."""
    if not (caller.can("statements:sign_own") or caller.can("statements:read_all")):
        raise ForbiddenError(f"{caller.id} ({caller.role}) does not sign statements",
                        role=caller.role)
    with svc.db.read() as s:
        st = s.get(Statement, period)
        if st is None:
            raise NotFoundError(f"no statements for period {period}", field="period")
        data = signing_bytes(st.data)
    import hashlib

    return {"period": period, "payload": data.decode(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "how": "Ed25519 signature over the UTF-8 bytes of 'payload', hex-encoded"}


def sign(svc: Any, caller: Caller, period: int, party: str, signature: str | None
         ) -> dict[str, Any]:
    caller.require_own("statements:sign_own", party, "sign statements")
    now = svc.now()
    with svc.db.read() as s:
        st = s.get(Statement, period)
        if st is None:
            raise NotFoundError(f"no statements for period {period}", field="period")
        key_hex = s.scalar(select(Principal.public_key).where(Principal.id == party))
        data = signing_bytes(st.data)
    if not key_hex:
        raise ConflictError(f"{party} has no public key yet; register it with "
                       f"PUT /api/parties/{party}/key first", field="party")
    if signature is None:
        held = svc.demo_keys.get(party)
        if held is None:
            raise InvalidError("signature is required (the service holds no key for this party)",
                          field="signature", expected="128 hex digits: an Ed25519 signature")
        signature = held.sign(data).hex()
    if not verify(bytes.fromhex(key_hex), bytes.fromhex(signature), data):
        raise InvalidError(f"the signature does not verify with {party}'s registered key "
                      f"({fingerprint(bytes.fromhex(key_hex))}) over the period's signing bytes",
                      field="signature")
    try:
        with svc.db.write() as s:
            st = s.scalar(select(Statement).where(Statement.period == period).with_for_update())
            assert st is not None
            if s.get(StatementSignature, (period, party)) is not None:
                raise ConflictError(f"{party} already signed period {period}", field="party")
            s.add(StatementSignature(period=period, party=party, signature=signature,
                                     public_key=key_hex, at=to_db(now)))
            s.flush()
            svc.log.record(s, "statement_signature", {
                "period": period, "agreement": svc.agreement.name, "party": party,
                "public_key": key_hex, "signature": signature}, now)
            sigs = _signatures(s, [period])[period]
            signed = {g.party: g.signature for g in sigs}
            if all(p in signed for p in svc.plant.signers):
                st.status = "signed"
                st.signed_at = to_db(now)
                svc.log.record(s, "statement", {
                    **st.data, "signatures": {p: signed[p] for p in svc.plant.signers}}, now)
            view = _view(svc, caller, st, sigs)
    except IntegrityError:
        raise ConflictError(f"{party} already signed period {period}", field="party") from None
    svc.log.flush()
    return view


def register_key(svc: Any, caller: Caller, party: str, public_key: str) -> dict[str, Any]:
    """A signing party's Ed25519 public key (32 bytes, hex), registered once."""
    caller.require_own("keys:register_own", party, "register a signing key")
    try:
        PublicKey.from_raw(party, bytes.fromhex(public_key))
    except ValueError:
        raise InvalidError("not an Ed25519 public key", field="public_key",
                      expected="64 hex digits (the raw 32-byte Ed25519 public key)") from None
    public_key = public_key.lower()
    now = svc.now()
    with svc.db.write() as s:
        row = s.scalar(select(Principal).where(Principal.id == party).with_for_update())
        assert row is not None
        if row.public_key == public_key:
            return {"party": party, "public_key": public_key,
                    "fingerprint": fingerprint(bytes.fromhex(public_key)), "changed": False}
        if row.public_key:
            old = fingerprint(bytes.fromhex(row.public_key))
            raise ConflictError(f"{party} already registered key {old};"
                           " keys are registered once (statements on the ledger are checked "
                           "against it)", field="public_key")
        s.execute(update(Principal).where(Principal.id == party).values(public_key=public_key))
        s.flush()
        svc.log.record(s, "party_key", {"party": party, "public_key": public_key,
                                          "fingerprint": fingerprint(bytes.fromhex(public_key))},
                         now)
        svc.log.record(s, "agreement", svc._agreement_payload(svc.signer_keys(s)), now)
    svc.log.flush()
    return {"party": party, "public_key": public_key,
            "fingerprint": fingerprint(bytes.fromhex(public_key)), "changed": True}
