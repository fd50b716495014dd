"""The ``featlib`` command as a newcomer meets it: installed in the virtualenv, light where it can be, talkative where it is long.

Real subprocesses on a tmp workspace, without ``TF_CPP_MIN_LOG_LEVEL`` (as a user's shell).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from log_noise import noise

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMAND = Path(sys.executable).parent / "featlib"
HEAVY = ("tensorflow", "keras")

# Runs the CLI's main() with the arguments given and prints, last, which heavy modules it imported.
_MAIN_WATCHING_IMPORTS = """if True:
    import json, sys
    from featlib import cli
    try:
        rc = cli.main(sys.argv[1:])
    except SystemExit as exit:  # --help
        rc = exit.code
    print(json.dumps({"rc": rc, "heavy": sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "keras"})}))
"""


def _env(workspace: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return dict(env, FEATLIB_WORKSPACE=str(workspace))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("command") / "ws"


def featlib_command(workspace: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs ``.venv/bin/featlib ARGS`` from a folder outside the repository."""
    return subprocess.run(
        [str(COMMAND), *args],
        cwd=workspace.parent,
        env=_env(workspace),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def watched(workspace: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict, float]:
    """Runs the CLI in a fresh interpreter; ``(process, {"rc", "heavy"}, seconds)``."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MAIN_WATCHING_IMPORTS, *args],
        cwd=REPO_ROOT,
        env=_env(workspace),
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.perf_counter() - start
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1]), seconds


@pytest.fixture(scope="module")
def tiny_model(workspace) -> subprocess.CompletedProcess:
    """``featlib train`` of a small MLP on the bundled digits (one epoch): a long command, run once."""
    proc = featlib_command(
        workspace, "train", "--dataset", "digits", "--epochs", "1", "--hidden", "16", "--name", "tiny"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_the_console_script_is_installed_and_runs_help(workspace):
    assert COMMAND.is_file(), f"{COMMAND} is missing: `make setup` (or `make test`) installs it (pyproject.toml)"
    proc = featlib_command(workspace, "--help", timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: featlib ")
    for command in ("train", "extract", "embed", "metrics", "precompute", "ls", "export"):
        assert command in proc.stdout


def test_python_m_featlib_still_works(workspace):
    proc = subprocess.run(
        [sys.executable, "-m", "featlib", "--help"],
        cwd=REPO_ROOT,
        env=_env(workspace),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m featlib "), proc.stderr


@pytest.mark.parametrize("args", [("--help",), ("ls",), ("ls", "--json"), ("extract", "--help"), ("train", "--help")])
def test_commands_that_need_no_model_do_not_import_tensorflow(workspace, args):
    proc, seen, _ = watched(workspace, *args)
    assert seen == {"rc": 0, "heavy": []}, proc.stderr[-3000:]


def test_a_long_command_shows_a_progress_bar_and_says_what_it_does(tiny_model):
    stderr = tiny_model.stderr
    assert re.search(r"training tiny: 1 epochs?: +\d+%\|.*\| \d+/\d+", stderr), stderr[-3000:]
    assert "100%" in stderr
    assert "dataset digits:" in stderr and "training: " in stderr  # what it trains on, and how
    assert "saved tiny" in tiny_model.stdout
    assert not noise(stderr), noise(stderr)  # TensorFlow's start-up lines are left out


def test_a_bad_layer_is_refused_before_tensorflow_with_the_layer_list(workspace, tiny_model):
    proc, seen, seconds = watched(
        workspace, "extract", "tiny", "--layer", "dense_9", "--dataset", "digits", "--out", "x.npy"
    )
    assert seen == {"rc": 2, "heavy": []}, proc.stderr[-3000:]
    assert (
        "error: No such layer: dense_9. Existing layers are: ['dense', 'activation', 'dense_1', 'activation_1']."
        in proc.stderr
    )  # the 16-unit hidden layer and the output, each with its activation
    assert "Traceback" not in proc.stderr
    assert seconds < 30, seconds  # no TensorFlow start-up (the digits load in a second or two when idle)


def test_precompute_refuses_a_bad_layer_before_tensorflow(workspace, tiny_model):
    proc, seen, _ = watched(workspace, "precompute", "tiny", "--layers", "dense,nope", "--scheduler", "inline")
    assert seen == {"rc": 2, "heavy": []}, proc.stderr[-3000:]
    assert "error: --layers takes a comma-separated list of ['activation', " in proc.stderr


def test_a_good_layer_goes_on_to_the_model_with_a_bar(workspace, tiny_model, tmp_path):
    out = tmp_path / "reps.npy"
    proc = featlib_command(
        workspace,
        "extract",
        "tiny",
        "--layer",
        "dense_1",
        "--method",
        "submodel",
        "--dataset",
        "digits",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "loading the model tiny" in proc.stderr
    assert re.search(r"reading dense_1 \(submodel\) for 1,437 images: 100%\|", proc.stderr), proc.stderr[-3000:]
    assert out.is_file()
    assert not noise(proc.stderr), noise(proc.stderr)


def test_keras_config_names_the_layers_model_layers_lists(model, tmp_path):
    """The file's config gives the names ``model.layers`` gives (Sequential: without its InputLayer)."""
    import keras

    from featlib import models
    from featlib.models import keras_config

    assert keras_config.top_level_layers(models.model_to_bytes(model)) == [layer.name for layer in model.layers]
    inputs = keras.Input((8,), name="pixels_in")
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="encoder")
    functional = keras.Model(inputs, keras.layers.Dense(2, name="out")(inner(keras.layers.Dense(4, name="h")(inputs))))
    data = models.model_to_bytes(functional)
    assert keras_config.top_level_layers(data) == [layer.name for layer in functional.layers]
    assert keras_config.unknown_layers(data, ["h", "inner_dense", "encoder", "nope"]) == ["nope"]  # nested: not here
    with pytest.raises(models.ModelError, match=r"No such layer: nope\. Existing layers are: \['pixels_in', 'h', "):
        keras_config.check_layer(data, "nope")
    assert keras_config.top_level_layers(b"not a zip") is None
    keras_config.check_layer(b"not a zip", "anything")  # unreadable: left to the loaded model's checks


def test_ls_shows_whole_names_even_when_two_differ_only_at_the_end(tmp_path, capsys):
    """``featlib ls`` cut names at 28 characters, so that two long names differing at their end made two rows that
    read the same (issue 28, item 9): the name column now grows to the longest name, and so does "by"."""
    import numpy as np

    from featlib import cli
    from featlib.datasets import from_arrays
    from featlib.store import Workspace

    workspace = Workspace(tmp_path / "ws")
    stem = "Fashion-MNIST test split, resized to 8x8 and centred, version "
    names = [stem + "1", stem + "2"]
    creator = "someone-with-a-long-account-name"
    for i, name in enumerate(names):
        images = np.full((10, 8, 8), i, dtype=np.uint8)
        workspace.save_dataset(from_arrays(images, np.arange(10) % 2, name), creator=creator)
    assert cli.main(["--workspace", str(workspace.root), "ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith("dataset   ")]  # the table, not the uploads' list below it
    assert len(rows) == 2, lines
    assert sorted(name for name in names for row in rows if f" {name} " in row) == names, rows
    assert all(f" {creator} " in row for row in rows), rows
    header = lines[0]
    assert header.split()[:3] == ["kind", "name", "by"]
    assert {row.index(creator) for row in rows} == {header.index(" by ") + 1}  # the columns still line up
