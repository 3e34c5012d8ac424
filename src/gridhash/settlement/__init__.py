"""Agreements in the dispatch, and settlement between parties in integer cents and satoshis.

:mod:`~gridhash.settlement.apply` turns an agreement's obligations and price
terms into dispatch inputs; :mod:`~gridhash.settlement.statements` turns meter
records and the agreement into statements; :mod:`~gridhash.settlement.record`
writes them, signed, to the ledger and checks them again on verification.
"""
