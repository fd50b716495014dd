"""What a convolutional layer costs read flattened and read pooled: MiB of the representation, peak memory, time.

A small CNN (28×28×1 → Conv2D 32 → MaxPooling2D → Conv2D 64 → Flatten → Dense 64 → Dense 10, seeded,
untrained: sizes and times do not depend on the weights) reads the 10,000 Fashion-MNIST test images
(Debian's dataset-fashion-mnist, ``/usr/share/datasets/fashion-mnist/t10k-*``, loaded with
``featlib.datasets.load_idx(..., single_split="test")``). For each convolutional layer and each
reduction (flatten, gap, gmp) and method it prints the representation's shape and MiB, the peak of
NumPy memory while extracting (``tracemalloc``: the arrays featlib allocates, not TensorFlow's own
buffers), how much the process's peak resident memory grew while extracting (``ru_maxrss``; each
row runs in a fresh process so that one row's peak does not hide the next's) and the wall time,
after one warm-up call so tracing is not counted. The row ``before``
is the path featlib took before reductions existed: one ``Model.predict(x, batch_size=8192)`` of
the whole split, then ``reshape(n, -1)``.

    .venv/bin/python bench/conv_memory.py [--folder /usr/share/datasets/fashion-mnist] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

FOLDER = Path("/usr/share/datasets/fashion-mnist")
LAYERS = ("conv2d", "conv2d_1")


def build_cnn():
    """The seeded 28×28 CNN whose layers are measured."""
    import keras

    kl = keras.layers
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            kl.Conv2D(32, 3, activation="relu", name="conv2d"),
            kl.MaxPooling2D(name="pool"),
            kl.Conv2D(64, 3, activation="relu", name="conv2d_1"),
            kl.Flatten(name="flatten"),
            kl.Dense(64, activation="relu", name="dense"),
            kl.Dense(10, activation="softmax", name="dense_1"),
        ],
        name="cnn",
    )


def measure(model, layer: str, x, reduction: str, method: str) -> dict:
    """One extraction of ``layer`` (warm): the representation's shape and MiB, peak traced MiB, seconds."""
    from featlib.read.extract import Extractor

    extractor = Extractor(model, layer, method, reduction)
    extractor(x[:64])  # traces the function or sub-model
    out, seconds, peak, rss = _watched(lambda: extractor(x))
    return {
        "layer": layer,
        "output": "×".join(map(str, extractor.representation.shape)),
        "reduction": reduction,
        "method": method,
        "shape": list(out.shape),
        "mib": out.nbytes / 2**20,
        "peak_mib": peak,
        "rss_mib": rss,
        "seconds": seconds,
    }


def _watched(work):
    """``work()``'s result, seconds, peak traced MiB and growth of the peak resident MiB (Linux: ru_maxrss in KiB)."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    out = work()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    return out, seconds, peak / 2**20, rss


def measure_before(model, layer: str, x) -> dict:
    """The earlier path: the sub-model's ``predict`` of every image at once, flattened afterwards."""
    import keras

    submodel = keras.Model(model.inputs, model.get_layer(layer).output)
    submodel.predict(x[:64], batch_size=8192, verbose=0)
    out, seconds, peak, rss = _watched(
        lambda: submodel.predict(x, batch_size=8192, verbose=0).reshape(len(x), -1).astype("float32", copy=False)
    )
    return {
        "layer": layer,
        "output": "×".join(map(str, submodel.output.shape[1:])),
        "reduction": "before",
        "method": "predict",
        "shape": list(out.shape),
        "mib": out.nbytes / 2**20,
        "peak_mib": peak,
        "rss_mib": rss,
        "seconds": seconds,
    }


def one(folder: Path, layer: str, reduction: str, method: str) -> dict:
    """One (layer, reduction, method) on the 10,000 test images, in this process."""
    from featlib import datasets, models

    dataset = datasets.load_idx(
        folder / "t10k-images-idx3-ubyte.gz",
        folder / "t10k-labels-idx1-ubyte.gz",
        name="fashion-mnist-t10k",
        single_split="test",
    )
    model = build_cnn()
    x = models.adapt_images(dataset.split("test")[0], model, "0-1")
    return measure_before(model, layer, x) if reduction == "before" else measure(model, layer, x, reduction, method)


def run(folder: Path) -> list[dict]:
    """Every (layer, reduction, method), each in a fresh process."""
    from featlib.read.extract import METHODS
    from featlib.read.reductions import REDUCTIONS

    cases = [(layer, "before", "predict") for layer in LAYERS]
    cases += [(layer, reduction, method) for layer in LAYERS for reduction in REDUCTIONS for method in METHODS]
    rows = []
    for layer, reduction, method in sorted(cases, key=lambda case: LAYERS.index(case[0])):
        proc = subprocess.run(
            [sys.executable, __file__, "--folder", str(folder), "--one", layer, reduction, method],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def table(rows: list[dict]) -> str:
    """The rows as a fixed-width table."""
    lines = [
        f"{'layer':<9} {'output':<9} {'reduction':<9} {'method':<9} {'representation':>15} {'MiB':>8} "
        f"{'traced MiB':>10} {'+RSS MiB':>9} {'seconds':>8}"
    ]
    for r in rows:
        shape = " × ".join(f"{d:,}" for d in r["shape"])
        lines.append(
            f"{r['layer']:<9} {r['output']:<9} {r['reduction']:<9} {r['method']:<9} {shape:>15} "
            f"{r['mib']:>8.1f} {r['peak_mib']:>10.1f} {r['rss_mib']:>9.1f} {r['seconds']:>8.2f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=FOLDER, help=f"folder of the t10k IDX files (default {FOLDER})")
    parser.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    parser.add_argument(
        "--one",
        nargs=3,
        metavar=("LAYER", "REDUCTION", "METHOD"),
        help="measure one case in this process and print it as JSON (used by the full run)",
    )
    args = parser.parse_args()
    if not (args.folder / "t10k-images-idx3-ubyte.gz").is_file():
        print(
            f"error: no t10k-images-idx3-ubyte.gz in {args.folder} (install Debian's dataset-fashion-mnist)",
            file=sys.stderr,
        )
        return 2
    if args.one:
        print(json.dumps(one(args.folder, *args.one)))
        return 0
    rows = run(args.folder)
    print(json.dumps(rows) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
