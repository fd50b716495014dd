"""featlib.callbacks.CheckpointCallback: a training in the user's own ``model.fit`` saved as the Model page saves one."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import datasets, keys, models
from featlib.callbacks import CheckpointCallback
from featlib.errors import TrainingError
from featlib.jobs.runner import InlineRunner
from featlib.service import Service
from featlib.share import compare
from featlib.store import Workspace


def _compiled(seed: int = 3):
    model = models.build_mlp((64,), hidden=(12, 8), seed=seed)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, digits):
    """A real model.fit of 3 epochs on 400 digits, saving after epochs 1 and 2 and reading ``dense_1``."""
    workspace = Workspace(tmp_path_factory.mktemp("cb") / "ws")
    model = _compiled()
    saver = CheckpointCallback(workspace, "own-fit", digits, every=1, layers=["dense_1"], meta={"optimizer": "adam"})
    x = models.adapt_images(digits.x_train[:400], model)
    model.fit(x, digits.y_train[:400], epochs=3, batch_size=64, callbacks=[saver], verbose=0)
    return workspace, model, saver


def test_a_fit_saves_checkpoints_the_checkpoint_views_list(fitted, digits):
    workspace, model, saver = fitted
    records = workspace.list_models()
    final = {r.name: r for r in records}["own-fit"]
    assert saver.record.id == final.id
    listed = compare.checkpoints_of(records, final.id)  # what "This layer across checkpoints" lists
    assert [(r.name, r.meta["epoch"]) for r in listed] == [("own-fit@epoch1", 1), ("own-fit@epoch2", 2)]
    assert compare.final_model_of(records, listed[0].id) == final.id
    assert final.meta["checkpoint_epochs"] == [1, 2] and len(final.meta["history"]["loss"]) == 3
    assert len(listed[0].meta["history"]["loss"]) == 1 and listed[0].meta["optimizer"] == "adam"
    # each checkpoint holds the weights of its epoch, and its accuracy is that model's on the test split
    reloaded = workspace.load_model(listed[0].id)
    x_test = models.adapt_images(digits.x_test, model)
    assert models.evaluate_accuracy(reloaded, x_test, digits.y_test) == pytest.approx(listed[0].test_accuracy)
    assert listed[0].fingerprint != listed[1].fingerprint != final.fingerprint
    assert final.test_accuracy == pytest.approx(models.evaluate_accuracy(model, x_test, digits.y_test))
    # the views of a trained model find its checkpoints
    view = compare.across_checkpoints(records, final.id, "dense_1", "function", "pca")
    assert [p.model for p in view] == [listed[0].id, listed[1].id, final.id]


def test_the_layers_are_stored_under_featlib_s_own_keys(fitted, digits):
    workspace, model, saver = fitted
    final = saver.record
    expected = keys.representation_key(final.fingerprint, digits.fingerprint, "test", "dense_1", "function", "0-1")
    assert saver.representations[(final.id, "dense_1")] == expected
    stored = workspace.load_array("representation", expected)
    assert stored is not None and stored.shape == (len(digits.y_test), 8)
    # featlib's own path finds it stored: no job runs
    runner = InlineRunner()
    again, key = Service(workspace, runner).representation(final, digits, "test", "dense_1", "function")
    assert key == expected and runner.ran == [] and np.array_equal(again, stored)
    for checkpoint in saver.checkpoints:
        assert workspace.load_array("representation", saver.representations[(checkpoint.id, "dense_1")]) is not None


def test_every_and_epochs_choose_the_epochs_saved(tmp_path, digits):
    x = models.adapt_images(digits.x_train[:200], _compiled())
    for options, expected in (({"every": 2}, [2]), ({"epochs": [1, 3]}, [1, 3])):
        model = _compiled()
        saver = CheckpointCallback(tmp_path / str(options), "m", "digits", **options)
        model.fit(x, digits.y_train[:200], epochs=4, batch_size=100, callbacks=[saver], verbose=0)
        assert [r.meta["epoch"] for r in saver.checkpoints] == expected
        assert all(r.meta["checkpoint_of"] == saver.record.id for r in saver.checkpoints)


def test_a_taken_name_moves_the_whole_training_to_a_free_one(tmp_path, digits):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, _compiled(), "run", dataset="digits")
    model = _compiled()
    saver = CheckpointCallback(workspace, "run", digits, epochs=[1])
    model.fit(models.adapt_images(digits.x_train[:100], model), digits.y_train[:100], epochs=2, callbacks=[saver])
    assert (saver.record.name, saver.checkpoints[0].name) == ("run-2", "run-2@epoch1")


def test_an_own_dataset_is_saved_in_the_workspace(tmp_path):
    rng = np.random.default_rng(0)
    data = datasets.from_arrays(rng.random((60, 8, 8)), rng.integers(0, 3, 60), "tiny-own")
    model = models.build_mlp((64,), hidden=(4,), num_classes=3)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    saver = CheckpointCallback(tmp_path / "ws", "tiny", data, epochs=[1])
    model.fit(models.adapt_images(data.x_train, model), data.y_train, epochs=2, callbacks=[saver], verbose=0)
    assert [d["fingerprint"] for d in Workspace(tmp_path / "ws").list_datasets()] == [data.fingerprint]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workspace": 3}, r"featlib workspace: .*got int 3"),
        ({"dataset": "cifar"}, r"featlib dataset: .*got str 'cifar'"),
        ({"every": 0}, r"every is .* at least 1; got 0"),
        ({"epochs": [0, 2]}, r"epochs are .* at least 1 .*got \[0, 2\]"),
        ({"layers": "dense_1"}, r"layers are a list of layer names.*got 'dense_1'"),
        ({"method": "grad"}, r"Unknown extraction method 'grad'"),
        ({"split": "valid"}, r"has no 'valid' split .*\['train', 'test'\]"),
        ({"name": " "}, r"needs the trained model's name"),
    ],
)
def test_bad_settings_are_refused_before_training(tmp_path, options, message):
    arguments = {"workspace": tmp_path / "ws", "name": "m", "dataset": "digits", **options}
    with pytest.raises(TrainingError, match=message):
        CheckpointCallback(**arguments)


def test_a_missing_layer_stops_the_fit_before_anything_is_saved(tmp_path, digits):
    model = _compiled()
    saver = CheckpointCallback(tmp_path / "ws", "m", digits, layers=["dense_9"])
    with pytest.raises(TrainingError, match="cannot read layer 'dense_9'"):
        model.fit(models.adapt_images(digits.x_train[:50], model), digits.y_train[:50], epochs=1, callbacks=[saver])
    assert Workspace(tmp_path / "ws").list_models() == []
