"""The bundled datasets (hiddenconvex.experiments.datasets): the registry's facts against the files,
the six scikit-learn datasets at full size, and scripts/export_sklearn_datasets.py against a fresh
export from scikit-learn."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from experiment_helpers import ROOT, load_script

from hiddenconvex import InputError
from hiddenconvex.experiments import datasets as ds
from hiddenconvex.experiments.datasets import (
    REGISTRY,
    dataset_facts,
    load_csv,
    load_dataset,
    preloaded_datasets,
)

SKLEARN_SIX = ("iris", "wine", "breast_cancer", "diabetes", "digits", "linnerud")
DATA = ROOT / "data"


def _design(name):
    """The model's design matrix read independently of the package (numpy's CSV reader)."""
    arr = np.loadtxt(DATA / f"{name}.csv", delimiter=",", skiprows=1, ndmin=2)
    X, y = arr[:, :-1], arr[:, -1]
    if REGISTRY[name].bias:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    return X, y


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_registry_facts_match_the_files(name):
    info = REGISTRY[name]
    facts = dataset_facts(name)
    X, y = _design(name)
    assert (facts["n"], facts["d"]) == (info.n, info.d) == (X.shape[0], X.shape[1] - info.bias)
    # independent rank: numpy's matrix_rank with its default tolerance (the rule the package
    # states it uses), on the file as numpy reads it
    assert facts["rank"] == info.rank == np.linalg.matrix_rank(X)
    assert facts["task"] == info.task and facts["loss"] == info.loss
    data = load_dataset(name)
    assert data.X.shape == X.shape and np.array_equal(data.X, X) and np.array_equal(data.y, y)
    if info.task == "classification":
        assert set(np.unique(y)) == {-1.0, 1.0} and info.loss in ("logistic", "hinge")
    else:
        assert info.loss == "squared"


def test_the_six_sklearn_datasets_at_full_size():
    sizes = {name: (REGISTRY[name].n, REGISTRY[name].d) for name in SKLEARN_SIX}
    # the sizes scikit-learn documents for its bundled copies (load_* docstrings)
    assert sizes == {"iris": (150, 4), "wine": (178, 13), "breast_cancer": (569, 30),
                     "diabetes": (442, 10), "digits": (1797, 64), "linnerud": (20, 3)}
    assert all(REGISTRY[n].source == "scikit-learn" for n in SKLEARN_SIX)


def test_digits_constant_pixels_and_rank():
    """digits: pixels/16 in [0, 1], digit 0 vs rest; three all-zero pixels make the rank 61."""
    X, y = _design("digits")
    pixels = X[:, :-1]
    assert np.array_equal(np.round(pixels * 16), pixels * 16) and pixels.min() == 0
    assert pixels.max() == 1
    names = load_dataset("digits").features
    constant = [names[k] for k in np.flatnonzero(pixels.std(axis=0) == 0)]
    assert constant == ["pixel_0_0", "pixel_4_0", "pixel_4_7"]
    assert not pixels[:, pixels.std(axis=0) == 0].any()
    assert np.linalg.matrix_rank(pixels) == 64 - 3 and REGISTRY["digits"].rank == 62
    assert int((y > 0).sum()) == 178  # the zeros of scikit-learn's copy
    assert "rank 61" in REGISTRY["digits"].description


def test_linnerud_target_is_waist_standardized():
    X, y = _design("linnerud")
    assert load_dataset("linnerud").features == ("chins", "situps", "jumps", "(bias)")
    # standardized with the population std, written with 6 significant digits
    np.testing.assert_allclose(X[:, :3].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(X[:, :3].std(axis=0), 1, atol=1e-5)
    np.testing.assert_allclose([y.mean(), y.std()], [0, 1], atol=1e-5)
    assert "waist" in REGISTRY["linnerud"].description


def test_export_matches_sklearn_and_is_deterministic():
    pytest.importorskip("sklearn", reason="scikit-learn (the `test` extra) is not installed")
    from sklearn import datasets as skd

    script = load_script("export_sklearn_datasets")
    first, summary = script.build()
    second, _ = script.build()
    assert first == second  # deterministic
    expected = {f"{n}.csv" for n in SKLEARN_SIX} | {
        f"{n}_pca2.csv" for n in SKLEARN_SIX[:4]}
    assert set(first) == expected
    for fname, text in first.items():
        assert (DATA / fname).read_text(encoding="utf-8") == text, f"{fname} is stale"
    # the exported digits are scikit-learn's pixels / 16 and its digit-0 labels, row for row
    X, y = _design("digits")
    dig = skd.load_digits()
    assert np.array_equal(X[:, :-1] * 16, dig.data)
    assert np.array_equal(y > 0, dig.target == 0)
    lin = skd.load_linnerud()
    waist = lin.target[:, list(lin.target_names).index("Waist")]
    _, y = _design("linnerud")
    np.testing.assert_allclose(y, (waist - waist.mean()) / waist.std(), atol=5e-6)
    assert any(line.startswith("digits:") and "rank 61" in line for line in summary)


def test_export_check_mode(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="scikit-learn (the `test` extra) is not installed")
    script = load_script("export_sklearn_datasets")
    assert script.main(["--check"]) == 0
    assert "DIFF" not in capsys.readouterr().out
    (tmp_path / "digits.csv").write_text("pixel_0_0,y\n0,1\n")
    assert script.main(["--check", "--out", str(tmp_path)]) == 1
    assert "DIFF" in capsys.readouterr().out


def test_facts_refuse_a_file_of_the_wrong_shape(tmp_path):
    (tmp_path / "linnerud.csv").write_text("chins,situps,jumps,y\n1,2,3,4\n2,3,5,5\n")
    with pytest.raises(InputError, match=r"linnerud.*2 rows x 3 features.*20 x 3"):
        dataset_facts("linnerud", data_dir=tmp_path)
    with pytest.raises(InputError, match="no registry entry"):
        dataset_facts("nope")


def test_preloaded_datasets_serve_load_dataset(tmp_path, monkeypatch):
    copy = load_dataset("linnerud")
    calls = []
    monkeypatch.setattr(ds, "load_csv", lambda *a, **k: calls.append(a) or load_csv(*a, **k))
    monkeypatch.setenv(ds.DATA_DIR_ENV, str(tmp_path / "missing"))  # no data folder at all
    with preloaded_datasets({"linnerud": copy}):
        assert load_dataset("linnerud") is copy
        assert load_dataset("linnerud", bias=True) is copy
        with pytest.raises(InputError, match="data folder not found"):
            load_dataset("linnerud", bias=False)  # another design matrix: read from the file
        seen = []
        t = threading.Thread(target=lambda: seen.append(ds._PRELOADED.get().get("linnerud")))
        t.start()
        t.join()
        assert seen == [None]  # another thread does not see this context's copies
    with pytest.raises(InputError, match="data folder not found"):
        load_dataset("linnerud")
    assert calls == []
