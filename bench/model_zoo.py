"""The zoo's models, each added as the Model page adds it: accuracy reported vs ``model.evaluate``, the methods, a map.

For every model of ``tests/model_zoo.py`` (look-alikes of the classifiers people share, trained
here on the bundled digits), it prints the accuracy featlib reports (the ``upload`` job,
``featlib.jobs.tasks.check_upload``, run in this process), the accuracy ``model.evaluate`` gives
with the scaling the model expects, the largest absolute difference between the backend function
and the functional sub-model over every layer on the 360 test images (and the layer where it is
largest), and the wall time of a UMAP map (featlib's defaults) of its default layer's
representation of the 1,437 train images, after one warm-up map so Numba's compilation is not counted.

    .venv/bin/python bench/model_zoo.py [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def measure(name: str, folder: Path, digits) -> dict:
    """One model's row: reported and evaluated accuracy, methods' difference, time to map."""
    import model_zoo

    from featlib import models
    from featlib.jobs import tasks
    from featlib.maps import embed
    from featlib.read import extract

    saved = model_zoo.ZOO[name](folder, digits)
    checked = tasks.check_upload(
        data=saved.path.read_bytes(), filename=saved.path.name, dataset=digits, input_scale=saved.scale
    )
    model = models.model_from_bytes(checked["model"])
    x_test = models.adapt_images(digits.split("test")[0], model, saved.scale)
    diffs = model_zoo.every_layer_by_both_methods(model, x_test)
    worst = max(diffs, key=diffs.get)
    layer = models.default_layer(model)
    reps = extract.extract(model, layer, models.adapt_images(digits.split("train")[0], model, saved.scale))
    start = time.perf_counter()
    embed.reduce(reps, embed.UMAPParams())
    return {
        "model": name,
        "architecture": checked["architecture"],
        "output": checked.get("output"),
        "reported_acc": checked["accuracy"],
        "evaluate_acc": saved.accuracy,
        "max_abs_diff": diffs[worst],
        "worst_layer": worst,
        "layers": len(diffs),
        "default_layer": layer,
        "map_s": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()
    import model_zoo
    import numpy as np

    from featlib import datasets
    from featlib.maps import embed

    digits = datasets.load_digits()
    embed.reduce(np.random.default_rng(0).random((300, 8), dtype=np.float32), embed.UMAPParams())  # compile once
    with tempfile.TemporaryDirectory() as folder:
        rows = [measure(name, Path(folder), digits) for name in model_zoo.ZOO]
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(
        f"{'model':<16} {'reported':>8} {'evaluate':>8} {'max |f - s|':>11} {'layers':>6}  {'default layer':<14} "
        f"{'map s':>5}"
    )
    for r in rows:
        print(
            f"{r['model']:<16} {r['reported_acc']:>8.4f} {r['evaluate_acc']:>8.4f} {r['max_abs_diff']:>11.2e} "
            f"{r['layers']:>6}  {r['default_layer']:<14} {r['map_s']:>5.1f}"
        )


if __name__ == "__main__":
    main()
