"""Reading data files (CSV with a header row) and the registry of bundled datasets.

Edge module: the only place that reads data. Target column ``y`` unless ``target`` says
otherwise; ``bias=True`` appends a ones column (regularized bias, SPEC §1.1).

Bundled datasets live in the repository's ``data/`` folder (``data/README.md`` gives source,
license and preprocessing of every file). The folder is found, in this order, from the explicit
``data_dir`` argument, the environment variable ``HIDDENCONVEX_DATA_DIR``, or ``data/`` next to
the package directory (``<repo>/data`` for a source checkout / editable install).
:func:`list_datasets` names the registered datasets plus any other ``*.csv`` in that folder;
:func:`dataset_info` returns the registered metadata (intended loss, bias column, generator);
:func:`dataset_facts` reads a registered file and states its n, d and rank (the rank computed by
the package's rank rule, :func:`hiddenconvex._linalg._svd_rank`, on the design matrix the model
sees, i.e. with the ones column when the entry has a bias).

:func:`preloaded_datasets` makes :func:`load_dataset` return datasets already in memory (the
batch runner ships each dataset once to its workers, e.g. by a Dask scatter, and installs it
there, so the workers need no data folder).
"""

from __future__ import annotations

import contextvars
import functools
import os
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._linalg import _svd_rank
from ..errors import InputError

__all__ = [
    "Dataset",
    "DatasetInfo",
    "DATA_DIR_ENV",
    "REGISTRY",
    "load_csv",
    "resolve_data_dir",
    "list_datasets",
    "dataset_info",
    "dataset_facts",
    "dataset_path",
    "load_dataset",
    "preloaded_datasets",
]

DATA_DIR_ENV = "HIDDENCONVEX_DATA_DIR"


@dataclass(frozen=True)
class Dataset:
    """Features and target of one CSV file.

    Attributes
    ----------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,), or None
        None only when the labels are not needed (``load_csv(..., loss=None)``) and the file has
        no target column or text labels.
    features : tuple of str
    name : str
    meta : dict
    """

    X: np.ndarray
    y: np.ndarray | None
    features: tuple[str, ...]
    name: str = ""
    meta: dict = field(default_factory=dict)


LABEL_LOSSES = ("logistic", "hinge")  # losses whose labels are -1/+1
_SHOWN_LABELS = 5  # distinct labels named in a message


def load_csv(path: str | os.PathLike, target: str = "y", bias: bool = False, *,
             loss: str | None = "squared", require_target: bool = True) -> Dataset:
    """Load ``path`` (CSV, header row) as (X, y).

    Every feature cell must be a finite number. The target column is read according to ``loss``:

    * ``"squared"`` (default): finite numbers;
    * ``"logistic"`` / ``"hinge"``: labels -1/+1; the numbers 0/1, or exactly two distinct text
      labels, are mapped in sorted order to -1 and +1 (``meta["label_map"]``, e.g.
      ``(("no", -1), ("yes", 1))``: the caller shows it); other numbers, one text label only or
      more than two are an error;
    * ``None`` (labels not used, e.g. pattern enumeration): numbers, or text labels (``y`` is then
      None); with ``require_target=False`` a file without the target column is read as features
      only (``y`` None, ``meta["target"]`` None).

    Problems raise :class:`InputError` with a one-line message naming the file and, where there is
    one, the column and data row (1 = first row after the header): unreadable or missing file,
    empty file, header only, empty or duplicate column name, rows with more fields than the
    header, missing target column, no feature column, empty cell, non-numeric cell, NaN or inf
    (including numbers beyond the double range), labels that do not fit the loss. Cells may be
    padded with spaces; a UTF-8 byte-order mark is ignored.

    Parameters
    ----------
    path : str or path-like
    target : str
        Name of the target column (default ``"y"``); all other columns are features.
    bias : bool
        Append a ones column (regularized bias, SPEC §1.1); its feature name is ``"(bias)"``.
    loss : {"squared", "logistic", "hinge"} or None
        The loss the labels are for (see above).
    require_target : bool
        A missing target column is an error (default). False: all columns are features.

    Returns
    -------
    Dataset
        ``X`` (n, d) float64, ``y`` (n,) float64 (or None, see above), ``features``, ``name``
        (file stem), ``meta`` = {path, target, bias} and ``label_map`` when labels were mapped.
    """
    path = os.fspath(path)
    if loss is not None and loss not in ("squared", *LABEL_LOSSES):
        raise InputError(f"unknown loss {loss!r} for the labels of {path}")
    if not os.path.exists(path):
        raise InputError(f"data file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"data path is a directory, not a CSV file: {path}")
    try:  # all cells as text: ragged rows are an error instead of a silently inferred index
        raw = pd.read_csv(path, header=None, dtype=str, na_filter=False, skipinitialspace=True,
                          encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise InputError(f"data file is empty: {path}") from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {path}: {msg}") from None
    columns = [str(c).strip() for c in raw.iloc[0]]
    for k, c in enumerate(columns):
        if not c:
            raise InputError(f"empty column name in the header of {path} (column {k + 1}); "
                             "every column needs a name (an unnamed index column?)")
        if c in columns[:k]:
            raise InputError(f"duplicate column name {c!r} in the header of {path}")
    cells = raw.iloc[1:].reset_index(drop=True)
    cells.columns = columns
    if cells.shape[0] == 0:
        raise InputError(f"data file has a header but no rows: {path}")
    has_target = target in columns
    if not has_target and require_target:
        raise InputError(f"target column {target!r} not found in {path} (columns: "
                         f"{', '.join(columns)}); choose the target column with --target COL")
    features = [c for c in columns if c != target]
    if not features:
        raise InputError(f"{path} has no feature columns besides the target {target!r}")
    X = np.empty((cells.shape[0], len(features)), dtype=np.float64)
    for k, col in enumerate(features):
        X[:, k] = _numeric_column(cells[col].str.strip(), col, path)
    meta = {"path": path, "target": target if has_target else None, "bias": bias}
    y = None
    if has_target:
        y, label_map = _labels(cells[target].str.strip(), target, path, loss)
        if label_map:
            meta["label_map"] = label_map
    if bias:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
        features = [*features, "(bias)"]
    name = os.path.splitext(os.path.basename(path))[0]
    return Dataset(X=X, y=y, features=tuple(features), name=name, meta=meta)


def _numeric_column(text: pd.Series, col: str, path: str, hint: str = "") -> np.ndarray:
    """The cells of one column as finite float64 (n,); InputError naming the first bad cell."""
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(num)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = text.iloc[i]
        where = f"in column {col!r}, data row {i + 1} of {path}"
        if cell == "":
            raise InputError(f"missing value {where}")
        if np.isnan(num[i]) and cell.lower().lstrip("+-") != "nan":
            raise InputError(f"non-numeric value {cell!r} {where}{hint}")
        raise InputError(f"non-finite value {cell!r} {where} (NaN, inf or beyond the double "
                         "range; all values must be finite)")
    return num


def _shown(labels) -> str:
    shown = ", ".join(repr(v) for v in labels[:_SHOWN_LABELS])
    return shown + (", ..." if len(labels) > _SHOWN_LABELS else "")


def _labels(text: pd.Series, col: str, path: str, loss: str | None):
    """(y, label_map) of the target column for ``loss`` (see :func:`load_csv`)."""
    empty = (text == "").to_numpy()
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise InputError(f"missing value in column {col!r}, data row {i + 1} of {path}")
    num = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    is_text = np.isnan(num) & ~text.str.lower().str.lstrip("+-").eq("nan").to_numpy()
    if is_text.all():
        labels = sorted(set(text))
        if loss is None:
            return None, ()
        if loss not in LABEL_LOSSES:
            raise InputError(
                f"target column {col!r} of {path} holds text labels ({_shown(labels)}); the "
                f"{loss} loss needs numeric targets (two classes: use --loss logistic or hinge)")
        if len(labels) != 2:
            what = (f"a single label {labels[0]!r}" if len(labels) == 1 else
                    f"{len(labels)} distinct labels ({_shown(labels)})")
            raise InputError(
                f"target column {col!r} of {path} has {what}; the {loss} loss needs exactly two "
                "classes (mapped to -1/+1): merge the labels into two classes first")
        y = np.where(text.to_numpy() == labels[1], 1.0, -1.0)
        return y, ((labels[0], -1), (labels[1], 1))
    hint = "; the target column mixes numbers and text labels" if is_text.any() else ""
    y = _numeric_column(text, col, path, hint)
    if loss not in LABEL_LOSSES:
        return y, ()
    values = np.unique(y)
    if np.isin(values, (-1.0, 1.0)).all():
        return y, ()
    if np.array_equal(values, [0.0, 1.0]):
        return np.where(y == 1.0, 1.0, -1.0), ((0, -1), (1, 1))
    bad = [float(v) for v in values if v not in (-1.0, 1.0)]
    raise InputError(
        f"target column {col!r} of {path}: the {loss} loss needs labels -1/+1 (or 0/1, or two "
        f"text labels); found {', '.join(f'{v:g}' for v in bad[:_SHOWN_LABELS])}"
        + (", ..." if len(bad) > _SHOWN_LABELS else ""))


# --------------------------------------------------------------------------- bundled datasets


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of a bundled dataset (details in ``data/README.md``).

    Attributes
    ----------
    name : str
        Registry name; the file is ``<name>.csv`` in the data folder.
    task : {"regression", "classification"}
        Classification targets are ±1.
    loss : str
        Intended loss (``squared``, ``logistic``, ``hinge``); any loss whose label rule fits works.
    bias : bool
        Whether the intended model has a (regularized) bias: load with ``bias=True``.
    n, d : int
        Rows and feature columns of the file (without bias column); checked against the file by
        :func:`dataset_facts` (and the tests).
    source : {"synthetic", "scikit-learn"}
    description : str
        One line: what the data are and how they were preprocessed.
    generator : str or None
        For synthetic data: the :mod:`hiddenconvex.experiments.synthetic` function that wrote
        the file (``scripts/make_datasets.py``) ...
    params : tuple of (str, value) pairs
        ... and its keyword arguments (``dict(info.params)``).
    """

    name: str
    task: str
    loss: str
    bias: bool
    n: int
    d: int
    source: str
    description: str
    generator: str | None = None
    params: tuple = ()

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    def generator_kwargs(self) -> dict:
        return dict(self.params)

    @property
    def rank(self) -> int:
        """Rank of the model's design matrix (features, plus the ones column when ``bias``),
        computed from the file in the default data folder (:func:`dataset_facts`; cached)."""
        return dataset_facts(self.name)["rank"]


def _synthetic(name, task, loss, fit_bias, description, generator, params: dict) -> DatasetInfo:
    n = int(params["n"])
    d = {"teacher_1d": 1, "teacher_2d": 2, "two_spirals": 2}.get(generator, params.get("d"))
    return DatasetInfo(name, task, loss, fit_bias, n, int(d), "synthetic", description, generator,
                       tuple(params.items()))


def _sklearn(name, task, loss, bias, n, d, description) -> DatasetInfo:
    return DatasetInfo(name, task, loss, bias, n, d, "scikit-learn", description)


REGISTRY: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _synthetic(
            "default", "regression", "squared", False,
            "2-D teacher ReLU net (3 neurons, no bias) + N(0, 0.05^2) noise, n = 40; "
            "the data of `make run` (beta = 0.1)",
            "teacher_2d", dict(n=40, seed=25, width=3, noise=0.05, bias=False),
        ),
        _synthetic(
            "teacher_1d", "regression", "squared", True,
            "1-D teacher ReLU net with kinks inside [-2, 2] + N(0, 0.05^2) noise, n = 30; "
            "fit with a bias column (rank 2: 2n chambers)",
            "teacher_1d", dict(n=30, seed=0, width=3, noise=0.05),
        ),
        _synthetic(
            "teacher_2d", "regression", "squared", True,
            "2-D teacher ReLU net with biases + N(0, 0.05^2) noise, n = 30; fit with a bias "
            "column (rank 3)",
            "teacher_2d", dict(n=30, seed=0, width=3, noise=0.05, bias=True),
        ),
        _synthetic(
            "low_rank", "regression", "squared", False,
            "rank-2 Gaussian features in R^5 (n = 40), targets of a bias-free 3-neuron teacher "
            "+ N(0, 0.1^2) noise (exact enumeration in R^2: 2n chambers)",
            "low_rank_gaussian", dict(n=40, d=5, rank=2, seed=0, teacher_width=3, noise=0.1),
        ),
        _synthetic(
            "spirals", "classification", "logistic", True,
            "two interleaved spirals (one turn, noise 0.05), labels +1/-1, n = 30; fit with a "
            "bias column (rank 3)",
            "two_spirals", dict(n=30, seed=0, turns=1.0, noise=0.05),
        ),
        _sklearn("iris", "classification", "logistic", True, 150, 4,
                 "iris (scikit-learn copy), versicolor (+1) vs setosa/virginica (-1), "
                 "standardized features"),
        _sklearn("wine", "classification", "logistic", True, 178, 13,
                 "wine (scikit-learn copy), class_1 (+1) vs class_0/class_2 (-1), "
                 "standardized features"),
        _sklearn("breast_cancer", "classification", "logistic", True, 569, 30,
                 "breast cancer Wisconsin diagnostic (scikit-learn copy), malignant (+1) vs "
                 "benign (-1), standardized features"),
        _sklearn("diabetes", "regression", "squared", True, 442, 10,
                 "diabetes (scikit-learn copy, unscaled version), standardized features and "
                 "standardized target"),
        _sklearn("digits", "classification", "logistic", True, 1797, 64,
                 "optical handwritten digits (scikit-learn copy, 8x8 images), digit 0 (+1) vs "
                 "digits 1-9 (-1), pixel intensities 0..16 divided by 16 (not standardized: 3 "
                 "pixels are 0 in every image, so rank 61 of 64, 62 with the bias)"),
        _sklearn("linnerud", "regression", "squared", True, 20, 3,
                 "Linnerud (scikit-learn copy), exercises chins/situps/jumps -> waist "
                 "(one of the three physiological targets), standardized features and target"),
        _sklearn("iris_pca2", "classification", "logistic", True, 40, 2,
                 "iris versicolor-vs-rest, standardized PCA-2 scores, 40 rows subsampled "
                 "with seed 0"),
        _sklearn("wine_pca2", "classification", "logistic", True, 40, 2,
                 "wine class_1-vs-rest, standardized PCA-2 scores, 40 rows subsampled "
                 "with seed 0"),
        _sklearn("breast_cancer_pca2", "classification", "logistic", True, 40, 2,
                 "breast cancer malignant-vs-benign, standardized PCA-2 scores, 40 rows "
                 "subsampled with seed 0"),
        _sklearn("diabetes_pca2", "regression", "squared", True, 40, 2,
                 "diabetes, standardized PCA-2 scores and standardized target, 40 rows "
                 "subsampled with seed 0"),
    )
}


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data folder: ``data_dir``, else ``$HIDDENCONVEX_DATA_DIR``, else ``<repo>/data``.

    Raises :class:`InputError` when the folder does not exist.
    """
    if data_dir is not None:
        where, how = Path(os.fspath(data_dir)), "data_dir argument"
    elif os.environ.get(DATA_DIR_ENV):
        where, how = Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"
    else:
        where = Path(__file__).resolve().parents[2] / "data"
        how = f"default location next to the package (set ${DATA_DIR_ENV} to override)"
    if not where.is_dir():
        raise InputError(f"data folder not found: {where} ({how})")
    return where


def list_datasets(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Sorted names of the registered datasets plus any other ``*.csv`` file in the data folder.

    Registered names are listed even when the folder is missing (``data_dir`` is only read for
    the extra files; a missing folder contributes none).
    """
    names = set(REGISTRY)
    try:
        folder = resolve_data_dir(data_dir)
    except InputError:
        folder = None
    if folder is not None:
        names.update(p.stem for p in folder.glob("*.csv") if p.is_file())
    return sorted(names)


def dataset_info(name: str) -> DatasetInfo:
    """Registered metadata of a bundled dataset (unregistered names → :class:`InputError`)."""
    if name not in REGISTRY:
        raise InputError(
            f"no registry entry for dataset {name!r}; registered: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[name]


def dataset_path(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of the CSV file of dataset ``name``.

    Raises :class:`InputError` for an unknown name (listing the available names) or when a
    registered dataset's file is missing from the data folder.
    """
    if not isinstance(name, str) or not name:
        raise InputError(f"dataset name must be a non-empty string, got {name!r}")
    known = list_datasets(data_dir)
    if name not in known:
        raise InputError(f"unknown dataset {name!r}; available: {', '.join(known)}")
    folder = resolve_data_dir(data_dir)
    path = folder / f"{name}.csv"
    if not path.is_file():
        raise InputError(
            f"dataset {name!r} is registered but its file {path} is missing "
            f"(regenerate with scripts/make_datasets.py or scripts/export_sklearn_datasets.py)"
        )
    return path


def load_dataset(
    name: str, *, bias: bool | None = None, data_dir: str | os.PathLike | None = None
) -> Dataset:
    """Load a bundled dataset by name with :func:`load_csv` (target column ``y``).

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`.
    bias : bool, optional
        Append a ones column. Default: the registry's intended model (``dataset_info(name).bias``;
        False for unregistered files).
    data_dir : path, optional
        Data folder (see :func:`resolve_data_dir`).

    Returns
    -------
    Dataset
        ``name`` is the dataset name; ``meta`` holds ``path``, ``target``, ``bias`` and, for
        registered datasets, ``task``, ``loss``, ``source``, ``description`` (and ``generator``,
        ``params`` for synthetic ones).
    """
    info = REGISTRY.get(name)
    if data_dir is None:
        shared = _PRELOADED.get().get(name)
        if shared is not None and (bias is None or bool(bias) == shared.meta.get("bias")):
            return shared
    path = dataset_path(name, data_dir)
    if bias is None:
        bias = info.bias if info is not None else False
    ds = load_csv(path, target="y", bias=bool(bias))
    meta = dict(ds.meta)
    meta["path"] = str(path)
    if info is not None:
        meta.update(task=info.task, loss=info.loss, source=info.source,
                    description=info.description)
        if info.generator is not None:
            meta.update(generator=info.generator, params=info.generator_kwargs())
    return Dataset(X=ds.X, y=ds.y, features=ds.features, name=name, meta=meta)


# ----------------------------------------------------------------------------- in-memory copies

_PRELOADED: contextvars.ContextVar[Mapping[str, Dataset]] = contextvars.ContextVar(
    "hiddenconvex_preloaded_datasets", default=types.MappingProxyType({}))


@contextmanager
def preloaded_datasets(datasets: Mapping[str, Dataset]) -> Iterator[None]:
    """Within the block, :func:`load_dataset` returns these in-memory datasets by name.

    Only calls with the default data folder (``data_dir=None``) and the bias the copy was loaded
    with (``bias=None`` or equal to ``meta["bias"]``) are served from memory; anything else reads
    the file as usual. The mapping is per thread / per context (a :class:`contextvars.ContextVar`),
    so worker threads running different tasks do not see each other's datasets.

    Parameters
    ----------
    datasets : mapping of str to Dataset
        Typically ``{name: load_dataset(name)}`` made by the process that owns the data folder.
    """
    token = _PRELOADED.set({**_PRELOADED.get(), **dict(datasets)})
    try:
        yield
    finally:
        _PRELOADED.reset(token)


# ---------------------------------------------------------------------------------- file facts


@functools.lru_cache(maxsize=64)
def _file_facts(path: str, mtime_ns: int, size: int, bias: bool) -> tuple[int, int, int]:
    """(n, d, rank) of one CSV file (cache keyed by path, modification time and size)."""
    ds = load_csv(path, target="y", bias=bias, loss=None)
    return ds.X.shape[0], ds.X.shape[1] - int(bias), _svd_rank(ds.X)


def dataset_facts(name: str, data_dir: str | os.PathLike | None = None) -> dict:
    """The facts of a registered dataset as read from its file: n, d, rank, task, loss, bias.

    ``rank`` is the numerical rank (:func:`hiddenconvex._linalg._svd_rank`, the rule every rank
    decision of the package uses) of the design matrix of the intended model: the features plus
    the ones column when the entry has ``bias=True``. The arrangement of the activation patterns
    lives in R^rank (SPEC §1.3), which decides whether exact enumeration is possible.

    Raises
    ------
    InputError
        Unregistered name, missing file, or a file whose shape differs from the registry's
        ``n``/``d`` (regenerate it with the script named in ``data/README.md``).
    """
    info = dataset_info(name)
    path = dataset_path(name, data_dir)
    st = path.stat()
    n, d, rank = _file_facts(str(path), st.st_mtime_ns, st.st_size, info.bias)
    if (n, d) != (info.n, info.d):
        raise InputError(
            f"dataset {name!r}: {path} has {n} rows x {d} features, the registry says "
            f"{info.n} x {info.d}; regenerate it (scripts/make_datasets.py or "
            "scripts/export_sklearn_datasets.py)")
    return {"name": name, "n": n, "d": d, "rank": rank, "task": info.task, "loss": info.loss,
            "bias": info.bias}
