"""Tests for featlib.metrics and extract.extract_all: known cases, then the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from featlib import metrics, models
from featlib.maps import embed
from featlib.models import ModelError
from featlib.read import extract

REPO_ROOT = Path(__file__).resolve().parents[1]
CLASSES = 10


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(CLASSES, dtype="float32")[labels]


@pytest.fixture(scope="module")
def labels() -> np.ndarray:
    return np.arange(1000) % CLASSES


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(2000, 20)).astype("float32")


# ----------------------------------------------------------------------------- known cases


def test_one_hot_labels_score_perfectly(labels):
    reps = one_hot(labels)
    assert metrics.knn_accuracy(reps, labels) == 1.0
    assert metrics.linear_probe_accuracy(reps, labels) == 1.0
    assert metrics.silhouette(reps, labels) == pytest.approx(1.0, abs=1e-6)


def test_gaussian_noise_scores_near_chance(noise):
    labels = np.arange(len(noise)) % CLASSES
    assert abs(metrics.knn_accuracy(noise, labels) - 0.1) < 0.05
    assert abs(metrics.linear_probe_accuracy(noise, labels) - 0.1) < 0.05
    assert abs(metrics.silhouette(noise, labels)) < 0.05


def test_knn_accuracy_with_small_classes_uses_fewer_folds():
    labels = np.array([0, 0, 1, 1, 1, 1])
    points = np.array([[0.0], [0.1], [5.0], [5.1], [5.2], [5.3]])
    assert metrics.knn_accuracy(points, labels, k=1) == 1.0


def test_silhouette_samples_above_sample_size(noise):
    labels = np.arange(len(noise)) % CLASSES
    a = metrics.silhouette(noise, labels, sample_size=500, seed=1)
    assert a == metrics.silhouette(noise, labels, sample_size=500, seed=1)
    assert a != metrics.silhouette(noise, labels, sample_size=None)


# ----------------------------------------------------------------------------- trustworthiness


def test_trustworthiness_of_the_first_two_coordinates_of_2d_data_is_one():
    rng = np.random.default_rng(0)
    reps = np.zeros((600, 5))
    reps[:, :2] = rng.normal(size=(600, 2))  # 2-D data held in 5 columns
    assert metrics.trustworthiness(reps, reps[:, :2]) == pytest.approx(1.0)
    assert metrics.trustworthiness(reps, reps[:, :2], sample_size=200) == pytest.approx(1.0)
    shuffled = reps[rng.permutation(600), :2]
    assert metrics.trustworthiness(reps, shuffled) < 0.7


# ----------------------------------------------------------------------------- CKA


@pytest.fixture(scope="module")
def a() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(3000, 8))


def test_linear_cka_of_a_representation_with_itself_is_one(a):
    assert metrics.linear_cka(a, a) == pytest.approx(1.0, abs=1e-12)


def test_linear_cka_is_invariant_to_rotation_and_isotropic_scaling(a):
    rotation, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(8, 8)))
    b = a @ np.diag(np.arange(1.0, 9.0))  # a different representation of the same points
    base = metrics.linear_cka(a, b)
    assert base < 0.99
    assert metrics.linear_cka(a, b @ rotation) == pytest.approx(base, abs=1e-10)
    assert metrics.linear_cka(a @ rotation, b) == pytest.approx(base, abs=1e-10)
    assert metrics.linear_cka(a, 3.7 * b) == pytest.approx(base, abs=1e-10)
    assert metrics.linear_cka(a, b + 5.0) == pytest.approx(base, abs=1e-10)  # centred


def test_linear_cka_is_near_zero_for_independent_representations(a):
    b = np.random.default_rng(3).normal(size=(len(a), 6))
    assert 0.0 <= metrics.linear_cka(a, b) < 0.02


def test_linear_cka_of_a_constant_representation_is_nan(a):
    assert np.isnan(metrics.linear_cka(a, np.ones((len(a), 3))))


def test_cka_matrix_is_symmetric_with_unit_diagonal(a):
    rng = np.random.default_rng(4)
    reps = [a, np.tanh(a @ rng.normal(size=(8, 5))), rng.normal(size=(len(a), 4)), one_hot(np.arange(len(a)) % 10)]
    matrix = metrics.cka_matrix(reps)
    assert matrix.shape == (4, 4)
    np.testing.assert_allclose(np.diag(matrix), 1.0)
    np.testing.assert_array_equal(matrix, matrix.T)
    assert np.all((matrix >= 0) & (matrix <= 1 + 1e-12))
    assert matrix[0, 1] > matrix[0, 2]  # a transform of a is nearer a than noise is


# ----------------------------------------------------------------------------- layer_metrics


def test_layer_metrics_keys_without_and_with_a_map(labels):
    reps = one_hot(labels) + np.random.default_rng(0).normal(scale=0.1, size=(len(labels), CLASSES))
    plain = metrics.layer_metrics(reps, labels)
    assert list(plain) == ["n", "sample", "knn_acc", "probe_acc", "silhouette", "notes"]
    assert plain["n"] == plain["sample"] == len(labels) and plain["notes"] == {}  # k = 10 throughout
    coords = reps[:, :2]
    with_map = metrics.layer_metrics(reps, labels, coords)
    assert list(with_map) == list(plain)[:-1] + ["knn_acc_2d", "trustworthiness", "notes"]
    assert {k: with_map[k] for k in plain} == plain
    assert all(0.0 <= with_map[k] <= 1.0 for k in ("knn_acc", "probe_acc", "knn_acc_2d", "trustworthiness"))


def test_layer_metrics_scores_a_stratified_sample_and_reports_it(labels):
    reps = one_hot(labels)
    result = metrics.layer_metrics(reps, labels, reps[:, :2], sample_size=300, seed=0)
    assert (result["n"], result["sample"]) == (1000, 300)
    # A map made on the same sample is accepted too, and gives the same figures.
    chosen = embed.stratified_sample(labels, 300, seed=0)
    assert metrics.layer_metrics(reps, labels, reps[chosen, :2], sample_size=300, seed=0) == result


def test_layer_metrics_refuses_a_map_of_another_size(labels):
    with pytest.raises(
        ValueError, match=r"coords must have one row per point \(1000\) or per sampled point \(300\); got 7 rows"
    ):
        metrics.layer_metrics(one_hot(labels), labels, np.zeros((7, 2)), sample_size=300)


def test_mismatched_rows_and_single_class_are_refused(labels):
    with pytest.raises(ValueError, match="points and labels must have one row per point; got 1000 and 999 rows"):
        metrics.knn_accuracy(one_hot(labels), labels[:-1])
    # One class: no figure, and why (not an exception: a small upload is not an error).
    assert (
        str(metrics.linear_probe_accuracy(np.zeros((20, 2)), np.full(20, 3)))
        == "n/a — needs at least two classes; got 1: [3]"
    )
    assert str(metrics.silhouette(np.zeros((20, 2)), np.zeros(20, dtype=int))).startswith(
        "n/a — needs between 2 and n - 1 classes (at least 2 classes and more points than classes); got 1 classes"
    )


def test_prediction_confidence_reads_probabilities_and_softmaxes_logits():
    probabilities = np.array([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    predicted, confidence = metrics.prediction_confidence(probabilities)
    assert predicted.tolist() == [1, 0] and np.allclose(confidence, [0.7, 0.5])
    predicted, confidence = metrics.prediction_confidence(np.array([[0.0, np.log(3.0)], [5.0, 5.0]]))
    assert predicted.tolist() == [1, 0] and np.allclose(confidence, [0.75, 0.5])
    with pytest.raises(ValueError, match=r"one column per class \(at least 2\); got shape \(2, 1\)"):
        metrics.prediction_confidence(np.ones((2, 1)))


def test_prediction_confidence_of_the_trained_model_matches_its_predictions(model, x_digits):
    outputs = model.predict(x_digits, verbose=0)
    predicted, confidence = metrics.prediction_confidence(outputs)
    assert np.array_equal(predicted, models.predict_labels(model, x_digits))
    assert np.all((confidence >= 1 / CLASSES - 1e-6) & (confidence <= 1.0))


# ----------------------------------------------------------------------------- extract_all


@pytest.fixture(scope="module")
def small_model():
    return models.build_mlp((64,), hidden=(32, 16), seed=0)


@pytest.fixture(scope="module")
def x_small() -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(200, 64)).astype("float32")


def test_extract_all_matches_extract_for_every_layer(small_model, x_small):
    reps = extract.extract_all(small_model, x_small)
    assert list(reps) == [layer.name for layer in small_model.layers]
    for name, out in reps.items():
        expected = extract.extract(small_model, name, x_small, method="submodel")
        assert out.dtype == np.float32 and out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_extract_all_reads_every_layer_in_one_pass_per_batch(small_model, x_small, monkeypatch):
    import keras

    calls = []
    predict_on_batch = keras.Model.predict_on_batch

    def counting(self, *args, **kwargs):
        calls.append(self)
        return predict_on_batch(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "predict_on_batch", counting)
    reps = extract.extract_all(small_model, x_small, batch_size=64)
    assert len(calls) == -(-len(x_small) // 64)  # one call per batch of 64, each reading every layer
    assert len({id(model) for model in calls}) == 1 and len(calls[0].outputs) == len(reps) == len(small_model.layers)


def test_extract_all_reads_named_layers_in_order(small_model, x_small):
    reps = extract.extract_all(small_model, x_small, ["dense_1", "dense", "dense_1"])
    assert list(reps) == ["dense_1", "dense"]
    assert reps["dense"].shape == (200, 32) and reps["dense_1"].shape == (200, 16)


def test_extract_all_skips_the_input_layer_of_a_functional_model():
    import keras

    inputs = keras.Input((4,), name="pixels")
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(hidden))
    assert type(model.layers[0]).__name__ == "InputLayer"
    reps = extract.extract_all(model, np.ones((5, 4), dtype="float32"))
    assert list(reps) == ["hidden", "out"]
    assert reps["out"].shape == (5, 2)


def test_extract_all_refuses_unknown_layers_and_empty_inputs(small_model, x_small):
    with pytest.raises(ModelError, match=r"No such layer: nope\. Existing layers are: \['dense'"):
        extract.extract_all(small_model, x_small, ["dense", "nope"])
    with pytest.raises(ValueError, match="got an empty array"):
        extract.extract_all(small_model, x_small[:0])


# ----------------------------------------------------------------------------- CLI

SEED_LAYERS = ["dense", "activation", "dense_1", "activation_1", "dense_2", "activation_2"]


@pytest.fixture(scope="module")
def trained_workspace(tmp_path_factory):
    """A tmp workspace holding the seed MLP ``m`` trained 2 epochs on the digits, by the CLI."""
    cwd = tmp_path_factory.mktemp("metrics_cli")
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, FEATLIB_WORKSPACE=str(cwd / "ws"), PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="2")

    def run(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [sys.executable, "-m", "featlib", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
        return proc

    run("train", "--dataset", "digits", "--epochs", "2", "--name", "m")
    return cwd / "ws", run


def test_cli_metrics_json_has_one_row_per_layer(trained_workspace):
    _, run = trained_workspace
    out = json.loads(run("metrics", "m", "--dataset", "digits", "--json", "--sample", "600").stdout)
    assert [row["layer"] for row in out["layers"]] == SEED_LAYERS
    assert [row["units"] for row in out["layers"]] == [128, 128, 64, 64, 10, 10]
    for row in out["layers"]:
        assert (row["n"], row["sample"]) == (1437, 600)
        assert 0.0 <= row["knn_acc"] <= 1.0 and 0.0 <= row["probe_acc"] <= 1.0
        assert -1.0 <= row["silhouette"] <= 1.0
        assert "trustworthiness" not in row
    pixels = out["input"]  # the reference line: the same figures for the input pixels
    assert (pixels["layer"], pixels["units"], pixels["sample"]) == ("input", 64, 600)
    assert 0.5 < pixels["knn_acc"] <= 1.0 and -1.0 <= pixels["silhouette"] <= 1.0
    # Scored on the pixels, not copied from a layer: the silhouette is continuous, so no layer's matches by chance
    # (10-NN accuracy on 600 points moves in steps of 1/600 and may).
    assert all(pixels["silhouette"] != row["silhouette"] for row in out["layers"])
    cka = np.array(out["cka"])
    assert cka.shape == (6, 6)
    np.testing.assert_allclose(np.diag(cka), 1.0)
    np.testing.assert_allclose(cka, cka.T)


def test_cli_metrics_table_with_a_map(trained_workspace, capsys):
    from featlib import cli

    workspace, _ = trained_workspace
    assert (
        cli.main(["--workspace", str(workspace), "metrics", "m", "--dataset", "digits", "--sample", "300", "--umap"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "m on digits train: 300 of 1,437 images (stratified sample)"
    assert lines[1].split() == [
        "layer",
        "units",
        "knn_acc",
        "probe_acc",
        "silhouette",
        "knn_acc_2d",
        "trustworthiness",
        "cka_prev",
    ]
    assert lines[2].split()[:3] == ["(input", "pixels)", "64"] and len(lines[2].split()) == 8  # no cka_prev
    assert [line.split()[0] for line in lines[3:]] == SEED_LAYERS
    assert len(lines[3].split()) == 7 and all(len(line.split()) == 8 for line in lines[4:])


def test_cli_metrics_unknown_model_exits_2(trained_workspace, capsys):
    from featlib import cli

    workspace, _ = trained_workspace
    assert cli.main(["--workspace", str(workspace), "metrics", "nope", "--dataset", "digits"]) == 2
    assert "No such model: nope. The workspace holds: ['m']" in capsys.readouterr().err


def test_knn_accuracy_by_correlation_is_scikit_learns_correlation_metric():
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 240)
    reps = rng.normal(size=(3, 12))[labels] * rng.uniform(0.2, 5, (240, 1)) + rng.normal(scale=20, size=(240, 1))
    reps = reps + 0.5 * rng.normal(size=reps.shape)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    scipy_correlation = cross_val_score(
        KNeighborsClassifier(10, metric="correlation", algorithm="brute"), reps, labels, cv=cv
    )
    assert metrics.knn_accuracy(reps, labels, distance="correlation") == pytest.approx(scipy_correlation.mean())
    assert metrics.knn_accuracy(reps, labels, distance="correlation") > metrics.knn_accuracy(reps, labels) + 0.1
    with pytest.raises(ValueError, match=r"distance must be one of \['euclidean', 'cosine', 'correlation'\]; got 'l1'"):
        metrics.knn_accuracy(reps, labels, distance="l1")
