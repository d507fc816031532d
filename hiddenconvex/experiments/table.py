"""The tidy result table of a batch: one CSV row per run (edge module: file I/O is its job).

Layout, left to right: the parameter columns (:data:`~.config.PARAM_COLUMNS`, then the options),
``seed``, :data:`~.config.STATUS_COLUMNS`, the task's metrics (in order of first appearance
along the grid), then :data:`~.provenance.PROVENANCE_COLUMNS`.

* :func:`assemble_table` builds an experiment's table from its run records;
* :func:`write_table` writes it into the CSV, replaced atomically under :func:`~.atomic.csv_lock`
  and *merged*: the rows of other experiments already in the CSV are kept unchanged (keyed by
  ``run_id``), the rows of this one (its grid and every run in its store) are replaced by the
  current table, at the position of the first of them (appended when there was none). Columns
  are the union, in the layout above. :func:`check_mergeable` refuses, before any work, a CSV
  that cannot be merged;
* :func:`read_table` / :func:`check_csv_fields` read a stored CSV and refuse a truncated or
  corrupt one with its file and line (tables and figures are made from stored CSVs only).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from .atomic import atomic_write, csv_lock
from .config import PARAM_COLUMNS, STATUS_COLUMNS, ExperimentConfig, Run, _is_int
from .provenance import PROVENANCE_COLUMNS

__all__ = [
    "json_scalar",
    "param_columns",
    "assemble_table",
    "write_table",
    "check_mergeable",
    "check_csv_fields",
    "read_table",
]


def json_scalar(value, where: str):
    """A metric (or option) value as a JSON scalar, as stored in a run record and a CSV cell.

    NumPy scalars become Python ones; containers (lists, tuples, dicts, arrays) become a compact
    JSON string. ``where`` names the value in the TypeError raised for any other type.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(_json_tree(value, where), separators=(",", ":"), allow_nan=True)
    raise TypeError(f"metric {where!r} has unsupported type {type(value).__name__}")


def _json_tree(value, where: str):
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_json_tree(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_tree(v, where) for k, v in value.items()}
    return json_scalar(value, where)


def param_columns(columns: Sequence[str]) -> list[str]:
    """The parameter columns of a table: those before ``seed`` (the layout above); for a CSV
    without a ``seed`` column, the :data:`~.config.PARAM_COLUMNS` it has."""
    cols = list(columns)
    if "seed" in cols:
        return cols[: cols.index("seed")]
    return [c for c in PARAM_COLUMNS if c in cols]


def _row(record: dict, reserved: set[str]) -> dict:
    row: dict[str, Any] = {}
    for key, value in record["params"].items():
        row[key] = json_scalar(value, key)
    row["seed"] = record["seed"]
    row["status"] = record["status"]
    row["error"] = record["error"]
    for key, value in record["metrics"].items():
        name = key
        while name in reserved:  # a metric named like a parameter or provenance column
            name = f"task_{name}"
        row[name] = value
    for key in PROVENANCE_COLUMNS:
        row[key] = record["run_id"] if key == "run_id" else record["provenance"].get(key)
    return row


def assemble_table(config: ExperimentConfig, runs: Sequence[Run],
                   records: Mapping[str, dict]) -> pd.DataFrame:
    """The tidy table of the runs that have a record, in grid order.

    Columns: parameters (:data:`PARAM_COLUMNS`, options, ``seed``), :data:`STATUS_COLUMNS`,
    the metrics (in order of first appearance along the grid; a metric named like another column
    is prefixed ``task_``), then :data:`PROVENANCE_COLUMNS`. Integer metrics missing in some rows
    (error rows) use pandas' nullable ``Int64`` so they are written without ``.0``.
    """
    param_cols = [*PARAM_COLUMNS, *config.options, "seed"]
    reserved = {*param_cols, *STATUS_COLUMNS, *PROVENANCE_COLUMNS}
    rows = [_row(records[r.run_id], reserved) for r in runs if r.run_id in records]
    metric_cols: list[str] = []
    seen = set(reserved)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                metric_cols.append(key)
    columns = [*param_cols, *STATUS_COLUMNS, *metric_cols, *PROVENANCE_COLUMNS]
    data = {}
    for col in columns:
        values = [row.get(col) for row in rows]
        present = [v for v in values if v is not None]
        if present and len(present) < len(values) and all(_is_int(v) for v in present):
            data[col] = pd.array(values, dtype="Int64")
        else:
            data[col] = pd.Series(values, dtype=object if not present else None)
    return pd.DataFrame(data, columns=columns)


def check_csv_fields(path: str | os.PathLike, what: str = "CSV") -> int:
    """Check that every record of the CSV ``path`` has as many fields as its header.

    A file cut in the middle of a row (a crash, a full disk, a partial copy) would otherwise be
    read by pandas with the missing cells as NaN. Blank lines are skipped, as pandas does.

    Returns
    -------
    int
        The number of data records.

    Raises
    ------
    InputError
        One line naming the file and the (1-based, physical) line: a record with a different
        number of fields than the header, a quoted field left open at the end of the file, or a
        file that is not UTF-8 text.
    """
    path = Path(path)
    width, records, line = None, 0, 0
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh, strict=True)
            for row in reader:
                line = reader.line_num
                if not row:
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise InputError(
                        f"{what} {path}, line {line}: {len(row)} field(s) where the header has "
                        f"{width} (truncated or corrupt file?)")
                else:
                    records += 1
    except csv.Error as exc:
        raise InputError(f"{what} {path}, line {line + 1}: {exc} (truncated or corrupt file?)"
                         ) from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {what} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}"
                         ) from None
    return records


def read_table(path: str | os.PathLike, what: str = "CSV") -> pd.DataFrame:
    """Read a stored result CSV; :class:`InputError` (one line) if it is missing, unreadable,
    truncated or corrupt (a record whose number of fields differs from the header's, with its
    line: :func:`check_csv_fields`) or has no rows (tables and figures are made from stored CSVs
    only)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} {path} not found")
    check_csv_fields(path, what)
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {what} {path}: {first}") from None
    if df.empty:
        raise InputError(f"{what} {path} has no rows")
    return df


def check_mergeable(path: str | os.PathLike) -> None:
    """Refuse (InputError, one line) an existing CSV at ``path`` that a batch could not merge its
    rows into: not a batch table, truncated or corrupt. Called before any work starts."""
    with csv_lock(path):
        _read_cells(Path(path))


def _read_cells(path: Path) -> pd.DataFrame | None:
    """The existing result CSV as text cells (written back unchanged), None if there is none.

    InputError when it is not a table of this module (no ``run_id``/``seed``/``status`` column),
    truncated or corrupt: a batch never overwrites a file it cannot merge.
    """
    if not path.exists():
        return None
    hint = "; remove it (or choose another experiment.output) to rebuild it from the run store"
    try:
        check_csv_fields(path, "results CSV")
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except InputError as exc:
        raise InputError(f"{exc}{hint}") from None
    except pd.errors.EmptyDataError:
        return None
    except (OSError, pd.errors.ParserError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read results CSV {path}: {first}{hint}") from None
    missing = [c for c in ("seed", *STATUS_COLUMNS, "run_id") if c not in df.columns]
    if missing:
        raise InputError(f"results CSV {path} is not a batch table (no column "
                         f"{', '.join(map(repr, missing))}){hint}")
    return df


def _layout(columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """(parameter columns before ``seed``, metric columns between ``error`` and ``run_id``)."""
    cols = list(columns)
    params = param_columns(cols)
    first_prov = min(cols.index(c) for c in PROVENANCE_COLUMNS if c in cols)
    metrics = [c for c in cols[cols.index("error") + 1: first_prov] if c not in PROVENANCE_COLUMNS]
    return params, metrics


def _merge_tables(old: pd.DataFrame | None, new_text: str, own: set[str]) -> str:
    """CSV text of ``old`` (text cells) without the rows whose ``run_id`` is in ``own``, with the
    rows of ``new_text`` (this experiment's table) in place of the first of them."""
    if old is None:
        return new_text
    keep = ~old["run_id"].isin(own).to_numpy()
    if not keep.any():  # only rows of this experiment: the table as it is
        return new_text
    new = pd.read_csv(io.StringIO(new_text), dtype=str, keep_default_na=False, na_filter=False)
    params_o, metrics_o = _layout(old.columns)
    params_n, metrics_n = _layout(new.columns)
    extra = [c for c in old.columns if c not in (*params_o, *metrics_o, "seed", *STATUS_COLUMNS,
                                                 *PROVENANCE_COLUMNS)]
    columns = [*dict.fromkeys([*params_o, *params_n]), "seed", *STATUS_COLUMNS,
               *dict.fromkeys([*metrics_o, *metrics_n, *extra]), *PROVENANCE_COLUMNS]
    own_rows = np.flatnonzero(~keep)
    at = int(own_rows[0]) if own_rows.size else len(old)  # no own row before it: same in kept
    kept = old[keep]
    merged = pd.concat([kept.iloc[:at], new, kept.iloc[at:]], ignore_index=True)
    merged = merged.reindex(columns=columns, fill_value="").fillna("")
    return merged.to_csv(index=False, lineterminator="\n")


def write_table(config: ExperimentConfig, runs: Sequence[Run],
                records: Mapping[str, dict]) -> pd.DataFrame:
    """Write this experiment's table into ``config.output``, merged (under the CSV lock) with
    the rows of other experiments already there; returns this experiment's table."""
    df = assemble_table(config, runs, records)
    text = df.to_csv(index=False, lineterminator="\n")
    with csv_lock(config.output):
        old = _read_cells(config.output)
        own = {r.run_id for r in runs} | {p.stem for p in config.store.glob("*.json")}
        atomic_write(config.output, _merge_tables(old, text, own))
    return df
