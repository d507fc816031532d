"""Atomic files (hiddenconvex.experiments.atomic)."""

from __future__ import annotations

import os

import pytest

from hiddenconvex import InputError
from hiddenconvex.experiments.atomic import (
    atomic_path,
    atomic_paths,
    atomic_write,
    csv_lock,
    ensure_writable_folder,
)


def test_atomic_write_permissions_follow_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.csv", "x\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "a.csv").read_text() == "x\n"


def test_failed_writers_leave_targets_untouched(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    with pytest.raises(RuntimeError), atomic_path(a) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert a.read_text() == "old a"
    with pytest.raises(RuntimeError), atomic_paths([a, b]) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
        raise RuntimeError("second writer failed")
    assert a.read_text() == "old a" and not b.exists()  # all or nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]  # no .partial left
    with atomic_paths([a, b]) as (ta, tb):
        ta.write_text("new a")
        tb.write_text("new b")
    assert a.read_text() == "new a" and b.read_text() == "new b"


def test_csv_lock_and_writable_folder(tmp_path):
    folder = ensure_writable_folder(tmp_path / "x" / "y")
    assert folder.is_dir() and list(folder.iterdir()) == []  # probe removed
    with csv_lock(folder / "runs.csv"):
        assert (folder / ".runs.csv.lock").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="cannot create results folder"):
        ensure_writable_folder(tmp_path / "file" / "sub")
