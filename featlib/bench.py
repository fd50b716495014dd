"""``python -m featlib bench``: the product's costs, measured in one run on the same data.

Figures: training the seed MLP, a plain NumPy forward pass up to the layer
(the floor), each extraction method, UMAP cold (a fresh process, Numba
compiling) and warm (the same fit again in that process), and the 10-NN
accuracy of the 2-D map. Timings are medians of several runs where a repeat
is meaningful.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from featlib.embed import UMAPParams

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": lambda z: np.exp(z - z.max(axis=1, keepdims=True))
    / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
}


def numpy_forward(model, layer_name: str, x: np.ndarray) -> np.ndarray:
    """The output of ``layer_name`` computed with NumPy alone from the model's weights.

    Supports the seed MLP's layers (``Dense`` and ``Activation`` with linear,
    ReLU or softmax); it is the floor that extraction methods are compared to.
    """
    out = x.reshape(len(x), -1).astype("float32")
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            kernel, bias = layer.get_weights()
            out = _ACTIVATIONS[layer.get_config()["activation"]](out @ kernel + bias)
        elif kind == "Activation":
            out = _ACTIVATIONS[layer.get_config()["activation"]](out)
        elif kind != "InputLayer":
            raise ValueError(f"numpy_forward supports Dense and Activation layers; got {kind} ({layer.name}).")
        if layer.name == layer_name:
            return out
    raise ValueError(f"No such layer: {layer_name}.")


def median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up run."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return float(np.median(runs))


_UMAP_CHILD = """
import json, sys, time
import numpy as np
from featlib.embed import UMAPParams, umap_embed
x = np.load(sys.argv[1])
params = UMAPParams(**json.loads(sys.argv[2]))
times = []
for _ in range(2):
    start = time.perf_counter()
    coords = umap_embed(x, params)
    times.append(time.perf_counter() - start)
np.save(sys.argv[3], coords)
print(json.dumps({"cold": times[0], "warm": times[1]}))
"""


def umap_cold_and_warm(x: np.ndarray, params: UMAPParams) -> tuple[float, float, np.ndarray]:
    """Fits UMAP twice in a fresh Python process: ``(cold_s, warm_s, coords)``."""
    with tempfile.TemporaryDirectory() as folder:
        data, coords = Path(folder) / "x.npy", Path(folder) / "coords.npy"
        np.save(data, x)
        params_json = json.dumps(params.__dict__)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [sys.executable, "-c", _UMAP_CHILD, str(data), params_json, str(coords)],
            capture_output=True, text=True, env=env, check=True,
        )  # fmt: skip
        times = json.loads(done.stdout.strip().splitlines()[-1])
        return times["cold"], times["warm"], np.load(coords)


def run(dataset: str = "digits", n_points: int = 10_000, layer: str = "dense_1", epochs: int = 2) -> dict:
    """Measures everything on ``n_points`` images of ``dataset``; returns the figures."""
    from featlib import cli, embed, extract, models

    data = cli.load_dataset(dataset)
    images, labels = data.split("train")
    images, labels = images[:n_points], labels[:n_points]
    h, w = data.image_shape
    model = models.build_mlp((h * w,), num_classes=data.num_classes)
    x = models.adapt_images(images, model)
    x_test, y_test = data.split("test")
    trained = models.train(
        model, x, labels, models.adapt_images(x_test, model), y_test, epochs=epochs, batch_size=128
    )
    floor = median_seconds(lambda: numpy_forward(model, layer, x))
    extractors = {m: extract.Extractor(model, layer, m) for m in extract.METHODS}
    seconds = {m: median_seconds(lambda e=e: e(x)) for m, e in extractors.items()}
    reps = extractors["function"](x)
    max_diff = float(np.max(np.abs(reps - numpy_forward(model, layer, x))))
    cold, warm, coords = umap_cold_and_warm(reps, UMAPParams())
    return {
        "dataset": data.name,
        "n_points": int(len(x)),
        "layer": layer,
        "units": int(reps.shape[1]),
        "train_s": trained.seconds,
        "train_epochs": epochs,
        "test_accuracy": trained.test_accuracy,
        "numpy_forward_s": floor,
        "extract_function_s": seconds["function"],
        "extract_submodel_s": seconds["submodel"],
        "max_abs_diff_vs_numpy": max_diff,
        "umap_cold_s": cold,
        "umap_warm_s": warm,
        "knn_acc_2d": embed.knn_accuracy(coords, labels),
    }


def format_table(figures: dict) -> str:
    """The figures as an aligned two-column table."""
    width = max(len(k) for k in figures)
    lines = []
    for key, value in figures.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)
