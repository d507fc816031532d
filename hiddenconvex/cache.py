"""On-disk cache of activation-pattern lists (edge module: the only place patterns touch the disk).

A :class:`~hiddenconvex.patterns.Patterns` list is stored as one ``.npz`` file named by a
SHA-256 content hash of X (shape, dtype and bytes of the float64 array) and of the enumeration
parameters (method as requested, pattern set, ``max_exact`` for ``"auto"``, samples and seed for
sampling, the cache format version). Files are written atomically (temporary file in the same
directory, then ``os.replace``) and read with ``allow_pickle=False``. A file that cannot be read,
has the wrong keys, shapes or content hash, or whose witnesses do not generate its patterns, is
ignored (and overwritten by the recomputed list): the cache never makes a computation fail.

Directory: the ``cache_dir`` argument, else the environment variable ``HIDDENCONVEX_CACHE_DIR``,
else ``.cache/hiddenconvex/patterns`` under the current working directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import check_matrix
from .patterns import (
    DEFAULT_MAX_EXACT,
    DEFAULT_N_SAMPLES,
    Patterns,
    _mm,
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
_FORMAT = 2  # 2: patterns stored pattern-major (``Dt_packed``, bits of each D[:, k])


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


def save_patterns(key: str, patterns: Patterns, cache_dir=None) -> Path:
    """Write ``patterns`` atomically to ``<cache_dir>/patterns-<key>.npz``; return the path.

    Raises OSError if the directory cannot be created or written.
    """
    path = _path(key, cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "format": np.array(_FORMAT),
        "key": np.array(key),
        "n": np.array(patterns.n),
        "Dt_packed": np.packbits(patterns.D.T, axis=1),
        "witnesses": patterns.witnesses,
        "method": np.array(patterns.method),
        "complete": np.array(bool(patterns.complete)),
        "rank": np.array(int(patterns.rank)),
        "pattern_set": np.array(patterns.pattern_set),
        "n_samples": np.array(-1 if patterns.n_samples is None else int(patterns.n_samples)),
        "seed": np.array(-1 if patterns.seed is None else int(patterns.seed)),
    }
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

    With ``X`` given, the list is also checked against the data: n and d must match and every
    witness must generate its pattern (chambers: ``sign(X u)`` equals the pattern on nonzero rows;
    ≥-patterns: up to 1e-9 relative on rows with x_j^T u ≈ 0).
    """
    path = _path(key, cache_dir)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != _FORMAT or str(z["key"]) != key:
                return None
            n = int(z["n"])
            bits = np.unpackbits(z["Dt_packed"], axis=1, count=n)  # (p, n) 0/1, fresh array
            W = np.asarray(z["witnesses"], dtype=np.float64)
            bits.setflags(write=False)  # private fresh arrays: Patterns need not copy them
            W.setflags(write=False)
            ns, sd = int(z["n_samples"]), int(z["seed"])
            P = Patterns(D=bits.view(bool).T, witnesses=W,
                         method=str(z["method"]), complete=bool(z["complete"]),
                         rank=int(z["rank"]), pattern_set=str(z["pattern_set"]),
                         n_samples=None if ns < 0 else ns, seed=None if sd < 0 else sd)
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            UnicodeDecodeError):
        return None
    if P.method not in ("exact", "sample") or P.pattern_set not in ("chamber", "ge"):
        return None
    if X is not None and not _consistent(check_matrix(X), P):
        return None
    return P


def _consistent(X: np.ndarray, P: Patterns) -> bool:
    """Shapes match and every witness generates its pattern."""
    if P.n != X.shape[0] or P.d != X.shape[1] or not np.all(np.isfinite(P.witnesses)):
        return False
    nz = np.any(X != 0, axis=1)
    if not np.all(P.D[~nz]):
        return False
    Xn = X[nz] / np.linalg.norm(X[nz], axis=1, keepdims=True)
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
            return False
    return True


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
        Why the result could not be written (the result itself is valid).
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
    before the cache is touched.
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
    P = load_patterns(key, X, cache_dir)
    if P is not None:
        return CachedPatterns(P, True, str(path), time.perf_counter() - t0)
    P = enumerate_patterns(X, method, n_samples=n_samples, seed=seed, pattern_set=pattern_set,
                           max_exact=max_exact)
    warning, written = None, str(path)
    try:
        save_patterns(key, P, cache_dir)
    except OSError as exc:
        warning, written = f"could not write the pattern cache {path}: {exc.strerror or exc}", None
    return CachedPatterns(P, False, written, time.perf_counter() - t0, warning)

