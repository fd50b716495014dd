"""Which UMAP metric and n_neighbors make the best maps, by layer kind: the study behind featlib's defaults.

For each layer of a few models and datasets it maps a stratified sample with
featlib's own UMAP (:func:`featlib.maps.embed.umap_embed`: featlib's epochs
schedule, PCA to 50 columns above 100 units, a fixed seed) for every
``metric`` in {euclidean, cosine, correlation} × ``n_neighbors`` in
{10, 15, 30}, and scores each map by

- ``knn_acc_2d``: 5-fold 10-NN accuracy of the 2-D map against the labels
  (:func:`featlib.metrics.knn_accuracy`, the figure the bench and the pages
  show): how well the map keeps the classes apart;
- ``trustworthiness``: scikit-learn's trustworthiness with 10 neighbours
  (Venna & Kaski 2001; :func:`featlib.metrics.trustworthiness`), measured with
  Euclidean distances in the layer, as the Explore page shows it: how many of
  a point's map neighbours are strangers in the layer. Measured in the
  layer's Euclidean space it favours Euclidean maps: cosine maps are judged by
  a yardstick that is not theirs; so also
- ``trustworthiness_own``: the same with the map's own metric in the layer.

Models (all seeded; trained with featlib's default preset, Adam):

- the seed MLP (784 → Dense 128 → ReLU → Dense 64 → ReLU → Dense 10 →
  softmax, each activation its own layer) on scikit-learn's digits (8×8; all
  1,797 images mapped) and on Fashion-MNIST (all 60,000 train images for
  training, 5,000 stratified test images mapped). Layers: ``dense`` and
  ``dense_1`` (pre-activation), ``activation`` and ``activation_1`` (ReLU
  outputs), ``activation_2`` (the softmax output);
- the seed MLP trained as ``python -m featlib bench`` trains it (SGD,
  learning rate 0.01, 2 epochs: a half-trained model, whose ``dense_1`` is the
  bench's map) on Fashion-MNIST: ``dense_1``, ``activation_1``, ``activation_2``;
- a small CNN on Fashion-MNIST (28×28×1 → Conv2D 32 ReLU → MaxPooling →
  Conv2D 64 ReLU → Flatten → Dense 64 ReLU → Dense 10 softmax; the layers of
  ``bench/conv_memory.py``), trained ``--cnn-epochs`` epochs. Layers:
  ``conv2d`` and ``conv2d_1`` read by global average pooling (conv features),
  ``dense`` (its hidden Dense, ReLU).

Prints a table per layer kind (pre-activation, relu, softmax, conv-gap) with
each setting's mean over that kind's layers, and a summary over all layers;
writes every figure to ``bench/defaults_study.json``. Seeded: the same
figures on every run (the shared CPU only slows it).

    .venv/bin/python bench/defaults_study.py [--points 5000] [--seeds 42] [--cnn-epochs 2] [--out bench/defaults_study.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

METRICS = ("euclidean", "cosine", "correlation")
N_NEIGHBORS = (10, 15, 30)
BENCH_IMAGES = 10_000
"""``python -m featlib bench`` trains its model on (and maps) this many Fashion-MNIST train images."""
SETTINGS = tuple((m, k) for m in METRICS for k in N_NEIGHBORS) + (("auto", 15),)
"""Every (metric, n_neighbors) mapped; ``auto`` is featlib's default rule (:mod:`featlib.maps.auto_metric`)."""
KINDS = ("pre-activation", "relu", "softmax", "conv-gap")
OUT = Path(__file__).resolve().parent / "defaults_study.json"


@dataclass(frozen=True)
class Layer:
    """One layer studied: its model, name, kind (a key of :data:`KINDS`) and how it is read."""

    model: str
    name: str
    kind: str
    reduction: str = "flatten"


MLP_LAYERS = (
    ("dense", "pre-activation"),
    ("activation", "relu"),
    ("dense_1", "pre-activation"),
    ("activation_1", "relu"),
    ("activation_2", "softmax"),
)
CNN_LAYERS = (("conv2d", "conv-gap", "gap"), ("conv2d_1", "conv-gap", "gap"), ("dense", "relu", "flatten"))


def build_cnn():
    """The seeded small CNN of ``bench/conv_memory.py``, uncompiled."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from conv_memory import build_cnn as conv_memory_cnn

    return conv_memory_cnn()


MODELS = (
    "mlp/digits",
    "mlp/fashion_mnist",
    "mlp-sgd-2ep/fashion_mnist",
    "mlp-bench/fashion_mnist",
    "cnn/fashion_mnist",
)


def representations(
    points: int, cnn_epochs: int, log=print, models_wanted: tuple[str, ...] = MODELS
) -> list[tuple[Layer, np.ndarray, np.ndarray, dict]]:
    """Trains the models (those of ``models_wanted``) and reads every studied layer of the mapped images.

    Returns:
        ``(layer, reps float32 (n, units), labels int (n,), model facts)`` per layer.
    """
    from featlib import datasets, models
    from featlib.maps import embed
    from featlib.models import presets as training_presets
    from featlib.read import extract

    preset = training_presets.preset(training_presets.DEFAULT_PRESET)
    out = []
    for label, name in (
        ("mlp", "digits"),
        ("mlp", "fashion_mnist"),
        ("mlp-sgd-2ep", "fashion_mnist"),
        ("mlp-bench", "fashion_mnist"),
    ):
        if f"{label}/{name}" not in models_wanted:
            continue
        data = datasets.load_builtin(name)
        h, w = data.image_shape
        epochs, batch = preset.for_size(len(data.y_train))
        optimizer, rate = preset.optimizer, preset.learning_rate
        x_train, y_train = data.x_train, data.y_train
        if label.startswith("mlp-"):  # as python -m featlib bench trains it: SGD, 2 epochs
            epochs, batch, optimizer, rate = 2, 128, "sgd", 0.01
        if label == "mlp-bench":  # ... on its first 10,000 images, which it maps
            x_train, y_train = x_train[:BENCH_IMAGES], y_train[:BENCH_IMAGES]
        start = time.perf_counter()
        model = models.build_mlp((h * w,), num_classes=data.num_classes, seed=0)
        trained = models.train(
            model,
            models.adapt_images(x_train, model),
            y_train,
            models.adapt_images(data.x_test, model),
            data.y_test,
            optimizer=optimizer,
            learning_rate=rate,
            epochs=epochs,
            batch_size=batch,
        )
        if name == "digits":  # every image: 1,797
            images, labels = np.concatenate([data.x_train, data.x_test]), np.concatenate([data.y_train, data.y_test])
        elif label == "mlp-bench":
            chosen = embed.stratified_sample(y_train, points)
            images, labels = x_train[chosen], y_train[chosen]
        else:
            chosen = embed.stratified_sample(data.y_test, points)
            images, labels = data.x_test[chosen], data.y_test[chosen]
        x = models.adapt_images(images, model)
        facts = {"test_accuracy": trained.test_accuracy, "epochs": epochs, "train_s": time.perf_counter() - start}
        log(f"{label}/{name}: test accuracy {trained.test_accuracy:.3f} after {epochs} epochs")
        for layer, kind in MLP_LAYERS:
            if label.startswith("mlp-") and layer in ("dense", "activation"):
                continue
            reps = extract.Extractor(model, layer, "function")(x)
            out.append((Layer(f"{label}/{name}", layer, kind), reps, labels, facts))
    if "cnn/fashion_mnist" not in models_wanted:
        return out
    data = datasets.load_builtin("fashion_mnist")
    model = build_cnn()
    x_train = models.adapt_images(data.x_train, model)
    start = time.perf_counter()
    trained = models.train(
        model,
        x_train,
        data.y_train,
        models.adapt_images(data.x_test, model),
        data.y_test,
        optimizer=preset.optimizer,
        learning_rate=preset.learning_rate,
        epochs=cnn_epochs,
        batch_size=preset.batch_size_large,
    )
    facts = {"test_accuracy": trained.test_accuracy, "epochs": cnn_epochs, "train_s": time.perf_counter() - start}
    log(f"cnn/fashion_mnist: test accuracy {trained.test_accuracy:.3f} after {cnn_epochs} epochs")
    chosen = embed.stratified_sample(data.y_test, points)
    x, labels = models.adapt_images(data.x_test[chosen], model), data.y_test[chosen]
    for layer, kind, reduction in CNN_LAYERS:
        reps = extract.Extractor(model, layer, "function", reduction)(x)
        out.append((Layer("cnn/fashion_mnist", layer, kind, reduction), reps, labels, facts))
    return out


def score(reps: np.ndarray, labels: np.ndarray, metric: str, n_neighbors: int, seed: int) -> dict:
    """One map of ``reps`` by featlib's UMAP and its two scores (and its seconds, on a shared CPU).

    ``metric="auto"`` is resolved as featlib resolves it (:func:`featlib.maps.embed.resolve_metric`, from the points
    and their labels); the row names the metric used (``"used"``), and its own-metric trustworthiness uses that.
    """
    from sklearn.manifold import trustworthiness

    from featlib import metrics
    from featlib.maps import embed

    params = embed.UMAPParams(n_neighbors=n_neighbors, metric=metric, random_state=seed)
    start = time.perf_counter()
    used = embed.resolve_metric(params, reps, labels)  # once: the auto map is the resolved metric's map, bit for bit
    coords = embed.umap_embed(reps, replace(params, metric=used))
    seconds = time.perf_counter() - start
    return {
        "metric": metric,
        "used": used,
        "n_neighbors": n_neighbors,
        "seed": seed,
        "s": seconds,
        "knn_acc_2d": float(metrics.knn_accuracy(coords, labels)),
        "trustworthiness": float(metrics.trustworthiness(reps, coords, n_neighbors=10, sample_size=None)),
        "trustworthiness_own": float(trustworthiness(reps, coords, n_neighbors=10, metric=used)),
    }


def summarise(rows: list[dict], kinds: tuple[str, ...] | None = None, dataset: str | None = None) -> list[dict]:
    """Per setting (metric, n_neighbors): the mean of each score over the layers of ``kinds`` (all when ``None``)
    of the models on ``dataset`` (all when ``None``), and the difference to euclidean/15 (featlib's default before
    this study), best 10-NN accuracy first."""
    chosen = [
        r
        for r in rows
        if (kinds is None or r["kind"] in kinds) and (dataset is None or r["model"].endswith("/" + dataset))
    ]
    table = []
    for metric, k in SETTINGS:
        mine = [r for r in chosen if r["metric"] == metric and r["n_neighbors"] == k]
        if mine:
            table.append(
                {
                    "metric": metric,
                    "n_neighbors": k,
                    "layers": len({(r["model"], r["layer"]) for r in mine}),
                    "knn_acc_2d": float(np.mean([r["knn_acc_2d"] for r in mine])),
                    "trustworthiness": float(np.mean([r["trustworthiness"] for r in mine])),
                    "trustworthiness_own": _mean_of_known([r.get("trustworthiness_own") for r in mine]),
                    "s": float(np.mean([r["s"] for r in mine])),
                }
            )
    base = next((t for t in table if t["metric"] == "euclidean" and t["n_neighbors"] == 15), None)
    for t in table:
        t["d_knn_acc_2d"] = t["knn_acc_2d"] - base["knn_acc_2d"] if base else None
        t["d_trustworthiness"] = t["trustworthiness"] - base["trustworthiness"] if base else None
    return sorted(table, key=lambda t: -t["knn_acc_2d"])


def auto_against_fixed(rows: list[dict]) -> dict:
    """featlib's ``auto`` (n_neighbors 15) against Euclidean and correlation on every layer: the mean 10-NN
    accuracy of each, of the better of the two per layer (what a rule could reach at best), and the layers where
    ``auto`` picked the worse one, with what that cost."""
    per_layer = {}
    for r in rows:
        if r["n_neighbors"] == 15 and r["metric"] in ("euclidean", "correlation", "auto"):
            per_layer.setdefault((r["model"], r["layer"]), {}).setdefault(r["metric"], []).append(r)
    layers = {
        key: {m: float(np.mean([r["knn_acc_2d"] for r in rs])) for m, rs in found.items()}
        | {"used": found["auto"][0]["used"]}
        for key, found in per_layer.items()
        if {"euclidean", "correlation", "auto"} <= set(found)
    }
    if not layers:
        return {}
    best = {key: max(v["euclidean"], v["correlation"]) for key, v in layers.items()}
    missed = [
        {"layer": "/".join(key), "used": v["used"], "cost": best[key] - v[v["used"]]}
        for key, v in layers.items()
        if v[v["used"]] < best[key]
    ]
    return {
        "layers": len(layers),
        **{m: float(np.mean([v[m] for v in layers.values()])) for m in ("euclidean", "correlation", "auto")},
        "better_of_two": float(np.mean(list(best.values()))),
        "missed": missed,
    }


def _mean_of_known(values: list) -> float:
    """The mean of the values that are not ``None`` (NaN when none is known)."""
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else float("nan")


def format_summary(title: str, table: list[dict]) -> str:
    """A summary as an aligned text table."""
    lines = [
        title,
        f"{'metric':<12} {'k':>3} {'layers':>6} {'10-NN acc':>9} {'Δ':>7} {'trust':>7} {'Δ':>7} "
        f"{'trust(own)':>10} {'s':>6}",
    ]
    for t in table:
        lines.append(
            f"{t['metric']:<12} {t['n_neighbors']:>3} {t['layers']:>6} {t['knn_acc_2d']:>9.4f} "
            f"{t['d_knn_acc_2d']:>+7.4f} {t['trustworthiness']:>7.4f} {t['d_trustworthiness']:>+7.4f} "
            f"{t['trustworthiness_own']:>10.4f} {t['s']:>6.1f}"
        )
    return "\n".join(lines)


def format_layers(rows: list[dict]) -> str:
    """Every layer's 10-NN accuracy per setting (one line per layer), seeds averaged."""
    settings = SETTINGS
    head = f"{'model/layer':<40} {'kind':<15}" + "".join(f" {m[:3]}/{k:<3}" for m, k in settings)
    lines = ["10-NN accuracy of each layer's map (columns: metric/n_neighbors)", head]
    layers = sorted({(r["model"], r["layer"], r["kind"]) for r in rows}, key=lambda t: (KINDS.index(t[2]), t[0], t[1]))
    for model, layer, kind in layers:
        cells = []
        for m, k in settings:
            values = [
                r["knn_acc_2d"]
                for r in rows
                if (r["model"], r["layer"], r["metric"], r["n_neighbors"]) == (model, layer, m, k)
            ]
            cells.append(f" {np.mean(values):>7.3f}" if values else f" {'':>7}")
        lines.append(f"{model + '/' + layer:<40} {kind:<15}" + "".join(cells))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=5_000, help="Fashion-MNIST test images mapped (default 5000)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42], help="UMAP seeds, averaged (default 42)")
    parser.add_argument("--cnn-epochs", type=int, default=2, help="epochs of the CNN (default 2)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"the JSON written (default {OUT})")
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODELS,
        default=list(MODELS),
        help="study these models only; the rows of the others are kept from --out when it exists",
    )
    args = parser.parse_args(argv)
    from featlib import metrics, quiet
    from featlib.maps import compile_cache

    quiet.setup()
    compile_cache.enable()

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    started = time.perf_counter()
    layers = representations(args.points, args.cnn_epochs, log, tuple(args.models))
    rows, facts = [], {}
    if set(args.models) != set(MODELS) and args.out.exists():  # keep what was measured of the other models
        earlier = json.loads(args.out.read_text())
        rows = [r for r in earlier["rows"] if r["model"] not in args.models]
        facts = {m: f for m, f in earlier.get("models", {}).items() if m not in args.models}
    for layer, reps, labels, model_facts in layers:
        facts[layer.model] = model_facts
        own = float(metrics.knn_accuracy(reps, labels))
        for metric, k in SETTINGS:
            for seed in args.seeds:
                row = {
                    "model": layer.model,
                    "layer": layer.name,
                    "kind": layer.kind,
                    "reduction": layer.reduction,
                    "units": int(reps.shape[1]),
                    "points": int(len(reps)),
                    "knn_acc_layer": own,
                    **score(reps, labels, metric, k, seed),
                }
                rows.append(row)
                log(
                    f"{layer.model}/{layer.name} {metric}/{k} seed {seed}: 10-NN {row['knn_acc_2d']:.3f}, "
                    f"trust {row['trustworthiness']:.3f}, {row['s']:.1f} s"
                )
        args.out.write_text(json.dumps({"rows": rows, "models": facts}, indent=1))  # partial results survive a stop
    summaries = {kind: summarise(rows, (kind,)) for kind in KINDS}
    summaries["all"] = summarise(rows)
    summaries["fashion_mnist"] = summarise(rows, dataset="fashion_mnist")  # the digits' maps are near 0.99 whatever
    summaries["auto_against_fixed"] = auto_against_fixed(rows)
    result = {
        "points": args.points,
        "seeds": args.seeds,
        "metrics": list(METRICS),
        "n_neighbors": list(N_NEIGHBORS),
        "models": facts,
        "summaries": summaries,
        "rows": rows,
        "seconds": time.perf_counter() - started,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(format_layers(rows))
    titles = {"all": "all layers", "fashion_mnist": "the Fashion-MNIST models' layers"}
    for kind in (*KINDS, "all", "fashion_mnist"):
        print()
        print(format_summary(titles.get(kind, f"{kind}: mean over its layers"), summaries[kind]))
    versus = summaries["auto_against_fixed"]
    if versus:
        print(
            f"\nauto (featlib's default) on {versus['layers']} layers, mean 10-NN accuracy of the map: "
            f"auto {versus['auto']:.4f}, euclidean {versus['euclidean']:.4f}, correlation {versus['correlation']:.4f}, "
            f"the better of the two per layer {versus['better_of_two']:.4f}"
        )
        for miss in versus["missed"]:
            print(f"  {miss['layer']}: auto used {miss['used']}, {100 * miss['cost']:.2f} points below the other")
    print(f"\nwrote {args.out} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
