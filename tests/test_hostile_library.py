"""The hostile corpus through the library: every bad file is refused with its reason.

Each case of ``hostile_corpus.CASES`` goes through the loader a user's file
goes through (``models.load_model``, ``datasets.load_npz``,
``datasets.load_idx``; for models that load but cannot fit the digits,
``models.adapt_images``), which must raise ``ModelError`` / ``DatasetError`` /
``InputMismatchError`` whose message holds the case's fragment. No code in a
file may run (the canary files never appear) and nothing is written next to
the files.
"""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import hostile_corpus as hc
import pytest

from featlib import datasets, models
from featlib.datasets import DatasetError
from featlib.models import InputMismatchError, ModelError

REQUIRED = {
    "keras_lambda",
    "keras_os_system",
    "keras_builtins_eval",
    "keras_lambda_function",
    "h5_lambda",
    "savedmodel_keras",
    "savedmodel_zip",
    "keras_truncated",
    "keras_zip_bomb",
    "npz_zip_bomb",
    "npz_pickle",
    "npz_nan",
    "npz_complex",
    "npz_str_images",
    "npz_count_mismatch",
    "npz_labels_out_of_range",
    "npz_labels_negative",
    "idx_lying_header",
    "keras_empty",
    "npz_empty",
    "idx_empty",
    "keras_oversize",
    "npz_oversize",
    "idx_oversize",
    "model_two_inputs",
    "model_input_5x7x3",
    "model_flat_50",
    "model_no_layers",
    "npz_one_class",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("hostile")
    return folder, hc.make_all(folder)


def listing(folder: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def load(case: hc.Case, folder: Path, path: Path):
    """Feeds one case's file to the loader a user's file would go through."""
    if case.kind == "model":
        return models.load_model(path)
    if case.kind == "npz":
        return datasets.load_npz(path)
    files = hc.idx_companions(case, folder, path)
    return datasets.load_idx(*(files.get(part) for part in hc.IDX_PARTS))


def test_the_corpus_is_large_and_covers_the_required_cases():
    names = [case.name for case in hc.CASES]
    assert len(names) >= 20 and len(set(names)) == len(names)
    assert REQUIRED <= set(names), REQUIRED - set(names)
    assert {case.kind for case in hc.CASES} == {"model", "npz", "idx"}


@pytest.mark.parametrize("case", hc.CASES, ids=[case.name for case in hc.CASES])
def test_each_hostile_file_is_refused_with_its_reason(case, corpus, digits, monkeypatch):
    folder, paths = corpus
    path = paths[case.name]
    if case.limit_mb:
        monkeypatch.setenv("FEATLIB_MAX_UPLOAD_MB", str(case.limit_mb))  # MAX_UPLOAD_BYTES and MAX_MODEL_BYTES
    if case.kind == "idx":
        hc.idx_companions(case, folder, path)  # written before the listing is taken
    before = listing(folder)
    expected = re.escape(case.expected)
    if case.stage == "adapt":
        model = load(case, folder, path)
        with pytest.raises(InputMismatchError, match=expected):
            models.adapt_images(digits.x_test, model)
    else:
        error = ModelError if case.kind == "model" else DatasetError
        with pytest.raises(error, match=expected):
            load(case, folder, path)
    assert not hc.canary(folder, case.name).exists(), "the file's code ran"
    assert listing(folder) == before, "loading wrote next to the file"


@pytest.mark.parametrize("name", [case.name for case in hc.CASES if case.canary])
def test_the_canaries_would_fire_if_the_code_ran(name, tmp_path):
    """The corpus is honest: loaded unsafely and run, these files run their code."""
    import keras
    import numpy as np

    path = hc.CASES_BY_NAME[name].make(tmp_path)
    assert not hc.canary(tmp_path, name).exists()
    model = keras.saving.load_model(path, compile=False, safe_mode=False)
    model.predict(np.zeros((1, 64), "float32"), verbose=0)
    assert hc.canary(tmp_path, name).exists()


def test_the_bombs_are_real(corpus):
    _, paths = corpus
    for name in ("keras_zip_bomb", "npz_zip_bomb"):
        with zipfile.ZipFile(paths[name]) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
        assert inflated >= hc.BOMB_BYTES and paths[name].stat().st_size < hc.BOMB_BYTES / 500
    with gzip.open(paths["idx_gzip_bomb"]) as stream:
        assert len(stream.read()) >= hc.BOMB_BYTES
    assert paths["idx_gzip_bomb"].stat().st_size < hc.BOMB_BYTES / 500


def test_a_crafted_config_cannot_switch_safe_mode_off(corpus):
    from keras.src.saving.serialization_lib import in_safe_mode

    _, paths = corpus
    with pytest.raises(ModelError):
        models.load_model(paths["keras_unsafe_toggle"])
    assert in_safe_mode() is not False


@pytest.mark.parametrize("name", ["keras_oversize", "npz_oversize", "idx_oversize"])
def test_the_oversize_files_are_valid_under_the_default_limit(name, corpus):
    """Only the limit refuses them."""
    folder, paths = corpus
    case = hc.CASES_BY_NAME[name]
    assert paths[name].stat().st_size > case.limit_mb * 2**20
    assert load(case, folder, paths[name]) is not None


def test_a_savedmodel_folder_is_refused_with_the_reason(tmp_path):
    folder = hc._savedmodel_dir(tmp_path)
    with pytest.raises(
        ModelError,
        match=r"savedmodel is a TensorFlow SavedModel folder \(it holds saved_model.pb\)"
        r".*Re-save the model in Keras 3 format",
    ):
        models.load_model(folder)


def test_real_models_pass_the_config_rules(tmp_path):
    """No false alarms: layers, regularizers, schedules and a compiled loss function load."""
    import keras
    import numpy as np

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(
        4,
        3,
        activation=keras.activations.relu,
        kernel_regularizer=keras.regularizers.L2(1e-3),
        kernel_constraint=keras.constraints.MaxNorm(2),
    )(inputs)
    x = keras.layers.Dropout(0.1)(keras.layers.MaxPooling2D()(keras.layers.BatchNormalization()(x)))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x)))
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.sparse_categorical_crossentropy,
        metrics=["accuracy", keras.metrics.SparseCategoricalAccuracy()],
    )
    model.fit(np.zeros((4, 8, 8, 1)), np.zeros(4), verbose=0)
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"zoo{suffix}")
        assert len(models.load_model(tmp_path / f"zoo{suffix}").layers) == len(model.layers)


def test_upload_limit_setting():
    mib = 1024 * 1024
    assert datasets.upload_limit_bytes({}) == 200 * mib
    assert datasets.upload_limit_bytes({"FEATLIB_MAX_UPLOAD_MB": " 1 "}) == mib
    assert datasets.upload_limit_bytes({"FEATLIB_MAX_UPLOAD_MB": "0.5"}) == mib // 2
    for bad in ("0", "-3", "abc", "nan", "inf"):
        with pytest.raises(ValueError, match=rf"FEATLIB_MAX_UPLOAD_MB must be a positive number .* got '{bad}'"):
            datasets.upload_limit_bytes({"FEATLIB_MAX_UPLOAD_MB": bad})
    env = dict(os.environ, FEATLIB_MAX_UPLOAD_MB="3")
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from featlib import datasets, models; print(datasets.MAX_UPLOAD_BYTES, models.MAX_MODEL_BYTES)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.split() == [str(3 * mib)] * 2
