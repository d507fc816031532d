#!/usr/bin/env python
"""Export the six datasets scikit-learn bundles offline to data/*.csv (full size).

iris, wine, breast_cancer, diabetes, digits and linnerud (every ``sklearn.datasets.load_*`` that
needs no download), plus the small ``<name>_pca2`` subsets of the first four.

scikit-learn is a test dependency of hiddenconvex (the ``test`` extra, also the optional
``sklearn`` extra), so the project's venv runs it::

    .venv/bin/python scripts/export_sklearn_datasets.py            # writes data/
    .venv/bin/python scripts/export_sklearn_datasets.py --check    # compares, writes nothing

The output is deterministic (no randomness except the recorded subsampling seed). Preprocessing,
exactly (documented in data/README.md):

* features standardized column-wise over the full dataset: (x - mean) / std with the population
  std (ddof = 0); written with 6 significant digits;
* binary labels in {-1, +1}: iris versicolor (+1) vs setosa/virginica (-1); wine class_1 (+1) vs
  class_0/class_2 (-1); breast_cancer malignant (sklearn target 0, +1) vs benign (target 1, -1);
* diabetes: the UNSCALED copy (``load_diabetes(scaled=False)``), features standardized as above,
  target standardized too (y - mean) / std (mean and std printed and recorded in the README);
* digits (1797 x 64, 8x8 images with intensities 0..16): the binary task digit 0 (+1, 178 images)
  vs digits 1-9 (-1); pixels divided by 16 (values k/16, written exactly), NOT standardized:
  pixel_0_0, pixel_4_0 and pixel_4_7 are 0 in every image (standardizing would divide by 0, and
  would blow up the nearly blank border pixels), so rank(X) = 61 (62 with the bias column);
* linnerud (20 x 3): features chins, situps, jumps standardized as above; target ``waist``
  (the physiological target most correlated with the exercises; weight and pulse are dropped),
  standardized (mean and std printed);
* ``<name>_pca2``: scores of the standardized features on the first two principal components
  (SVD of the standardized matrix; each component's sign fixed so that its largest-magnitude
  loading is positive), each score column standardized over the full dataset, then ``N_SMALL``
  rows drawn without replacement by ``np.random.default_rng(SEED).choice`` and kept in their
  original order; written with 8 significant digits.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
N_SMALL = 40
SEED = 0
DIGITS_POSITIVE = 0        # digits: this digit is +1, all others -1
LINNERUD_TARGET = "Waist"  # linnerud: the one target kept (of Weight, Waist, Pulse)


def _standardize(A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = A.mean(axis=0)
    sd = A.std(axis=0)
    if np.any(sd == 0):
        raise ValueError("a column is constant; cannot standardize")
    return (A - mu) / sd, mu, sd


def _snake(name: str) -> str:
    s = re.sub(r"\(cm\)", "cm", name.strip().lower())
    s = re.sub(r"[^0-9a-z]+", "_", s).strip("_")
    return s


def _pca2(Z: np.ndarray) -> np.ndarray:
    _, _, Vt = np.linalg.svd(Z, full_matrices=False)
    V = Vt[:2].T.copy()
    for k in range(2):
        if V[np.argmax(np.abs(V[:, k])), k] < 0:
            V[:, k] *= -1
    S, _, _ = _standardize(Z @ V)
    return S


def _subsample(n_total: int) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return np.sort(rng.choice(n_total, size=N_SMALL, replace=False))


def _csv(columns: list[str], X: np.ndarray, y: np.ndarray, digits: int) -> str:
    fmt = f"{{:.{digits}g}}"
    lines = [",".join([*columns, "y"])]
    for x, t in zip(X, y, strict=True):
        vals = [fmt.format(float(v)) for v in x] + [fmt.format(float(t))]
        lines.append(",".join("0" if v in ("-0", "0") else v for v in vals))
    return "\n".join(lines) + "\n"


def build() -> tuple[dict[str, str], list[str]]:
    """All CSV texts keyed by file name, and one summary line per dataset."""
    from sklearn import datasets as skd

    out: dict[str, str] = {}
    summary = []

    def classification(name, bunch, positive):
        Z, _, _ = _standardize(np.asarray(bunch.data, dtype=float))
        y = np.where(np.asarray(bunch.target) == positive, 1.0, -1.0)
        cols = [_snake(c) for c in bunch.feature_names]
        out[f"{name}.csv"] = _csv(cols, Z, y, 6)
        idx = _subsample(Z.shape[0])
        out[f"{name}_pca2.csv"] = _csv(["pc1", "pc2"], _pca2(Z)[idx], y[idx], 8)
        summary.append(f"{name}: n={Z.shape[0]}, d={Z.shape[1]}, +1: {int((y > 0).sum())}, "
                       f"-1: {int((y < 0).sum())}; pca2 subsample +1: {int((y[idx] > 0).sum())}, "
                       f"-1: {int((y[idx] < 0).sum())}")

    classification("iris", skd.load_iris(), positive=1)            # versicolor
    classification("wine", skd.load_wine(), positive=1)            # class_1
    classification("breast_cancer", skd.load_breast_cancer(), positive=0)  # malignant

    dia = skd.load_diabetes(scaled=False)
    Z, _, _ = _standardize(np.asarray(dia.data, dtype=float))
    t = np.asarray(dia.target, dtype=float)
    y_mean, y_sd = float(t.mean()), float(t.std())
    y = (t - y_mean) / y_sd
    out["diabetes.csv"] = _csv([_snake(c) for c in dia.feature_names], Z, y, 6)
    idx = _subsample(Z.shape[0])
    out["diabetes_pca2.csv"] = _csv(["pc1", "pc2"], _pca2(Z)[idx], y[idx], 8)
    summary.append(f"diabetes: n={Z.shape[0]}, d={Z.shape[1]}, target mean {y_mean:.6g}, "
                   f"std {y_sd:.6g} (ddof=0)")

    dig = skd.load_digits()
    P = np.asarray(dig.data, dtype=float) / 16.0   # k/16: exact in binary and in 6 digits
    y = np.where(np.asarray(dig.target) == DIGITS_POSITIVE, 1.0, -1.0)
    out["digits.csv"] = _csv([_snake(c) for c in dig.feature_names], P, y, 6)
    const = [dig.feature_names[k] for k in np.flatnonzero(P.std(axis=0) == 0)]
    summary.append(f"digits: n={P.shape[0]}, d={P.shape[1]}, +1 (digit {DIGITS_POSITIVE}): "
                   f"{int((y > 0).sum())}, -1: {int((y < 0).sum())}; constant pixels "
                   f"{', '.join(const)}; rank {np.linalg.matrix_rank(P)}")

    lin = skd.load_linnerud()
    Z, _, _ = _standardize(np.asarray(lin.data, dtype=float))
    t = np.asarray(lin.target, dtype=float)[:, list(lin.target_names).index(LINNERUD_TARGET)]
    y_mean, y_sd = float(t.mean()), float(t.std())
    out["linnerud.csv"] = _csv([_snake(c) for c in lin.feature_names], Z, (t - y_mean) / y_sd, 6)
    summary.append(f"linnerud: n={Z.shape[0]}, d={Z.shape[1]}, target {LINNERUD_TARGET} mean "
                   f"{y_mean:.6g}, std {y_sd:.6g} (ddof=0)")
    return out, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "data", help="output folder (default data/)")
    ap.add_argument("--check", action="store_true",
                    help="compare the files in --out with a fresh export; write nothing")
    args = ap.parse_args(argv)
    try:
        import sklearn
    except ImportError:
        print("error: this script needs scikit-learn (a test dependency of hiddenconvex).\n"
              "Install the test extra into the venv, e.g.\n"
              "  .venv/bin/pip install -e '.[test]'    (or: pip install 'hiddenconvex[sklearn]')\n"
              "  .venv/bin/python scripts/export_sklearn_datasets.py", file=sys.stderr)
        return 2
    if not args.out.is_dir():
        print(f"error: output folder not found: {args.out}", file=sys.stderr)
        return 2
    texts, summary = build()
    bad = 0
    for fname, text in texts.items():
        path = args.out / fname
        if args.check:
            ok = path.is_file() and path.read_text(encoding="utf-8") == text
            bad += not ok
            print(f"{'ok  ' if ok else 'DIFF'} {path}")
        else:
            tmp = path.with_name(path.name + ".partial")
            tmp.write_text(text, encoding="utf-8", newline="\n")
            os.replace(tmp, path)
            print(f"wrote {path}  ({len(text.encode())} bytes)")
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    for line in summary:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
