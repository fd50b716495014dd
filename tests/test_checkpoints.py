"""Checkpoints: copies of the weights at chosen epochs, saved as their own models."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import models


@pytest.fixture(scope="module")
def with_checkpoints(digits):
    model = models.build_mlp((64,), hidden=(32, 16), seed=3)
    x_train = models.adapt_images(digits.x_train, model)
    x_test = models.adapt_images(digits.x_test, model)
    result = models.train(
        model,
        x_train,
        digits.y_train,
        x_test,
        digits.y_test,
        optimizer="sgd",
        learning_rate=0.05,
        epochs=4,
        batch_size=32,
        checkpoint_epochs=[1, 2],
    )
    return model, result, x_test


def test_a_checkpoint_differs_from_the_final_weights_and_reproduces_its_accuracy(with_checkpoints, digits):
    model, result, x_test = with_checkpoints
    assert sorted(result.checkpoints) == [1, 2]
    first = result.checkpoints[1]
    assert any(not np.array_equal(a, b) for a, b in zip(first.weights, model.get_weights()))
    rebuilt = models.model_with_weights(model, first.weights)
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
    assert models.evaluate_accuracy(rebuilt, x_test, digits.y_test) == pytest.approx(first.test_accuracy)
    assert first.logs["loss"] == pytest.approx(result.history["loss"][0])
    # the trained model was not changed by rebuilding its checkpoint
    assert models.evaluate_accuracy(model, x_test, digits.y_test) == pytest.approx(result.test_accuracy, abs=1e-6)


def test_checkpoints_are_saved_as_workspace_models_that_reload(with_checkpoints, workspace, digits):
    model, result, x_test = with_checkpoints
    final = models.save_model(workspace, model, "mlp-digits", dataset="digits", test_accuracy=result.test_accuracy)
    saved = models.save_checkpoints(workspace, model, result, final, dataset="digits", meta={"optimizer": "sgd"})
    assert [r.name for r in saved] == ["mlp-digits@epoch1", "mlp-digits@epoch2"]
    assert [(r.meta["checkpoint_of"], r.meta["epoch"]) for r in saved] == [(final.id, 1), (final.id, 2)]
    assert len(saved[0].meta["history"]["loss"]) == 1 and saved[0].meta["optimizer"] == "sgd"
    reloaded = workspace.load_model(saved[0].id)
    assert models.evaluate_accuracy(reloaded, x_test, digits.y_test) == pytest.approx(saved[0].test_accuracy)
    assert saved[0].fingerprint != final.fingerprint


def test_checkpoint_epochs_are_parsed_and_checked():
    assert models.parse_epochs("1, 5", 10) == (1, 5)
    assert models.parse_epochs("5,1 1", 10) == (1, 5)
    assert models.parse_epochs("", 10) == ()
    assert models.parse_epochs("1, 10", 10) == (1,)  # the last epoch is the trained model itself
    with pytest.raises(models.ModelError, match=r"within 1\.\.10 .*got \[11\]"):
        models.parse_epochs("1, 11", 10)
    with pytest.raises(models.ModelError, match="whole numbers .* got 'one'"):
        models.parse_epochs("one", 10)


def test_train_refuses_checkpoints_outside_the_training(digits):
    model = models.build_mlp((64,), hidden=(8,))
    x = models.adapt_images(digits.x_train[:50], model)
    with pytest.raises(models.ModelError, match=r"within 1\.\.2 .*got \[0, 3\]"):
        models.train(model, x, digits.y_train[:50], x, digits.y_train[:50], epochs=2, checkpoint_epochs=[0, 1, 3])


def test_the_cli_saves_checkpoints(tmp_path, capsys):
    from featlib import cli
    from featlib.store import Workspace

    status = cli.main(
        [
            "--workspace",
            str(tmp_path / "ws"),
            "train",
            "--dataset",
            "digits",
            "--epochs",
            "2",
            "--hidden",
            "16",
            "--name",
            "demo",
            "--checkpoints",
            "1",
        ]
    )
    assert status == 0
    assert "saved checkpoint demo@epoch1" in capsys.readouterr().out
    names = {r.name: r for r in Workspace(tmp_path / "ws").list_models()}
    assert names["demo@epoch1"].meta["checkpoint_of"] == names["demo"].id
    assert (
        cli.main(["--workspace", str(tmp_path / "ws"), "train", "--epochs", "2", "--name", "x", "--checkpoints", "3"])
        == 2
    )
