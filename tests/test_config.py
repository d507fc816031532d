"""The experiment config (hiddenconvex.experiments.config): validation, grid expansion, run ids."""

from __future__ import annotations

import hashlib
import itertools
import json
import os

import pytest
from experiment_helpers import (
    ACCEPT_ALL,
    GRID,
    SCRIPTS,
    write_config,
)

from hiddenconvex import InputError, losses, solvers
from hiddenconvex.experiments.config import (
    PARAM_COLUMNS,
    expand_grid,
    load_config,
    parse_config,
    run_id,
)
from hiddenconvex.solvers import DEFAULT_SOLVER


# ----------------------------------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------------------------------
def test_load_config_values_and_defaults(tmp_path):
    text = """
[experiment]
name = "small"
output = "{out}"
[grid]
dataset = "a"
beta = [1, 0.5]
width = [3]
seeds = [0]
"""
    path = tmp_path / "c.toml"
    path.write_text(text.format(out=(tmp_path / "res" / "r.csv").as_posix()))
    cfg = load_config(path, validate_dataset=ACCEPT_ALL)
    assert cfg.name == "small" and cfg.n_jobs == 1 and cfg.options == {}
    assert cfg.output == tmp_path / "res" / "r.csv"
    assert cfg.store == tmp_path / "res" / "small.runs"
    assert cfg.store.is_dir()  # created by the writability check, probe removed
    assert list(cfg.store.iterdir()) == []
    g = cfg.grids[0]
    assert g["dataset"] == ("a",) and g["beta"] == (1.0, 0.5)
    assert isinstance(g["beta"][0], float)
    assert g["loss"] == ("squared",) and g["solver"] == (DEFAULT_SOLVER,)  # registry default
    assert g["method"] == ("auto",) and g["samples"] == (0,)


BASE = {
    "experiment": 'name = "e"\noutput = "OUT"\nn_jobs = 1',
    "grid": 'dataset = ["a"]\nbeta = [0.1]\nwidth = [2]\nseeds = [0]',
}


def make_toml(experiment=None, grid=None, extra=""):
    return (f"[experiment]\n{experiment or BASE['experiment']}\n"
            f"[grid]\n{grid or BASE['grid']}\n{extra}")


CONFIG_ERRORS = [
    ("malformed", "[experiment\nname = 1", r"malformed TOML.*line 1"),
    ("malformed_value", make_toml(grid="dataset = [a]"), r"malformed TOML.*line 6"),
    ("top_key", make_toml(extra="[solvers]\nx = 1"), r"unknown key 'solvers'"),
    ("exp_key", make_toml(experiment=BASE["experiment"] + "\ncolor = 1"), r"unknown key 'color'"),
    ("grid_key", make_toml(grid=BASE["grid"] + "\nlr = [1]"), r"\[grid\].*unknown key 'lr'"),
    ("no_experiment", "[grid]\ndataset = ['a']", r"\[experiment\]: missing"),
    ("no_grid", f"[experiment]\n{BASE['experiment']}", r"\[grid\]: missing"),
    ("no_width", make_toml(grid='dataset = ["a"]\nbeta = [0.1]\nseeds = [0]'),
     r"grid.width: missing"),
    ("beta_type", make_toml(grid=BASE["grid"].replace("[0.1]", '["0.1"]')),
     r"grid.beta\[0\]: beta must be a number"),
    ("beta_zero", make_toml(grid=BASE["grid"].replace("[0.1]", "[0.1, 0]")),
     r"grid.beta\[1\]: beta must be finite and > 0"),
    ("beta_negative", make_toml(grid=BASE["grid"].replace("[0.1]", "[-0.1]")), r"> 0"),
    ("beta_nan", make_toml(grid=BASE["grid"].replace("[0.1]", "[nan]")), r"finite"),
    ("beta_bool", make_toml(grid=BASE["grid"].replace("[0.1]", "[true]")), r"must be a number"),
    ("empty_list", make_toml(grid=BASE["grid"].replace('["a"]', "[]")), r"grid.dataset: empty"),
    ("duplicate", make_toml(grid=BASE["grid"].replace("seeds = [0]", "seeds = [0, 0]")),
     r"grid.seeds: duplicate value 0"),
    ("width_float", make_toml(grid=BASE["grid"].replace("[2]", "[2.5]")),
     r"grid.width\[0\]: width must be an integer"),
    ("width_zero", make_toml(grid=BASE["grid"].replace("[2]", "[0]")), r"width must be >= 1"),
    ("seed_negative", make_toml(grid=BASE["grid"].replace("seeds = [0]", "seeds = [-1]")),
     r"seeds must be >= 0"),
    ("samples_negative", make_toml(grid=BASE["grid"] + "\nsamples = [-5]"), r"samples must be"),
    ("loss", make_toml(grid=BASE["grid"] + '\nloss = ["l1"]'), r"unknown loss 'l1'.*squared"),
    ("solver", make_toml(grid=BASE["grid"] + '\nsolver = ["mosek"]'), r"unknown solver 'mosek'"),
    ("method", make_toml(grid=BASE["grid"] + '\nmethod = ["grid"]'), r"unknown method 'grid'"),
    ("loss_type", make_toml(grid=BASE["grid"] + "\nloss = [1]"), r"grid.loss\[0\]: must be a str"),
    ("n_jobs_zero", make_toml(experiment=BASE["experiment"].replace("n_jobs = 1", "n_jobs = 0")),
     r"experiment.n_jobs.*non-zero integer"),
    ("n_jobs_str", make_toml(experiment=BASE["experiment"].replace("n_jobs = 1", 'n_jobs = "2"')),
     r"non-zero integer"),
    ("name", make_toml(experiment=BASE["experiment"].replace('"e"', '"a b"')),
     r"experiment.name"),
    ("output_csv", make_toml(experiment=BASE["experiment"].replace('"OUT"', '"res/x.txt"')),
     r"must end in .csv"),
    ("option_clash", make_toml(extra="[options]\nbeta = 2"), r"options.beta: clashes"),
    ("option_date", make_toml(extra="[options]\nwhen = 2024-01-01"), r"options.when: unsupported"),
    ("extra_key", make_toml(extra="[[grid.extra]]\nfoo = 1"), r"grid.extra\[0\].*unknown key"),
    ("extra_value", make_toml(extra='[[grid.extra]]\nsolver = "gurobi"'),
     r"grid.extra\[0\].solver\[0\]: unknown solver"),
    ("extra_empty", make_toml(extra="[[grid.extra]]"), r"grid.extra\[0\]: empty table"),
    ("exec_key", make_toml(extra="[execution]\nworkers = 2"),
     r"\[execution\]: unknown key 'workers'"),
    ("exec_backend", make_toml(extra='[execution]\nbackend = "spark"'),
     r"execution: backend must be one of loky, dask, ray"),
    ("exec_address_loky", make_toml(extra='[execution]\naddress = "tcp://h:8786"'),
     r"execution: address 'tcp://h:8786' is given but backend is 'loky'"),
    ("exec_address_type", make_toml(extra='[execution]\nbackend = "dask"\naddress = 5'),
     r"address must be a non-empty string"),
    ("exec_n_jobs_twice", make_toml(extra="[execution]\nn_jobs = 2"),
     r"execution.n_jobs: also set in \[experiment\]"),
    ("dataset_unknown", make_toml(grid=BASE["grid"].replace('["a"]', '["a", "nope"]')),
     r"grid.dataset: unknown dataset 'nope'"),
]


@pytest.mark.parametrize("text, pattern", [c[1:] for c in CONFIG_ERRORS],
                         ids=[c[0] for c in CONFIG_ERRORS])
def test_config_errors(tmp_path, text, pattern):
    path = tmp_path / "bad.toml"
    path.write_text(text.replace("OUT", (tmp_path / "out" / "r.csv").as_posix()))
    with pytest.raises(InputError, match=pattern) as err:
        load_config(path, validate_dataset=lambda name: name != "nope")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(path))
    assert not (tmp_path / "out").exists()  # nothing created before validation passed


def test_config_file_errors(tmp_path):
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(InputError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("name = 'é'".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_config(bad)


def test_dataset_validator_raising_inputerror(tmp_path):
    def validate(name):
        raise InputError(f"no dataset called {name!r} here")

    path = write_config(tmp_path)
    with pytest.raises(InputError, match=r"grid.dataset: no dataset called 'a' here"):
        load_config(path, validate_dataset=validate)


def test_default_dataset_validator(tmp_path, monkeypatch):
    import hiddenconvex.experiments.datasets as ds

    path = write_config(tmp_path)
    monkeypatch.setattr(ds, "list_datasets", lambda: ["a", "iris"], raising=False)
    with pytest.raises(InputError, match=r"unknown dataset 'b' \(known: a, iris\)"):
        load_config(path)
    monkeypatch.setattr(ds, "list_datasets", lambda: ["a", "b"], raising=False)
    assert load_config(path).grids[0]["dataset"] == ("a", "b")
    monkeypatch.delattr(ds, "list_datasets", raising=False)
    with pytest.raises(InputError, match="list_datasets is not available"):
        load_config(path)


def test_unwritable_results_folder(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    text = make_toml().replace("OUT", (blocker / "sub" / "runs.csv").as_posix())
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=r"cannot create results folder .*afile") as err:
        load_config(path, validate_dataset=ACCEPT_ALL)
    assert "\n" not in str(err.value)
    (tmp_path / "adir.csv").mkdir()
    path.write_text(make_toml().replace("OUT", (tmp_path / "adir.csv").as_posix()))
    with pytest.raises(InputError, match="is a directory"):
        load_config(path, validate_dataset=ACCEPT_ALL)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_results_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        path = tmp_path / "c.toml"
        path.write_text(make_toml().replace("OUT", (ro / "runs.csv").as_posix()))
        with pytest.raises(InputError, match="not writable|cannot create"):
            load_config(path, validate_dataset=ACCEPT_ALL)
    finally:
        ro.chmod(0o700)


def grid_data(**grid) -> dict:
    """A parsed config document with a one-run grid plus ``grid`` (for :func:`parse_config`)."""
    return {"experiment": {"name": "e", "output": "/nonexistent/r.csv"},
            "grid": {"dataset": ["a"], "beta": [0.1], "width": [2], "seeds": [0], **grid}}


def test_loss_and_solver_names_come_from_their_registries(monkeypatch):
    """A loss or solver added to its registry is accepted by a config with no other change, and
    the error message for an unknown name lists the registry's names in registry order."""
    for name in losses.LOSSES:
        assert parse_config(grid_data(loss=[name]), validate_dataset=ACCEPT_ALL).grids[0][
            "loss"] == (name,)
    for name in solvers.SOLVERS:
        assert parse_config(grid_data(solver=[name]), validate_dataset=ACCEPT_ALL).grids[0][
            "solver"] == (name,)
    with pytest.raises(InputError, match="unknown loss 'l1' .choose from " +
                       ", ".join(losses.LOSSES) + r"\)"):
        parse_config(grid_data(loss=["l1"]), validate_dataset=ACCEPT_ALL)
    with pytest.raises(InputError, match="unknown solver 'newsolver' .choose from " +
                       ", ".join(solvers.SOLVERS) + r"\)"):
        parse_config(grid_data(solver=["newsolver"]), validate_dataset=ACCEPT_ALL)
    monkeypatch.setitem(losses.LOSSES, "l1", losses.Squared)
    monkeypatch.setitem(solvers.SOLVERS, "newsolver", solvers.SOLVERS[DEFAULT_SOLVER])
    cfg = parse_config(grid_data(loss=["l1"], solver=["newsolver"]), validate_dataset=ACCEPT_ALL)
    assert cfg.grids[0]["loss"] == ("l1",) and cfg.grids[0]["solver"] == ("newsolver",)


# ----------------------------------------------------------------------------------------------
# grid expansion
# ----------------------------------------------------------------------------------------------
def test_grid_order_and_ids(tmp_path):
    cfg = load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL)
    runs = expand_grid(cfg)
    expected = [
        (d, b, s, seed)
        for d, b, s, seed in itertools.product(["a", "b"], [0.01, 0.1], ["clarabel", "scs"],
                                               [0, 1, 2])
    ]
    got = [(r.params["dataset"], r.params["beta"], r.params["solver"], r.seed) for r in runs]
    assert got == expected
    for r in runs:
        assert list(r.params) == [*PARAM_COLUMNS, "train"]
        assert r.params["train"] == "lbfgs"
        # the id is the documented hash: SHA-256 of the canonical JSON of params and seed
        canon = json.dumps({"params": r.params, "seed": r.seed}, sort_keys=True,
                           separators=(",", ":"))
        assert r.run_id == hashlib.sha256(canon.encode()).hexdigest()[:12]
    assert len({r.run_id for r in runs}) == len(runs)
    again = expand_grid(load_config(write_config(tmp_path), validate_dataset=ACCEPT_ALL))
    assert [r.run_id for r in again] == [r.run_id for r in runs]
    # the seed and the options are part of the key
    p = runs[0].params
    assert run_id(p, 0) != run_id(p, 1)
    assert run_id(p, 0) != run_id({**p, "train": "adam"}, 0)
    assert run_id({**p, "beta": 1}, 0) == run_id({**p, "beta": 1}, 0)


def test_grid_extra_and_exact_samples(tmp_path):
    text = GRID.replace('method = ["exact"]', 'method = ["exact", "sample"]').replace(
        "samples = [0]", "samples = [0, 100]").replace('dataset = ["a", "b"]', 'dataset = ["a"]')
    text = text.replace("[options]", """[[grid.extra]]
dataset = "c"
method = "sample"
samples = 50
seeds = [7]

[[grid.extra]]
dataset = "a"
seeds = [0]

[options]""")
    cfg = load_config(write_config(tmp_path, text=text), validate_dataset=ACCEPT_ALL)
    runs = expand_grid(cfg)
    main = [(b, s, m, k, seed) for b, s, m, k, seed in itertools.product(
        [0.01, 0.1], ["clarabel", "scs"], ["exact", "sample"], [0, 100], [0, 1, 2])]
    # exact ignores samples (forced to 0): its duplicate combinations collapse
    main = list(dict.fromkeys((b, s, m, 0 if m == "exact" else k, seed)
                              for b, s, m, k, seed in main))
    extra = [(b, s, "sample", 50, 7) for b, s in itertools.product([0.01, 0.1],
                                                                   ["clarabel", "scs"])]
    got = [(r.params["beta"], r.params["solver"], r.params["method"], r.params["samples"], r.seed)
           for r in runs]
    assert got == main + extra  # the second extra grid duplicates main-grid runs: dropped
    assert [r.params["dataset"] for r in runs] == ["a"] * len(main) + ["c"] * len(extra)
    assert len(runs) == 2 * 2 * (3 + 2 * 3) + 4


# ----------------------------------------------------------------------------------------------
# the bundled config
# ----------------------------------------------------------------------------------------------
def test_default_config_is_valid(monkeypatch, tmp_path):
    """scripts/configs/default.toml parses (dataset names aside) and is modest in size."""
    cfg_text = (SCRIPTS / "configs" / "default.toml").read_text()
    path = tmp_path / "default.toml"
    path.write_text(cfg_text.replace("results/experiments", (tmp_path / "r").as_posix()))
    cfg = load_config(path, validate_dataset=ACCEPT_ALL)
    assert "default" in cfg.grids[0]["dataset"] and cfg.name == "default"
    assert cfg.output == tmp_path / "r" / "runs.csv"
    assert len(expand_grid(cfg)) <= 48


def test_execution_table(tmp_path):
    text = make_toml(experiment='name = "e"\noutput = "OUT"',
                     extra='[execution]\nbackend = "dask"\naddress = "tcp://10.0.0.5:8786"\n'
                           'n_jobs = 3\n')
    path = tmp_path / "c.toml"
    path.write_text(text.replace("OUT", (tmp_path / "out" / "r.csv").as_posix()))
    cfg = load_config(path, validate_dataset=ACCEPT_ALL)
    assert (cfg.backend, cfg.address, cfg.n_jobs) == ("dask", "tcp://10.0.0.5:8786", 3)
    plain = parse_config({"experiment": {"name": "e", "output": "r.csv"},
                          "grid": {"dataset": ["a"], "beta": [0.1], "width": [2], "seeds": [0]}},
                         validate_dataset=ACCEPT_ALL)
    assert (plain.backend, plain.address, plain.n_jobs) == ("loky", None, 1)
    with pytest.raises(InputError, match="execution: must be a table, got string"):
        parse_config({"experiment": {"name": "e", "output": "r.csv"}, "execution": "dask",
                      "grid": {"dataset": "a", "beta": 1, "width": 1, "seeds": 0}},
                     validate_dataset=ACCEPT_ALL)
    # the execution settings are not part of the run ids: a grid resumes on another backend
    assert [r.run_id for r in expand_grid(cfg)] == [r.run_id for r in expand_grid(plain)]
