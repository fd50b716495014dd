"""A model that states its input scaling (a Rescaling or Normalization layer at its input, nested blocks before it
included) is scored and read at that scaling by default: ``featlib add``, the Model page's upload and everything
after (issue 23, item 3). The user can still choose another."""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import models
from featlib.cli import main
from featlib.models.inputs import OWN_SCALE, SCALE_CHOICES, resolve_input_scale
from featlib.store import Workspace

EPOCHS = 8


def _train_raw(model, digits) -> float:
    """Trains ``model`` on the raw 0–255 digits and returns its test accuracy by ``model.evaluate`` on raw pixels."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(digits.x_train[..., None].astype("float32"), digits.y_train, epochs=EPOCHS, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(digits.x_test[..., None].astype("float32"), digits.y_test, verbose=0)
    return float(accuracy)


def augmented_rescaling_model():
    """The issue's kind: a nested augmentation block, then ``Rescaling(1/255)``, then the classifier."""
    import keras
    from keras import layers as kl

    keras.utils.set_random_seed(0)
    augmentation = keras.Sequential(
        [kl.RandomFlip("horizontal"), kl.RandomRotation(0.05), kl.RandomZoom(0.1)], name="augmentation"
    )
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            augmentation,
            kl.Rescaling(1 / 255, name="to_unit"),
            kl.Flatten(),
            kl.Dense(32, activation="relu"),
            kl.Dense(10, activation="softmax", name="out"),
        ],
        name="augmented",
    )


def nested_normalization_model(digits):
    """A functional model whose ``preprocessing`` block holds an augmentation block (RandAugment, MixUp: names
    without ``Random``) and a Normalization adapted on raw pixels."""
    import keras
    from keras import layers as kl

    keras.utils.set_random_seed(1)
    norm = kl.Normalization(axis=None, name="standardise")
    norm.adapt(digits.x_train[..., None].astype("float32"))
    augmentation = keras.Sequential([kl.RandAugment(value_range=(0, 255)), kl.MixUp()], name="augmentation")
    preprocessing = keras.Sequential([keras.Input((8, 8, 1)), augmentation, norm], name="preprocessing")
    inputs = keras.Input((8, 8, 1))
    x = kl.Flatten()(preprocessing(inputs))
    x = kl.Dense(32, activation="relu")(x)
    return keras.Model(inputs, kl.Dense(10, activation="softmax", name="out")(x), name="normalised")


@pytest.fixture(scope="module")
def scaled_files(tmp_path_factory, digits):
    """``{kind: (path of the .keras file, its test accuracy by model.evaluate on raw pixels)}``."""
    folder = tmp_path_factory.mktemp("own_scaling")
    files = {}
    for kind, model in (
        ("rescaling", augmented_rescaling_model()),
        ("normalization", nested_normalization_model(digits)),
    ):
        accuracy = _train_raw(model, digits)
        assert accuracy > 0.8, (kind, accuracy)  # a model that learned: its own scaling scores far above chance
        model.save(folder / f"{kind}.keras")
        files[kind] = (folder / f"{kind}.keras", accuracy)
    return files


def _add(tmp_path, capsys, path, name: str, *options: str):
    """``featlib add`` in this process; (the record, what it printed)."""
    workspace = tmp_path / "ws"
    capsys.readouterr()
    assert main(["--workspace", str(workspace), "add", str(path), "--name", name, "--dataset", "digits", *options]) == 0
    return Workspace(workspace).get_model(name), capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, layer",
    [
        ("rescaling", "its Rescaling layer 'to_unit' at the input (it multiplies its inputs by 0.003922)"),
        ("normalization", "its Normalization layer 'standardise' at the input (the mean it subtracts is 77.9"),
    ],
)
def test_add_scores_a_model_at_the_scaling_its_own_layer_states(tmp_path, capsys, scaled_files, kind, layer):
    path, evaluated = scaled_files[kind]
    record, out = _add(tmp_path, capsys, path, kind)
    assert record.input_scale == "0-255"
    assert record.test_accuracy == pytest.approx(evaluated, abs=1e-6), out  # as model.evaluate on raw pixels
    assert f"accuracy {evaluated:.4f} on digits, test split, 360 images" in out
    assert f"input scaling: raw pixels 0–255 ('0-255'), the model's own, stated by {layer}" in out, out
    assert "(choose another with --scale)" in out and "near chance" not in out


def test_the_user_can_still_choose_another_scaling(tmp_path, capsys, scaled_files):
    path, evaluated = scaled_files["rescaling"]
    record, out = _add(tmp_path, capsys, path, "chosen", "--scale", "0-1")
    assert record.input_scale == "0-1" and record.test_accuracy < 0.3  # the near-chance score, as asked
    assert (
        "input scaling: pixels / 255 (as the seed) ('0-1'), as chosen; the model's own is raw pixels 0–255 ('0-255'), "
        "stated by its Rescaling layer 'to_unit' at the input (it multiplies its inputs by 0.003922)"
    ) in out, out


def test_a_model_that_states_no_scaling_gets_pixels_over_255_and_says_so(tmp_path, capsys, model):
    path = tmp_path / "seed.keras"
    model.save(path)
    record, out = _add(tmp_path, capsys, path, "seed")
    assert record.input_scale == "0-1" and record.test_accuracy > 0.8
    assert (
        "input scaling: pixels / 255 (as the seed) ('0-1'): the model states no input scaling (it has no Rescaling "
        "or Normalization layer at its input)"
    ) in out, out


def test_its_own_scaling_is_kept_everywhere_after(tmp_path, capsys, scaled_files, digits):
    """``extract`` reads the added model at the scaling it was added with: its own, raw pixels."""
    import keras

    path, _ = scaled_files["rescaling"]
    _add(tmp_path, capsys, path, "kept")
    out = tmp_path / "hidden.npy"
    workspace = str(tmp_path / "ws")
    layer = "dense"
    assert main(["--workspace", workspace, "extract", "kept", "--layer", layer, "--dataset", "digits"] + [
        "--split", "test", "--out", str(out)
    ]) == 0  # fmt: skip
    model = keras.models.load_model(path)
    expected = keras.Model(model.inputs, model.get_layer(layer).output).predict(
        digits.x_test[..., None].astype("float32"), verbose=0
    )
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-5, atol=1e-5)


def test_adapt_images_gives_a_model_its_own_scaling_by_default(scaled_files, model, digits):
    import keras

    stated = keras.models.load_model(scaled_files["rescaling"][0])
    assert models.adapt_images(digits.x_test[:5], stated).max() == 255.0  # raw pixels, as its Rescaling states
    assert models.adapt_images(digits.x_test[:5], stated, "0-1").max() == pytest.approx(1.0)  # another, as asked
    assert models.adapt_images(digits.x_test[:5], model).max() <= 1.0  # the seed states none: pixels / 255


def test_an_unknown_scaling_is_refused_naming_the_choices(model):
    with pytest.raises(models.ModelError, match=r"Unknown input scale: '0-16'. Expected one of \['own', '0-1', "):
        resolve_input_scale(model, "0-16")


# ----------------------------------------------------------------------------- the Model page


def test_the_model_page_offers_the_models_own_scaling_first_and_by_default(app):
    at = no_exception(app.run().switch_page(page_path("model")).run())
    radio = at.radio(key="upload_scale")
    assert radio.value == OWN_SCALE
    assert radio.options[0] == SCALE_CHOICES[OWN_SCALE] and "Rescaling or Normalization" in radio.options[0]


def _upload_page(path: str, name: str, scale: str) -> None:
    """Uploads the file at ``path`` with the page's own function (the upload's bytes and name), then shows the card."""
    import io as _io
    from pathlib import Path as _Path

    from featlib import datasets as _datasets
    from featlib.app import actions, model_card

    dataset = _datasets.load_digits()
    upload = _io.BytesIO(_Path(path).read_bytes())
    upload.name = _Path(path).name
    actions.add_uploaded_model(upload, name, scale, dataset)
    record = model_card.current()
    if record is not None:
        model_card.show(record, dataset)


def test_an_upload_on_the_page_is_scored_at_the_models_own_scaling_and_the_card_says_so(
    tmp_path, monkeypatch, scaled_files
):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    path, evaluated = scaled_files["rescaling"]
    at = no_exception(
        AppTest.from_function(_upload_page, args=(str(path), "page", OWN_SCALE), default_timeout=120).run()
    )
    [record] = Workspace(tmp_path / "ws").list_models()
    assert record.input_scale == "0-255" and record.test_accuracy == pytest.approx(evaluated, abs=1e-6)
    successes = " ".join(s.value for s in at.success).replace("\\", "")
    assert f"Accuracy {evaluated:.4f}" in successes and "Input scaling: raw pixels 0–255." in successes
    captions = " ".join(c.value for c in at.caption).replace("\\", "")
    assert "Input scaling: raw pixels 0–255 ('0-255'), the model's own" in captions, captions
    assert not at.warning  # no "it implies another scaling" warning, no near-chance hints
