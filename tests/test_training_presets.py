"""The default training makes a well-trained seed MLP; the seed script's SGD stays one choice away."""

from __future__ import annotations

import pytest
from app_testing import no_exception, page_path

from featlib import cli
from featlib.models import presets as training_presets
from featlib.store import Workspace


def test_the_readme_cli_example_trains_a_well_trained_model(tmp_path, capsys):
    # The README's line: `featlib train --dataset digits --name demo`.
    assert cli.main(["--workspace", str(tmp_path / "ws"), "train", "--dataset", "digits", "--name", "demo"]) == 0
    [record] = Workspace(tmp_path / "ws").list_models()
    assert record.test_accuracy >= 0.96, record.test_accuracy
    assert (record.meta["optimizer"], record.meta["learning_rate"], record.meta["epochs"]) == ("adam", 1e-3, 30)
    assert "training: adam lr 0.001, 30 epochs at batch 32 on 1,437 train images" in capsys.readouterr().err


def test_the_seed_preset_is_the_seed_scripts_sgd_and_options_override_it(tmp_path):
    assert (
        cli.main(
            [
                "--workspace",
                str(tmp_path / "ws"),
                "train",
                "--dataset",
                "digits",
                "--name",
                "seed",
                "--preset",
                "seed",
                "--epochs",
                "2",
                "--hidden",
                "16",
            ]
        )
        == 0
    )
    [record] = Workspace(tmp_path / "ws").list_models()
    assert (record.meta["optimizer"], record.meta["learning_rate"], record.meta["epochs"]) == ("sgd", 0.01, 2)
    assert record.meta["batch_size"] == 32


def test_presets_pick_epochs_and_batch_by_train_set_size():
    default = training_presets.preset("default")
    assert default.for_size(1_437) == (30, 32)
    assert default.for_size(60_000) == (10, 128)
    with pytest.raises(ValueError, match=r"Unknown training preset 'fast'; expected one of \['default', 'seed'\]"):
        training_presets.preset("fast")


def test_the_model_page_fills_the_form_from_the_preset(app):
    at = no_exception(app.run().switch_page(page_path("model")).run())
    form = {
        w.label: w.value
        for w in [*at.selectbox, *at.number_input]
        if w.label in ("Optimizer", "Learning rate", "Epochs")
    }
    assert form == {"Optimizer": "adam", "Learning rate": 0.001, "Epochs": 30}
    next(r for r in at.radio if r.label == "Preset").set_value("seed")
    at = no_exception(at.run())
    form = {
        w.label: w.value
        for w in [*at.selectbox, *at.number_input]
        if w.label in ("Optimizer", "Learning rate", "Epochs")
    }
    assert form == {"Optimizer": "sgd", "Learning rate": 0.01, "Epochs": 20}
