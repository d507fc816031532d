"""Reading data files (CSV with a header row). Edge module: the only place that reads data.

Target column ``y`` unless ``target`` says otherwise; ``bias=True`` appends a ones column
(regularized bias, SPEC §1.1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["Dataset", "load_csv"]


@dataclass(frozen=True)
class Dataset:
    X: np.ndarray
    y: np.ndarray
    features: tuple[str, ...]
    name: str = ""
    meta: dict = field(default_factory=dict)


def load_csv(path: str | os.PathLike, target: str = "y", bias: bool = False) -> Dataset:
    """Load ``path`` as (X, y). Errors name the file, column and row."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"data file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"data path is a directory, not a CSV file: {path}")
    try:
        df = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(f"data file is empty: {path}") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {path}: {msg}") from None
    if df.shape[0] == 0:
        raise InputError(f"data file has a header but no rows: {path}")
    if target not in df.columns:
        raise InputError(
            f"target column {target!r} not found in {path} (columns: {', '.join(map(str, df.columns))});"
            " use --target COL"
        )
    features = [c for c in df.columns if c != target]
    if not features:
        raise InputError(f"{path} has no feature columns besides the target {target!r}")
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]):
            conv = pd.to_numeric(df[col], errors="coerce")
            bad = conv.isna() & df[col].notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                raise InputError(
                    f"non-numeric value {df[col].iloc[i]!r} in column {col!r}, data row {i + 1} of {path}"
                )
            df[col] = conv
    values = df.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        r, c = np.argwhere(~np.isfinite(values))[0]
        raise InputError(
            f"missing, NaN or inf value in column {df.columns[c]!r}, data row {r + 1} of {path}"
        )
    X = df[features].to_numpy(dtype=np.float64)
    y = df[target].to_numpy(dtype=np.float64)
    if bias:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
        features = [*features, "(bias)"]
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(X=X, y=y, features=tuple(map(str, features)), name=name,
                   meta={"path": path, "target": target, "bias": bias})
