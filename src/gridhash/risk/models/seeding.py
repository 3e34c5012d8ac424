"""Per-path random streams: PCG64 generators seeded from (seed, stream, key, path).

Reproducibility contract
------------------------
Every model draws the random numbers of path ``p`` from its own generator,

.. code-block:: python

    np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(stream, key, p))))

where ``stream`` identifies the model family (:class:`Stream`) and ``key`` an
independent copy of it (e.g. one per offtake).  This is exactly the generator
``SeedSequence(seed).spawn`` would hand out at that spawn key, so path ``p``'s
values depend only on ``(seed, stream, key, p)``: generating paths 0..99 at
once, or 0..49 and 50..99 on two workers, gives identical arrays, and two
models never share a stream.

Setting up a generator that way is slow next to what a path draws from it
(benchmarks/README.md, "Figures behind the code").  :class:`PathStreams` gives
the very same generators far more cheaply: it computes every path's ``PCG64``
state at once, with the ``SeedSequence`` hash vectorised over the path ids
(:func:`pcg64_states`), and sets it on one reused generator.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from gridhash.risk.models._base import check_int, check_seed, readonly


class Stream(IntEnum):
    """First element of every spawn key: one independent stream per model family."""

    BTC_PRICE = 1
    DIFFICULTY = 2
    FEES = 3
    GRID_PRICE = 4
    UNIT_OUTAGES = 5
    LINE_CUTS = 6



def generators(
    seed: int, stream: Stream, key: int, ids: NDArray[np.int64]
) -> list[np.random.Generator]:
    """One independent generator per path id (see the module docstring)."""
    s = check_seed(seed)
    k = check_int(key, "key", ge=0)
    return [
        np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(s, spawn_key=(int(stream), k, int(p))))
        )
        for p in ids
    ]


# SeedSequence's hash (numpy/random/bit_generator.pyx, stable by NEP 19) and
# PCG64's seeding (pcg64.h: pcg_setseq_128_srandom_r).
_MASK32 = 0xFFFFFFFF
_MASK128 = (1 << 128) - 1
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = 16
_PCG64_MULT = (2549297995355413924 << 64) + 4865540595714422341


def _uint32_words(n: int) -> list[int]:
    """``n`` as little-endian 32-bit words, at least one (``_int_to_uint32_array``)."""
    words = [n & _MASK32]
    n >>= 32
    while n:
        words.append(n & _MASK32)
        n >>= 32
    return words


class _Hash:
    """``SeedSequence``'s running hash constant, applied to uint32 words."""

    def __init__(self, const: int) -> None:
        self.const = const

    def mix_in(self, value: int, mult: int) -> int:
        """Hash one word (a Python int < 2³²)."""
        v = value ^ self.const
        self.const = (self.const * mult) & _MASK32
        v = (v * self.const) & _MASK32
        return v ^ (v >> _XSHIFT)

    def mix_in_rows(
        self, values: NDArray[np.uint32], mult: int, count: int | None = None
    ) -> NDArray[np.uint32]:
        """Hash ``values[i]`` (rows of a 2-D uint32 array; one row: ``count`` times)
        with the i-th next constant."""
        count = values.shape[0] if count is None else count
        pre, post, self.const = _hash_constants(self.const, mult, count)
        v = values ^ pre
        v *= post
        v ^= v >> np.uint32(_XSHIFT)
        return v


@functools.lru_cache(maxsize=256)
def _hash_constants(
    const: int, mult: int, count: int
) -> tuple[NDArray[np.uint32], NDArray[np.uint32], int]:
    """The next ``count`` constants before and after each step, as uint32 columns."""
    pre, post = [], []
    for _ in range(count):
        pre.append(const)
        const = (const * mult) & _MASK32
        post.append(const)
    column = np.array((pre, post), dtype=np.uint32)[:, :, None]
    return readonly(column[0]), readonly(column[1]), const


def _mix(x: int, y: int) -> int:
    r = (_MIX_MULT_L * x - _MIX_MULT_R * y) & _MASK32
    return r ^ (r >> _XSHIFT)


@functools.lru_cache(maxsize=64)
def _shared_pool(shared: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The pool and hash constant after mixing in the words every path shares."""
    h = _Hash(_INIT_A)
    pool = [h.mix_in(shared[i], _MULT_A) for i in range(_POOL_SIZE)]
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                pool[dst] = _mix(pool[dst], h.mix_in(pool[src], _MULT_A))
    for word in shared[_POOL_SIZE:]:
        for dst in range(_POOL_SIZE):
            pool[dst] = _mix(pool[dst], h.mix_in(word, _MULT_A))
    return tuple(pool), h.const


def _pool_words(shared: list[int], own: list[NDArray[np.uint32]]) -> NDArray[np.uint32]:
    """``SeedSequence.mix_entropy`` of the entropy ``shared + own``, pool-major ``(4, n)``.

    ``shared`` (at least the pool size) are words every path has, Python
    ints; ``own`` the words that differ by path, one uint32 array each.  The
    shared words come first, so their part of the hash is done once on
    scalars (and remembered), and each own word is mixed into all four pool
    words at once.
    """
    pool, const = _shared_pool(tuple(shared))
    h = _Hash(const)
    rows = np.array(pool, dtype=np.uint32)[:, None]
    for words in own:
        hashed = h.mix_in_rows(words[None, :], _MULT_A, _POOL_SIZE)
        r = rows * np.uint32(_MIX_MULT_L)
        r = r - hashed * np.uint32(_MIX_MULT_R)
        r ^= r >> np.uint32(_XSHIFT)
        rows = r
    return rows


def pcg64_states(
    seed: int, stream: int, key: int, ids: NDArray[np.int64]
) -> tuple[list[int], list[int]]:
    """PCG64 ``(state, inc)`` of each path's generator, as :func:`generators` makes them.

    Exactly ``PCG64(SeedSequence(seed, spawn_key=(stream, key, p))).state``
    for every ``p`` in ``ids``, computed with the hash vectorised over the
    paths (the tests compare the two for many seeds, keys and path ids).  The
    seed, stream and key words come first in the entropy, so their share of
    the hash is done once, on Python ints; only the path id's words and the
    output words are arrays.
    """
    s, k = check_seed(seed), check_int(key, "key", ge=0)
    ids = np.asarray(ids, dtype=np.int64)
    run = _uint32_words(s)
    run += [0] * (_POOL_SIZE - len(run))  # padded because a spawn key follows
    shared = run + _uint32_words(int(stream)) + _uint32_words(k)
    states: list[int] = [0] * ids.size
    incs: list[int] = [0] * ids.size
    if ids.size and np.maximum.reduce(ids) > _MASK32:  # ids of two words hash one more
        high = (ids >> 32).astype(np.uint32)
        low = (ids & _MASK32).astype(np.uint32)
        groups = [np.flatnonzero(high == 0), np.flatnonzero(high > 0)]
        own = [[low[groups[0]]], [low[groups[1]], high[groups[1]]]]
    else:
        groups, own = [np.arange(ids.size)], [[ids.astype(np.uint32)]]
    for rows, words_of_rows in zip(groups, own, strict=True):
        if rows.size == 0:
            continue
        pool = _pool_words(shared, words_of_rows)
        # generate_state(4, uint64): eight uint32 words, pool word i % 4 each.
        words = _Hash(_INIT_B).mix_in_rows(pool[_OUTPUT_POOL_WORDS], _MULT_B)
        words = words.astype(np.uint64)
        u64 = words[0::2] | (words[1::2] << np.uint64(32))
        for r, seed_hi, seed_lo, inc_hi, inc_lo in zip(rows.tolist(), *u64.tolist(), strict=True):
            inc = ((inc_hi << 65) | (inc_lo << 1) | 1) & _MASK128
            states[r] = (((inc + ((seed_hi << 64) | seed_lo)) * _PCG64_MULT) + inc) & _MASK128
            incs[r] = inc
    return states, incs


#: The pool word behind each of the eight output words of ``generate_state``.
_OUTPUT_POOL_WORDS = np.arange(8) % _POOL_SIZE


#: Seeds the reused generator before its state is set (a ready SeedSequence
#: is cheaper to hash from than a new one).
_PLACEHOLDER_SEED = np.random.SeedSequence(0)


class PathStreams:
    """The generators of :func:`generators`, handed out one path at a time.

    ``streams[i]`` (or the ``i``-th item of iteration) is a generator in
    exactly the state ``generators(seed, stream, key, ids)[i]`` starts in, so it
    draws the same numbers; it is one reused object, valid until the next path
    is asked for (about a tenth of the cost of a new generator).
    """

    def __init__(self, seed: int, stream: Stream, key: int, ids: NDArray[np.int64]) -> None:
        self._states, self._incs = pcg64_states(seed, stream, key, ids)
        self._bit_generator = np.random.PCG64(_PLACEHOLDER_SEED)  # state replaced per path
        self._generator = np.random.Generator(self._bit_generator)

    def __len__(self) -> int:
        return len(self._states)

    def __getitem__(self, i: int) -> np.random.Generator:
        self._bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": self._states[i], "inc": self._incs[i]},
            "has_uint32": 0,
            "uinteger": 0,
        }
        return self._generator

    def __iter__(self) -> Iterator[np.random.Generator]:
        for i in range(len(self._states)):
            yield self[i]


def normal_rows(
    seed: int,
    stream: Stream,
    key: int,
    ids: NDArray[np.int64],
    n: int,
    out: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """``(len(ids), n)`` standard normals, row ``i`` the first ``n`` of path ``ids[i]``'s stream."""
    z = np.empty((len(ids), n)) if out is None else out
    for row, g in zip(z, PathStreams(seed, stream, key, ids), strict=True):
        g.standard_normal(out=row)
    return z


def uniform_rows(
    seed: int, stream: Stream, key: int, ids: NDArray[np.int64], n: int
) -> NDArray[np.float64]:
    """``(len(ids), n)`` uniforms on [0, 1): row ``i`` is the start of path ``ids[i]``'s stream."""
    u = np.empty((len(ids), n))
    for row, g in zip(u, PathStreams(seed, stream, key, ids), strict=True):
        g.random(out=row)
    return u
