"""Every model of the zoo through the whole CLI flow: add, layers, both methods, map, metrics.

The CLI's ``main`` runs in this process (its jobs inline), so the zoo's nine
models are added and read in about a minute. Each one is either read end to
end with the accuracy ``model.evaluate`` gives, or refused with its cause.
"""

from __future__ import annotations

import csv
import json

import model_zoo
import numpy as np
import pytest

from featlib import models
from featlib.cli import main
from featlib.store import Workspace


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, zoo_models):
    folder = tmp_path_factory.mktemp("zoo")  # copies of the run's trained zoo (conftest.zoo_models)
    return {name: zoo_models(name, folder) for name in model_zoo.ZOO}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo-ws")


def run(capsys, workspace, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main([*args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def _workspace_env(monkeypatch, workspace):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(workspace))


@pytest.mark.parametrize("name", list(model_zoo.ZOO))
def test_each_model_goes_through_add_layers_both_methods_map_and_metrics(name, zoo, workspace, capsys, tmp_path):
    saved = zoo[name]
    status, out, err = run(
        capsys, workspace, "add", str(saved.path), "--name", name, "--dataset", "digits", "--scale", saved.scale
    )
    assert status == 0, err
    record = next(r for r in Workspace(workspace).list_models() if r.name == name)
    assert record.test_accuracy == pytest.approx(saved.accuracy, abs=1e-4), out  # what model.evaluate gives
    assert "digits, test split, 360 images" in out
    if saved.output:
        assert record.meta.get("output") == saved.output and saved.output in out

    status, out, err = run(capsys, workspace, "layers", name)
    assert status == 0, err
    model = Workspace(workspace).load_model(record.id)
    layer = models.default_layer(model)
    assert layer in out

    outputs = {}
    for method in ("function", "submodel"):
        path = tmp_path / f"{method}.npy"
        status, _, err = run(
            capsys,
            workspace,
            "extract",
            name,
            "--layer",
            layer,
            "--method",
            method,
            "--dataset",
            "digits",
            "--out",
            str(path),
        )
        assert status == 0, err
        outputs[method] = np.load(path)
    assert outputs["function"].shape == outputs["submodel"].shape and outputs["function"].shape[0] == 1437
    assert np.max(np.abs(outputs["function"] - outputs["submodel"])) < 1e-4  # the two methods agree

    path = tmp_path / "map.csv"
    status, _, err = run(
        capsys,
        workspace,
        "embed",
        name,
        "--layer",
        layer,
        "--dataset",
        "digits",
        "--out",
        str(path),
        "--n-epochs",
        "30",
    )
    assert status == 0, err
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1437 and {int(r["predicted"]) for r in rows} <= set(range(10))

    status, out, err = run(capsys, workspace, "metrics", name, "--dataset", "digits", "--json")
    assert status == 0, err
    rows = json.loads(out)["layers"]
    assert layer in [row["layer"] for row in rows]
    assert all(0.0 <= row["knn_acc"] <= 1.0 for row in rows), rows  # every layer scored, none NaN


def test_a_residual_network_with_augmentation_defaults_to_its_pooled_vector_and_its_own_scaling(zoo, workspace, capsys):
    """Issue 23 through the CLI: no --scale (the model's own, after its augmentation block), the pooled vector
    the head reads as the default layer, and the block read in inference mode by both methods (above)."""
    saved = zoo["augmented-resnet"]
    status, out, err = run(capsys, workspace, "add", str(saved.path), "--name", "resnet", "--dataset", "digits")
    assert status == 0, err
    record = next(r for r in Workspace(workspace).list_models() if r.name == "resnet")
    assert record.input_scale == "0-255" and record.test_accuracy == pytest.approx(saved.accuracy, abs=1e-4), out
    assert models.default_layer(Workspace(workspace).load_model(record.id)) == "pooled"


def test_a_rescaling_model_added_with_the_wrong_scaling_is_near_chance_and_says_why(zoo, workspace, capsys):
    saved = zoo["rescaling-first"]
    status, out, err = run(
        capsys, workspace, "add", str(saved.path), "--name", "rescaling-wrong", "--dataset", "digits", "--scale", "0-1"
    )
    assert status == 0, err
    record = next(r for r in Workspace(workspace).list_models() if r.name == "rescaling-wrong")
    assert record.test_accuracy < 0.3
    assert "0-255" in out and "Rescaling" in out, out
