r"""Mining revenue per unit of hashrate and per MWh, break-even and payback.

All functions are pure, vectorized numpy functions: every argument may be a
scalar or an array, and arrays broadcast against each other.

Derivation
----------
**Expected hashes per block.**  A block header is valid when its SHA-256d hash,
read as a 256-bit number, is at most the target ``T``.  Difficulty is defined
relative to the "difficulty 1" target ``T1 = 0xFFFF * 2**208``:
``D = T1 / T``.  A uniformly random hash meets ``T`` with probability
``T / 2**256 = T1 / (D * 2**256) ≈ 1 / (D * 2**32)`` (since
``T1 / 2**256 = 0xFFFF / 2**48 ≈ 2**-32``, a relative error of 1.5e-5).  So a
block needs on average

.. math:: H_{block} = D \cdot 2^{32} \quad \text{hashes}.

**Reward per hash.**  Each block pays the miner the subsidy ``S`` plus the
fees ``f`` it collects; a pool keeps a fraction ``p`` (``pool_fee``).  A miner
computing ``N`` hashes therefore earns, in expectation,

.. math:: \text{BTC}(N) = \frac{N}{D \cdot 2^{32}} (S + f) (1 - p).

**Per TH/s and hour.**  1 TH/s sustained for an hour is
``N = 3600 \cdot 10^{12}`` hashes:

.. math::
    \text{btc\_per\_th\_hour} = \frac{3600 \cdot 10^{12}}{D \cdot 2^{32}} (S + f)(1 - p).

**Hashprice** (Luxor's term) is the USD value of 1 PH/s for a day:
``24 * 1000 * btc_per_th_hour * price``. [$/(PH/s)/day]

**Per MWh.**  1 MWh is ``3.6e9`` J.  A site spends a fraction
``o / (1 + o)`` of its power on cooling (``o`` = ``cooling_overhead``, e.g. a PUE
of 1.1 is ``o = 0.1``), so the ASICs get ``3.6e9 / (1 + o)`` J of each MWh
delivered to the site.  An ASIC of efficiency ``e`` J/TH turns that into
``3.6e9 / (e (1 + o))`` TH (terahashes, a count), hence

.. math::
    \text{btc\_per\_mwh} = \frac{3.6 \cdot 10^{9}}{e (1 + o)}
        \cdot \frac{10^{12}}{D \cdot 2^{32}} (S + f)(1 - p).

**Value of a MWh** to the dispatch optimizer is the revenue net of opex
(``opex_usd_per_mwh``: site maintenance, hosting, staff, per MWh at the site):

.. math:: V = \text{btc\_per\_mwh} \cdot P_{BTC} - c_{opex}.

The **break-even power price** is the electricity price at which the margin
``V - c_{power}`` is zero, i.e. ``V`` itself.

**One machine.**  A machine of hashrate ``H`` TH/s earns
``24 H btc_per_th_hour P_BTC`` $/day and, with power ``W`` watts, draws
``24 W (1 + o) / 10^6`` MWh/day at the site, which costs
``(c_{power} + c_{opex})`` $/MWh.  Its payback time is price / daily margin,
infinite when the margin is not positive.

**Over a machine's life** (:func:`lifetime_value`, the one valuation behind
``gridhash economics`` and ``gridhash size``).  Let ``R_1`` be the revenue of
the first year and ``E_1`` the energy it draws at the site, both as the
dispatch runs the machine (its uptime: the hours it mines).  Year ``y`` earns
``R_1 f_y`` with ``f_y`` the revenue per hash relative to year 1
(:func:`revenue_factors`: BTC price growth over difficulty growth, and the
halvings by block height) and pays ``E_1 (c_{power} + c_{opex})``.  With
discount factors ``δ_y = (1 + r)^{-y}``, purchase price ``C`` and a resale
value ``ρ C`` at the end of life ``L``:

.. math:: NPV = Σ_y δ_y (R_1 f_y − E_1 (c_{power} + c_{opex})) − C + ρ C δ_L.

NPV is linear in the power price and in the level of revenue, so the
break-evens are closed forms: the power price at which NPV = 0, and the scale
``k`` of revenue at which NPV = 0, i.e. the first year's BTC price ``k P_1``
or hashprice ``k h_1`` (everything else as assumed).

References
----------
.. [1] S. Nakamoto, "Bitcoin: A Peer-to-Peer Electronic Cash System", 2008,
   section 4 (proof-of-work). https://bitcoin.org/bitcoin.pdf
.. [2] Bitcoin Wiki, "Difficulty" ("How soon might I expect to generate a
   block?": ``time = difficulty * 2**32 / hashrate``).
   https://en.bitcoin.it/wiki/Difficulty
.. [3] Hashrate Index (Luxor), "Bitcoin Hashprice Index": hashprice is a
   function of network difficulty, bitcoin's price, block subsidy and
   transaction fees. https://data.hashrateindex.com/network-data/bitcoin-hashprice-index
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ASIC_LIFETIME_YEARS",
    "DISCOUNT_RATE",
    "HASHES_PER_DIFFICULTY",
    "HASHES_PER_TH",
    "HOURS_PER_DAY",
    "JOULES_PER_MWH",
    "RESALE_FRACTION",
    "SECONDS_PER_HOUR",
    "LifetimeValue",
    "breakeven_power_price_usd_per_mwh",
    "btc_per_mwh",
    "btc_per_th_hour",
    "first_year",
    "hashprice_usd_per_ph_day",
    "lifetime_value",
    "mining_value_usd_per_mwh",
    "payback_days",
    "power_cost_usd_per_day",
    "revenue_factors",
    "revenue_growth_per_year",
    "revenue_usd_per_day",
]

#: Expected hashes per block per unit of difficulty. [hashes]
HASHES_PER_DIFFICULTY: int = 2**32
#: Hashes in one terahash. [hashes/TH]
HASHES_PER_TH: float = 1e12
#: Joules in one megawatt-hour. [J/MWh]
JOULES_PER_MWH: float = 3.6e9
#: Seconds in one hour. [s/h]
SECONDS_PER_HOUR: float = 3600.0
#: Hours in one day. [h/day]
HOURS_PER_DAY: float = 24.0

Float = NDArray[np.float64] | np.float64

#: ASSUMPTION: ASICs are written off over 4 years (hashprice halves at each halving,
#: and the catalogue's machines are 2023-2025 vintages). [yr]
ASIC_LIFETIME_YEARS: float = 4.0
#: ASSUMPTION: a merchant-risk discount rate for mining equipment. [1/yr]
DISCOUNT_RATE: float = 0.10
#: ASSUMPTION: a machine sells for 10 % of its price at the end of its life (used
#: ASICs of a generation or two back trade at a small fraction of their new price). [-]
RESALE_FRACTION: float = 0.10


def _f(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def _check(condition: NDArray[np.bool_], message: str) -> None:
    if not np.all(condition):
        raise ValueError(message)


def _btc_per_th(
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    pool_fee: ArrayLike,
) -> NDArray[np.float64]:
    """Expected BTC per terahash (a count of hashes) computed, net of pool fee."""
    d, s, f, p = _f(difficulty), _f(subsidy_btc), _f(fees_btc_per_block), _f(pool_fee)
    _check(d > 0, "difficulty must be > 0")
    _check((s >= 0) & (f >= 0), "subsidy_btc and fees_btc_per_block must be >= 0")
    _check((p >= 0) & (p <= 1), "pool_fee must be within [0, 1]")
    return HASHES_PER_TH / (d * float(HASHES_PER_DIFFICULTY)) * (s + f) * (1.0 - p)


def _site_factor(cooling_overhead: ArrayLike) -> NDArray[np.float64]:
    o = _f(cooling_overhead)
    _check(o >= 0, "cooling_overhead must be >= 0")
    return 1.0 + o


def btc_per_th_hour(
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    pool_fee: ArrayLike = 0.0,
) -> Float:
    """Expected bitcoin earned by 1 TH/s of hashrate during one hour.

    ``3600 * 1e12 / (difficulty * 2**32) * (subsidy + fees) * (1 - pool_fee)``.

    Parameters
    ----------
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]

    Returns
    -------
    btc : numpy.ndarray or numpy.float64
        Expected reward. [BTC/(TH/s)/h]

    References
    ----------
    .. [1] Bitcoin Wiki, "Difficulty". https://en.bitcoin.it/wiki/Difficulty
    """
    return (SECONDS_PER_HOUR * _btc_per_th(difficulty, subsidy_btc, fees_btc_per_block, pool_fee))[
        ()
    ]


def hashprice_usd_per_ph_day(
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    btc_price_usd: ArrayLike,
    pool_fee: ArrayLike = 0.0,
) -> Float:
    """Hashprice: expected USD earned by 1 PH/s during one day.

    Parameters
    ----------
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    btc_price_usd : array_like
        Bitcoin price. [$/BTC]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]

    Returns
    -------
    hashprice : numpy.ndarray or numpy.float64
        Expected revenue. [$/(PH/s)/day]

    References
    ----------
    .. [1] Hashrate Index, "Bitcoin Hashprice Index".
       https://data.hashrateindex.com/network-data/bitcoin-hashprice-index
    """
    per_th_hour = btc_per_th_hour(difficulty, subsidy_btc, fees_btc_per_block, pool_fee)
    return (_f(per_th_hour) * HOURS_PER_DAY * 1000.0 * _f(btc_price_usd))[()]


def btc_per_mwh(
    efficiency_j_per_th: ArrayLike,
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    pool_fee: ArrayLike = 0.0,
    cooling_overhead: ArrayLike = 0.0,
) -> Float:
    """Expected bitcoin earned per MWh delivered to the mining site.

    ``3.6e9 / (efficiency * (1 + cooling_overhead))`` terahashes per MWh times
    ``1e12 / (difficulty * 2**32) * (subsidy + fees) * (1 - pool_fee)`` BTC per TH.

    Parameters
    ----------
    efficiency_j_per_th : array_like
        ASIC energy per terahash at the wall. [J/TH]
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]
    cooling_overhead : array_like, default 0.0
        Cooling power per unit of ASIC power (PUE - 1); the ASICs get
        ``1 / (1 + cooling_overhead)`` of the site's energy. [-]

    Returns
    -------
    btc : numpy.ndarray or numpy.float64
        Expected reward per MWh at the site. [BTC/MWh]

    References
    ----------
    .. [1] Bitcoin Wiki, "Difficulty". https://en.bitcoin.it/wiki/Difficulty
    """
    e = _f(efficiency_j_per_th)
    _check(e > 0, "efficiency_j_per_th must be > 0")
    th_per_mwh = JOULES_PER_MWH / (e * _site_factor(cooling_overhead))
    return (th_per_mwh * _btc_per_th(difficulty, subsidy_btc, fees_btc_per_block, pool_fee))[()]


def mining_value_usd_per_mwh(
    efficiency_j_per_th: ArrayLike,
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    btc_price_usd: ArrayLike,
    pool_fee: ArrayLike = 0.0,
    cooling_overhead: ArrayLike = 0.0,
    opex_usd_per_mwh: ArrayLike = 0.0,
) -> Float:
    """USD value of one MWh delivered to the mining site, net of pool fee and opex.

    This is what the dispatch optimizer pays for a MWh sent to mining; it
    excludes the cost of the electricity itself.

    Parameters
    ----------
    efficiency_j_per_th : array_like
        ASIC energy per terahash at the wall. [J/TH]
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    btc_price_usd : array_like
        Bitcoin price. [$/BTC]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]
    cooling_overhead : array_like, default 0.0
        Cooling power per unit of ASIC power (PUE - 1). [-]
    opex_usd_per_mwh : array_like, default 0.0
        Non-energy operating cost per MWh at the site. [$/MWh]

    Returns
    -------
    value : numpy.ndarray or numpy.float64
        Net value of a MWh; negative when opex exceeds revenue. [$/MWh]

    References
    ----------
    .. [1] Bitcoin Wiki, "Difficulty". https://en.bitcoin.it/wiki/Difficulty
    """
    btc = btc_per_mwh(
        efficiency_j_per_th, difficulty, subsidy_btc, fees_btc_per_block, pool_fee, cooling_overhead
    )
    return (_f(btc) * _f(btc_price_usd) - _f(opex_usd_per_mwh))[()]


def breakeven_power_price_usd_per_mwh(
    efficiency_j_per_th: ArrayLike,
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    btc_price_usd: ArrayLike,
    pool_fee: ArrayLike = 0.0,
    cooling_overhead: ArrayLike = 0.0,
    opex_usd_per_mwh: ArrayLike = 0.0,
) -> Float:
    """Electricity price at which mining a MWh exactly breaks even.

    Gross revenue per MWh at the site minus opex, i.e. the same number as
    :func:`mining_value_usd_per_mwh`: above this price, mining loses money.

    Parameters
    ----------
    efficiency_j_per_th : array_like
        ASIC energy per terahash at the wall. [J/TH]
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    btc_price_usd : array_like
        Bitcoin price. [$/BTC]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]
    cooling_overhead : array_like, default 0.0
        Cooling power per unit of ASIC power (PUE - 1). [-]
    opex_usd_per_mwh : array_like, default 0.0
        Non-energy operating cost per MWh at the site. [$/MWh]

    Returns
    -------
    price : numpy.ndarray or numpy.float64
        Break-even electricity price. [$/MWh]

    References
    ----------
    .. [1] Bitcoin Wiki, "Difficulty". https://en.bitcoin.it/wiki/Difficulty
    """
    return mining_value_usd_per_mwh(
        efficiency_j_per_th,
        difficulty,
        subsidy_btc,
        fees_btc_per_block,
        btc_price_usd,
        pool_fee,
        cooling_overhead,
        opex_usd_per_mwh,
    )


def revenue_usd_per_day(
    hashrate_th: ArrayLike,
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    btc_price_usd: ArrayLike,
    pool_fee: ArrayLike = 0.0,
) -> Float:
    """Expected daily revenue of one machine.

    Parameters
    ----------
    hashrate_th : array_like
        Machine hashrate. [TH/s]
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    btc_price_usd : array_like
        Bitcoin price. [$/BTC]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]

    Returns
    -------
    revenue : numpy.ndarray or numpy.float64
        Expected revenue. [$/day]

    References
    ----------
    .. [1] Bitcoin Wiki, "Difficulty". https://en.bitcoin.it/wiki/Difficulty
    """
    h = _f(hashrate_th)
    _check(h >= 0, "hashrate_th must be >= 0")
    per_th_hour = btc_per_th_hour(difficulty, subsidy_btc, fees_btc_per_block, pool_fee)
    return (h * _f(per_th_hour) * HOURS_PER_DAY * _f(btc_price_usd))[()]


def power_cost_usd_per_day(
    power_w: ArrayLike,
    power_price_usd_per_mwh: ArrayLike,
    cooling_overhead: ArrayLike = 0.0,
) -> Float:
    """Daily electricity cost of one machine, including its share of cooling.

    Parameters
    ----------
    power_w : array_like
        Machine power at the wall. [W]
    power_price_usd_per_mwh : array_like
        Electricity price at the site. [$/MWh]
    cooling_overhead : array_like, default 0.0
        Cooling power per unit of ASIC power (PUE - 1). [-]

    Returns
    -------
    cost : numpy.ndarray or numpy.float64
        ``power_w * (1 + cooling_overhead) * 24 / 1e6 * price``. [$/day]
    """
    w = _f(power_w)
    _check(w >= 0, "power_w must be >= 0")
    mwh_per_day = w * _site_factor(cooling_overhead) * HOURS_PER_DAY / 1e6
    return (mwh_per_day * _f(power_price_usd_per_mwh))[()]


def payback_days(
    price_usd: ArrayLike,
    hashrate_th: ArrayLike,
    power_w: ArrayLike,
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    btc_price_usd: ArrayLike,
    power_price_usd_per_mwh: ArrayLike,
    pool_fee: ArrayLike = 0.0,
    cooling_overhead: ArrayLike = 0.0,
    opex_usd_per_mwh: ArrayLike = 0.0,
) -> Float:
    """Days for one machine's daily margin to repay its price (static inputs).

    Parameters
    ----------
    price_usd : array_like
        Machine price. [$]
    hashrate_th : array_like
        Machine hashrate. [TH/s]
    power_w : array_like
        Machine power at the wall. [W]
    difficulty : array_like
        Network difficulty. [-]
    subsidy_btc : array_like
        Block subsidy. [BTC/block]
    fees_btc_per_block : array_like
        Transaction fees collected per block. [BTC/block]
    btc_price_usd : array_like
        Bitcoin price. [$/BTC]
    power_price_usd_per_mwh : array_like
        Electricity price at the site. [$/MWh]
    pool_fee : array_like, default 0.0
        Fraction of the reward kept by the pool. [-]
    cooling_overhead : array_like, default 0.0
        Cooling power per unit of ASIC power (PUE - 1). [-]
    opex_usd_per_mwh : array_like, default 0.0
        Non-energy operating cost per MWh at the site. [$/MWh]

    Returns
    -------
    days : numpy.ndarray or numpy.float64
        ``price / (revenue - (power price + opex) * site MWh per day)``;
        ``inf`` where that daily margin is <= 0. [day]
    """
    revenue = _f(
        revenue_usd_per_day(
            hashrate_th, difficulty, subsidy_btc, fees_btc_per_block, btc_price_usd, pool_fee
        )
    )
    energy_cost = _f(
        power_cost_usd_per_day(
            power_w, _f(power_price_usd_per_mwh) + _f(opex_usd_per_mwh), cooling_overhead
        )
    )
    margin = revenue - energy_cost
    price = _f(price_usd)
    _check(price >= 0, "price_usd must be >= 0")
    positive = margin > 0
    days = np.divide(
        price, margin, out=np.full(np.broadcast(price, margin).shape, np.inf), where=positive
    )
    return days[()]


def revenue_factors(
    start_height: int,
    blocks_per_hour: float,
    fees_btc_per_block: float,
    growth_per_year: float,
    years: int,
) -> NDArray[np.float64]:
    """Revenue per hash of each year of a machine's life relative to its first year.

    ``f_y = g^(y−1) · (S_y + fees) / (S_1 + fees)``: ``g`` the yearly drift of
    revenue per hash from the BTC price and the difficulty, ``S_y`` the mean
    subsidy of the blocks found in year ``y`` (the halvings, by block height).

    Parameters
    ----------
    start_height : int
        Block height at the start of the first year. [-]
    blocks_per_hour : float
        Blocks found per hour. [1/h]
    fees_btc_per_block : float
        Fees per block, held flat. [BTC/block]
    growth_per_year : float
        BTC price growth over difficulty growth, per year (1.0: flat). [-]
    years : int
        Life of the machine. [yr]

    Returns
    -------
    numpy.ndarray
        (years,) ``f_1 = 1``, then ``f_2``, ... [-]
    """
    from gridhash.bitcoin.subsidy import mean_subsidy_btc_per_block

    per_year = []
    for y in range(years):
        start = int(start_height + y * 8760 * blocks_per_hour)
        sub = float(np.mean(mean_subsidy_btc_per_block(start, 8760, blocks_per_hour)))
        per_year.append(sub + fees_btc_per_block)
    y = np.arange(years)
    return float(growth_per_year) ** y * np.array(per_year) / per_year[0]


@dataclass(frozen=True)
class LifetimeValue:
    """A machine's (or a fleet's) value over its life (:func:`lifetime_value`).

    Every field broadcasts like the inputs (one value per path, say).
    """

    npv_usd: NDArray[np.float64]  # [USD]
    revenue_pv_usd: NDArray[np.float64]  # discounted revenue [USD]
    energy_pv_mwh: NDArray[np.float64]  # discounted energy at the site [MWh]
    resale_pv_usd: NDArray[np.float64]  # discounted resale value [USD]
    payback_years: NDArray[np.float64]  # undiscounted; inf when never within the life [yr]
    breakeven_power_usd_per_mwh: NDArray[np.float64]  # NPV = 0 [USD/MWh]
    breakeven_revenue_scale: NDArray[np.float64]  # NPV = 0 at this × the revenue [-]


def lifetime_value(
    first_year_revenue_usd: ArrayLike,
    first_year_energy_mwh: ArrayLike,
    price_usd: ArrayLike,
    *,
    power_price_usd_per_mwh: ArrayLike,
    factors: ArrayLike,
    opex_usd_per_mwh: ArrayLike = 0.0,
    discount_rate: float = 0.10,
    resale_fraction: float = 0.0,
) -> LifetimeValue:
    """Net present value of mining equipment over its life, and its break-evens.

    Parameters
    ----------
    first_year_revenue_usd : array_like
        Revenue of the first year as dispatched (uptime, halvings within the year,
        pool fee included). [USD]
    first_year_energy_mwh : array_like
        Energy drawn at the site in the first year, cooling included. [MWh]
    price_usd : array_like
        Purchase price. [USD]
    power_price_usd_per_mwh : array_like
        What the machine pays for a MWh (held flat over the life). [USD/MWh]
    factors : array_like
        (years,) revenue per hash of each year relative to the first
        (:func:`revenue_factors`). [-]
    opex_usd_per_mwh : array_like, default 0.0
        Non-energy operating cost per MWh at the site. [USD/MWh]
    discount_rate : float, default 0.10
        Yearly discount rate. [1/yr]
    resale_fraction : float, default 0.0
        Resale value at the end of life, as a fraction of the price. [-]

    Returns
    -------
    LifetimeValue
        NPV, payback and the break-even power price and revenue scale (module
        docstring); the break-even BTC price or hashprice is that scale times the
        first year's.
    """
    f = _f(factors)
    _check(f.ndim == 1 and f.size > 0, "factors must be a non-empty 1-d array")
    _check(f >= 0, "factors must be >= 0")
    r1, e1, capex = _f(first_year_revenue_usd), _f(first_year_energy_mwh), _f(price_usd)
    _check(e1 >= 0, "first_year_energy_mwh must be >= 0")
    _check(capex >= 0, "price_usd must be >= 0")
    years = f.size
    disc = (1.0 + discount_rate) ** -np.arange(1, years + 1)
    cost_rate = _f(power_price_usd_per_mwh) + _f(opex_usd_per_mwh)
    revenue_pv = r1 * float(np.sum(disc * f))
    energy_pv = e1 * float(np.sum(disc))
    resale_pv = capex * resale_fraction * float(disc[-1])
    npv = revenue_pv - energy_pv * cost_rate - capex + resale_pv
    with np.errstate(divide="ignore", invalid="ignore"):
        breakeven_power = np.where(
            energy_pv > 0,
            (revenue_pv - energy_pv * _f(opex_usd_per_mwh) - capex + resale_pv) / energy_pv,
            np.inf,
        )
        scale = np.where(revenue_pv > 0,
                         (energy_pv * cost_rate + capex - resale_pv) / revenue_pv, np.inf)
    # payback: the first (fractional) year where undiscounted cash repays the price
    cash = r1[..., None] * f - (e1 * cost_rate)[..., None] * np.ones(years)
    cum = np.cumsum(cash, axis=-1)
    need = capex[..., None] if capex.ndim else capex
    paid = cum >= need
    first = np.where(paid.any(axis=-1), paid.argmax(axis=-1), -1)
    before = np.take_along_axis(np.concatenate([np.zeros_like(cum[..., :1]), cum], axis=-1),
                                np.maximum(first, 0)[..., None], axis=-1)[..., 0]
    step = np.take_along_axis(cash, np.maximum(first, 0)[..., None], axis=-1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        payback = np.where(first >= 0,
                           first + np.clip((capex - before) / np.where(step > 0, step, np.inf),
                                           0.0, 1.0), np.inf)
    return LifetimeValue(
        npv_usd=np.asarray(npv)[()],
        revenue_pv_usd=np.asarray(revenue_pv)[()],
        energy_pv_mwh=np.asarray(energy_pv)[()],
        resale_pv_usd=np.asarray(resale_pv)[()],
        payback_years=np.asarray(payback)[()],
        breakeven_power_usd_per_mwh=np.asarray(breakeven_power)[()],
        breakeven_revenue_scale=np.asarray(scale)[()],
    )


def revenue_growth_per_year(btc_price_usd: ArrayLike, difficulty: ArrayLike) -> float:
    """Yearly drift of revenue per hash read from a series' first and last hour:
    ``((P_end / P_0) / (D_end / D_0)) ** (8760 / (T − 1))``. [-]

    Parameters
    ----------
    btc_price_usd : array_like
        (T,) hourly bitcoin price. [USD/BTC]
    difficulty : array_like
        (T,) hourly difficulty. [-]
    """
    p, d = _f(btc_price_usd), _f(difficulty)
    _check((p.size > 0) & (p.size == d.size), "btc_price_usd and difficulty need the same hours")
    growth = (p[-1] / p[0]) / (d[-1] / d[0])
    return float(growth) ** (8760.0 / max(p.size - 1, 1))


def first_year(
    hashrate_th: ArrayLike,
    power_w: ArrayLike,
    running: ArrayLike,
    difficulty: ArrayLike,
    subsidy_btc: ArrayLike,
    fees_btc_per_block: ArrayLike,
    btc_price_usd: ArrayLike,
    pool_fee: float = 0.0,
    cooling_overhead: float = 0.0,
) -> tuple[Float, Float]:
    """Revenue and site energy of one machine over a year, running as it is dispatched.

    Parameters
    ----------
    hashrate_th, power_w : array_like
        The machine. [TH/s], [W]
    running : array_like
        (T,) fraction of each hour the machine runs (its uptime, hour by hour). [-]
    difficulty, subsidy_btc, fees_btc_per_block, btc_price_usd : array_like
        (T,) the hours' figures. [-], [BTC/block], [BTC/block], [USD/BTC]
    pool_fee, cooling_overhead : float
        As in :func:`btc_per_mwh`. [-]

    Returns
    -------
    (revenue, energy) : tuple
        Over the hours scaled to 8,760 of them. [USD/yr], [MWh/yr]
    """
    w = _f(running)
    _check((w >= 0) & (w <= 1 + 1e-9), "running must lie within [0, 1]")
    scale = 8760.0 / max(w.shape[-1], 1)
    per_th = btc_per_th_hour(difficulty, subsidy_btc, fees_btc_per_block, pool_fee)
    revenue = _f(hashrate_th) * np.sum(w * _f(per_th) * _f(btc_price_usd), axis=-1) * scale
    energy = _f(power_w) * _site_factor(cooling_overhead) / 1e6 * np.sum(w, axis=-1) * scale
    return revenue[()], energy[()]
