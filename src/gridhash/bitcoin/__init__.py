"""Bitcoin side of gridhash: subsidy schedule, mining economics, ASIC catalogue."""

from gridhash.bitcoin.catalogue import AsicModel, get_model, load_catalogue, parse_catalogue
from gridhash.bitcoin.economics import (
    HASHES_PER_DIFFICULTY,
    breakeven_power_price_usd_per_mwh,
    btc_per_mwh,
    btc_per_th_hour,
    hashprice_usd_per_ph_day,
    mining_value_usd_per_mwh,
    payback_days,
    power_cost_usd_per_day,
    revenue_usd_per_day,
)
from gridhash.bitcoin.subsidy import (
    BLOCKS_PER_HOUR,
    HALVING_INTERVAL,
    INITIAL_SUBSIDY_SAT,
    SATOSHI_PER_BTC,
    block_subsidy_btc,
    block_subsidy_sat,
    height_at_hour,
    mean_subsidy_btc_per_block,
    next_halving_height,
)

__all__ = [
    "BLOCKS_PER_HOUR",
    "HALVING_INTERVAL",
    "HASHES_PER_DIFFICULTY",
    "INITIAL_SUBSIDY_SAT",
    "SATOSHI_PER_BTC",
    "AsicModel",
    "block_subsidy_btc",
    "block_subsidy_sat",
    "breakeven_power_price_usd_per_mwh",
    "btc_per_mwh",
    "btc_per_th_hour",
    "get_model",
    "hashprice_usd_per_ph_day",
    "height_at_hour",
    "load_catalogue",
    "mean_subsidy_btc_per_block",
    "mining_value_usd_per_mwh",
    "next_halving_height",
    "parse_catalogue",
    "payback_days",
    "power_cost_usd_per_day",
    "revenue_usd_per_day",
]
