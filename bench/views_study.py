# ruff: noqa: B023  (each lambda is called at once, inside _timed)
"""What each new view's job costs on Fashion-MNIST (issues 27 and 29): seconds per job for ``--points`` test images.

Trains (in ``--workspace``, a temporary folder by default) the seed MLP with checkpoints and a small CNN, then
times every new job kind through :class:`featlib.service.Service` with an
:class:`featlib.jobs.runner.InlineRunner` (one job at a time, in this process):

unit stats, unit ranking, layer flow, prediction depth, neighbour change, saliency (one image: integrated
gradients for the MLP, Grad-CAM for the CNN), placed map (test placed on a map fitted on train), seed
stability (5 seeds) and the checkpoint flow (the training scrub's stable map).

    .venv/bin/python bench/views_study.py [--points 10000] [--workspace WS] [--out views.json] [--epochs 20]

A workspace that already holds the models (names ``mlp`` and ``cnn``) is reused: nothing is trained again, but
a job whose result is stored there already is then only loaded (its row times the load): time the jobs in a new
``--workspace``. ``--models cnn`` and ``--skip seed_stability,...`` leave models and jobs out. Prints a table (job,
model, points, seconds); ``--out`` writes it as JSON. Each row is printed as soon as its job ends.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featlib import cli, datasets, keys  # noqa: E402
from featlib.jobs.runner import InlineRunner  # noqa: E402
from featlib.lazy import keras  # noqa: E402
from featlib.maps import checkpoint_flow as flow_lib  # noqa: E402
from featlib.maps import embed  # noqa: E402
from featlib.read import reductions  # noqa: E402
from featlib.service import ModelRef, Service  # noqa: E402
from featlib.store import Workspace  # noqa: E402

SPLIT = "test"
METHOD = "function"


def _timed(rows: list[dict], job: str, model: str, points: int, fn):
    """Runs ``fn()``, appends its row, returns its result (``None`` and a skip row when it raises)."""
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # a bench: report and go on
        rows.append(
            {"job": job, "model": model, "points": points, "seconds": None, "note": f"{type(exc).__name__}: {exc}"}
        )
        print(f"  {job} ({model}): FAILED {type(exc).__name__}: {exc}", flush=True)
        traceback.print_exc()
        return None
    seconds = time.perf_counter() - start
    rows.append({"job": job, "model": model, "points": points, "seconds": round(seconds, 2), "note": ""})
    print(f"  {job} ({model}): {seconds:.1f} s", flush=True)
    return result


def build_cnn(shape: tuple[int, ...], classes: int):
    """A small CNN for 28x28 images: two convolutions and max pools, a Dense, softmax."""
    kl = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape),
            kl.Conv2D(16, 3, activation="relu", name="conv_0"),
            kl.MaxPooling2D(name="pool_0"),
            kl.Conv2D(32, 3, activation="relu", name="conv_1"),
            kl.MaxPooling2D(name="pool_1"),
            kl.Flatten(name="flatten"),
            kl.Dense(64, activation="relu", name="hidden"),
            kl.Dense(classes, activation="softmax", name="probs"),
        ],
        name="small_cnn",
    )


def train_models(root: Path, dataset, epochs: int, rows: list[dict]) -> None:
    """The seed MLP (checkpoints 1, 2, 5 of ``epochs``) and the CNN (2 epochs), saved as ``mlp`` and ``cnn``."""
    marks = ",".join(str(e) for e in (1, 2, 5) if e < epochs)
    args = ["--workspace", str(root), "train", "--dataset", "fashion_mnist", "--name", "mlp", "--epochs", str(epochs)]
    if marks:
        args += ["--checkpoints", marks]
    _timed(rows, f"train ({epochs} epochs, checkpoints {marks})", "mlp", len(dataset.y_train), lambda: cli.main(args))

    def cnn() -> int:
        model = build_cnn((28, 28, 1), dataset.num_classes)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        x = (np.asarray(dataset.x_train, dtype="float32") / 255.0).reshape(-1, 28, 28, 1)
        model.fit(x, np.asarray(dataset.y_train), epochs=2, batch_size=128, verbose=0)
        path = root / "small_cnn.keras"
        model.save(path)
        return cli.main(["--workspace", str(root), "add", str(path), "--name", "cnn", "--dataset", "fashion_mnist"])

    _timed(rows, "train (2 epochs) + add", "cnn", len(dataset.y_train), cnn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--workspace", default=None, help="default: a new temporary folder (kept, its path printed)")
    parser.add_argument("--epochs", type=int, default=20, help="the MLP's epochs (checkpoints 1, 2, 5 below it)")
    parser.add_argument("--out", default=None, help="write the table as JSON here")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated jobs to leave out: unit_stats, unit_ranking, layer_flow, prediction_depth, "
        "neighbour_change, saliency, seed_stability, placed_map, checkpoint_flow",
    )
    parser.add_argument("--models", default="mlp,cnn", help="the models whose jobs are timed (default mlp,cnn)")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    root = Path(args.workspace or tempfile.mkdtemp(prefix="views-study-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"workspace: {root}", flush=True)
    dataset = datasets.load_builtin("fashion_mnist")
    rows: list[dict] = []
    workspace = Workspace(root)
    names = {r.name for r in workspace.list_models()}
    if not {"mlp", "cnn"} <= names:
        train_models(root, dataset, args.epochs, rows)
    records = {r.name: r for r in workspace.list_models()}
    service = Service(workspace, InlineRunner())
    labels = np.asarray(dataset.split(SPLIT)[1])
    n = min(args.points, len(labels))
    rows_idx = embed.stratified_sample(labels, n if n < len(labels) else None, seed=0)
    sample = None if n >= len(labels) else n

    for name, layer, method in (("mlp", "dense_1", "integrated_gradients"), ("cnn", "hidden", "grad_cam")):
        record = records.get(name)
        if name not in args.models.split(","):
            continue
        if record is None:
            print(f"skipped {name}: not in the workspace", flush=True)
            continue
        print(f"{name} ({record.architecture}):", flush=True)
        ref = ModelRef.of_record(workspace, record)
        model = ref.loaded()
        if layer not in {lay.name for lay in model.layers}:
            layer = [lay.name for lay in model.layers][-2]
        rep = reductions.for_layer(model, layer)
        outputs, rep_key = _timed(
            rows,
            f"extract {layer} (test)",
            name,
            len(labels),
            lambda: service.representation(ref, dataset, SPLIT, rep, METHOD),
        )
        predicted, _ = _timed(
            rows, "predictions (test)", name, len(labels), lambda: service.predictions(ref, dataset, SPLIT)
        )
        ls = _timed(
            rows,
            "layer set (every layer)",
            name,
            n,
            lambda: service.layer_set(ref, dataset, SPLIT, sample_size=sample),
        )
        if "unit_stats" not in skip:
            _timed(
                rows,
                f"unit stats ({layer})",
                name,
                n,
                lambda: service.unit_stats(rep_key, outputs, rep, rows_idx, sample),
            )
        if "unit_ranking" not in skip:
            chosen = np.flatnonzero((labels == 4) & (predicted == 9))
            what = "label:4 predicted:9"
            if len(chosen) == 0:
                chosen, what = np.flatnonzero((labels == 4) & (predicted != 4)), "label:4 mispredicted"
            _timed(
                rows,
                f"unit ranking ({layer}, {what}: {len(chosen)})",
                name,
                n,
                lambda: service.unit_ranking(rep_key, outputs, rep, rows_idx, chosen, sample),
            )
        if ls is not None:
            pred_ls = np.asarray(predicted)[ls.indices]
            if "layer_flow" not in skip:
                _timed(
                    rows,
                    f"layer flow ({len(ls.names)} reps)",
                    name,
                    len(ls.indices),
                    lambda: service.layer_flow(ls, pred_ls, dataset.num_classes),
                )
            if "prediction_depth" not in skip:
                _timed(
                    rows,
                    f"prediction depth ({len(ls.names)} reps)",
                    name,
                    len(ls.indices),
                    lambda: service.prediction_depth(ls, pred_ls),
                )
            if "neighbour_change" not in skip and len(ls.names) >= 3:
                a, b = ls.names[-3], ls.names[-2]
                _timed(
                    rows,
                    f"neighbour change ({a} -> {b})",
                    name,
                    len(ls.indices),
                    lambda: service.neighbour_change(
                        (keys.layer_key(ls.key, a), ls.reps[a]),
                        (keys.layer_key(ls.key, b), ls.reps[b]),
                        np.arange(len(ls.indices)),
                        sample,
                    ),
                )
        if "saliency" not in skip:
            _timed(
                rows,
                f"saliency ({method}, 1 image)",
                name,
                1,
                lambda: service.saliency(ref, dataset, SPLIT, 0, int(predicted[0]), method),
            )
        if name != "mlp":
            continue
        emb = None
        if "seed_stability" not in skip:
            emb = _timed(
                rows,
                f"UMAP map ({layer}), for seed stability",
                name,
                n,
                lambda: service.embedding(outputs, rep_key, labels, sample_size=sample, model_id=record.id),
            )
        if "seed_stability" not in skip and emb is not None:
            _timed(
                rows,
                "seed stability (5 seeds)",
                name,
                n,
                lambda: service.seed_stability(outputs, emb, labels, embed.UMAPParams(), 5),
            )
        if "placed_map" not in skip:
            train_out, train_key = _timed(
                rows,
                f"extract {layer} (train)",
                name,
                len(dataset.y_train),
                lambda: service.representation(ref, dataset, "train", rep, METHOD),
            )
            _timed(
                rows,
                "placed map (test on train)",
                name,
                2 * n,
                lambda: service.placed_map(
                    (train_key, train_out, np.asarray(dataset.y_train)), (rep_key, outputs, labels), n
                ),
            )
        if "checkpoint_flow" not in skip:
            chain = sorted(
                (r for r in records.values() if r.meta.get("checkpoint_of") == record.id),
                key=lambda r: r.meta.get("epoch", 0),
            )
            if not chain:
                print("skipped checkpoint flow: the MLP has no checkpoints", flush=True)
                continue
            reps = []
            for r in [*chain, record]:
                out, key = service.representation(ModelRef.of_record(workspace, r), dataset, SPLIT, rep, METHOD)
                reps.append((key, out))
            _timed(
                rows,
                f"checkpoint flow ({len(reps)} checkpoints, {flow_lib.DEFAULT_METHOD})",
                name,
                n,
                lambda: service.checkpoint_flow(
                    reps, labels, sample_size=sample, model_ids=[r.id for r in [*chain, record]]
                ),
            )

    print()
    print(f"{'job':<58} {'model':<5} {'points':>7} {'seconds':>8}")
    for row in rows:
        secs = "skipped" if row["seconds"] is None else f"{row['seconds']:.1f}"
        print(f"{row['job']:<58} {row['model']:<5} {row['points']:>7,} {secs:>8}  {row['note']}")
    if args.out:
        Path(args.out).write_text(json.dumps({"workspace": str(root), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
