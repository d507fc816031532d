"""On-disk cache of activation-pattern lists (edge module: the only place patterns touch the disk).

A :class:`~hiddenconvex.patterns.Patterns` list is stored as one ``.npz`` file named by a
SHA-256 content hash of X (shape, dtype and bytes of the float64 array) and of the enumeration
parameters (method as requested, pattern set, ``max_exact`` for ``"auto"``, samples and seed for
sampling, the cache format version). Files are written atomically (temporary file in the same
directory, then ``os.replace``) and read with ``allow_pickle=False``. The header stores the counts
(n, p, d) and a SHA-256 checksum of the stored arrays and header fields, written at save time.
A file that cannot be read (truncated, corrupt, not an archive), has the wrong keys, format,
counts, shapes or checksum, whose witnesses do not generate its patterns, or whose list claims to
be a complete chamber list but is not closed under negation, exceeds Cover's bound or (rank ≤ 2,
where that count is exact) misses chambers, is rejected: :func:`cached_patterns` reports why in
``warning``, recomputes the list and overwrites the file. The cache never makes a computation
fail and never hands a list that disagrees with its header to the solver.

Directory: the ``cache_dir`` argument, else the environment variable ``HIDDENCONVEX_CACHE_DIR``,
else ``.cache/hiddenconvex/patterns`` under the current working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._arrangement import _group_words, _pack, _reduce, cover_count
from .._linalg import _mm, _unit_rows, pow2_scaled
from ..errors import check_matrix
from ..patterns import (
    DEFAULT_MAX_EXACT,
    DEFAULT_N_SAMPLES,
    Patterns,
    _validate_args,
    enumerate_patterns,
)

__all__ = [
    "CACHE_ENV",
    "CachedPatterns",
    "cache_key",
    "cached_patterns",
    "default_cache_dir",
    "load_patterns",
    "save_patterns",
]

CACHE_ENV = "HIDDENCONVEX_CACHE_DIR"
_FORMAT = 3  # 2: patterns stored pattern-major (``Dt_packed``); 3: counts and checksum


def default_cache_dir() -> Path:
    """``$HIDDENCONVEX_CACHE_DIR`` if set and non-empty, else ``./.cache/hiddenconvex/patterns``."""
    env = os.environ.get(CACHE_ENV, "").strip()
    if env:
        return Path(env)
    return Path.cwd() / ".cache" / "hiddenconvex" / "patterns"


def _params(method: str, n_samples, seed, pattern_set: str, max_exact: int) -> dict:
    """The parameters that determine the result (irrelevant ones normalized away)."""
    sampling = method in ("sample", "auto")
    return {
        "format": _FORMAT,
        "method": method,
        "pattern_set": pattern_set,
        "max_exact": int(max_exact) if method == "auto" else None,
        "n_samples": int(DEFAULT_N_SAMPLES if n_samples is None else n_samples) if sampling
        else None,
        "seed": int(seed) if sampling else None,
    }


def cache_key(X, method: str = "auto", *, n_samples=None, seed: int = 0,
              pattern_set: str = "chamber", max_exact: int = DEFAULT_MAX_EXACT) -> str:
    """Hex SHA-256 of X (C-contiguous float64) and the parameters of :func:`enumerate_patterns`."""
    A = check_matrix(X)
    h = hashlib.sha256()
    h.update(json.dumps({"shape": list(A.shape), "dtype": "<f8"}).encode())
    h.update(np.ascontiguousarray(A, dtype="<f8").tobytes())
    h.update(json.dumps(_params(method, n_samples, seed, pattern_set, max_exact),
                        sort_keys=True).encode())
    return h.hexdigest()


def _path(key: str, cache_dir) -> Path:
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"patterns-{key}.npz"


#: Header fields and arrays covered by the checksum, in this order.
_HEADER = ("format", "key", "n", "p", "d", "method", "complete", "rank", "pattern_set",
           "n_samples", "seed")
_ARRAYS = ("Dt_packed", "witnesses")


def _checksum(fields) -> str:
    """SHA-256 of the header fields and arrays (name, dtype, shape and bytes of each)."""
    h = hashlib.sha256()
    for name in _HEADER + _ARRAYS:
        a = np.asarray(fields[name])
        if a.dtype.kind == "U":
            dt, data = "str", str(a).encode()
        else:
            a = np.ascontiguousarray(a)
            dt, data = a.dtype.str, a.tobytes()
        h.update(json.dumps([name, dt, list(a.shape)]).encode())
        h.update(data)
    return h.hexdigest()


def save_patterns(key: str, patterns: Patterns, cache_dir=None) -> Path:
    """Write ``patterns`` atomically to ``<cache_dir>/patterns-<key>.npz``; return the path.

    The header holds the counts n, p, d and a SHA-256 ``checksum`` of the header fields and the
    arrays (verified by :func:`load_patterns`).

    Raises OSError if the directory cannot be created or written.
    """
    path = _path(key, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "format": np.array(_FORMAT),
        "key": np.array(key),
        "n": np.array(patterns.n),
        "p": np.array(patterns.p),
        "d": np.array(patterns.d),
        "Dt_packed": np.packbits(patterns.D.T, axis=1),
        "witnesses": np.ascontiguousarray(patterns.witnesses, dtype="<f8"),
        "method": np.array(patterns.method),
        "complete": np.array(bool(patterns.complete)),
        "rank": np.array(int(patterns.rank)),
        "pattern_set": np.array(patterns.pattern_set),
        "n_samples": np.array(-1 if patterns.n_samples is None else int(patterns.n_samples)),
        "seed": np.array(-1 if patterns.seed is None else int(patterns.seed)),
    }
    arrays["checksum"] = np.array(_checksum(arrays))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a cache is not secret
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def load_patterns(key: str, X=None, cache_dir=None) -> Patterns | None:
    """The cached list for ``key``, or None if absent or unusable (never raises for a bad file).

    The file must be a readable archive of the current format whose counts (n, p, d) match its
    arrays and whose checksum matches its content. With ``X`` given, the list is also checked
    against the data: n and d must match, every witness must generate its pattern (chambers:
    ``sign(X u)`` equals the pattern on nonzero rows; ≥-patterns: up to 1e-9 relative on rows with
    x_j^T u ≈ 0), and a complete exact chamber list must be closed under negation, free of
    duplicates and within Cover's bound (equal to it for rank ≤ 2). :func:`cached_patterns`
    reports why a file was rejected.
    """
    return _load(key, X, cache_dir)[0]


def _load(key: str, X, cache_dir) -> tuple[Patterns | None, str | None]:
    """(patterns, None) on a hit; (None, None) when there is no file; (None, reason) when the
    file is rejected."""
    path = _path(key, cache_dir)
    if not path.is_file():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as z:
            fields = {name: z[name] for name in (*_HEADER, *_ARRAYS, "checksum") if name in z}
        missing = [name for name in (*_HEADER, *_ARRAYS, "checksum") if name not in fields]
        if missing:
            return None, f"missing fields {', '.join(missing)}"
        if int(fields["format"]) != _FORMAT:
            return None, f"format {int(fields['format'])}, expected {_FORMAT}"
        if str(fields["key"]) != key:
            return None, "its key does not match its file name"
        n, p, d = int(fields["n"]), int(fields["p"]), int(fields["d"])
        packed, W = fields["Dt_packed"], fields["witnesses"]
        if (packed.dtype != np.uint8 or packed.shape != (p, (n + 7) // 8)
                or W.dtype != np.dtype("<f8") or W.shape != (p, d)):
            return None, (f"the header says p={p} patterns of n={n} rows in d={d} dimensions, but "
                          f"the arrays have shapes {packed.shape} and {W.shape}")
        if str(fields["checksum"]) != _checksum(fields):
            return None, "checksum mismatch: the content differs from what was written"
        bits = np.unpackbits(packed, axis=1, count=n)  # (p, n) 0/1, fresh array
        W = np.array(W, dtype=np.float64)
        bits.setflags(write=False)  # private fresh arrays: Patterns need not copy them
        W.setflags(write=False)
        ns, sd = int(fields["n_samples"]), int(fields["seed"])
        P = Patterns(D=bits.view(bool).T, witnesses=W,
                     method=str(fields["method"]), complete=bool(fields["complete"]),
                     rank=int(fields["rank"]), pattern_set=str(fields["pattern_set"]),
                     n_samples=None if ns < 0 else ns, seed=None if sd < 0 else sd)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a cache miss, never a failure
        text = str(exc).strip().splitlines()
        return None, f"unreadable: {type(exc).__name__}" + (f": {text[0]}" if text else "")
    if P.method not in ("exact", "sample") or P.pattern_set not in ("chamber", "ge"):
        return None, f"unknown method {P.method!r} or pattern set {P.pattern_set!r}"
    if X is not None:
        why = _inconsistency(check_matrix(X), P)
        if why is not None:
            return None, why
    return P, None


def _inconsistency(X: np.ndarray, P: Patterns) -> str | None:
    """Why ``P`` cannot be the pattern list of X (None: consistent): shapes, witnesses that do not
    generate their patterns, or a 'complete' exact chamber list that is not closed under negation,
    has duplicates or more chambers than Cover's bound."""
    if P.n != X.shape[0] or P.d != X.shape[1]:
        return f"it is for data of shape ({P.n}, {P.d}), not {X.shape}"
    if not np.all(np.isfinite(P.witnesses)):
        return "non-finite witnesses"
    nz = np.any(X != 0, axis=1)
    if not np.all(P.D[~nz]):
        return "a zero row of X is not active in every pattern"
    Xn = _unit_rows(X[nz])
    Dt = P.D.T  # (p, n), contiguous for the patterns built here
    step = max(1, (1 << 18) // max(Xn.size, 1))
    for c0 in range(0, P.p, step):
        Wc = P.witnesses[c0:c0 + step]
        S = _mm(Wc, Xn.T)  # (c, nonzero rows)
        Dc = Dt[c0:c0 + step][:, nz]
        if P.pattern_set == "ge":
            tol = 1e-9 * np.linalg.norm(Wc, axis=1, keepdims=True)
            ok = np.all(np.where(Dc, S >= -tol, S <= tol))
        else:
            ok = np.array_equal(S > 0, Dc) and np.all(S != 0)
        if not ok:
            return "its witnesses do not generate its patterns"
    if P.complete and P.method == "exact" and P.pattern_set == "chamber":
        words = _pack(Dt[:, nz])
        first, _ = _group_words(words)
        if first.size != P.p:
            return "the complete chamber list has duplicate patterns"
        if np.any(nz):
            both = _group_words(np.concatenate([words, _pack(~Dt[:, nz])]))[0]
            if both.size != P.p:  # every negation is one of the chambers
                return (f"the complete chamber list ({P.p} chambers) is not closed under "
                        "negation: chambers are missing")
        red = _reduce(pow2_scaled(X)[0])
        bound = cover_count(red.H.shape[0], red.rank)  # = cover_bound(X)
        if P.p > bound:
            return f"the complete chamber list has {P.p} chambers, more than Cover's bound {bound}"
        if red.rank <= 2 and P.p != bound:  # rank ≤ 2: Cover's count is exact (1, 2, 2L)
            return (f"the complete chamber list has {P.p} chambers, but an arrangement of rank "
                    f"{red.rank} with {red.H.shape[0]} distinct hyperplanes has {bound}")
    return None


@dataclass(frozen=True)
class CachedPatterns:
    """Result of :func:`cached_patterns`.

    Attributes
    ----------
    patterns : Patterns
    hit : bool
        True if read from the cache.
    path : str or None
        Cache file (None when caching is off or the file could not be written).
    seconds : float
        Wall time of the lookup plus (on a miss) the enumeration.
    warning : str or None
        Why a cache file was rejected and recomputed, and/or why the result could not be written
        (the result itself is valid).
    """

    patterns: Patterns
    hit: bool
    path: str | None
    seconds: float
    warning: str | None = None

    def to_record(self) -> dict:
        return {**self.patterns.to_record(), "cache_hit": self.hit, "cache_path": self.path,
                "seconds": self.seconds}


def cached_patterns(X, method: str = "auto", *, n_samples=None, seed: int = 0,
                    pattern_set: str = "chamber", max_exact: int = DEFAULT_MAX_EXACT,
                    cache_dir=None, use_cache: bool = True) -> CachedPatterns:
    """:func:`~hiddenconvex.patterns.enumerate_patterns` with an on-disk cache.

    Parameters are those of ``enumerate_patterns``; ``cache_dir`` overrides
    :func:`default_cache_dir`; ``use_cache=False`` neither reads nor writes. Input errors are raised
    before the cache is touched. A rejected cache file (corrupt, truncated, content that disagrees
    with its header or with X: :func:`load_patterns`) is reported in ``warning``, recomputed and
    overwritten.
    """
    t0 = time.perf_counter()
    X = check_matrix(X)
    if not use_cache:
        P = enumerate_patterns(X, method, n_samples=n_samples, seed=seed, pattern_set=pattern_set,
                               max_exact=max_exact)
        return CachedPatterns(P, False, None, time.perf_counter() - t0)
    # validate the parameters (cheap) before hashing, so bad input never reaches the disk
    _validate_args(method, n_samples, seed, pattern_set, max_exact)
    key = cache_key(X, method, n_samples=n_samples, seed=seed, pattern_set=pattern_set,
                    max_exact=max_exact)
    path = _path(key, cache_dir)
    P, rejected = _load(key, X, cache_dir)
    if P is not None:
        return CachedPatterns(P, True, str(path), time.perf_counter() - t0)
    P = enumerate_patterns(X, method, n_samples=n_samples, seed=seed, pattern_set=pattern_set,
                           max_exact=max_exact)
    warnings, written = [], str(path)
    if rejected is not None:
        warnings.append(f"pattern cache file {path} was rejected ({rejected}); recomputed")
    try:
        save_patterns(key, P, cache_dir)
    except OSError as exc:
        warnings.append(f"could not write the pattern cache {path}: {exc.strerror or exc}")
        written = None
    return CachedPatterns(P, False, written, time.perf_counter() - t0,
                          "; ".join(warnings) or None)

