r"""Activation patterns D = diag(1[Xu ≥ 0]) of the data (SPEC §1.2, §1.3, §3).

The canonical list is the list of CHAMBER patterns: strict sign vectors s ∈ {±1}^n of the
full-dimensional cells of the central arrangement {x_j^T u = 0} (zero rows x_j = 0 get s_j = +1).
Each pattern comes with a witness direction u strictly inside its chamber.

This module is pure (no I/O). Disk caching lives in :mod:`hiddenconvex.cache`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Patterns"]


@dataclass(frozen=True)
class Patterns:
    """An immutable list of p activation patterns of X (n rows, d columns).

    Attributes
    ----------
    D : bool array, shape (n, p)
        Column k is the diagonal of D_k.
    witnesses : array, shape (p, d)
        ``witnesses[k]`` generates pattern k: ``1[X u ≥ 0] == D[:, k]``. For chambers it lies strictly
        inside the chamber (``x_j^T u != 0`` for every nonzero row).
    method : {"exact", "sample"}
        How the list was obtained.
    complete : bool
        True only when the list provably contains every chamber (exact enumeration).
    rank : int
        rank(X) (the arrangement lives in R^rank, SPEC §1.3).
    pattern_set : {"chamber", "ge"}
        Chamber patterns (canonical) or the paper's ≥-pattern set.
    n_samples, seed : int or None
        Sampling parameters (``method == "sample"``).
    """

    D: np.ndarray
    witnesses: np.ndarray
    method: str
    complete: bool
    rank: int
    pattern_set: str = "chamber"
    n_samples: int | None = None
    seed: int | None = None

    def __post_init__(self):
        D = np.ascontiguousarray(self.D, dtype=bool)
        Wt = np.ascontiguousarray(self.witnesses, dtype=np.float64)
        if D.ndim != 2 or Wt.ndim != 2 or Wt.shape[0] != D.shape[1]:
            raise ValueError(f"inconsistent shapes D {D.shape}, witnesses {Wt.shape}")
        D.setflags(write=False)
        Wt.setflags(write=False)
        object.__setattr__(self, "D", D)
        object.__setattr__(self, "witnesses", Wt)

    @property
    def n(self) -> int:
        return self.D.shape[0]

    @property
    def p(self) -> int:
        return self.D.shape[1]

    @property
    def d(self) -> int:
        return self.witnesses.shape[1]

    @property
    def signs(self) -> np.ndarray:
        """±1 sign vectors, shape (n, p) (``+1`` where D is 1)."""
        return np.where(self.D, 1, -1).astype(np.int8)

    def nonzero(self) -> Patterns:
        """Drop the zero pattern D = 0 (its blocks have zero fit)."""
        keep = self.D.any(axis=0)
        return self.subset(np.flatnonzero(keep), complete=self.complete)

    def subset(self, index, complete: bool = False) -> Patterns:
        """Patterns ``index`` only (a sub-list is not complete unless said so)."""
        index = np.asarray(index, dtype=int)
        return Patterns(
            D=self.D[:, index], witnesses=self.witnesses[index], method=self.method,
            complete=complete, rank=self.rank, pattern_set=self.pattern_set,
            n_samples=self.n_samples, seed=self.seed,
        )

    def summary(self) -> dict:
        return {
            "n": self.n, "d": self.d, "rank": self.rank, "method": self.method,
            "pattern_set": self.pattern_set, "num_patterns": self.p, "complete": self.complete,
            "samples": self.n_samples, "seed": self.seed,
        }
