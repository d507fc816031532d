"""Fixtures shared by every test module."""

import pytest

from hiddenconvex.experiments.cache import CACHE_ENV


@pytest.fixture(autouse=True)
def _pattern_cache_in_tmp(tmp_path, monkeypatch):
    """Every test gets a fresh, empty pattern cache under its own ``tmp_path``.

    The pattern cache (:mod:`hiddenconvex.experiments.cache`) defaults to
    ``./.cache/hiddenconvex/patterns``;
    with ``HIDDENCONVEX_CACHE_DIR`` set, no test reads a cache left by an earlier run (or another
    test) or writes into the repository's ``.cache/``. Subprocesses started by the tests inherit
    the variable (their environments are built from ``os.environ``). Tests of the default
    location itself remove the variable with ``monkeypatch.delenv`` and a ``tmp_path`` cwd.
    """
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "pattern-cache"))
