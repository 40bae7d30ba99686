"""The q-SFT query design: subsampling matrices, delays and the query points they imply.

Subsampling matrices M_c in Z_q^{n x b} are built so that M_c^T maps Z_q^n *onto* Z_q^b
(never by drawing and rejecting: see :func:`subsampling_matrices`). For prime q that is full rank over GF(q); for composite q
(q = 20) "invertible" is not a field notion, and the right condition is that M_c mod p has
rank b over GF(p) for every prime p dividing q. Onto-ness makes the hash k -> M_c^T k split
Z_q^n into q^b bins of exactly q^(n-b) frequencies each. Each row of M_c is also required
to be non-zero modulo every prime factor of q (its entries have no common factor with q),
so that the q values of one site, k = v e_i, land in q distinct bins: without it, for q = 20
a row of even entries sends k and k + 10 e_i to the same bin, and two such coefficients
that collide in every group cannot be peeled apart. (A frequency whose entries all share a
factor with q still lands only in the matching subgroup of bins; that is a property of every
linear hash, and peeling across the C groups resolves the extra collisions.)

Delays are R blocks of n + 1 rows: a base row d_r and its unit shifts d_r + e_i. Identity
delays are one block with d = 0; "nso" (noise-robust) delays use R random bases, and the
decoder averages the phase evidence of the R blocks.

A run's design is one value, :class:`Design` (its :class:`QueryPlan`, matrices, delays, the
distinct variants to ask and the inverse index of every design point, and a digest of the
variants), built once by :func:`make_design` and handed to whatever needs it: the oracle
queries, the held-out draw that must avoid them, the decoder and the report.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ... import _core
from ..._checks import check_int, check_nthreads, check_q
from ..._memory import require_memory
from .store import design_digest

DELAY_KINDS = ("identity", "nso")
DESIGN_FORMAT = "plmscope.qsft-design/1"
_GIB = 1024**3


# -- the plan: what a run costs, from its arguments alone ------------------------------------

@dataclass(frozen=True)
class QueryPlan:
    """What a q-SFT run costs before it runs."""

    q: int
    n: int
    b: int
    num_subsample: int
    delays: str
    num_repeat: int
    num_delays: int          # P
    num_bins: int            # q^b per group
    num_samples: int         # C q^b P design points (the paper's query count)
    memory_bytes: int        # peak working memory of design, transform and decoder

    def __str__(self) -> str:
        return (f"q-SFT plan: {self.num_samples:,} queries = {self.num_subsample} subsamples x "
                f"{self.q}^{self.b} = {self.num_bins:,} bins x {self.num_delays} delays "
                f"({self.delays}, {self.num_repeat} repeat(s)); at most {self.num_samples:,} "
                f"oracle calls: {dedup_note(self.num_samples)}; "
                f"~{self.memory_bytes / _GIB:.2f} GiB of memory")


    def arguments(self) -> dict:
        """The arguments that made this plan (as :func:`plan` takes them)."""
        return {"q": self.q, "n": self.n, "b": self.b, "num_subsample": self.num_subsample,
                "delays": self.delays, "num_repeat": self.num_repeat}


# Why and how the design is de-duplicated (the plan printout says it).
def dedup_note(num_samples: int) -> str:
    if num_samples < SORT_BELOW:
        return ("points that coincide are asked once, found by sorting the points (under "
                f"{SORT_BELOW:,} points that is cheaper than solving for them from the "
                "matrices), asked in design order")
    return ("points that coincide are asked once, found from the design's structure (two "
            "groups always share the P points l = 0; other coincidences are solved for "
            "from the matrices, not sorted out of all points), asked in design order")


def plan(q: int, n: int, b: int, num_subsample: int = 3, delays: str = "nso",
         num_repeat: int = 1) -> QueryPlan:
    """Number of queries and memory of a q-SFT run with these arguments (nothing runs)."""
    q = check_q(q)
    if q > 256:
        raise ValueError(f"q must be <= 256, got q={q}")
    n = check_int("n", n, 1)
    b = check_int("b", b, 1)
    if b > n:
        raise ValueError(f"b={b} must be <= n={n}: there are only n sites to subsample")
    num_subsample = check_int("num_subsample", num_subsample, 1)
    num_repeat = check_int("num_repeat", num_repeat, 1)
    if delays not in DELAY_KINDS:
        raise ValueError(f"delays must be one of {DELAY_KINDS}, got delays={delays!r}")
    if delays == "identity" and num_repeat != 1:
        raise ValueError(f"identity delays have no repeats; got num_repeat={num_repeat} "
                         "(use delays='nso' for repeated noise-robust delays)")
    P = num_repeat * (n + 1)
    bins = q**b
    samples = num_subsample * bins * P
    # points (n bytes), codes + answers (16), bins twice (32), transform scratch (16) per sample
    memory = samples * (n + 64)
    return QueryPlan(q, n, b, num_subsample, delays, num_repeat, P, bins, samples, memory)


# -- the design: one value for the whole run --------------------------------------------------

@dataclass(frozen=True, eq=False)
class Design:
    """The q-SFT design of one run: built once (:func:`make_design`), then shared.

    ``variants`` are the distinct points to ask, in asking order; ``inverse`` maps every
    design point (group c, delay p, bin l, flat in that order) to its row of ``variants``;
    ``digest`` identifies the variants (what the run's query store records:
    :func:`plmscope.fourier.qsft.store.design_digest`)."""

    plan: QueryPlan
    seed: int
    matrices: np.ndarray     # (C, n, b) uint8
    delays: np.ndarray       # (P, n) uint8
    variants: np.ndarray     # (m, n) uint8
    inverse: np.ndarray      # (C P q^b,) int64
    digest: str
    timings: dict = field(default_factory=dict, compare=False)  # seconds: design, dedup
    dedup: str = "structure"  # how coinciding points were found: "structure" or "sort"

    @property
    def num_queries(self) -> int:
        return int(self.variants.shape[0])

    def arguments(self) -> dict:
        """The arguments that build this design: the plan's and the seed."""
        return {**self.plan.arguments(), "seed": self.seed}

    def check(self, **arguments) -> None:
        """ValueError naming the first argument whose value is not this design's."""
        mine = self.arguments()
        for name, value in arguments.items():
            if name in mine and value != mine[name]:
                raise ValueError(f"{name}={value!r} but the design given was built with "
                                 f"{name}={mine[name]!r}; pass the design's arguments or "
                                 "build a design for these")

    def save(self, path: str | os.PathLike) -> None:
        """An .npz with the arguments, matrices, delay rows and digest (the variants and
        their index follow from these: :func:`load_design` rebuilds and checks them)."""
        from ...folders import atomic_target

        with atomic_target(path) as fh:
            np.savez(fh, format=np.array(DESIGN_FORMAT), matrices=self.matrices,
                     delay_rows=self.delays, digest=np.array(self.digest),
                     num_queries=np.array(self.num_queries),
                     **{k: np.array(v) for k, v in self.arguments().items()})


def make_design(the_plan: QueryPlan, seed: int = 0, nthreads: int = 0) -> Design:
    """The design of `the_plan` drawn from `seed` (the same arguments give the same design);
    refuses, naming the size, when q^b or the working memory is too large."""
    q, n, b = the_plan.q, the_plan.n, the_plan.b
    seed = check_int("seed", seed, 0)  # numpy's own error would not name it
    nthreads = check_nthreads(nthreads)
    if the_plan.num_bins > 2**40:
        raise ValueError(f"q^b = {q}^{b} = {the_plan.num_bins:.3g} bins per subsample is too many; "
                         "choose a smaller b")
    require_memory(the_plan.memory_bytes,
                   f"q-SFT with q^b = {q}^{b} = {the_plan.num_bins:,} bins per subsample "
                   f"({the_plan.num_samples:,} queries)")
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    matrices = subsampling_matrices(rng, q, n, b, the_plan.num_subsample)
    delays = delay_rows(rng, q, n, the_plan.delays, the_plan.num_repeat)
    return _with_variants(the_plan, seed, matrices, delays, nthreads, t0)


_NESTED_STREAM = 0x6E657374  # "nest": nested designs' own streams


def nested_design(the_plan: QueryPlan, seed: int = 0, nthreads: int = 0) -> Design:
    """A design of `the_plan` whose groups are drawn one by one (group c from (seed, c); the
    delays from their own stream), so the design with C groups holds the one with C - 1:
    a design that grows by groups (plmscope.fourier.ask_in_rounds) never re-asks a point.
    Not :func:`make_design`'s draw: the two give different designs for the same seed."""
    q, n, b = the_plan.q, the_plan.n, the_plan.b
    seed = check_int("seed", seed, 0)
    nthreads = check_nthreads(nthreads)
    require_memory(the_plan.memory_bytes,
                   f"q-SFT with q^b = {q}^{b} = {the_plan.num_bins:,} bins per subsample "
                   f"({the_plan.num_samples:,} queries)")
    t0 = time.perf_counter()
    matrices = np.concatenate([
        subsampling_matrices(np.random.default_rng([seed, _NESTED_STREAM, c]), q, n, b, 1)
        for c in range(the_plan.num_subsample)])
    delays = delay_rows(np.random.default_rng([seed, _NESTED_STREAM, 2**32]), q, n,
                        the_plan.delays, the_plan.num_repeat)
    return _with_variants(the_plan, seed, matrices, delays, nthreads, t0)


def _with_variants(the_plan, seed, matrices, delays, nthreads, t0) -> Design:
    q = the_plan.q
    points, _ = query_points(matrices, delays, q, False, nthreads)
    t1 = time.perf_counter()
    # asked in design order, each point where it first occurs; in a large design the
    # duplicates are solved for from the matrices (sorting costs 30x more where 22 of 7.04M
    # coincide), a small one is sorted
    variants, inverse, _, how = design_order_variants(points, matrices, delays, q, nthreads)
    del points
    timings = {"design": t1 - t0, "dedup": time.perf_counter() - t1}
    return Design(the_plan, seed, matrices, delays, variants, inverse, design_digest(variants),
                  timings, how)


def load_design(path: str | os.PathLike, nthreads: int = 0) -> Design:
    """The design saved by :meth:`Design.save`, its variants rebuilt from the saved matrices
    and delay rows; ValueError naming the file when it is damaged or the variants no longer
    match its digest."""
    from ...folders import read_npz, scalar_int

    data = read_npz(path, "q-SFT design file")
    ints = ("q", "n", "b", "num_subsample", "num_repeat", "seed")
    fix = "delete it and rerun the same command to write it again"
    if any(k not in data for k in ("format", "matrices", "delay_rows", "digest", "delays", *ints)) \
            or str(data["format"]) != DESIGN_FORMAT:
        raise ValueError(f"{path} is not a q-SFT design file ({DESIGN_FORMAT}): {fix}")
    args = {k: scalar_int(data[k], f"{k} in {path}") for k in ints}
    seed = args.pop("seed")
    the_plan = plan(delays=str(data["delays"]), **args)
    matrices = np.asarray(data["matrices"], dtype=np.uint8)
    delays = np.asarray(data["delay_rows"], dtype=np.uint8)
    C, n, b, P = the_plan.num_subsample, the_plan.n, the_plan.b, the_plan.num_delays
    if matrices.shape != (C, n, b) or delays.shape != (P, n):
        raise ValueError(f"{path} holds matrices {matrices.shape} and delay rows {delays.shape}, "
                         f"not ({C}, {n}, {b}) and ({P}, {n}): {fix}")
    found = _with_variants(the_plan, seed, matrices, delays, check_nthreads(nthreads),
                           time.perf_counter())
    if found.digest != str(data["digest"]):
        raise ValueError(f"{path}: its matrices and delays no longer give the variants of its "
                         f"digest: {fix}")
    return found


# -- the hash: subsampling matrices, delays, points --------------------------------------------

def prime_factors(q: int) -> list[int]:
    out, p = [], 2
    while p * p <= q:
        if q % p == 0:
            out.append(p)
            while q % p == 0:
                q //= p
        p += 1
    if q > 1:
        out.append(q)
    return out


def rank_mod_p(a: np.ndarray, p: int) -> int:
    """Rank of an integer matrix over GF(p), p prime (Gaussian elimination)."""
    m = np.array(a, dtype=np.int64) % p
    rows, cols = m.shape
    rank = 0
    for col in range(cols):
        pivot = next((r for r in range(rank, rows) if m[r, col] != 0), None)
        if pivot is None:
            continue
        m[[rank, pivot]] = m[[pivot, rank]]
        m[rank] = (m[rank] * pow(int(m[rank, col]), -1, p)) % p
        for r in range(rows):
            if r != rank and m[r, col]:
                m[r] = (m[r] - m[r, col] * m[rank]) % p
        rank += 1
        if rank == rows:
            break
    return rank


def is_onto(matrix: np.ndarray, q: int) -> bool:
    """True when x -> matrix^T x maps Z_q^n onto Z_q^b (rank b modulo every prime of q)."""
    b = matrix.shape[1]
    return all(rank_mod_p(matrix, p) == b for p in prime_factors(q))


def rows_are_units(matrix: np.ndarray, q: int) -> bool:
    """True when no row of `matrix` is zero modulo a prime factor of q."""
    m = np.asarray(matrix, dtype=np.int64)
    return all(np.all(np.any(m % p != 0, axis=1)) for p in prime_factors(q))


def subsampling_matrices(rng: np.random.Generator, q: int, n: int, b: int,
                         count: int) -> np.ndarray:
    """(count, n, b) uint8 matrices, each onto Z_q^b with unit rows (see module notes),
    built directly, so every draw succeeds: b random rows hold a matrix invertible modulo
    q, and every other row is drawn uniformly among the rows that are nonzero modulo each
    prime of q. The same generator state gives the same matrices."""
    if not 1 <= b <= n:
        raise ValueError(f"need 1 <= b <= n, got n={n}, b={b}")
    out = np.empty((count, n, b), dtype=np.uint8)
    for c in range(count):
        m = _unit_rows(rng, q, n, b)
        m[rng.choice(n, size=b, replace=False)] = _invertible(rng, q, b)
        out[c] = m
    return out


def _prime_powers(q: int) -> list[tuple[int, int]]:
    """[(p, p^e)] over the primes p dividing q, with p^e the largest power dividing q."""
    out = []
    for p in prime_factors(q):
        pe = p
        while q % (pe * p) == 0:
            pe *= p
        out.append((p, pe))
    return out


def _crt(parts: list[np.ndarray], q: int) -> np.ndarray:
    """The integer array modulo q with the given residues modulo q's prime powers (in
    :func:`_prime_powers` order)."""
    out = np.zeros_like(parts[0])
    for (_, pe), part in zip(_prime_powers(q), parts):
        rest = q // pe
        out = (out + part * rest * pow(rest, -1, pe)) % q
    return out


def _lift(rng: np.random.Generator, residues: np.ndarray, p: int, pe: int) -> np.ndarray:
    """A uniform value modulo p^e with the given residues modulo p."""
    return residues + p * rng.integers(0, pe // p, size=residues.shape)


def _nonzero_rows(rng: np.random.Generator, p: int, count: int, b: int) -> np.ndarray:
    """(count, b) rows uniform over the nonzero vectors of GF(p)^b: the first nonzero entry
    sits at position j with probability (p - 1) p^(b-1-j) / (p^b - 1), is uniform in
    1..p-1, and the entries after it are uniform."""
    weights = (p - 1) * float(p) ** np.arange(b - 1, -1, -1)
    first = rng.choice(b, size=count, p=weights / weights.sum())
    rows = rng.integers(0, p, size=(count, b))
    rows[np.arange(b)[None, :] < first[:, None]] = 0
    rows[np.arange(count), first] = rng.integers(1, p, size=count)
    return rows


def _unit_rows(rng: np.random.Generator, q: int, count: int, b: int) -> np.ndarray:
    """(count, b) int64 rows uniform among those nonzero modulo every prime of q."""
    return _crt([_lift(rng, _nonzero_rows(rng, p, count, b), p, pe)
                 for p, pe in _prime_powers(q)], q)


def _invertible(rng: np.random.Generator, q: int, b: int) -> np.ndarray:
    """A random (b, b) int64 matrix invertible modulo q: modulo each prime p of q, a row
    permutation of L U with L unit lower triangular and U upper triangular with a nonzero
    diagonal (invertible by construction), lifted to p^e and combined by the CRT."""
    parts = []
    for p, pe in _prime_powers(q):
        lower = np.tril(rng.integers(0, p, size=(b, b)), -1) + np.eye(b, dtype=np.int64)
        upper = np.triu(rng.integers(0, p, size=(b, b)), 1) + np.diag(rng.integers(1, p, size=b))
        mod_p = (lower @ upper % p)[rng.permutation(b)]
        parts.append(_lift(rng, mod_p, p, pe))
    return _crt(parts, q)


def delay_rows(rng: np.random.Generator, q: int, n: int, kind: str, num_repeat: int) -> np.ndarray:
    """(num_repeat * (n + 1), n) uint8 delays: blocks of a base row and its unit shifts."""
    if kind == "identity":
        bases = np.zeros((num_repeat, n), dtype=np.int64)
    else:
        bases = rng.integers(0, q, size=(num_repeat, n))
    shifts = np.vstack([np.zeros((1, n), dtype=np.int64), np.eye(n, dtype=np.int64)])
    rows = (bases[:, None, :] + shifts[None, :, :]) % q
    return rows.reshape(-1, n).astype(np.uint8)


def subsample_grid(q: int, b: int) -> np.ndarray:
    """(q^b, b) int64: the digits of l, most significant first (row index == flat l)."""
    return np.indices((q,) * b).reshape(b, -1).T.astype(np.int64)


def query_points(matrices: np.ndarray, delays: np.ndarray, q: int, with_codes: bool = False,
                 nthreads: int = 0):
    """((C, P, q^b, n) uint8 points x = M_c l + d_p (mod q), their flat int64 indices or
    None), computed by the C++ core; the indices (see :func:`variant_codes`) only with
    ``with_codes``, which needs :func:`codes_fit`."""
    if with_codes and not codes_fit(q, matrices.shape[1]):
        raise ValueError(f"q^n = {q}^{matrices.shape[1]} does not fit in int64: no flat codes")
    points, codes = _core.qsft_query_points(
        np.ascontiguousarray(matrices, dtype=np.uint8), np.ascontiguousarray(delays, dtype=np.uint8),
        q, with_codes, nthreads)
    return points, (codes if with_codes else None)


def variant_codes(points: np.ndarray, q: int) -> np.ndarray:
    """Flat index sum x_i q^(n-1-i) of each variant (int64); needs q^n < 2^63."""
    n = points.shape[-1]
    code = np.zeros(points.shape[:-1], dtype=np.int64)
    for i in range(n):
        code *= q
        code += points[..., i]
    return code


def codes_fit(q: int, n: int) -> bool:
    """Whether q^n, and so every flat index of Z_q^n, fits in int64 (exact integers)."""
    return int(q) ** int(n) < 2**63


def decode_codes(codes: np.ndarray, q: int, n: int) -> np.ndarray:
    """Inverse of variant_codes: (m,) int64 -> (m, n) uint8."""
    out = np.empty((codes.shape[0], n), dtype=np.uint8)
    rest = codes.copy()
    for i in range(n - 1, -1, -1):
        out[:, i] = rest % q
        rest //= q
    return out


# -- duplicates from the design's structure --------------------------------------------------
#
# Group c asks x = M_c l + d_p. With rows R of M_c forming a matrix A invertible modulo q
# (the construction puts one there), v lies in M_c's image exactly when its syndrome
# s_c(v) = v_rest - G_c v_R (mod q), G_c = M_rest A^-1, is zero, and then l = A^-1 v_R. So
# a point M_c' l' + d_p' of a later group (or of a later delay of the same group) equals a
# point of group c, delay p, exactly when T l' = s_c(d_p) - s_c(d_p') with T = s_c(M_c'), a
# linear map of l' alone: the q^b values T l' are hashed once per pair of groups and the P^2
# delay pairs are looked up in them. That finds every duplicate in O(C^2 (q^b + P^2)) hash
# operations instead of sorting all C P q^b points; every candidate is checked on the points
# themselves, so a hash collision cannot merge two different variants.

def _inverse_mod(a: np.ndarray, q: int) -> np.ndarray | None:
    """A^-1 modulo q (int64), or None when A is not invertible modulo q: Gauss-Jordan
    modulo each prime power of q (a local ring, where an invertible column always has a unit
    entry), combined by the CRT."""
    b = a.shape[0]
    parts = []
    for p, pe in _prime_powers(q):
        m = np.concatenate([np.asarray(a, dtype=np.int64) % pe, np.eye(b, dtype=np.int64)], axis=1)
        for col in range(b):
            pivot = next((r for r in range(col, b) if m[r, col] % p), None)
            if pivot is None:
                return None
            m[[col, pivot]] = m[[pivot, col]]
            m[col] = m[col] * pow(int(m[col, col]), -1, pe) % pe
            for r in range(b):
                if r != col and m[r, col]:
                    m[r] = (m[r] - m[r, col] * m[col]) % pe
        parts.append(m[:, b:])
    return _crt(parts, q)


def _invertible_rows(matrix: np.ndarray, q: int, tries: int = 5000):
    """(rows R, A^-1) for the first b rows of `matrix` (in combination order) invertible
    modulo q, or None within `tries` combinations."""
    from itertools import combinations, islice

    n, b = matrix.shape
    for rows in islice(combinations(range(n), b), tries):
        inv = _inverse_mod(matrix[list(rows)], q)
        if inv is not None:
            return np.array(rows), inv
    return None


def _small_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b in int64 for a short inner axis (b or n - b terms): one vector pass per term,
    no BLAS thread team for a product this small."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    out = np.zeros(a.shape[:-1] + b.shape[1:], np.int64)
    for k in range(a.shape[-1]):
        out += a[..., k, None] * b[k]
    return out


def _all_images(t_map: np.ndarray, q: int) -> np.ndarray:
    """(q^b, k) int16: t_map @ l mod q for every l of Z_q^b in flat order (most significant
    digit first), built digit by digit as sums of a column's multiples (no products)."""
    k, b = t_map.shape
    if k == 0:  # b = n: every syndrome is empty
        return np.zeros((q**b, 0), np.int16)
    out = np.zeros((1, k), np.int16)
    for t in range(b):
        column = (np.arange(q)[:, None] * t_map[:, t]) % q                 # (q, k)
        out = (out[:, None, :] + column[None, :, :].astype(np.int16)).reshape(-1, k)
        out %= q
    return out


def _hash_rows(v: np.ndarray) -> np.ndarray:
    """uint64 hash of each row of a small-integer array (equal rows, equal hashes)."""
    weights = np.random.default_rng(12345).integers(1, 2**63, size=v.shape[-1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        return np.asarray(v).astype(np.uint64) @ (weights | np.uint64(1))


def structural_duplicates(points: np.ndarray, matrices: np.ndarray, delays: np.ndarray,
                          q: int):
    """(positions, sources): the flat design positions (group, delay, l order) whose point
    already occurs earlier in the design, and the position of its first occurrence; both
    sorted by position. None when a matrix has no b rows invertible modulo q, or when the
    matches outnumber the points (whole rows coincide), where sorting is the cheaper way. ``points`` is :func:`query_points`' (C, P, q^b, n) array."""
    C, P, B, n = points.shape
    b = matrices.shape[2]
    flat = points.reshape(-1, n)
    syndromes, solve = [], []
    for c in range(C):
        found = _invertible_rows(matrices[c].astype(np.int64), q)
        if found is None:
            return None
        rows, a_inv = found
        rest = np.setdiff1d(np.arange(n), rows)
        g = matrices[c][rest].astype(np.int64) @ a_inv % q               # (n - b, b)

        def syndrome(v, rows=rows, rest=rest, g=g):                      # v: (..., n)
            return (v[..., rest] - _small_matmul(v[..., rows], g.T)) % q
        syndromes.append(syndrome)
        solve.append((rows, a_inv))
    positions, sources = [], []
    matched = 0
    place = q ** np.arange(b - 1, -1, -1)
    for c2 in range(C):
        for c in range(c2 + 1):
            syndrome = syndromes[c]
            rows, a_inv = solve[c]
            t_map = syndrome(matrices[c2].T.astype(np.int64)).T             # (n - b, b)
            t_hash = _hash_rows(_all_images(t_map, q))                       # (q^b,) over l'
            s_c = syndrome(delays.astype(np.int64))                         # (P, n - b)
            # target[p2, p]: the value T l' must take for (c2, p2, l') to equal (c, p, l)
            p2s, ps = np.nonzero(np.ones((P, P), bool) if c < c2 else
                                 np.arange(P)[None, :] < np.arange(P)[:, None])
            targets = _hash_rows((s_c[ps] - s_c[p2s]) % q)
            order = np.argsort(targets, kind="stable")
            lo = np.searchsorted(targets[order], t_hash, side="left")
            count = np.searchsorted(targets[order], t_hash, side="right") - lo
            hit = np.flatnonzero(count)
            if hit.size == 0:
                continue
            matched += int(count[hit].sum())
            if matched > flat.shape[0]:
                return None  # whole delay rows coincide (e.g. b = n): sorting is cheaper
            # every (l', pair) with a matching hash: l' repeated once per pair it matches
            l2 = np.repeat(hit, count[hit])
            starts = np.repeat(lo[hit] - np.cumsum(count[hit]) + count[hit], count[hit])
            pair = order[starts + np.arange(l2.size)]
            p2, p = p2s[pair], ps[pair]
            here = (c2 * P + p2) * B + l2
            v = (flat[here][:, rows].astype(np.int64) - delays[p][:, rows]) % q
            there = (c * P + p) * B + (_small_matmul(v, a_inv.T) % q) @ place
            same = np.all(flat[here] == flat[there], axis=1)
            positions.append(here[same])
            sources.append(there[same])
    if not positions:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    positions, sources = np.concatenate(positions), np.concatenate(sources)
    # the earliest of all earlier copies: sort by (position, source), keep each position's first
    order = np.lexsort((sources, positions))
    positions, sources = positions[order], sources[order]
    first = np.ones(positions.size, bool)
    first[1:] = positions[1:] != positions[:-1]
    return positions[first].astype(np.int64), sources[first].astype(np.int64)


# Below this many design points sorting them is cheaper than solving for the coincidences
# (measured: 11,264 points sort in 1 ms, the structural solve takes 3.4 ms; at 2^18 both
# take ~15 ms; at 7.04M sorting takes 1.8 s, the solve 0.06 s).
SORT_BELOW = 2**18
FEW_REMOVED = 1024  # up to this many duplicates the kept runs are copied slice by slice


def design_order_variants(points: np.ndarray, matrices: np.ndarray, delays: np.ndarray,
                          q: int, nthreads: int = 0, method: str = "auto"):
    """(distinct variants (m, n) uint8 in design order, inverse index of every point,
    number of duplicates removed, how they were found: "structure" or "sort"). A point is
    kept where it first occurs in (group, delay, l) order, so the answers arrive in nearly
    the order the transform reads them. ``method="auto"`` sorts the points of a design
    smaller than ``SORT_BELOW`` and solves for the duplicates from the matrices
    (:func:`structural_duplicates`) in a larger one, falling back to sorting where the
    structure cannot be used; "structure" and "sort" force one way. Every way gives the
    same result."""
    if method not in ("auto", "structure", "sort"):
        raise ValueError(f"method must be 'auto', 'structure' or 'sort', got {method!r}")
    n = points.shape[-1]
    flat = points.reshape(-1, n)
    total = flat.shape[0]
    if method == "sort" or (method == "auto" and total < SORT_BELOW):
        return _sorted_design_order(flat, q, nthreads) + ("sort",)
    found = structural_duplicates(points, matrices, delays, q)
    if found is None:
        return _sorted_design_order(flat, q, nthreads) + ("sort",)
    positions, sources = found
    if positions.size == 0:
        return flat, np.arange(total, dtype=np.int64), 0, "structure"
    # a kept point moves up by the removed points before it; a removed one points where its
    # first occurrence went (never itself removed: it is the earliest copy). Few removed
    # points: copy the runs between them (one pass, as a slice each); many: a mask.
    if positions.size <= FEW_REMOVED:
        inverse = np.empty(total, dtype=np.int64)
        unique = np.empty((total - positions.size, n), dtype=np.uint8)
        starts = np.concatenate([[0], positions + 1])
        for k, (s, e) in enumerate(zip(starts, np.append(positions, total))):
            inverse[s:e] = np.arange(s - k, e - k)
            unique[s - k:e - k] = flat[s:e]
    else:
        kept = np.ones(total, dtype=bool)
        kept[positions] = False
        inverse = np.arange(total, dtype=np.int64) - np.cumsum(~kept)
        unique = flat[kept]
    inverse[positions] = inverse[sources]
    return unique, inverse, int(positions.size), "structure"


def _sorted_design_order(flat: np.ndarray, q: int, nthreads: int):
    """design_order_variants' result by sorting: (unique, inverse, removed)."""
    n = flat.shape[1]
    if codes_fit(q, n):
        _, by_value, first = _core.unique_codes(variant_codes(flat, q), nthreads)
    else:
        _, first, by_value = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")       # distinct values by first occurrence
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    return flat[first[order]], rank[np.asarray(by_value).reshape(-1)], flat.shape[0] - order.size
