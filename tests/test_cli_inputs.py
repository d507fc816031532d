"""Bad inputs to the command line (issue 12, part 2, items 1, 9 and 10).

Each case is answered by the right result or by a one-line error (exit status 2) naming the input
and the fix; no traceback, no stale or partial output file. CLI cases run
``python -m hiddenconvex.cli`` in subprocesses (several at once, the machine has 2 cores) with the
pattern cache under ``tmp_path``; the full matrix of option values also goes in-process through the
same parser (a subprocess costs seconds of imports).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from oracles import cover_count

from hiddenconvex.cli import build_parser, main
from hiddenconvex.experiments.datasets import load_csv

# six rows in general position in R^2 (no two parallel, none zero): Cover's count 2n = 12 chambers
X6 = np.array([[1.0, 0.2], [-0.4, 1.0], [0.7, -0.9], [-1.0, -0.3], [0.2, 0.8], [0.9, 0.5]])
Y_PM = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
YES_NO = ["yes" if v > 0 else "no" for v in Y_PM]
OUTPUTS = ("summary.csv", "curves.csv", "training_curves.png")


def write_csv(path: Path, header: list[str], columns: list) -> Path:
    rows = zip(*columns, strict=True)
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def features_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "features.csv", ["a", "b"], [X6[:, 0], X6[:, 1]])


def labelled_csv(tmp_path: Path, name: str, labels) -> Path:
    return write_csv(tmp_path / f"{name}.csv", ["a", "b", "y"], [X6[:, 0], X6[:, 1], labels])


def _env(tmp_path: Path) -> dict:
    return {**os.environ, "HIDDENCONVEX_CACHE_DIR": str(tmp_path / "cache")}


def run_many(tmp_path: Path, *argvs, timeout: float = 600) -> list[subprocess.CompletedProcess]:
    """``python -m hiddenconvex.cli ARGV`` for every argv, at the same time; in argv order."""
    procs = [subprocess.Popen([sys.executable, "-m", "hiddenconvex.cli", *map(str, argv)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=tmp_path, env=_env(tmp_path)) for argv in argvs]
    done = []
    for argv, proc in zip(argvs, procs, strict=True):
        out, err = proc.communicate(timeout=timeout)
        done.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return done


def assert_user_error(proc, command: str, *needles: str) -> str:
    """Exit 2, nothing on stdout, one line on stderr that names the command and every needle."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"hiddenconvex {command}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def one_json(proc) -> dict:
    """stdout is exactly one JSON object (the label mapping goes to stderr)."""
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])


# ----------------------------------------------------------------------------------------------
# item 1: target column and labels
# ----------------------------------------------------------------------------------------------
def test_patterns_of_a_csv_without_target_column(tmp_path):
    feats = features_csv(tmp_path)
    with_y = labelled_csv(tmp_path, "with_y", Y_PM)
    no_y, has_y, explicit = run_many(
        tmp_path, ["patterns", feats, "--json"], ["patterns", with_y, "--json"],
        ["patterns", feats, "--target", "label", "--json"])
    rec = one_json(no_y)
    assert no_y.stderr == ""
    # every column is a feature; general position in R^2: Cover's count, all chambers
    assert (rec["n"], rec["d"], rec["rank"]) == (6, 2, 2)
    assert rec["num_patterns"] == cover_count(6, 2) == 12 and rec["complete"] is True
    ref = one_json(has_y)  # the same features with a y column left out: the same arrangement
    assert (ref["d"], ref["num_patterns"]) == (rec["d"], rec["num_patterns"])
    # an explicit --target that is not there stays an error (no column is silently dropped)
    assert_user_error(explicit, "patterns", "target column 'label' not found", "features.csv",
                      "columns: a, b")


def test_patterns_help_says_a_missing_target_means_features(capsys):
    assert main(["patterns", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "every column is a feature" in text and "patterns need no labels" in text


SUBCOMMAND_ARGS = {
    "patterns": [],
    "solve": ["--beta", "1"],
    "optimal-set": ["--beta", "1"],
    "verify": ["--beta", "1", "--width", "2", "--seeds", "1"],
    "run": ["--seeds", "1", "--width", "2", "--out", "out"],
}


def test_missing_target_column_is_an_error_in_every_subcommand(tmp_path):
    feats = features_csv(tmp_path)
    explicit = run_many(tmp_path, *[[cmd, feats, "--target", "label", *args]
                                    for cmd, args in SUBCOMMAND_ARGS.items()])
    for cmd, proc in zip(SUBCOMMAND_ARGS, explicit, strict=True):
        assert_user_error(proc, cmd, "target column 'label' not found", "features.csv",
                          "--target")
    assert not [p for p in (tmp_path / "out").iterdir()]  # run: nothing written


def in_process(capsys, argv) -> subprocess.CompletedProcess:
    """``main(argv)`` with its exit code and output, shaped like a finished subprocess."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


@pytest.mark.parametrize("command", [c for c in SUBCOMMAND_ARGS if c != "patterns"])
def test_default_target_is_required_when_labels_are_needed(tmp_path, monkeypatch, capsys,
                                                           command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIDDENCONVEX_CACHE_DIR", str(tmp_path / "cache"))
    proc = in_process(capsys, [command, features_csv(tmp_path), *SUBCOMMAND_ARGS[command]])
    assert_user_error(proc, command, "target column 'y' not found", "features.csv", "--target")


def test_text_and_01_labels_map_to_pm1(tmp_path):
    pm = labelled_csv(tmp_path, "pm", Y_PM.astype(int))
    yn = labelled_csv(tmp_path, "yn", YES_NO)
    zero_one = labelled_csv(tmp_path, "zero_one", ((Y_PM + 1) / 2).astype(int))
    cases = [(loss, f) for loss in ("logistic", "hinge") for f in (pm, yn, zero_one)]
    procs = run_many(tmp_path, *[["solve", f, "--beta", "0.1", "--loss", loss, "--json"]
                                 for loss, f in cases],
                     ["optimal-set", yn, "--beta", "0.1", "--loss", "logistic", "--json"])
    expected_note = {pm: None, yn: "hiddenconvex solve: labels: 'no' -> -1, 'yes' -> +1",
                     zero_one: "hiddenconvex solve: labels: 0 -> -1, 1 -> +1"}
    results = {}
    for (loss, f), proc in zip(cases, procs[:-1], strict=True):
        rec = one_json(proc)
        note = expected_note[f]
        assert proc.stderr.strip().splitlines() == ([] if note is None else [note])
        assert rec["loss"] == loss and rec["certified"] is True
        results[loss, f] = rec["objective"]
    for loss in ("logistic", "hinge"):
        # the same problem (bit-identical X, y) solved by the same deterministic interior-point
        # method: the values can differ only by the order of floating-point reductions, far below
        # Clarabel's tolerance 1e-10 (relative), which bounds them
        for f in (yn, zero_one):
            assert results[loss, f] == pytest.approx(results[loss, pm], rel=1e-10, abs=0)
    rec = one_json(procs[-1])
    assert procs[-1].stderr.strip().splitlines() == [
        "hiddenconvex optimal-set: labels: 'no' -> -1, 'yes' -> +1"]
    assert rec["certified"] is True and rec["m_star"] >= 1


LABEL_ERRORS = {  # name: (labels, loss, needles)
    "three_text_labels": (["setosa", "versicolor", "virginica", "setosa", "virginica", "setosa"],
                          "logistic", ["3 distinct labels ('setosa', 'versicolor', 'virginica')",
                                       "logistic loss needs exactly two classes"]),
    "many_text_labels": ([f"c{k}" for k in range(6)], "hinge",
                         ["6 distinct labels ('c0', 'c1', 'c2', 'c3', 'c4', ...)", "hinge loss"]),
    "single_text_label": (["yes"] * 6, "logistic", ["a single label 'yes'", "two classes"]),
    "text_for_squared": (YES_NO, "squared",
                         ["holds text labels ('no', 'yes')", "squared loss needs numeric",
                          "--loss logistic"]),
    "numeric_not_pm1": ([1, 2, 1, 2, 2, 1], "hinge", ["hinge loss needs labels -1/+1", "found 2"]),
    "mixed_numbers_and_text": (["yes", 1, -1, 1, -1, 1], "logistic",
                               ["non-numeric value 'yes' in column 'y', data row 1",
                                "mixes numbers and text"]),
}


@pytest.mark.parametrize("name", sorted(LABEL_ERRORS))
def test_label_errors_in_process(tmp_path, monkeypatch, capsys, name):
    labels, loss, needles = LABEL_ERRORS[name]
    monkeypatch.setenv("HIDDENCONVEX_CACHE_DIR", str(tmp_path / "cache"))
    data = labelled_csv(tmp_path, name, labels)
    for command in ("solve", "optimal-set"):
        proc = in_process(capsys, [command, data, "--beta", "0.1", "--loss", loss, "--json"])
        assert_user_error(proc, command, f"{name}.csv", *needles)


def test_label_errors_subprocess(tmp_path):
    names = ["three_text_labels", "text_for_squared"]
    files = {name: labelled_csv(tmp_path, name, LABEL_ERRORS[name][0]) for name in names}
    procs = run_many(tmp_path, *[["solve", files[name], "--beta", "0.1", "--loss",
                                  LABEL_ERRORS[name][1], "--json"] for name in names])
    for name, proc in zip(names, procs, strict=True):
        assert_user_error(proc, "solve", f"{name}.csv", *LABEL_ERRORS[name][2])


def test_load_csv_labels(tmp_path):
    yn = load_csv(labelled_csv(tmp_path, "yn", YES_NO), loss="logistic")
    np.testing.assert_array_equal(yn.y, Y_PM)
    np.testing.assert_array_equal(yn.X, X6)
    assert yn.meta["label_map"] == (("no", -1), ("yes", 1))
    flipped = load_csv(labelled_csv(tmp_path, "flip", YES_NO[::-1]), loss="hinge")
    assert flipped.meta["label_map"] == (("no", -1), ("yes", 1))  # sorted, not file order
    np.testing.assert_array_equal(flipped.y, Y_PM[::-1])
    zero_one = load_csv(labelled_csv(tmp_path, "z", ((Y_PM + 1) / 2).astype(int)), loss="hinge")
    np.testing.assert_array_equal(zero_one.y, Y_PM)
    assert zero_one.meta["label_map"] == ((0, -1), (1, 1))
    pm = load_csv(labelled_csv(tmp_path, "pm", Y_PM.astype(int)), loss="logistic")
    assert "label_map" not in pm.meta
    np.testing.assert_array_equal(pm.y, Y_PM)
    # labels not needed (patterns): text labels give y = None, a CSV without target is features
    unused = load_csv(tmp_path / "yn.csv", loss=None)
    assert unused.y is None and unused.features == ("a", "b")
    feats = load_csv(features_csv(tmp_path), loss=None, require_target=False, bias=True)
    assert feats.y is None and feats.features == ("a", "b", "(bias)")
    assert feats.meta["target"] is None
    np.testing.assert_array_equal(feats.X, np.hstack([X6, np.ones((6, 1))]))


# ----------------------------------------------------------------------------------------------
# item 9: option values that make no sense are argparse errors
# ----------------------------------------------------------------------------------------------
OPTION_CASES = [  # (command, fixed args, option, bad value, message after "--option must be")
    ("patterns", [], "--samples", "0", ">= 1"),
    ("patterns", [], "--samples", "2.5", "an integer"),
    ("patterns", [], "--seed", "-1", ">= 0"),
    ("patterns", [], "--seed", "abc", "an integer"),
    ("patterns", [], "--max-exact", "0", ">= 1"),
    ("solve", ["--method", "sample"], "--samples", "0", ">= 1"),
    ("solve", [], "--beta", "nan", "a finite number > 0"),
    ("solve", [], "--beta", "inf", "a finite number > 0"),
    ("solve", [], "--beta", "-1", "> 0"),
    ("solve", [], "--beta", "0", "> 0"),
    ("solve", ["--beta", "1"], "--tol", "nan", "a finite number > 0"),
    ("solve", ["--beta", "1"], "--tol", "-0.001", "> 0"),
    ("solve", ["--beta", "1"], "--max-iters", "0", ">= 1"),
    ("solve", ["--beta", "1"], "--certify-tol", "inf", "a finite number > 0"),
    ("solve", ["--beta", "1"], "--max-chambers", "0", ">= 1"),
    ("solve", ["--beta", "1"], "--seed", "-3", ">= 0"),
    ("optimal-set", ["--beta", "1"], "--milp-time-limit", "nan", "a finite number > 0"),
    ("optimal-set", ["--beta", "1"], "--milp-time-limit", "-1", "> 0"),
    ("optimal-set", ["--beta", "1"], "--milp-time-limit", "inf", "a finite number > 0"),
    ("optimal-set", ["--beta", "1"], "--max-vertex-candidates", "-1", ">= 0"),
    ("optimal-set", ["--beta", "1"], "--max-chambers", "0", ">= 1"),
    ("verify", ["--beta", "1"], "--width", "0", ">= 1"),
    ("verify", ["--beta", "1", "--width", "2"], "--seeds", "0", ">= 1"),
    ("verify", ["--beta", "1", "--width", "2"], "--max-iter", "-1", ">= 0"),
    ("verify", ["--beta", "1", "--width", "2"], "--init-scale", "0", "> 0"),
    ("verify", ["--beta", "1", "--width", "2"], "--verify-tol", "nan", "a finite number > 0"),
    ("verify", ["--beta", "1", "--width", "2"], "--reach-tol", "-1", "> 0"),
    ("run", [], "--width", "-2", ">= 1"),
    ("run", [], "--seeds", "0", ">= 1"),
    ("run", [], "--beta", "inf", "a finite number > 0"),
]
STABILITY_CASES = [("--k", "0", "> 0"), ("--k", "nan", "a finite number > 0"),
                   ("--r", "-1", "> 0")]


@pytest.mark.parametrize("command, fixed, option, value, message", OPTION_CASES,
                         ids=[f"{c[0]}{c[2]}={c[3]}" for c in OPTION_CASES])
def test_bad_option_values_in_process(tmp_path, capsys, command, fixed, option, value, message):
    data = labelled_csv(tmp_path, "pm", Y_PM)
    assert main([command, str(data), *fixed, option, value]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"hiddenconvex {command}: error: {option} must be {message}, got ")
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize("option, value, message", STABILITY_CASES)
def test_bad_stability_values_in_process(capsys, option, value, message):
    assert main(["stability", "examples", option, value]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"hiddenconvex stability examples: error: {option} must be {message}")
    assert "\n" not in line


def test_bad_option_values_subprocess(tmp_path):
    """The cases of the issue, through the real entry point."""
    data = labelled_csv(tmp_path, "pm", Y_PM)
    cases = [
        ("optimal-set", ["--beta", "1", "--milp-time-limit", "nan"],
         "--milp-time-limit must be a finite number > 0, got 'nan'"),
        ("optimal-set", ["--beta", "1", "--milp-time-limit", "-1"],
         "--milp-time-limit must be > 0, got -1"),
        ("optimal-set", ["--beta", "1", "--max-vertex-candidates", "-1"],
         "--max-vertex-candidates must be >= 0, got -1"),
        ("solve", ["--beta", "1", "--method", "sample", "--samples", "0"],
         "--samples must be >= 1, got 0"),
        ("solve", ["--beta", "inf"], "--beta must be a finite number > 0, got 'inf'"),
        ("solve", ["--beta", "1", "--tol", "nan"], "--tol must be a finite number > 0, got 'nan'"),
    ]
    procs = run_many(tmp_path, *[[cmd, data, *args] for cmd, args, _ in cases])
    for (cmd, _, message), proc in zip(cases, procs, strict=True):
        line = assert_user_error(proc, cmd, message)
        assert line.endswith(f"(see hiddenconvex {cmd} --help)")


def _actions(parser: argparse.ArgumentParser, prog: str = "hiddenconvex"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{prog} {name}")
        else:
            yield prog, action


def test_every_numeric_option_has_a_checked_type():
    from hiddenconvex.cli.common import nonnegative_int, positive_float, positive_int

    checked = {positive_int, nonnegative_int, positive_float}
    numeric = [(prog, a.option_strings[0], a.type) for prog, a in _actions(build_parser())
               if a.type is not None]
    assert len(numeric) >= 25  # every sub-command's numeric options were found
    unchecked = [(prog, opt) for prog, opt, t in numeric if t not in checked]
    assert unchecked == []


def test_valid_option_values_still_parse():
    args = build_parser().parse_args(
        ["solve", "d.csv", "--beta", "1e-3", "--samples", "1e3", "--seed", "0", "--tol", "1e-9",
         "--max-iters", "50", "--max-chambers", "1"])
    assert (args.beta, args.samples, args.seed, args.tol, args.max_iters, args.max_chambers) == \
        (1e-3, 1000, 0, 1e-9, 50, 1)
    assert isinstance(args.samples, int)
    args = build_parser().parse_args(["optimal-set", "d.csv", "--beta", "2",
                                      "--max-vertex-candidates", "0", "--milp-time-limit", "0.5"])
    assert (args.max_vertex_candidates, args.milp_time_limit) == (0, 0.5)
    args = build_parser().parse_args(["verify", "d.csv", "--beta", "2", "--width", "3",
                                      "--max-iter", "0"])
    assert (args.width, args.max_iter, args.seeds) == (3, 0, 4)


# ----------------------------------------------------------------------------------------------
# item 10: a failing run leaves no stale and no partial output
# ----------------------------------------------------------------------------------------------
RUN_ARGS = ["--beta", "0.1", "--seeds", "2", "--width", "3", "--train-method", "lbfgs",
            "--method", "exact"]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


def test_failed_run_removes_the_previous_outputs(tmp_path):
    pytest.importorskip("matplotlib")
    good = labelled_csv(tmp_path, "good", Y_PM)
    bad = write_csv(tmp_path / "bad.csv", ["a", "b", "y"], [X6[:, 0], ["1"] * 5 + ["oops"], Y_PM])
    out = tmp_path / "out"
    (ok,) = run_many(tmp_path, ["run", good, *RUN_ARGS, "--out", out])
    assert ok.returncode == 0, ok.stderr
    assert all((out / name).is_file() for name in OUTPUTS)
    (failed,) = run_many(tmp_path, ["run", bad, *RUN_ARGS, "--out", out])
    assert_user_error(failed, "run", "non-numeric value 'oops' in column 'b', data row 6",
                      "bad.csv")
    assert [name for name in OUTPUTS if (out / name).exists()] == []
    assert leftovers(out) == []


def test_run_outputs_are_moved_into_place_only_when_all_are_written(tmp_path, monkeypatch,
                                                                     capsys):
    pytest.importorskip("matplotlib")
    import hiddenconvex.cli.run as run_cli

    monkeypatch.setenv("HIDDENCONVEX_CACHE_DIR", str(tmp_path / "cache"))
    good = labelled_csv(tmp_path, "good", Y_PM)
    out = tmp_path / "out"
    assert main(["run", str(good), *RUN_ARGS, "--out", str(out)]) == 0
    assert all((out / name).is_file() for name in OUTPUTS)
    import pandas as pd

    summary = pd.read_csv(out / "summary.csv")  # rows carry the status of the run
    assert list(summary.columns[:2]) == ["data", "status"]
    assert (summary["status"] == "ok").all() and len(summary) == 2
    # a successful run without the figure removes the older figure (it would look current)
    assert main(["run", str(good), *RUN_ARGS, "--out", str(out), "--no-figure"]) == 0
    assert (out / "summary.csv").is_file() and not (out / "training_curves.png").exists()

    def failing_plot(curves_csv, summary_csv, png):
        assert Path(curves_csv).is_file() and Path(summary_csv).is_file()  # the new CSVs ...
        assert not (out / "summary.csv").exists()  # ... under temporary names only
        Path(png).write_bytes(b"\x89PNG half a figure")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_cli, "plot_curves", failing_plot)
    with pytest.raises(OSError, match="No space left"):
        main(["run", str(good), *RUN_ARGS, "--out", str(out)])
    capsys.readouterr()
    assert [name for name in OUTPUTS if (out / name).exists()] == []
    assert leftovers(out) == []
