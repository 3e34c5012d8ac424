"""Resolve an agreement's obligations and price terms into the dispatch's inputs.

* An obligation to serve up to X MW of an offtake's demand before any mining
  raises that offtake's firm obligation to ``min(X, demand)`` in the months it
  holds; the firm obligation is served before any mining (its penalty exceeds
  every mining value, see :mod:`gridhash.dispatch.problem`).
* ``grid_first = true`` puts every offtake ahead of mining whatever the prices
  (:mod:`gridhash.dispatch.problem`: the dispatch values its deliveries just
  above the best mining use; settlement keeps the real price).
* A price term replaces the offtake's market price by the agreed one, so the
  dispatch values deliveries at what the offtake actually pays.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from gridhash.errors import ScenarioError
from gridhash.scenario.resolve import Inputs, _Resolver

if TYPE_CHECKING:
    from gridhash.scenario.agreement import Agreement
    from gridhash.scenario.load import LoadedScenario


def find_agreement(loaded: LoadedScenario, name: str | None) -> tuple[int, Agreement]:
    """The agreement called ``name`` (the first when None), with its position."""
    agreements = loaded.scenario.agreements
    if not agreements:
        raise ScenarioError(
            "the scenario has no agreements",
            source=loaded.source,
            field="agreements",
            value=name,
            expected="an [[agreements]] table (see docs/agreements.md)",
        )
    if name is None:
        return 0, agreements[0]
    for i, a in enumerate(agreements):
        if a.name == name:
            return i, a
    raise ScenarioError(
        f"unknown agreement {name!r}",
        source=loaded.source,
        field="agreements",
        value=name,
        expected=f"one of {', '.join(a.name for a in agreements)}",
    )


def apply_agreement(loaded: LoadedScenario, inputs: Inputs, name: str | None = None) -> Inputs:
    """``inputs`` with the agreement's obligations and price terms applied."""
    i, agreement = find_agreement(loaded, name)
    where = f"agreements[{i}]"
    r = _Resolver(loaded, inputs.index)
    offtake = list(inputs.offtake_names).index  # names checked by the schema

    price = inputs.offtake_price_usd_per_mwh.copy()
    firm = inputs.offtake_firm_mw.copy()
    months = inputs.index.month.to_numpy()
    for j, ob in enumerate(agreement.obligations):
        p = f"{where}.obligations[{j}]"
        o = offtake(ob.offtake)
        mw = r.series(ob, "mw", p)
        active = np.ones(inputs.hours, dtype=bool) if ob.months is None else np.isin(
            months, ob.months
        )
        firm[o] = np.where(active, np.maximum(firm[o], np.minimum(mw, inputs.offtake_demand_mw[o])),
                           firm[o])
    for j, term in enumerate(agreement.prices):
        p = f"{where}.prices[{j}]"
        o = offtake(term.offtake)
        if term.price_usd_per_mwh is not None:
            price[o] = r.series(term, "price_usd_per_mwh", p)
    return dataclasses.replace(inputs, offtake_price_usd_per_mwh=price, offtake_firm_mw=firm,
                               grid_first=agreement.grid_first)
