"""The merit order, all hours of a chunk of paths at once (steps 1–5 of
:mod:`gridhash.dispatch.fast`): the per-hour optimum without the ramp rows.

:mod:`gridhash.dispatch.merit_spec` is the same thing written plainly, hour by
hour; a test holds the two equal bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridhash.dispatch.fast.batch import OUTPUTS, PATH_FIELDS, BatchProblem
from gridhash.scenario.arrays import declare

# --------------------------------------------------------------------------- #
# The merit order, all hours of a chunk of paths at once
# --------------------------------------------------------------------------- #

Mask = bool | np.ndarray


class _Key:
    """A price or cost per hour (a float when constant) with its range over the chunk.

    Keys are compared pairwise; when their ranges do not overlap the answer is
    one Python bool for every hour, and the sums it selects are plain adds.
    Every sum is taken in the same order whichever way a comparison is
    evaluated, so the chunking of paths cannot change a result.  A key plus a
    constant (``key + c``) adds it to the hours only when they are read (``v``):
    most such keys are only ever compared by range.
    """

    __slots__ = ("_plus", "_v", "hi", "lo")

    def __init__(
        self, v: float | np.ndarray, lo: float, hi: float, plus: float | None = None
    ) -> None:
        self._v, self._plus, self.lo, self.hi = v, plus, lo, hi

    @property
    def v(self) -> float | np.ndarray:
        """The key hour by hour (a float when constant)."""
        if self._plus is not None:
            self._v, self._plus = self._v + self._plus, None
        return self._v

    @classmethod
    def of(cls, a: np.ndarray | float, static: bool = False) -> _Key:
        """The key of ``a``; ``static``: ``a`` holds one value for every hour (its layout
        says so), so its range is read from its first hour."""
        if isinstance(a, float):
            return cls(a, a, a)
        first = a[..., :1] if static else a
        lo, hi = (float(first.min()), float(first.max())) if a.size else (0.0, 0.0)
        if lo == hi:
            return cls(lo, lo, hi)
        return cls(a, lo, hi)  # with a NaN, lo and hi are NaN: every test goes per hour

    def __add__(self, c: float) -> _Key:
        # rounding is monotone, so the range of v + c is (lo + c, hi + c) exactly
        v = self.v
        if isinstance(v, float):
            return _Key(v + c, self.lo + c, self.hi + c)
        return _Key(v, self.lo + c, self.hi + c, plus=c)


def _lt(a: _Key, b: _Key) -> Mask:
    """a < b, hour by hour, or one bool when that holds for every hour or none.

    Ranges that do not overlap decide without looking at the hours; otherwise
    the hourly mask is collapsed to one bool when it is all True or all False
    (two reductions of bools, far cheaper than the masked adds they save).
    """
    if a.hi < b.lo:
        return True
    if a.lo >= b.hi:
        return False
    mask = np.less(a.v, b.v)
    if not mask.any():
        return False
    if mask.all():
        return True
    return mask


def _not(mask: Mask) -> Mask:
    return ~mask if isinstance(mask, np.ndarray) else not mask


def _acc(acc: np.ndarray, mask: Mask, x: np.ndarray) -> None:
    """acc += x where mask (in place)."""
    if mask is True:
        np.add(acc, x, out=acc)
    elif mask is not False:
        np.add(acc, x, out=acc, where=mask)


def _clip(x: np.ndarray, cap: np.ndarray, *, copy: bool = False) -> np.ndarray:
    """min(max(x, 0), cap): in place, or in a new array with ``copy``."""
    y = np.maximum(x, 0.0, out=None if copy else x)
    return np.minimum(y, cap, out=y)


def _fold(start: np.ndarray, caps: list[np.ndarray], masks: list[Mask], sums: dict) -> np.ndarray:
    """start + Σ_j caps[j] where masks[j], added in the order of j.

    The partial sums over a leading run of masks that hold for every hour are
    shared through ``sums`` (keyed by the indices added; one dict per ``start``
    and ``caps``), so sets that begin alike cost one add per further term.  The
    arithmetic is the same either way (a masked add leaves other hours alone),
    hence so is every result.  The array returned may be shared: read only.
    """
    acc, added = start, ()
    for j, mask in enumerate(masks):
        if mask is True:
            added += (j,)
            total = sums.get(added)
            if total is None:
                total = sums[added] = acc + caps[j]
            acc = total
        elif mask is not False:  # hour by hour from here on
            acc = acc.copy()
            for m, x in zip(masks[j:], caps[j:], strict=True):
                _acc(acc, m, x)
            return acc
    return acc


@declare("result", leading="n", optional=("marginal_value_usd_per_mwh",))
class _Hours:
    """Per-hour optimum of a chunk of n paths (arrays (n, ..., T))."""

    ok: np.ndarray  # (n, T) the hour's data are in the domain and it is feasible


def _nonneg_finite(a: np.ndarray) -> np.ndarray:
    return (a >= 0) & (a < np.inf)


def _above_minus_inf(v: float) -> bool:
    return v > -np.inf


def _below_inf(v: float) -> bool:
    return v < np.inf


def _nonneg(v: float) -> bool:
    return v >= 0


Extremes = tuple[Callable[[float], bool] | None, Callable[[float], bool] | None]

#: What the merit order assumes of each hour: (fields, test → (n|1, [X,] T) bools, the
#: same test on a field's least and greatest value: (least ok, greatest ok), each None
#: when not tested, and None for the units' pair, which is tested on its own).  Every
#: element passes when its field's extremes do; a NaN makes both NaN and fails them.
_DOMAIN: tuple[tuple[tuple[str, ...], Callable[..., np.ndarray], Extremes | None], ...] = (
    *(
        ((name,), np.isfinite, (_above_minus_inf, _below_inf))
        for name in ("unit_cost_usd_per_mwh", "import_price_usd_per_mwh",
                     "offtake_price_usd_per_mwh", "class_value_usd_per_mwh")
    ),
    *(
        ((name,), _nonneg_finite, (_nonneg, _below_inf))
        for name in (
            "house_load_mw",
            "import_cap_mw",
            "diesel_cap_mw",
            "blackout_cap_mw",
            "offtake_cap_mw",
            "offtake_firm_mw",
            "class_cap_mw",
        )
    ),
    (("site_cap_mw",), lambda a: a >= 0, (_nonneg, None)),
    (("mining_cap_mw",), lambda a: a >= 0, (_nonneg, None)),
    (
        ("unit_min_mw", "unit_available_mw"),
        lambda lo, hi: (lo >= 0) & (lo <= hi) & (hi < np.inf),
        None,
    ),
)


def _in_domain(
    f: dict[str, np.ndarray],
    shared: frozenset[str],
    shape: tuple[int, int],
    scalars: tuple,
    cache: dict,
    extent: Callable[[str, int], float],
) -> np.ndarray:
    """(n, T) True where the hour's data are what the merit order assumes.

    Tests of the ``shared`` arrays (one for every path) are done once per batch
    (``cache``).  The others are first decided from each field's least and
    greatest value (``extent(name, 0)``, ``extent(name, 1)``; for the units, min
    ≥ 0 and avail < ∞ so, with min ≤ avail compared element by element): two
    reductions instead of an elementwise mask.  Only where they fail are the
    hours tested one by one.
    """
    ok = np.zeros(shape, dtype=bool)
    if not all(np.isfinite(scalars)):
        return ok
    if "domain" not in cache:
        common = np.ones((1, shape[1]), dtype=bool)
        varying = []
        for rule in _DOMAIN:
            names, test, _ = rule
            if all(name in shared for name in names):
                cond = test(*(f[name] for name in names))
                common &= cond.all(axis=1) if cond.ndim == 3 else cond
            else:
                varying.append(rule)
        cache["domain"] = common, varying
    common, varying = cache["domain"]
    ok |= common
    for names, test, extremes in varying:
        arrays = [f[name] for name in names]
        if not arrays[0].size:
            continue  # no element, nothing to fail (as the hourly test finds)
        if extremes is None:  # (min, avail)
            lo, hi = arrays
            if (
                extent(names[0], 0) >= 0
                and extent(names[1], 1) < np.inf
                and not np.greater(lo, hi).any()
            ):
                continue
        else:
            least, greatest = extremes
            if (least is None or least(extent(names[0], 0))) and (
                greatest is None or greatest(extent(names[0], 1))
            ):
                continue  # every hour passes: nothing to mask
        cond = test(*arrays)
        ok &= cond.all(axis=1) if cond.ndim == 3 else cond
    return ok


def _sum_rows(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=1)`` of an (n, X, T) array: the same sums, row after row (numpy adds
    the rows in order too), without its slower strided reduction."""
    if a.shape[1] < 2:
        return a.sum(axis=1)
    acc = np.add(a[:, 0], a[:, 1])
    for x in range(2, a.shape[1]):
        acc += a[:, x]
    return acc


def _masked_sum(caps: list[np.ndarray], masks: list[Mask]) -> np.ndarray | None:
    """0 + Σ_j caps[j] where masks[j], added in the order of j (None without a term)."""
    terms = [(c, m) for c, m in zip(caps, masks, strict=True) if m is not False]
    if not terms:
        return None
    shapes = [c.shape for c, _ in terms] + [m.shape for _, m in terms if isinstance(m, np.ndarray)]
    acc = np.zeros(np.broadcast_shapes(*shapes))
    for c, m in terms:
        _acc(acc, m, c)
    return acc


def _greedy(
    k: int,
    site: int,
    at_site: dict[int, list[int]],
    ahead: dict[int, list[Mask]],
    caps_k: list[np.ndarray],
    caps_s: dict[int, np.ndarray],
) -> tuple[np.ndarray, np.ndarray | None]:
    """f(P_k ∪ {k}) and f(P_k) (None when 0) before the total cap, for class k at ``site``.

    ``ahead[s]``: whether each other class at site s is ahead of k.  Sites where
    no class can be ahead of k add min(scap, 0) = 0: left out.
    """
    without: np.ndarray | None = None
    with_k: np.ndarray | None = None
    for s, masks in ahead.items():
        before = _masked_sum([caps_k[j] for j in at_site[s] if j != k], masks)
        part = None if before is None else np.minimum(caps_s[s], before)
        if s == site:
            more = caps_k[k] if before is None else before + caps_k[k]
            part_k = np.minimum(caps_s[s], more)
        else:
            part_k = part
        if part is not None:
            without = part if without is None else without + part
        if part_k is not None:
            with_k = part_k if with_k is None else with_k + part_k
    assert with_k is not None  # the site of k is among the sites
    return with_k, without


def _source_order(
    keys: list[_Key], ranks: list[float]
) -> tuple[list[list[Mask]], list[list[Mask] | None]]:
    """The order of the sources: cost, then ramp rank (least flexible first).

    Returns, for each source x, the masks of the sources ahead of it (by index)
    and the masks of its tie group (equal cost and rank, x included; None when
    it is alone), as :func:`_fold` takes them.
    """
    ns = len(keys)
    first: dict[tuple[int, int], Mask] = {}  # (i, j): source i ahead of source j
    tied: dict[tuple[int, int], Mask] = {}
    for i in range(ns):
        for j in range(i + 1, ns):
            ki, kj = keys[i], keys[j]
            if ranks[i] == ranks[j]:
                first[j, i], first[i, j] = _lt(kj, ki), _lt(ki, kj)
                tied[i, j] = tied[j, i] = _not(first[j, i] | first[i, j])
            elif ranks[i] < ranks[j]:  # i first on equal cost
                first[j, i] = _lt(kj, ki)
                first[i, j] = _not(first[j, i])
            else:
                first[i, j] = _lt(ki, kj)
                first[j, i] = _not(first[i, j])
    before = [[first.get((y, x), False) for y in range(ns)] for x in range(ns)]
    groups: list[list[Mask] | None] = []
    for x in range(ns):
        group = [True if y == x else tied.get((x, y), False) for y in range(ns)]
        alone = all(m is False for y, m in enumerate(group) if y != x)
        groups.append(None if alone else group)
    return before, groups


class _Chunk:
    """The arrays of paths ``lo:hi`` of a batch, and what is known of them.

    Holds the chunk's fields (``f``), the names shared by every path (their
    tests and ranges are kept in the batch's ``cache``), the scalars of the
    base, the keys of the offtake prices and class values, the arrays to write
    outputs in (``into``) and one scratch array of the chunk's shape.
    """

    def __init__(
        self, b: BatchProblem, lo: int, hi: int, cache: dict, into: dict[str, np.ndarray]
    ) -> None:
        base = b.base
        self.base, self.cache, self.into = base, cache, into
        self.n, self.T = hi - lo, b.hours
        self.shape = (self.n, self.T)
        self.f = {name: b.field(name, lo, hi) for name in PATH_FIELDS}
        self.pen = float(base.unserved_penalty)
        self.c_diesel, self.c_blackout = float(base.diesel_cost), float(base.blackout_penalty)
        if "shared" not in cache:
            cache["shared"] = frozenset(name for name, a in b.arrays.items() if a.shape[0] == 1)
            cache["static"] = b.static
        self.shared: frozenset[str] = cache["shared"]
        self.static: frozenset[str] = cache["static"]  # one value for every hour
        self.extremes: dict[tuple[str, int], float] = {}
        self.prices = [self.key("offtake_price_usd_per_mwh", o)
                       for o in range(self.f["offtake_price_usd_per_mwh"].shape[1])]
        self.values = [self.key("class_value_usd_per_mwh", k)
                       for k in range(self.f["class_value_usd_per_mwh"].shape[1])]
        self.tmp = np.empty(self.shape)

    def key(self, name: str, i: int | None = None) -> _Key:
        """The key of ``f[name]`` (row ``i``), its range cached when shared by every path."""
        a = self.f[name]
        a = a[:, i] if i is not None else a
        static = name in self.static
        if name not in self.shared:
            return _Key.of(a, static)
        if (name, i) not in self.cache:
            self.cache[(name, i)] = _Key.of(a, static)
        return self.cache[(name, i)]

    def hours(self, name: str) -> np.ndarray:
        """``f[name]``, or its first hour where it is static (the same extremes)."""
        a = self.f[name]
        return a[..., :1] if name in self.static else a

    def extent(self, name: str, which: int) -> float:
        """The least (``which`` 0) or greatest (1) value of ``f[name]`` in the chunk."""
        v = self.extremes.get((name, which))
        if v is None:
            if name in ("offtake_price_usd_per_mwh", "class_value_usd_per_mwh"):
                # from the keys' ranges
                keys = self.prices if name[0] == "o" else self.values
                ends = [k.hi if which else k.lo for k in keys]
                v = np.nan if any(e != e for e in ends) else max(ends) if which else min(ends)
            else:
                v = float((np.maximum if which else np.minimum).reduce(self.hours(name),
                                                                        axis=None))
            self.extremes[name, which] = v
        return v

    def full(self, a: np.ndarray) -> np.ndarray:
        """``a`` broadcast to the chunk's (n, T) (a view when it is shared)."""
        return a if a.shape == self.shape else np.broadcast_to(a, self.shape)

    def empty(self, name: str, *axes: int) -> np.ndarray:
        """The output array ``name`` of shape (n, *axes, T): the caller's, or a new one."""
        return self.into[name] if name in self.into else np.empty((self.n, *axes, self.T))

    def shared_once(self, name: str, label: object, compute: Callable[[], Any]) -> Any:
        """``compute()``, kept in the batch's cache under ``label`` when ``name`` is shared."""
        if name not in self.shared:
            return compute()
        if label not in self.cache:
            self.cache[label] = compute()
        return self.cache[label]


@dataclass
class _Segments:
    """Segments in their fixed order: each one's key (value or cost), capacity (n, T),
    and for sources the ramp rank; for uses, each offtake's firm segment (None when
    left out: its firm obligation is 0 in every hour and no duals are wanted)."""

    key: list[_Key]
    cap: list[np.ndarray]
    rank: list[float] = field(default_factory=list)
    firm: list[int | None] = field(default_factory=list)


def _offtake_segments(c: _Chunk, duals: bool, segs: _Segments) -> None:
    """Step 1: each offtake's firm segment (price + pen⁺, min(firm, cap)) and the rest of
    its capacity (price, cap − that), appended to ``segs``.

    Without ``duals``, an offtake whose firm obligation is 0 in every hour of the
    chunk gets one segment (price, cap): the firm one is empty, so every sum and
    fill is the same without it.
    """
    bonus = max(c.pen, 0.0)
    ocap, firm = c.f["offtake_cap_mw"], c.f["offtake_firm_mw"]
    firm_hours = c.hours("offtake_firm_mw")  # (its first hour where static)
    for o, price in enumerate(c.prices):
        cap_o = c.full(ocap[:, o])
        firm_o = firm[:, o]
        if not duals:
            firm_max = c.shared_once("offtake_firm_mw", ("firm_max", o),
                                     lambda f=firm_hours[:, o]: float(f.max()) if f.size
                                     else 0.0)
            if firm_max <= 0:  # min(firm, cap) = 0 wherever the data are in the domain
                segs.firm.append(None)
                segs.key.append(price)
                segs.cap.append(cap_o)  # cap − 0
                continue
        a = np.minimum(c.full(firm_o), cap_o)
        segs.firm.append(len(segs.key))
        segs.key += [price + bonus, price]
        segs.cap += [a, cap_o - a]


def _class_segments(c: _Chunk, segs: _Segments) -> None:
    """Step 2: each miner class's segment (value, c_k) with c_k = f(P_k ∪ {k}) − f(P_k)
    (Edmonds' greedy, P_k the classes ahead of k), appended to ``segs``."""
    base, f, values = c.base, c.f, c.values
    K = len(values)
    class_site = np.asarray(base.class_site, dtype=np.int64)
    sites = sorted(set(class_site.tolist()))
    caps_k = [f["class_cap_mw"][:, k] for k in range(K)]  # (n or 1, T)
    caps_s = {s: f["site_cap_mw"][:, s] for s in sites}
    mcap = f["mining_cap_mw"]
    # min(∞, x) = x: skip those minimums
    unlimited = c.shared_once("mining_cap_mw", "mcap_unlimited",
                              lambda: not mcap.size or c.extent("mining_cap_mw", 0) == np.inf)
    at_site = {s: [k for k in range(K) if class_site[k] == s] for s in sites}
    fixed_caps = "class_cap_mw" in c.shared and "site_cap_mw" in c.shared
    for k in range(K):
        ahead = {
            s: [
                _not(_lt(values[j], values[k])) if j < k else _lt(values[k], values[j])
                for j in at_site[s]
                if j != k
            ]
            for s in sites
        }
        # f(P_k ∪ {k}) and f(P_k) before the total cap depend on the shared caps and
        # on the order only: kept for the batch when neither varies by hour or path
        memo = None
        if fixed_caps and not any(isinstance(m, np.ndarray) for ms in ahead.values() for m in ms):
            memo = ("greedy", k, tuple(tuple(ms) for ms in ahead.values()))
        if memo is not None and memo in c.cache:
            with_k, without = c.cache[memo]
        else:
            with_k, without = _greedy(k, int(class_site[k]), at_site, ahead, caps_k, caps_s)
            if memo is not None:
                c.cache[memo] = with_k, without
        segs.key.append(values[k])
        if unlimited:
            segs.cap.append(c.full(with_k if without is None else with_k - without))
        elif without is None:  # min(mcap, 0) = 0 in every hour of the domain (mcap ≥ 0)
            segs.cap.append(c.full(np.minimum(mcap, with_k)))
        else:
            segs.cap.append(
                c.full(np.subtract(np.minimum(mcap, with_k), np.minimum(mcap, without))))


def _use_segments(c: _Chunk, duals: bool) -> _Segments:
    """Steps 1 and 2: the use segments, offtakes then classes (their tie order)."""
    segs = _Segments(key=[], cap=[])
    _offtake_segments(c, duals, segs)
    _class_segments(c, segs)
    return segs


def _source_segments(c: _Chunk) -> _Segments:
    """Step 3: each unit's range above its minimum at its cost and ramp rank, then
    imports, diesel and house load left unsupplied (rank ∞: after units of equal cost)."""
    base, f = c.base, c.f
    avail, umin = f["unit_available_mw"], f["unit_min_mw"]
    U = avail.shape[1]
    ramp_rank = np.minimum(base.unit_ramp_up_mw_per_h, base.unit_ramp_down_mw_per_h).astype(float)
    key = [c.key("unit_cost_usd_per_mwh", u) for u in range(U)]
    rank = [float(r) for r in ramp_rank]
    cap = [np.subtract(c.full(avail[:, u]), umin[:, u]) for u in range(U)]
    key += [c.key("import_price_usd_per_mwh"), _Key.of(c.c_diesel), _Key.of(c.c_blackout)]
    rank += [np.inf, np.inf, np.inf]
    cap += [c.full(f["import_cap_mw"]), c.full(f["diesel_cap_mw"]),
            c.full(f["blackout_cap_mw"])]
    return _Segments(key=key, cap=cap, rank=rank)


@dataclass
class _Order:
    """The merit order as capacity ahead of each segment (steps 3 and 5).

    ``use_ahead[i]``: the house load plus the uses ahead of use i (value
    descending, then position); ``src_ahead[j]``: F plus the sources ahead of
    source j (cost, then ramp rank); ``src_tie[j]``: the capacity of j's tie group
    (None when alone); ``src_sums``: the shared partial sums from F.
    """

    use_ahead: list[np.ndarray]
    src_ahead: list[np.ndarray]
    src_tie: list[np.ndarray | None]
    src_sums: dict


def _merit(c: _Chunk, H: np.ndarray, F: np.ndarray, use: _Segments, src: _Segments) -> _Order:
    """The capacity ahead of every use and source segment, and of each source's tie group."""
    nu = len(use.key)
    use_sums: dict = {}
    use_lt = {(i, j): _lt(use.key[i], use.key[j]) for i in range(nu) for j in range(i + 1, nu)}
    use_ahead = []  # A_i: the house load and the uses ahead of i
    for i in range(nu):
        ahead = [
            use_lt[i, j] if j > i else (_not(use_lt[j, i]) if j < i else False) for j in range(nu)
        ]
        use_ahead.append(_fold(H, use.cap, ahead, use_sums))
    # sources: cost, then ramp rank (least flexible first); equal (cost, rank) share pro
    # rata; the same order for every chunk when the costs are shared
    if "unit_cost_usd_per_mwh" in c.shared and "import_price_usd_per_mwh" in c.shared:
        if "sources" not in c.cache:
            c.cache["sources"] = _source_order(src.key, src.rank)
        before, groups = c.cache["sources"]
    else:
        before, groups = _source_order(src.key, src.rank)
    src_sums: dict = {}  # sums from F (ahead of a source, cheaper than a use, total)
    tie_sums: dict = {}
    src_ahead = [_fold(F, src.cap, masks, src_sums) for masks in before]
    src_tie = [
        None if group is None else _fold(np.zeros(c.shape), src.cap, group, tie_sums)
        for group in groups
    ]
    return _Order(use_ahead, src_ahead, src_tie, src_sums)


def _balance(
    c: _Chunk, H: np.ndarray, F: np.ndarray, use: _Segments, src: _Segments, order: _Order,
    ok: np.ndarray,
) -> np.ndarray:
    """Step 4: q* = H + Σ_i clip(K⁻(v_i) − A_i, 0, cap_i), the energy through the balance.

    Marks in ``ok`` the hours that are infeasible: the forced output F cannot be
    absorbed (q* < F) or the house load cannot be supplied.
    """
    ns, tmp = len(src.key), c.tmp
    src_total = _fold(F, src.cap, [True] * ns, order.src_sums)
    q = None
    for i, (key, cap) in enumerate(zip(use.key, use.cap, strict=True)):
        cheaper = _fold(F, src.cap, [_lt(src.key[j], key) for j in range(ns)], order.src_sums)
        x = _clip(np.subtract(cheaper, order.use_ahead[i], out=tmp), cap)
        if q is None:
            q = np.add(H, x)  # H + x, as a copy of H plus x
        else:
            q += x
    if q is None:
        q = np.array(H)
    # q ≤ the use capacity, so q < F where the forced output cannot be absorbed
    ok &= np.greater_equal(np.add(q, 1e-9, out=tmp), F)
    ok &= np.greater_equal(np.add(src_total, 1e-9, out=tmp), H)
    return q


def _fill(
    q: np.ndarray, ahead: np.ndarray, cap: np.ndarray, dst: np.ndarray, rests: list | None
) -> np.ndarray:
    """clip(q − ahead, 0, cap) in ``dst``: a segment's prefix fill (q − ahead appended to
    ``rests`` for the duals, unless None)."""
    if rests is not None:
        rest = np.subtract(q, ahead)
        rests.append(rest)
        np.maximum(rest, 0.0, out=dst)
    else:
        np.maximum(np.subtract(q, ahead, out=dst), 0.0, out=dst)
    return np.minimum(dst, cap, out=dst)


@dataclass
class _UseFill:
    """The uses filled: deliveries (n, O, T), unserved firm energy (n, O, T), mining
    (n, K, T); the offtakes whose unserved energy is 0 in every hour; q − A_i by
    segment for the duals (empty without them)."""

    delivered: np.ndarray
    unserved: np.ndarray
    mining: np.ndarray
    no_unserved: list[bool]
    rest: list[np.ndarray]


def _fill_uses(c: _Chunk, q: np.ndarray, use: _Segments, order: _Order, duals: bool) -> _UseFill:
    """Step 4's decisions on the use side: each offtake's firm and other segment, the
    unserved firm energy (firm − what the firm segment got; all of it when pen < 0),
    and each class's mining."""
    O, K = len(c.prices), len(c.values)
    firm, pen = c.f["offtake_firm_mw"], c.pen
    rests: list[np.ndarray] | None = [] if duals else None
    delivered, unserved = c.empty("delivered_mw", O), c.empty("unserved_mw", O)
    mining = c.empty("mining_mw", K)
    no_unserved = [False] * O  # offtakes whose unserved energy is 0 in every hour
    seg = 0
    for o in range(O):
        d = delivered[:, o]
        if use.firm[o] is None:  # the firm segment is empty: d = 0 + the rest
            _fill(q, order.use_ahead[seg], use.cap[seg], d, rests)
            seg += 1
            if pen >= 0:  # max(firm − 0, 0) with firm ≤ 0, not NaN
                unserved[:, o] = 0.0
                no_unserved[o] = True
            else:
                unserved[:, o] = firm[:, o]
            continue
        firm_dst = np.empty(c.shape) if duals else c.tmp
        firm_mw = _fill(q, order.use_ahead[seg], use.cap[seg], firm_dst, rests)
        _fill(q, order.use_ahead[seg + 1], use.cap[seg + 1], d, rests)
        seg += 2
        np.add(firm_mw, d, out=d)
        if pen >= 0:
            np.subtract(firm[:, o], firm_mw, out=unserved[:, o])
            np.maximum(unserved[:, o], 0.0, out=unserved[:, o])
        else:
            unserved[:, o] = firm[:, o]
    for k in range(K):
        _fill(q, order.use_ahead[seg + k], use.cap[seg + k], mining[:, k], rests)
    return _UseFill(delivered, unserved, mining, no_unserved, [] if rests is None else rests)


@dataclass
class _SourceFill:
    """The sources filled: each unit's output (min + its share, (n, U, T)), imports,
    diesel and house load unsupplied ((n, T)); q − ahead by segment for the duals."""

    unit: np.ndarray
    imported: np.ndarray
    diesel: np.ndarray
    blackout: np.ndarray
    rest: list[np.ndarray]


def _fill_sources(c: _Chunk, q: np.ndarray, src: _Segments, order: _Order,
                  duals: bool) -> _SourceFill:
    """Step 4's decisions on the supply side, from the cheap end; the members of a tie
    group share their group's fill in proportion to their ranges (step 5).

    A tie group's rest is the same for every member (they share ``ahead`` and the
    group capacity), so it is kept for the duals whether or not ``duals``.
    """
    umin = c.f["unit_min_mw"]
    U = umin.shape[1]
    rests: list[np.ndarray] = []
    unit_mw = c.empty("unit_mw", U)
    imported, diesel = c.empty("imported_mw"), c.empty("diesel_mw")
    blackout = c.empty("blackout_mw")
    src_dst = [unit_mw[:, u] for u in range(U)] + [imported, diesel, blackout]
    shares: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # by tie group
    for j, (cap, dst) in enumerate(zip(src.cap, src_dst, strict=True)):
        tie = order.src_tie[j]
        if tie is None:
            _fill(q, order.src_ahead[j], cap, dst, rests if duals else None)
            continue
        # the members of a tie group hold the same (shared) ahead and tie arrays
        if id(tie) not in shares:
            rest = np.subtract(q, order.src_ahead[j])
            share = _clip(rest, tie, copy=True)
            # share / tie where tie > 0; where tie = 0 (in the domain: every range in the
            # group is 0, so tie = own range) the share itself is taken below
            with np.errstate(divide="ignore", invalid="ignore"):
                shares[id(tie)] = (rest, share, np.divide(share, tie))
        rest, share, ratio = shares[id(tie)]
        rests.append(rest)
        # pro rata where a partner has capacity (tie ≠ own range), else all of the share
        np.multiply(ratio, cap, out=dst)  # (a NaN of 0 / 0 raises no flag)
        np.copyto(dst, share, where=np.equal(tie, cap))
    for u in range(U):
        np.add(umin[:, u], unit_mw[:, u], out=unit_mw[:, u])
    return _SourceFill(unit_mw, imported, diesel, blackout, rests)


def _objective(c: _Chunk, src: _Segments, used: _UseFill, supplied: _SourceFill) -> np.ndarray:
    """The objective of each hour, as the LP counts it.

    0 − Σ_u c·g + Σ_o p·d − pen·Σ_o uns + Σ_k v·m − c_I·imp − c_D·dsl − c_B·blk, term
    by term in this order; the unserved energy of an offtake without a firm
    obligation is 0 in every hour and changes no sum.
    """
    f, tmp, shape = c.f, c.tmp, c.shape
    U, O, K = supplied.unit.shape[1], len(c.prices), len(c.values)
    obj = c.empty("objective_hourly_usd")

    def dot(coefs: list, xs: list[np.ndarray], acc: np.ndarray) -> np.ndarray | None:
        """Σ_i coefs[i]·xs[i] in ``acc``, added in the order of i as ``sum(axis=1)`` does."""
        if not xs:
            return None
        np.multiply(coefs[0], xs[0], out=acc)
        for k, x in zip(coefs[1:], xs[1:], strict=True):
            acc += np.multiply(k, x, out=tmp)
        return acc

    def coef(k: _Key, a: np.ndarray) -> float | np.ndarray:
        return k.v if isinstance(k.v, float) else a  # a constant key is every element

    spent = dot(
        [coef(src.key[u], f["unit_cost_usd_per_mwh"][:, u]) for u in range(U)],
        [supplied.unit[:, u] for u in range(U)],
        np.empty(shape),
    )
    if spent is None:
        obj[...] = 0.0
    else:
        np.subtract(0.0, spent, out=obj)
    earned = dot(
        [coef(c.prices[o], f["offtake_price_usd_per_mwh"][:, o]) for o in range(O)],
        [used.delivered[:, o] for o in range(O)],
        spent if spent is not None else np.empty(shape),
    )
    if earned is not None:
        obj += earned
    rows = [used.unserved[:, o] for o in range(O) if not used.no_unserved[o]]  # (+0 adds nothing)
    if rows:
        total = rows[0] if len(rows) == 1 else np.add(rows[0], rows[1])
        for r in rows[2:]:
            total += r
        obj -= np.multiply(c.pen, total, out=tmp)
    mined = dot(
        [coef(c.values[k], f["class_value_usd_per_mwh"][:, k]) for k in range(K)],
        [used.mining[:, k] for k in range(K)],
        np.empty(shape),
    )
    if mined is not None:
        obj += mined
    obj -= np.multiply(coef(src.key[U], f["import_price_usd_per_mwh"]), supplied.imported,
                       out=tmp)
    obj -= np.multiply(c.c_diesel, supplied.diesel, out=tmp)
    obj -= np.multiply(c.c_blackout, supplied.blackout, out=tmp)
    return obj


def _merit_order(
    b: BatchProblem,
    lo: int,
    hi: int,
    *,
    duals: bool = True,
    cache: dict | None = None,
    into: dict[str, np.ndarray] | None = None,
) -> _Hours:
    """The per-hour optimum of paths ``lo:hi`` (module docstring, steps 1–5).

    ``cache``: what is kept between the chunks of one batch (the tests and ranges
    of the arrays every path shares).  ``into``: arrays of the chunk's shape to
    write outputs in, by name of :data:`OUTPUTS` (the others are allocated).
    Without ``duals``, the firm segment of an offtake whose firm obligation is
    zero in every hour of the chunk is left out: it is empty, so every sum, fill
    and output is what it would be with it.  (The duals keep it: their bounds
    read every segment.)
    """
    c = _Chunk(b, lo, hi, {} if cache is None else cache, {} if into is None else into)
    ok = _in_domain(c.f, c.shared, c.shape, (c.pen, c.c_diesel, c.c_blackout), c.cache,
                    c.extent)
    H = c.full(c.f["house_load_mw"])
    F = c.full(_sum_rows(c.f["unit_min_mw"]))
    use = _use_segments(c, duals)
    src = _source_segments(c)
    order = _merit(c, H, F, use, src)
    q = _balance(c, H, F, use, src, order, ok)
    used = _fill_uses(c, q, use, order, duals)
    supplied = _fill_sources(c, q, src, order, duals)
    obj = _objective(c, src, used, supplied)
    mv = None
    if duals:
        mv = _balance_dual(use.key, use.cap, used.rest, src.key, src.cap, supplied.rest, c.shape)
    return _Hours(
        unit_mw=supplied.unit,
        imported_mw=supplied.imported,
        delivered_mw=used.delivered,
        unserved_mw=used.unserved,
        mining_mw=used.mining,
        diesel_mw=supplied.diesel,
        blackout_mw=supplied.blackout,
        marginal_value_usd_per_mwh=mv,
        objective_hourly_usd=obj,
        ok=ok,
    )


def _merit_order_compiled(
    b: BatchProblem, lo: int, hi: int, *, duals: bool = True,
    into: dict[str, np.ndarray] | None = None,
) -> _Hours:
    """:func:`_merit_order` by the compiled kernel (:mod:`gridhash.dispatch.fast.compiled`,
    numba): the same arrays, bit for bit, in one pass over the chunk's hours."""
    from gridhash.dispatch.fast.compiled import merit_order

    base = b.base
    n, T = hi - lo, b.hours
    U, O = base.unit_available_mw.shape[0], base.offtake_price_usd_per_mwh.shape[0]
    K = base.class_cap_mw.shape[0]
    into = {} if into is None else into
    axes = {"unit_mw": (U,), "delivered_mw": (O,), "unserved_mw": (O,), "mining_mw": (K,)}
    out = {name: into[name] if name in into else np.empty((n, *axes.get(name, ()), T))
           for name in OUTPUTS if name != "marginal_value_usd_per_mwh"}
    out["marginal_value_usd_per_mwh"] = np.empty((n, T) if duals else (0, 0))
    out["ok"] = np.empty((n, T), dtype=bool)
    rank = np.minimum(base.unit_ramp_up_mw_per_h, base.unit_ramp_down_mw_per_h)
    merit_order({name: b.field(name, lo, hi) for name in PATH_FIELDS}, rank,
                np.asarray(base.class_site),
                (float(base.unserved_penalty), float(base.diesel_cost),
                 float(base.blackout_penalty)), duals, out)
    if not duals:
        out["marginal_value_usd_per_mwh"] = None
    return _Hours(**out)


#: Below this a segment counts as unused, within this of its capacity as full. [MW]
_DUAL_TOL = 1e-9


def _balance_dual(
    use_key: list[_Key],
    use_cap: list[np.ndarray],
    use_rest: list[np.ndarray],
    src_key: list[_Key],
    src_cap: list[np.ndarray],
    src_rest: list[np.ndarray],
    shape: tuple[int, int],
) -> np.ndarray:
    """A dual of each hour's balance: the value of one more MW at the plant.

    The balance duals of the hour are the λ with W'(z⁺) ∨ C'(y⁻) ≤ λ ≤ W'(z⁻) ∧ C'(y⁺)
    (one-sided slopes of step 3's value and cost functions).  The lower end is
    what a free MW is worth (use it in the next use, or back off the marginal
    source); where it is −∞ (nothing could take one more MW) the upper end is
    given, and 0 where both are infinite (any λ would do).  ``*_rest`` is q
    less the capacity ahead of each segment: the segment is used where it is
    positive and full where it reaches the segment's capacity.
    """
    lo = np.full(shape, -np.inf)
    hi = np.full(shape, np.inf)
    for key, cap, rest in zip(use_key, use_cap, use_rest, strict=True):
        np.maximum(lo, key.v, out=lo, where=rest < cap - _DUAL_TOL)  # the next use
        np.minimum(hi, key.v, out=hi, where=rest > _DUAL_TOL)  # the last use served
    for key, cap, rest in zip(src_key, src_cap, src_rest, strict=True):
        np.maximum(lo, key.v, out=lo, where=rest > _DUAL_TOL)  # the marginal source
        np.minimum(hi, key.v, out=hi, where=rest < cap - _DUAL_TOL)  # the next source
    return np.where(np.isfinite(lo), lo, np.where(np.isfinite(hi), hi, 0.0))


