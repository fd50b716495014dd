"""What the model looked at (featlib.models.saliency; issue 27 item 4): integrated gradients against their analytic
value and their completeness axiom, Grad-CAM on a CNN whose class is decided in one quadrant, the job through the
Service and its cache, refusals in featlib's words, and the point inspector's drawing."""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest
from test_point_inspector import map_points, send_selection

from featlib import keys, models
from featlib.app import saliency as view
from featlib.errors import FeatlibError, ModelError, SaliencyError
from featlib.jobs.runner import InlineRunner
from featlib.lazy import keras
from featlib.models import saliency as sal
from featlib.service import Service
from featlib.store import Workspace


def _plus_and_bars(side: int = 16) -> np.ndarray:
    """A black image with a bright plus in its top-left quadrant and a bright bar in each of the other three."""
    image = np.zeros((side, side), dtype=np.float32)
    half = side // 2
    r, c = half // 2, half // 2
    image[r, c - 1 : c + 2] = image[r - 1 : r + 2, c] = 1.0  # the plus, top left
    for rr, cc in ((r, half + c), (half + r, c), (half + r, half + c)):
        image[rr, cc - 1 : cc + 2] = 1.0  # bars, as bright, elsewhere
    return image


def _quadrant_cnn(side: int = 16) -> keras.Model:
    """A CNN whose class 1 depends only on a plus (found only in the top-left quadrant of :func:`_plus_and_bars`) and
    class 0 only on horizontal bars: two 3x3 detectors, ReLU, global average pooling, a softmax head."""
    inputs = keras.Input((side, side, 1))
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="detectors")
    hidden = conv(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(hidden)
    head = keras.layers.Dense(2, activation="softmax", name="head")
    model = keras.Model(inputs, head(pooled))
    plus = np.array([[-1, 1, -1], [1, 1, 1], [-1, 1, -1]], dtype=np.float32)  # 5 on a plus, at most 3 on a bar
    bar = np.array([[-1, -1, -1], [1, 1, 1], [-1, -1, -1]], dtype=np.float32)  # 3 on a bar, 1 on a plus
    kernel = np.stack([plus, bar], axis=-1)[:, :, None, :]
    conv.set_weights([kernel, np.array([-4.5, -2.5], dtype=np.float32)])
    head.set_weights([np.array([[0.0, 50.0], [50.0, 0.0]], dtype=np.float32), np.zeros(2, dtype=np.float32)])
    return model


# ----------------------------------------------------------------------------- integrated gradients


@pytest.mark.parametrize("activation", [None, "softmax"])
def test_integrated_gradients_of_a_linear_logit_are_the_input_times_the_weights(activation):
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10, activation=activation)])
    model.layers[-1].set_weights([rng.normal(size=(64, 10)).astype("float32"), rng.normal(size=10).astype("float32")])
    x = rng.uniform(0, 1, size=(3, 64)).astype("float32")
    found = sal.integrated_gradients(model, x, [2, 5, 7], steps=8)
    weights = model.layers[-1].get_weights()[0]
    for image, target, result in zip(x, [2, 5, 7], found):
        # A linear logit: IG = (x - baseline) ⊙ w, whatever the steps; the baseline is black (0).
        np.testing.assert_allclose(result.attributions.ravel(), image * weights[:, target], atol=1e-5)
        assert result.score == ("logit" if activation else "output")  # the softmax's input is explained
        assert result.completeness_gap < 1e-4 and result.complete
        assert result.map.shape == (8, 8) and result.map.dtype == np.float32
        assert result.map.min() == 0.0 and result.map.max() == pytest.approx(1.0)
        positive = np.maximum(result.attributions, 0)
        np.testing.assert_allclose(result.map, positive / positive.max(), rtol=1e-6)


def test_completeness_holds_on_the_seed_mlp(model, digits):
    x = models.adapt_images(digits.x_test[:6], model, "0-1")
    predicted = models.predict_labels(model, x)
    found = sal.integrated_gradients(model, x, predicted, steps=sal.DEFAULT_STEPS)
    for result in found:
        assert result.method == sal.INTEGRATED_GRADIENTS and result.score == "logit" and result.steps == 64
        assert result.completeness_relative < 0.01, result.completeness_text
        assert "attributions sum to" in result.completeness_text
    # Batched over images and steps, it is the same as one image at a time.
    one = sal.saliency(model, x[3], int(predicted[3]), "integrated_gradients")
    np.testing.assert_allclose(one.attributions, found[3].attributions, atol=1e-5)
    # The pixels that are black in the image get no attribution (the black baseline): only the strokes speak.
    assert np.all(one.attributions.ravel()[x[3] == 0] == 0)


# ----------------------------------------------------------------------------- Grad-CAM


def test_grad_cam_highlights_the_quadrant_that_decides_the_class():
    model = _quadrant_cnn()
    image = _plus_and_bars()[..., None]
    assert sal.last_conv_layer(model) == "detectors" and sal.resolve_method(model) == sal.GRAD_CAM
    plus_class = sal.saliency(model, image, 1)  # auto: Grad-CAM for a convolutional model
    assert plus_class.method == sal.GRAD_CAM and plus_class.layer == "detectors" and plus_class.score == "logit"
    assert plus_class.map.shape == (16, 16) and plus_class.map.max() == pytest.approx(1.0)
    top_left = plus_class.map[:8, :8].sum() / plus_class.map.sum()
    assert top_left > 0.95  # the bars, as bright, are not what class 1 looked at
    bar_class = sal.saliency(model, image, 0)
    assert bar_class.map[:8, :8].sum() / bar_class.map.sum() < 0.05  # class 0 looks at the three other quadrants
    # Integrated gradients explain the same model too, and find the plus for class 1. The detector fires only past
    # 90% of the way from black, so 64 intervals miss part of the integral: the completeness check says so.
    coarse = sal.saliency(model, image, 1, "integrated_gradients")
    assert not coarse.complete and "more steps than 64 are needed" in coarse.completeness_text
    ig = sal.saliency(model, image, 1, "integrated_gradients", steps=256)
    assert ig.complete and ig.map[:8, :8].sum() / ig.map.sum() > 0.95


# ----------------------------------------------------------------------------- the job


def test_the_job_through_the_service_is_the_function_and_a_second_call_hits_the_cache(model, digits, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    record = models.save_model(workspace, model, "mlp", dataset="digits")
    runner = InlineRunner()
    service = Service(workspace, runner)
    x = models.adapt_images(digits.x_test[4:5], model, "0-1")
    target = int(models.predict_labels(model, x)[0])
    found = service.saliency(record, digits, "test", 4, target)
    key = keys.saliency_key(
        record.fingerprint, digits.fingerprint, "test", "0-1", 4, target, sal.INTEGRATED_GRADIENTS, 64
    )
    assert runner.ran == [key]
    expected = sal.saliency(model, x[0], target)
    np.testing.assert_allclose(found.map, expected.map, atol=1e-5)
    np.testing.assert_allclose(found.attributions, expected.attributions, atol=1e-6)
    assert found.method == expected.method and found.target == target and found.complete
    again = Service(workspace, runner).saliency(record, digits, "test", 4, target)  # another session, same image
    assert runner.ran == [key]  # kept in the workspace per image and class: no second job
    np.testing.assert_array_equal(again.map, found.map)
    other = (target + 1) % 10
    service.saliency(record, digits, "test", 4, other)  # another class of the same image: its own job
    assert len(runner.ran) == 2 and f"class={other}" in runner.ran[-1]


def test_bad_inputs_are_refused_in_featlibs_words(model, digits, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    record = models.save_model(workspace, model, "mlp", dataset="digits")
    runner = InlineRunner()
    service = Service(workspace, runner)
    n = len(digits.y_test)
    with pytest.raises(SaliencyError, match=rf"No image #{n} in the test split: expected an index from 0 to {n - 1}"):
        service.saliency(record, digits, "test", n, 0)
    with pytest.raises(SaliencyError, match="No such class: 10. The output read has 10 values"):
        service.saliency(record, digits, "test", 0, 10)
    with pytest.raises(SaliencyError, match="Grad-CAM reads the last convolutional layer"):
        service.saliency(record, digits, "test", 0, 1, "grad_cam")
    with pytest.raises(SaliencyError, match="Unknown saliency method: 'lime'"):
        service.saliency(record, digits, "test", 0, 1, "lime")
    assert len(runner.ran) == 1  # only the bad class reached a job (its width is the model's)
    x = models.adapt_images(digits.x_test[:1], model, "0-1")[0]
    with pytest.raises(SaliencyError, match="take 8 to 256 steps"):
        sal.saliency(model, x, 1, "integrated_gradients", steps=2)
    with pytest.raises(SaliencyError, match="NaN or infinite"):
        sal.saliency(model, np.full(64, np.nan, dtype="float32"), 1)
    with pytest.raises(SaliencyError, match=r"Expected images of the model's input, \(64,\) per image"):
        sal.saliency(model, np.zeros((7, 7), dtype="float32"), 1)


def test_a_model_without_gradients_or_with_two_inputs_is_refused():
    inputs = keras.Input((64,))
    stopped = keras.ops.stop_gradient(keras.layers.Dense(10)(inputs))
    no_gradient = keras.Model(inputs, keras.layers.Dense(10)(stopped))
    with pytest.raises(SaliencyError, match="do not depend on its input by any gradient") as raised:
        sal.saliency(no_gradient, np.ones(64, dtype="float32"), 3)
    assert isinstance(raised.value, FeatlibError) and "tf." not in str(raised.value)
    a, b = keras.Input((64,)), keras.Input((64,))
    two = keras.Model([a, b], keras.layers.Dense(10)(keras.layers.Concatenate()([a, b])))
    with pytest.raises(ModelError, match="exactly one image input"):
        sal.saliency(two, np.ones(64, dtype="float32"), 3)


def test_a_model_with_several_outputs_explains_the_head_featlib_reads():
    rng = np.random.default_rng(1)
    inputs = keras.Input((64,))
    aux = keras.layers.Dense(3, name="aux")(inputs)
    classes = keras.layers.Dense(10, name="classes")(inputs)
    model = keras.Model(inputs, [aux, classes])
    x = rng.uniform(0, 1, 64).astype("float32")
    head = models.default_output(model, 10)
    found = sal.saliency(model, x, 7, output=head)
    weights = model.get_layer("classes").get_weights()[0]
    np.testing.assert_allclose(found.attributions.ravel(), x * weights[:, 7], atol=1e-5)
    with pytest.raises(ModelError, match="expected the output to read"):
        sal.saliency(model, x, 7)


# ----------------------------------------------------------------------------- the inspector's drawing


def test_the_inspector_picks_the_nearest_neighbour_of_another_class_and_tints_the_evidence():
    labels = np.array([9, 9, 4, 9, 7])
    assert view.other_class(np.array([0, 1, 3, 2, 4]), labels, 9) == 3  # the first non-9 neighbour: #2, a 4
    assert view.other_class(np.array([0, 1, 3]), labels, 9) is None
    image = np.zeros((8, 8), dtype=np.uint8)
    image[2:6, 3] = 255  # a stroke
    heat = np.zeros((8, 8), dtype=np.float32)
    heat[2, 3] = 1.0
    drawn = view.overlay(image, heat)
    assert drawn.shape == (112, 112, 3) and drawn.dtype == np.uint8
    assert drawn[0, 0].tolist() == [255, 255, 255]  # the white background, untouched
    assert drawn[5 * 14, 3 * 14].tolist() == [102, 102, 102]  # a stroke no evidence covers: grey on white
    assert drawn[2 * 14, 3 * 14, 0] > 150 and drawn[2 * 14, 3 * 14, 1] < 60  # the stroke that speaks: red
    bigger = view.overlay(image, np.kron(heat, np.ones((4, 4))))  # a map of the model's input size (32x32)
    np.testing.assert_array_equal(bigger, drawn)


# ----------------------------------------------------------------------------- the point inspector


def test_the_inspector_shows_what_the_model_looked_at_for_both_classes(model, tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    record = models.save_model(Workspace(tmp_path / "ws"), model, "mlp", dataset="digits")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    query = {"model": record.id, "dataset": "digits", "split": "test", "layer": "dense_1", "reducer": "pca"}
    for key, value in query.items():  # a link: the test split's 360 images, a PCA map (instant)
        at.query_params[key] = value
    at = no_exception(no_exception(at.run()).switch_page(page_path("explore")).run())
    points = map_points(at)
    clicked = ([p for p in points if p[2][1] != p[2][2]] or points)[0]  # a misclassified point, if any
    at = send_selection(at, [clicked])
    assert any(m.value == "**What the model looked at**" for m in at.markdown)
    captions = [c.replace("\\", "") for e in at.get("image") for c in e.captions]
    guess = int(clicked[2][2])
    assert f"predicted: {guess}" in captions
    [other] = [c for c in captions if c.startswith(("neighbour #", "its second choice: "))]
    assert not other.endswith(f": {guess}")  # the neighbour's class (or the runner-up) is another class
    notes = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "integrated gradients (Sundararajan et al. 2017)" in notes and "attributions sum to" in notes


def test_a_sequential_cnn_loaded_from_its_file_explains_as_it_did_in_memory(tmp_path):
    """A loaded Sequential model keeps its layers' first graph: Grad-CAM and integrated gradients read the one path
    from the inputs to the scores (the example: "The class scores do not depend on conv_1's outputs")."""
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv_1"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    image = np.random.default_rng(0).integers(0, 256, (12, 12, 1)).astype("uint8")
    model.save(tmp_path / "cnn.keras")
    loaded = keras.saving.load_model(tmp_path / "cnn.keras")
    for method in (sal.GRAD_CAM, sal.INTEGRATED_GRADIENTS):
        before, after = sal.saliency(model, image, 1, method), sal.saliency(loaded, image, 1, method)
        assert after.score == before.score == "logit"
        np.testing.assert_allclose(after.map, before.map, atol=1e-5)
        np.testing.assert_allclose(after.scores, before.scores, rtol=1e-5, atol=1e-6)
