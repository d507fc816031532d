#!/usr/bin/env python
"""Regenerate the synthetic CSV datasets in data/ deterministically from hiddenconvex.synthetic.

Which files and with which generator arguments (seeds included) is read from the dataset registry
``hiddenconvex.datasets.REGISTRY`` (entries with ``source == "synthetic"``), so the registry, this
script and data/README.md describe the same files. The real-data files come from
scripts/export_sklearn_datasets.py instead.

Format: header ``x1,...,xd,y``, one row per sample, numbers written as the shortest decimal string
that round-trips to the same float64 (``repr``), so loading a file gives back exactly the arrays the
generator produced on the machine that wrote it. ``--check`` compares numbers, not text, with a
relative tolerance of 1e-12: matrix products (BLAS) may round the last bit differently on another
machine (seen for ``low_rank``: 5.6e-17).

Usage::

    python scripts/make_datasets.py                # write data/*.csv (synthetic ones)
    python scripts/make_datasets.py --check        # verify the files on disk, write nothing
    python scripts/make_datasets.py --out DIR --only default teacher_1d
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from hiddenconvex.errors import InputError
from hiddenconvex.experiments.atomic import atomic_write
from hiddenconvex.experiments.datasets import REGISTRY
from hiddenconvex.experiments.synthetic import GENERATORS

REPO = Path(__file__).resolve().parent.parent
CHECK_RTOL = 1e-12


def synthetic_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the registered synthetic dataset ``name``, straight from its generator."""
    info = REGISTRY[name]
    X, y, _ = GENERATORS[info.generator](**info.generator_kwargs())
    return X, y


def csv_text(X: np.ndarray, y: np.ndarray) -> str:
    header = ",".join([f"x{j + 1}" for j in range(X.shape[1])] + ["y"])
    rows = [",".join(repr(float(v)) for v in (*x, t)) for x, t in zip(X, y, strict=True)]
    return "\n".join([header, *rows]) + "\n"


def same_numbers(path: Path, X: np.ndarray, y: np.ndarray, rtol: float = CHECK_RTOL) -> bool:
    """The file has the header of :func:`csv_text` and the values of (X, y) to ``rtol``."""
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip()
    if header != csv_text(X[:0], y[:0]).strip():
        return False
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    want = np.column_stack([X, y])
    return data.shape == want.shape and bool(np.allclose(data, want, rtol=rtol, atol=0.0))


def main(argv: list[str] | None = None) -> int:
    names_all = [n for n, info in REGISTRY.items() if info.source == "synthetic"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "data", help="output folder (default data/)")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=names_all,
                    help=f"subset of {', '.join(names_all)}")
    ap.add_argument("--check", action="store_true",
                    help="compare the files in --out with freshly generated data; write nothing")
    args = ap.parse_args(argv)
    if not args.out.is_dir():
        print(f"error: output folder not found: {args.out}", file=sys.stderr)
        return 2
    names = args.only or names_all
    bad = 0
    for name in names:
        try:
            X, y = synthetic_arrays(name)
        except InputError as exc:
            print(f"error: {name}: {exc}", file=sys.stderr)
            return 2
        text = csv_text(X, y)
        path = args.out / REGISTRY[name].filename
        if args.check:
            ok = path.is_file() and same_numbers(path, X, y)
            bad += not ok
            print(f"{'ok  ' if ok else 'DIFF'} {path}")
        else:
            atomic_write(path, text)
            print(f"wrote {path}  (n={X.shape[0]}, d={X.shape[1]}, {len(text.encode())} bytes)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
