"""The merit order compiled with numba: steps 1–5 fused in one loop over paths and hours.

:mod:`gridhash.dispatch.merit_spec` written for a compiler: for each hour of each
path it makes the use and source segments, puts them in merit order, fills them
and prices the balance, in registers, where the numpy kernel
(:mod:`gridhash.dispatch.fast.merit`) makes a dozen passes over whole
(paths × hours) arrays.  Every sum adds its terms in segment order, as the spec
and the numpy kernel do, and no operation is reordered or fused (no
``fastmath``), so the three agree bit for bit: ``tests/dispatch/test_compiled.py``
holds this kernel equal to the numpy kernel on random batches and on sampled
years of the default scenario.

numba is an optional dependency (the ``fast`` extra) and this kernel is opt-in:
``GRIDHASH_FAST_KERNEL=numba`` in the environment, or ``kernel="numba"`` for
:func:`~gridhash.dispatch.fast.solve_fast_batch`.  Measured on the risk sweep's
blocks it is as fast as the numpy kernel once the process's allocator keeps
numpy's temporaries mapped (as the sweep's workers do), and about 1.7× faster
where it does not; numba's import costs each process about a second
(benchmarks/README.md, "The sweep by stage, static values, a compiled
kernel").  The compiled code is cached next to this file (``cache=True``) and
the module is imported only when a batch is dispatched with it, so ``gridhash
--help`` never loads numba.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

# Inputs read only (broadcast views), outputs writable; any layout.
_F1, _F2, _F3 = (nb.types.Array(nb.float64, d, "A", readonly=True) for d in (1, 2, 3))
_I1 = nb.types.Array(nb.int64, 1, "A", readonly=True)
_W2, _W3 = (nb.types.Array(nb.float64, d, "A") for d in (2, 3))
_B2 = nb.types.Array(nb.boolean, 2, "A")

#: One signature, every array of any layout ('A': views, broadcasts, slices), so one
#: compilation serves every batch.
_SIGNATURE = nb.void(
    _F3, _F3, _F3, _F1,  # unit available, min, cost (n, U, T); ramp rank (U,)
    _F2, _F2, _F2, _F2, _F2, _F2,  # house, import price, import cap, diesel, blackout, mcap
    _F3, _F3, _F3,  # offtake price, cap, firm (n, O, T)
    _F3, _F3, _I1, _F3,  # class value, class cap (n, K, T), class site (K,), site cap (n, S, T)
    nb.float64, nb.float64, nb.float64, nb.boolean,  # pen, diesel cost, blackout penalty, duals
    _W3, _W2, _W3, _W3, _W3, _W2, _W2, _W2, _W2, _B2,  # outputs
)

#: Below this a segment counts as unused, within this of its capacity as full. [MW]
_DUAL_TOL = 1e-9


@nb.njit(inline="always")
def _add_where_ahead(acc, a, b, cap, first, m):
    """acc += cap where use a is ahead of use b (higher value; on equal value, ``first``)."""
    for t in range(m):
        ahead = (a[t] > b[t]) | ((a[t] == b[t]) & first)
        acc[t] = acc[t] + cap[t] if ahead else acc[t]


@nb.njit(inline="always")
def _add_where_cheaper(acc, tie, a, b, cap, rank_lt, rank_eq, m):
    """acc += cap where source a is ahead of source b (cheaper; on equal cost, a lower
    ramp rank); tie += cap where they tie (equal cost and rank)."""
    for t in range(m):
        same = a[t] == b[t]
        ahead = (a[t] < b[t]) | (same & rank_lt)
        acc[t] = acc[t] + cap[t] if ahead else acc[t]
        tie[t] = tie[t] + cap[t] if same & rank_eq else tie[t]


@nb.njit(inline="always")
def _add_where_below(acc, a, b, cap, m):
    """acc += cap where a < b."""
    for t in range(m):
        acc[t] = acc[t] + cap[t] if a[t] < b[t] else acc[t]


@nb.njit(inline="always")
def _range(row, m, lo, hi, i):
    """lo[i], hi[i] = the least and greatest of row[:m], NaN left out (an hour with a NaN
    key is out of the domain: whatever the comparisons, its results are not used)."""
    a, b = math.inf, -math.inf
    for t in range(m):
        a = min(a, row[t])
        b = max(b, row[t])
    lo[i], hi[i] = a, b


@nb.njit(inline="always")
def _add(acc, x, m):
    for t in range(m):
        acc[t] += x[t]


@nb.njit(inline="always")
def _add_clipped(acc, x, ahead, cap, m):
    """acc += clip(x − ahead, 0, cap)."""
    for t in range(m):
        acc[t] += min(max(x[t] - ahead[t], 0.0), cap[t])


@nb.njit(inline="always")
def _clip_rest(dst, q, ahead, cap, m):
    """dst = clip(q − ahead, 0, cap): what a segment takes in the prefix fill."""
    for t in range(m):
        dst[t] = min(max(q[t] - ahead[t], 0.0), cap[t])


@nb.njit(inline="always")
def _pro_rata(dst, q, ahead, tie, cap, m):
    """dst = the source's part of its tie group's fill clip(q − ahead, 0, tie): all of it
    when the group is the source alone (tie = cap), else share / tie · cap."""
    for t in range(m):
        share = min(max(q[t] - ahead[t], 0.0), tie[t])
        dst[t] = share if tie[t] == cap[t] else share / tie[t] * cap[t]


@nb.njit(inline="always")
def _store(dst, x, m):
    for t in range(m):
        dst[t] = x[t]


@nb.njit(inline="always")
def _store_sum(dst, a, b, m):
    for t in range(m):
        dst[t] = a[t] + b[t]


@nb.njit(inline="always")
def _dot(acc, coefs, xs, rows, m):
    """acc = Σ_r coefs[r]·xs[r], added in the order of r (the first product the start)."""
    c, x = coefs[0], xs[0]
    for t in range(m):
        acc[t] = c[t] * x[t]
    for r in range(1, rows):
        c, x = coefs[r], xs[r]
        for t in range(m):
            acc[t] += c[t] * x[t]


@nb.njit(inline="always")
def _dual_use(lo, hi, q, ahead, key, cap, m):
    """A use not full bounds the dual from below, a use served from above."""
    for t in range(m):
        rest = q[t] - ahead[t]
        lo[t] = max(lo[t], key[t]) if rest < cap[t] - _DUAL_TOL else lo[t]
        hi[t] = min(hi[t], key[t]) if rest > _DUAL_TOL else hi[t]


@nb.njit(inline="always")
def _dual_source(lo, hi, q, ahead, key, cap, m):
    """A source in use bounds the dual from below, a source not full from above."""
    for t in range(m):
        rest = q[t] - ahead[t]
        lo[t] = max(lo[t], key[t]) if rest > _DUAL_TOL else lo[t]
        hi[t] = min(hi[t], key[t]) if rest < cap[t] - _DUAL_TOL else hi[t]


#: Hours computed together: every step runs over a tile of hours held in small
#: contiguous arrays (in the CPU's caches), so the compiler can use SIMD on them.
TILE = 128


@nb.njit(_SIGNATURE, cache=True, nogil=True, error_model="numpy")  # 0/0 gives NaN, as numpy
def _kernel(avail, umin, ucost, rank, house, iprice, icap, dcap, bcap, mcap,
            oprice, ocap, firm, kvalue, kcap, ksite, scap,
            pen, c_diesel, c_blackout, duals,
            unit_mw, imported, delivered, unserved, mining, diesel, blackout, mv, obj, ok):
    n, U, T = avail.shape
    O, K, S = oprice.shape[1], kvalue.shape[1], scap.shape[1]
    nu, ns = 2 * O + K, U + 3
    inf = math.inf
    # the tile's segments: key (value or cost), capacity, capacity ahead, tie group
    ukey, ucap, uahead = np.empty((nu, TILE)), np.empty((nu, TILE)), np.empty((nu, TILE))
    skey, scp = np.empty((ns, TILE)), np.empty((ns, TILE))
    sahead, stie = np.empty((ns, TILE)), np.empty((ns, TILE))
    lo_u, kv, kc = np.empty((U, TILE)), np.empty((K, TILE)), np.empty((K, TILE))
    H, F, q, total = np.empty(TILE), np.empty(TILE), np.empty(TILE), np.empty(TILE)
    x, before, with_k, without = np.empty(TILE), np.empty(TILE), np.empty(TILE), np.empty(TILE)
    has_b, has_w, has_wo = (np.empty(TILE, dtype=np.bool_), np.empty(TILE, dtype=np.bool_),
                            np.empty(TILE, dtype=np.bool_))
    good = np.empty(TILE, dtype=np.bool_)
    lo_d, hi_d = np.empty(TILE), np.empty(TILE)
    used, supplied = np.empty((nu, TILE)), np.empty((ns, TILE))
    ulo, uhi, slo, shi = np.empty(nu), np.empty(nu), np.empty(ns), np.empty(ns)
    ones = np.ones((max(O, 1), TILE))  # Σ_o uns as 1·uns_0 + 1·uns_1 + ... (the spec's sum)
    srank = np.full(ns, inf)  # sources: the units' ramp rank, then imports, diesel, blackout
    for u in range(U):
        srank[u] = rank[u]
    site_used = np.zeros(S, dtype=np.bool_)
    for k in range(K):
        site_used[ksite[k]] = True
    bonus = max(pen, 0.0)
    scalars = math.isfinite(pen) and math.isfinite(c_diesel) and math.isfinite(c_blackout)
    for p in range(n):
        for t0 in range(0, T, TILE):
            m = min(TILE, T - t0)
            # --- the tile's data, and the domain: what the merit order assumes ---
            for t in range(m):
                h, ic, dc, bc = house[p, t0 + t], icap[p, t0 + t], dcap[p, t0 + t], bcap[p, t0 + t]
                ip = iprice[p, t0 + t]
                H[t], F[t] = h, 0.0
                skey[U, t], skey[U + 1, t], skey[U + 2, t] = ip, c_diesel, c_blackout
                scp[U, t], scp[U + 1, t], scp[U + 2, t] = ic, dc, bc
                good[t] = (scalars & (h >= 0.0) & (h < inf) & (abs(ip) < inf)
                           & (ic >= 0.0) & (ic < inf) & (dc >= 0.0) & (dc < inf)
                           & (bc >= 0.0) & (bc < inf) & (mcap[p, t0 + t] >= 0.0))
            for u in range(U):
                av, mn, co = avail[p, u, t0:], umin[p, u, t0:], ucost[p, u, t0:]
                sk, sc, lu = skey[u], scp[u], lo_u[u]
                for t in range(m):
                    a, lo, c = av[t], mn[t], co[t]
                    sk[t], sc[t], lu[t] = c, a - lo, lo
                    F[t] += lo
                    good[t] &= (abs(c) < inf) & (lo >= 0.0) & (lo <= a) & (a < inf)
            for s in range(S):
                sc = scap[p, s, t0:]
                for t in range(m):
                    good[t] &= sc[t] >= 0.0

            # --- step 1: each offtake's firm and other demand ---
            for o in range(O):
                for t in range(m):
                    price, cap, f = oprice[p, o, t0 + t], ocap[p, o, t0 + t], firm[p, o, t0 + t]
                    fm = min(f, cap)
                    ukey[2 * o, t], ucap[2 * o, t] = price + bonus, fm
                    ukey[2 * o + 1, t], ucap[2 * o + 1, t] = price, cap - fm
                    good[t] &= ((abs(price) < inf) & (cap >= 0.0) & (cap < inf)
                                & (f >= 0.0) & (f < inf))
            # --- step 2: each class's greedy share, c_k = f(P_k ∪ {k}) − f(P_k) ---
            for k in range(K):
                for t in range(m):
                    v, c = kvalue[p, k, t0 + t], kcap[p, k, t0 + t]
                    kv[k, t], kc[k, t] = v, c
                    good[t] &= (abs(v) < inf) & (c >= 0.0) & (c < inf)
            for k in range(K):
                for t in range(m):
                    with_k[t], without[t], has_w[t], has_wo[t] = 0.0, 0.0, False, False
                for s in range(S):
                    if not site_used[s]:
                        continue
                    for t in range(m):
                        before[t], has_b[t] = 0.0, False
                    for j in range(K):
                        if ksite[j] != s or j == k:
                            continue
                        first, vj, vk, cj = j < k, kv[j], kv[k], kc[j]
                        for t in range(m):
                            ahead = (vj[t] > vk[t]) | ((vj[t] == vk[t]) & first)
                            more = before[t] + cj[t] if has_b[t] else 0.0 + cj[t]
                            before[t] = more if ahead else before[t]
                            has_b[t] |= ahead
                    own, sc_row, kc_k = s == ksite[k], scap[p, s, t0:], kc[k]
                    if own:  # (selects, not branches: the loops vectorise)
                        for t in range(m):
                            hb, b = has_b[t], before[t]
                            part = min(sc_row[t], b)
                            wo = without[t] + part if has_wo[t] else part
                            without[t] = wo if hb else without[t]
                            has_wo[t] |= hb
                            part_k = min(sc_row[t], b + kc_k[t] if hb else kc_k[t])
                            with_k[t] = with_k[t] + part_k if has_w[t] else part_k
                            has_w[t] = True
                    else:
                        for t in range(m):
                            hb = has_b[t]
                            part = min(sc_row[t], before[t])
                            wo = without[t] + part if has_wo[t] else part
                            without[t] = wo if hb else without[t]
                            has_wo[t] |= hb
                            w = with_k[t] + part if has_w[t] else part
                            with_k[t] = w if hb else with_k[t]
                            has_w[t] |= hb
                for t in range(m):
                    mc = mcap[p, t0 + t]
                    ukey[2 * O + k, t] = kv[k, t]
                    ucap[2 * O + k, t] = min(mc, with_k[t]) - (min(mc, without[t]) if has_wo[t]
                                                               else 0.0)

            # --- step 3: the merit order as capacity ahead of each segment (sums in
            # segment order).  Where the keys' ranges over the tile decide a comparison
            # for every hour (a firm segment above everything, constant costs), the
            # capacity is added, or not, without comparing hour by hour; otherwise
            # ``y = y + c if cond else y``: a select, not a branch.  Either way each
            # hour gets the same sums.  (Rows as 1-d views: the loops vectorise.)
            for i in range(nu):
                _range(ukey[i], m, ulo, uhi, i)
            for j in range(ns):
                _range(skey[j], m, slo, shi, j)
            for i in range(nu):
                ua, uk = uahead[i], ukey[i]
                ua[:m] = H[:m]
                for j in range(nu):
                    if j == i:
                        continue  # equal keys, listed at the same place: not ahead
                    first = j < i
                    if ulo[j] > uhi[i] or (first and ulo[j] >= uhi[i]):
                        _add(ua, ucap[j], m)  # ahead in every hour
                    elif not (uhi[j] < ulo[i] or (not first and uhi[j] <= ulo[i])):
                        _add_where_ahead(ua, ukey[j], uk, ucap[j], first, m)
            total[:m] = F[:m]
            for j in range(ns):
                _add(total, scp[j], m)
            for i in range(ns):
                sa, st, sk = sahead[i], stie[i], skey[i]
                sa[:m] = F[:m]
                st[:m] = 0.0
                for j in range(ns):
                    r_lt, r_eq = srank[j] < srank[i], srank[j] == srank[i]
                    if shi[j] < slo[i] or (r_lt and shi[j] <= slo[i]):
                        _add(sa, scp[j], m)  # ahead in every hour
                    elif r_eq and slo[j] == shi[j] == slo[i] == shi[i]:
                        _add(st, scp[j], m)  # tied in every hour
                    elif not (slo[j] > shi[i] or (not (r_lt or r_eq) and slo[j] >= shi[i])):
                        _add_where_cheaper(sa, st, skey[j], sk, scp[j], r_lt, r_eq, m)

            # --- step 4: the balance, q* = H + Σ_i clip(K⁻(v_i) − A_i, 0, cap_i) ---
            q[:m] = H[:m]
            for i in range(nu):
                x[:m] = F[:m]
                uk = ukey[i]
                for j in range(ns):
                    if shi[j] < ulo[i]:
                        _add(x, scp[j], m)  # cheaper in every hour
                    elif slo[j] < uhi[i]:
                        _add_where_below(x, skey[j], uk, scp[j], m)
                _add_clipped(q, x, uahead[i], ucap[i], m)
            for t in range(m):
                good[t] &= (q[t] + 1e-9 >= F[t]) & (total[t] + 1e-9 >= H[t])
                ok[p, t0 + t] = good[t]

            # --- the prefix fill; sources tied in cost and rank share pro rata (step 5) ---
            for i in range(nu):
                _clip_rest(used[i], q, uahead[i], ucap[i], m)
            for j in range(ns):
                _pro_rata(supplied[j], q, sahead[j], stie[j], scp[j], m)
            for u in range(U):
                _store_sum(unit_mw[p, u, t0:], lo_u[u], supplied[u], m)
            for o in range(O):
                _store_sum(delivered[p, o, t0:], used[2 * o], used[2 * o + 1], m)
                out = unserved[p, o, t0:]
                f = firm[p, o, t0:]
                for t in range(m):
                    out[t] = max(f[t] - used[2 * o, t], 0.0) if pen >= 0 else f[t]
            for k in range(K):
                _store(mining[p, k, t0:], used[2 * O + k], m)
            _store(imported[p, t0:], supplied[U], m)
            _store(diesel[p, t0:], supplied[U + 1], m)
            _store(blackout[p, t0:], supplied[U + 2], m)

            # --- the hour's objective, term by term as the LP counts it:
            # 0 − Σ_u c·g + Σ_o p·d − pen·Σ_o uns + Σ_k v·m − c_I·imp − c_D·dsl − c_B·blk ---
            if U:
                _dot(x, skey, unit_mw[p, :, t0:], U, m)
                for t in range(m):
                    x[t] = 0.0 - x[t]
            else:
                x[:m] = 0.0
            if O:
                _dot(total, oprice[p, :, t0:], delivered[p, :, t0:], O, m)
                _add(x, total, m)
                _dot(total, ones, unserved[p, :, t0:], O, m)
                for t in range(m):
                    x[t] -= pen * total[t]
            if K:
                _dot(total, ukey[2 * O:], used[2 * O:], K, m)
                _add(x, total, m)
            out = obj[p, t0:]
            for t in range(m):
                out[t] = (x[t] - skey[U, t] * supplied[U, t] - c_diesel * supplied[U + 1, t]
                          - c_blackout * supplied[U + 2, t])

            # --- a balance dual: the value of one more MW (the next use, or backing off
            # the marginal source), else the cost of the next source, else 0 ---
            if duals:
                lo_d[:m] = -inf
                hi_d[:m] = inf
                for i in range(nu):
                    _dual_use(lo_d, hi_d, q, uahead[i], ukey[i], ucap[i], m)
                for j in range(ns):
                    _dual_source(lo_d, hi_d, q, sahead[j], skey[j], scp[j], m)
                out = mv[p, t0:]
                for t in range(m):
                    lo, hi = lo_d[t], hi_d[t]
                    out[t] = lo if math.isfinite(lo) else hi if math.isfinite(hi) else 0.0


def merit_order(
    fields: dict[str, np.ndarray],
    rank: np.ndarray,
    class_site: np.ndarray,
    scalars: tuple[float, float, float],
    duals: bool,
    out: dict[str, np.ndarray],
) -> None:
    """The per-hour optimum of a chunk of n paths, written into ``out``.

    Parameters
    ----------
    fields : dict of str to numpy.ndarray
        The chunk's arrays of :data:`~gridhash.dispatch.fast.PATH_FIELDS`, each
        ``(n or 1, ..., T)`` float64 (views of any layout).
    rank : (U,) the units' ramp rank (the smaller of their ramp rates). [MW/h]
    class_site : (K,) the site of each miner class.
    scalars : (unserved penalty, diesel cost, blackout penalty). [USD/MWh]
    duals : bool
        Compute ``marginal_value_usd_per_mwh``.
    out : dict of str to numpy.ndarray
        The decisions, ``objective_hourly_usd``, ``marginal_value_usd_per_mwh`` and
        ``ok`` ((n, T) bool: the hour is in the domain and feasible), of the chunk's
        shape (written in place).
    """
    n = out["ok"].shape[0]

    def f(name: str) -> np.ndarray:  # a read-only view with the chunk's n paths
        a = fields[name]
        return np.broadcast_to(a, (n, *a.shape[1:]))

    def ro(a: np.ndarray, dtype: type) -> np.ndarray:
        a = np.asarray(a, dtype=dtype)
        return np.broadcast_to(a, a.shape)

    _kernel(
        f("unit_available_mw"), f("unit_min_mw"), f("unit_cost_usd_per_mwh"),
        ro(rank, np.float64),
        f("house_load_mw"), f("import_price_usd_per_mwh"), f("import_cap_mw"),
        f("diesel_cap_mw"), f("blackout_cap_mw"), f("mining_cap_mw"),
        f("offtake_price_usd_per_mwh"), f("offtake_cap_mw"), f("offtake_firm_mw"),
        f("class_value_usd_per_mwh"), f("class_cap_mw"),
        ro(class_site, np.int64), f("site_cap_mw"),
        float(scalars[0]), float(scalars[1]), float(scalars[2]), bool(duals),
        out["unit_mw"], out["imported_mw"], out["delivered_mw"], out["unserved_mw"],
        out["mining_mw"], out["diesel_mw"], out["blackout_mw"],
        out["marginal_value_usd_per_mwh"], out["objective_hourly_usd"], out["ok"],
    )
