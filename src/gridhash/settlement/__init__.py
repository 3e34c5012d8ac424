"""Agreements in the dispatch, and settlement between parties in integer cents and satoshis.

An agreement's obligations and price terms enter the dispatch through the
scenario (:mod:`gridhash.scenario.resolve_agreement`);
:mod:`~gridhash.settlement.statements` turns meter
records and the agreement into statements; :mod:`~gridhash.settlement.record`
writes them, signed, to the ledger and checks them again on verification.
"""
