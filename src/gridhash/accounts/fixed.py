"""Fixed costs: what the plant pays in a year whatever it dispatches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gridhash.bitcoin.economics import ASIC_LIFETIME_YEARS

if TYPE_CHECKING:
    from gridhash.scenario.agreement import Agreement
    from gridhash.scenario.resolve import Inputs

#: The fleet's life, as every valuation assumes it (an assumption:
#: :data:`gridhash.bitcoin.economics.ASIC_LIFETIME_YEARS`). [yr]
FLEET_LIFETIME_YEARS = ASIC_LIFETIME_YEARS


def fleet_capital_usd_per_year(inputs: Inputs, agreement: Agreement | None = None) -> float:
    """The fleet's capital cost a year: the agreement's figure where it gives one, else
    the catalogue price of every machine over :data:`FLEET_LIFETIME_YEARS`. [USD/yr]"""
    if agreement is not None and agreement.costs.fleet_capital_usd_per_year:
        return float(agreement.costs.fleet_capital_usd_per_year)
    price = sum(m.price_usd * n for m, n in zip(inputs.class_models, inputs.class_count,
                                                strict=True))
    return float(price) / FLEET_LIFETIME_YEARS


def fixed_costs_usd_per_year(inputs: Inputs, agreement: Agreement | None = None
                             ) -> dict[str, float]:
    """``fleet_capital`` and ``fixed_om`` (the agreement's; 0 without one). [USD/yr]"""
    return {
        "fleet_capital": fleet_capital_usd_per_year(inputs, agreement),
        "fixed_om": float(agreement.costs.fixed_om_usd_per_year) if agreement else 0.0,
    }
