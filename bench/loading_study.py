"""Figures for issue 23 items 1, 2, 5 (from the repository root: .venv/bin/python bench/loading_study.py).

Before = what the code before the change did (a plain keras.Function for the backend function; Keras's
own load of the file); after = featlib now. Test models are the ones of tests/test_inference_mode.py,
tests/test_keras2_old_files.py and tests/test_custom_layers.py.
"""

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, "tests")
import keras  # noqa: E402
import test_custom_layers as tc  # noqa: E402
import test_inference_mode as ti  # noqa: E402
import test_keras2_old_files as to  # noqa: E402

from featlib import datasets, models  # noqa: E402
from featlib.models.config import first_line  # noqa: E402
from featlib.read import extract  # noqa: E402


def plain_function(model, name, x):
    """The backend function before the change: keras.Function without training, on a copy of ``model``.

    A copy: where the graph recorded training=True, the plain function also updated BatchNormalization's
    moving statistics, changing the model it read.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    fn = keras.Function(inputs=copy.inputs, outputs=[copy.get_layer(name).output])
    return keras.ops.convert_to_numpy(fn([x])[0]).reshape(len(x), -1)


def per_layer(model, x):
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        sub = extract.extract(model, layer.name, x, method="submodel")
        before = float(np.abs(plain_function(model, layer.name, x) - sub).max())
        after = float(np.abs(extract.extract(model, layer.name, x, method="function") - sub).max())
        rows.append((layer.name, before, after))
    return rows


def show(title, rows):
    print(f"\n{title}\n  {'layer':<14} {'before':>12} {'after':>12}")
    for name, before, after in rows:
        print(f"  {name:<14} {before:12.6g} {after:12.6g}")


digits = datasets.load_digits()
keras.utils.set_random_seed(0)
aug = ti.augmented_cnn()
aug.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
aug.fit(digits.x_train.reshape(-1, 8, 8, 1).astype("float32"), digits.y_train, epochs=3, verbose=0)
x_img = digits.x_test.reshape(-1, 8, 8, 1).astype("float32")
show(
    "1a. augmented CNN (nested RandomRotation/Translation/Zoom, BN, Dropout), 360 test digits, 0-255:",
    per_layer(aug, x_img),
)
cmp = extract.compare_methods({m: extract.Extractor(aug, "conv", m) for m in extract.METHODS}, x_img, repeats=1)
print(f"  method check on 'conv' now: max_abs_diff={cmp.max_abs_diff:.3g} agree={cmp.agree}")
noisy = ti.with_moving_statistics(ti.noisy_mlp())
x_flat = digits.x_test.reshape(-1, 64).astype("float32")
show(
    "1b. MLP with GaussianNoise/Dropout in a nested Sequential, and noise/BN/dropout recorded training=True:",
    per_layer(noisy, x_flat),
)

with tempfile.TemporaryDirectory() as folder:
    folder = Path(folder)
    print("\n2. Keras 2.0/2.1 .h5 files")
    to.keras21_cnn(folder / "keras21_cnn.h5")
    to.keras1_mlp(folder / "keras1.h5")
    for name in ("keras21_cnn.h5", "keras1.h5"):
        try:
            keras.saving.load_model(folder / name, compile=False)
            before = "loads"
        except Exception as error:
            before = f"Keras could not load {name}: {first_line(error)}"
        try:
            model = models.load_model(folder / name)
            x = np.random.default_rng(0).random((32, *models.input_shape(model)), dtype=np.float32)
            diffs = to.every_layer_by_both_methods(model, x)
            after = f"loads, input {models.input_shape(model)}; largest method difference per layer: {diffs}"
        except Exception as error:
            after = f"{type(error).__name__}: {error}"
        print(f"  {name}\n    before: {before}\n    after:  {after}")

    print("\n5. custom layer (keras_contrib InstanceNormalization in a Keras 2 .h5)")
    tc.contrib_h5(folder / "contrib.h5")
    try:
        keras.saving.load_model(folder / "contrib.h5", compile=False, safe_mode=True)
    except Exception as error:
        print(f"  before: Keras could not load contrib.h5: {first_line(error)}")
    try:
        models.load_model(folder / "contrib.h5")
    except Exception as error:
        print(f"  after:  {error}")
