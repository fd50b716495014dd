"""NaN and inf in a model's weights and in a layer's outputs are reported the same way on every path.

Real Keras models (the seed MLP, 64-16-8-10) whose weights are set to NaN or inf: refused at upload
(the ``upload`` job, ``featlib add``, ``featlib layers FILE``, ``.keras`` and legacy ``.h5``), at
training, and, for a model that got into the workspace before these checks, at extraction by both
methods, in a layer set (``metrics``) and in the CLI's ``extract``, ``embed`` and ``metrics``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from cli_testing import cli

from featlib import models
from featlib.models.nonfinite import NonFiniteError, non_finite_weights
from featlib.read import extract, layers
from featlib.read.extract import METHODS

HIDDEN = (16, 8)  # layers: dense, activation, dense_1, activation_1, dense_2, activation_2


def mlp():
    return models.build_mlp((64,), hidden=HIDDEN, num_classes=10, seed=0)


def with_kernel(layer: str, value: float, where: tuple[int, int] | None = (0, 0)):
    """The MLP with ``value`` in ``layer``'s kernel: at one position, or everywhere (``where=None``)."""
    model = mlp()
    kernel, bias = model.get_layer(layer).get_weights()
    if where is None:
        kernel[...] = value
    else:
        kernel[where] = value
    model.get_layer(layer).set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def x(digits):
    return models.adapt_images(digits.x_train[:200], mlp())


# ----------------------------------------------------------------------------- at upload


@pytest.mark.parametrize("value, counted", [(np.nan, "1 NaN"), (np.inf, "1 inf"), (-np.inf, "1 inf")])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_model_file_with_a_non_finite_weight_is_refused_naming_it(tmp_path, value, counted, suffix):
    path = tmp_path / f"bad{suffix}"
    with_kernel("dense_1", value).save(path)
    with pytest.raises(
        NonFiniteError,
        match=rf"bad{re.escape(suffix)} is refused: its weights must be finite "
        rf"numbers, but 1 weight\(s\) of layer\(s\) dense_1 hold 1 NaN or infinite "
        rf"values \(dense_1/kernel \(16×8\): {counted} of 128 values\)",
    ) as info:
        models.load_model(path)
    assert info.value.layer == "dense_1" and info.value.count == 1


def test_the_upload_job_refuses_it_before_scoring(tmp_path, digits):
    from featlib.jobs import tasks

    path = tmp_path / "nan.keras"
    with_kernel("dense", np.nan, where=None).save(path)
    with pytest.raises(NonFiniteError, match=r"dense/kernel \(64×16\): 1,024 NaN of 1,024 values"):
        tasks.check_upload(data=path.read_bytes(), filename="nan.keras", dataset=digits, input_scale="0-1")


def test_featlib_add_and_layers_refuse_it(tmp_path):
    path = tmp_path / "nan.keras"
    with_kernel("dense_2", np.nan).save(path)
    workspace = str(tmp_path / "ws")
    for args in (["add", str(path), "--name", "nan", "--dataset", "digits"], ["layers", str(path)]):
        rc, out, err = cli("--workspace", workspace, *args)
        assert rc == 2 and "dense_2/kernel (8×10): 1 NaN of 80 values" in err, err
        assert "accuracy" not in out
    rc, out, _ = cli("--workspace", workspace, "ls", "--json")
    assert rc == 0 and '"kind": "model"' not in out  # nothing stored


def test_finite_weights_whose_outputs_overflow_get_no_accuracy(tmp_path, digits):
    """Every weight finite, but 3e38 × 64 pixels overflows float32: no class can be read, so no accuracy."""
    from featlib.jobs import tasks

    path = tmp_path / "overflow.keras"
    with_kernel("dense", 3e38, where=None).save(path)
    # A compiled predict function read this model's softmax of NaN as 0.1 everywhere: an "accuracy" of 0.1.
    with pytest.raises(
        NonFiniteError,
        match=r"overflow.keras is refused: its layers must give finite values, but for "
        r"360 images 6 layer\(s\) give NaN or inf: dense \(5,760 values\), "
        r"activation \(5,760 values\), dense_1 \(2,880 values\)",
    ):
        tasks.check_upload(data=path.read_bytes(), filename="overflow.keras", dataset=digits, input_scale="0-1")


def test_training_that_diverges_is_refused_not_stored(digits):
    from featlib.jobs import tasks

    try:
        made = tasks.train(dataset=digits, hidden=[8], optimizer="sgd", learning_rate=1e30, epochs=1, batch_size=64)
    except NonFiniteError as error:
        assert re.search(
            r"The model trained for 1 epochs at learning rate 1e\+30 is refused: .* "
            r"Training diverged: train again with a lower learning rate",
            str(error),
        ), error
    else:  # seen once in a whole suite, never alone (120 runs): say what the training gave, to learn why
        pytest.fail(f"no divergence at learning rate 1e30: history {made['history']}, {made['test_accuracy']=}")


# ----------------------------------------------------------------------------- at extraction


@pytest.mark.parametrize("method", list(METHODS))
def test_both_methods_refuse_a_layer_fed_by_a_nan_weight_alike(x, method):
    model = with_kernel("dense_1", np.nan)
    assert [w.describe() for w in non_finite_weights(model)] == ["dense_1/kernel (16×8): 1 NaN of 128 values"]
    reps = extract.extract(model, "activation", x, method=method)  # before the NaN: read as ever
    assert np.isfinite(reps).all()
    for layer in ("dense_1", "activation_1", "activation_2"):  # after it, ReLU may turn NaN into 0: refused anyway
        with pytest.raises(
            NonFiniteError,
            match=rf"^{layer} cannot be read by the {re.escape(METHODS[method])}: the "
            r"weights it depends on hold 1 NaN or infinite values "
            r"\(dense_1/kernel \(16×8\): 1 NaN of 128 values\)",
        ):
            extract.Extractor(model, layer, method)


@pytest.mark.parametrize("method", list(METHODS))
def test_both_methods_refuse_outputs_that_overflow_alike(x, method):
    model = with_kernel("dense", 3e38, where=None)
    with pytest.raises(
        NonFiniteError,
        match=rf"^dense read by the {re.escape(METHODS[method])} gave 3,200 "
        r"non-finite values \(3,200 inf\) of 3,200 for 200 images",
    ) as info:
        extract.extract(model, "dense", x, method=method)
    assert (info.value.layer, info.value.count) == ("dense", 3200)


@pytest.mark.parametrize("method", list(METHODS))
def test_a_layer_whose_own_values_hide_an_earlier_overflow_is_refused_by_both_methods(x, method):
    """Softmax over NaN can come out as finite numbers; the layers on the way are counted in the same pass."""
    model = with_kernel("dense", 3e38, where=None)
    with pytest.raises(
        NonFiniteError,
        match=rf"^activation_2 read by the {re.escape(METHODS[method])} (gave [\d,]+ "
        r"non-finite values|depends on layers whose outputs are not finite "
        r"\(NaN or inf\) for 200 images: dense \(3,200 values\))",
    ):
        extract.extract(model, "activation_2", x, method=method)


def test_a_layer_set_sets_non_finite_layers_aside_naming_why(digits):
    model = with_kernel("dense_1", np.nan)
    ls = layers.layer_set(model, "fp", digits, "train", sample_size=100)
    assert list(ls.reps) == ["input", "dense", "activation"]
    assert list(ls.non_finite) == ["dense_1", "activation_1", "dense_2", "activation_2"]
    assert ls.non_finite["dense_1"].startswith(
        "dense_1 cannot be read by the functional sub-model (Model.predict): the weights it depends on hold 1 NaN"
    )
    rows = layers.metrics_table(ls)  # only finite layers are scored
    assert [row["layer"] for row in rows] == ["input", "dense", "activation"]


def test_the_cli_reports_a_stored_nan_model_on_every_path(tmp_path, digits):
    """A NaN model that reached the workspace before these checks (or by a path that skipped them)."""
    from featlib.store import Workspace

    workspace = Workspace(tmp_path / "ws")
    model = with_kernel("dense_1", np.nan)
    workspace.save_model_file(
        lambda path: model.save(path),
        "broken",
        fingerprint=models.fingerprint(model),
        architecture=models.architecture_summary(model),
        dataset="digits",
    )
    ws = ["--workspace", str(workspace.root)]
    out_file = str(tmp_path / "r.npy")
    assert cli(*ws, "extract", "broken", "--layer", "activation", "--out", out_file)[0] == 0
    for method in METHODS:
        rc, _, err = cli(*ws, "extract", "broken", "--layer", "dense_1", "--method", method, "--out", out_file)
        assert rc == 2 and f"error: dense_1 cannot be read by the {METHODS[method]}: the weights it depends on" in err
    rc, _, err = cli(*ws, "embed", "broken", "--layer", "dense_1", "--out", str(tmp_path / "e.csv"), "--n-epochs", "10")
    assert rc == 2 and "dense_1 cannot be read" in err
    rc, out, err = cli(*ws, "metrics", "broken", "--sample", "100")
    assert rc == 0, err
    assert re.search(r"^dense_1 +8 +n/a +n/a +n/a +n/a$", out, re.MULTILINE), out
    assert re.search(r"^dense +16 +\d\.\d{3} +\d\.\d{3}", out, re.MULTILINE), out
    assert (
        "n/a: knn_acc, probe_acc, silhouette (dense_1): dense_1 cannot be read by the functional sub-model "
        "(Model.predict): the weights it depends on hold 1 NaN"
    ) in out
    assert "warning: dense_1 cannot be read" in err
    assert not re.search(r"\bnan\b", out), out  # no NaN scored, none printed as a score
