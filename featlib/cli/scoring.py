"""The commands that score a model's layers: ``featlib metrics`` and ``featlib depth``."""

from __future__ import annotations

import argparse
import csv
import json
import time
from typing import TYPE_CHECKING

import numpy as np

from featlib import csv_cells, models
from featlib.datasets import Dataset
from featlib.errors import UsageError
from featlib.maps import compile_cache, embed
from featlib.maps import prediction_depth as depth_lib
from featlib.maps.embed import UMAPParams
from featlib.metrics import RULES, NotAvailable, as_float, format_score, is_available
from featlib.read.layers import INPUT
from featlib.service import ModelRef
from featlib.store import ModelRecord, Workspace

if TYPE_CHECKING:
    import keras

from featlib.cli.commands import (
    Column,
    _dataset,
    _log,
    _printable,
    _runner,
    _service,
    _workspace_record,
    _writing,
    table_lines,
)


def _model_on_split(args: argparse.Namespace) -> tuple[Workspace, Dataset, ModelRecord, keras.Model]:
    """The workspace, the dataset, the saved model's record and the loaded model that ``metrics`` and ``depth``
    read every layer of, after checking the model reads the dataset's images (``--split``)."""
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    record = _workspace_record(workspace, args.model)
    _log(f"loading the model {record.name} (TensorFlow starts: a few seconds)")
    model = workspace.load_model(record)
    images, _ = dataset.split(args.split)
    models.adapt_images(images[:1], model, record.input_scale)  # the model reads these images
    return workspace, dataset, record, model


def cmd_metrics(args: argparse.Namespace) -> int:
    if args.sample < 1:
        raise UsageError(f"--sample must be at least 1; got {args.sample}")
    workspace, dataset, record, model = _model_on_split(args)
    images, labels = dataset.split(args.split)
    runner = _runner(args, workspace)
    service = _service(workspace, runner)
    try:
        if args.umap and runner.manager is None:
            compile_cache.enable()
        start = time.perf_counter()
        ls = service.layer_set(
            ModelRef.of_record(workspace, record, model),
            dataset,
            args.split,
            sample_size=args.sample,
            reduction=args.reduction,
        )
        _log(
            f"{len(ls.reps)} representations of {len(ls.indices):,} of {len(images):,} {args.split} images in "
            f"{time.perf_counter() - start:.2f} s"
        )
        reps = {name: outputs for name, outputs in ls.reps.items() if name != INPUT}  # the model's layers only
        umap_params, no_map = _metrics_umap_params(len(ls.indices)) if args.umap else (None, None)
        rows = []
        # The input pixels first: the reference each layer is compared with (the Layers page's dashed lines).
        for name in [INPUT] * (INPUT in ls.reps) + list(reps):
            start = time.perf_counter()
            # The layer's map, stored in the workspace as the Layers page stores it (all the sample's points).
            coords = (
                service.layer_maps(ls, umap_params, model_id=record.id, names=[name])
                if umap_params is not None
                else None
            )
            [row] = service.layer_scores(ls, coords, umap_params, names=[name])
            if no_map is not None:
                row.update({metric: NotAvailable(metric, no_map) for metric in ("knn_acc_2d", "trustworthiness")})
            # Scored on the whole sample (already drawn); n counts the split.
            rows.append({**row, "n": int(len(images))})
            _log(f"{'input pixels' if name == INPUT else name}: {time.perf_counter() - start:.1f} s")
        chosen = ls.indices
        cka = service.cka(ls, names=list(reps))
    finally:
        runner.close()
    columns = ["knn_acc", "probe_acc", "silhouette"] + (["knn_acc_2d", "trustworthiness"] if args.umap else [])
    for name, reason in ls.non_finite.items():  # set aside by layer_set: NaN/inf outputs or weights
        _log(f"warning: {reason}")
        rows.append(
            {
                "layer": name,
                "units": int(ls.representations[name].units) if name in ls.representations else 0,
                "reduction": ls.reduction(name),
                "n": int(len(images)),
                "sample": int(len(chosen)),
                "notes": {},
                **{c: NotAvailable(c, reason) for c in columns},
            }
        )
    pixels = [row for row in rows if row["layer"] == INPUT]
    rows = [row for row in rows if row["layer"] != INPUT]
    order = {layer.name: i for i, layer in enumerate(model.layers)}
    rows.sort(key=lambda row: order.get(row["layer"], len(order)))
    scored = list(reps)  # the rows and columns of cka
    if args.json:
        finite = [[as_float(v) for v in line] for line in cka]
        print(
            json.dumps(
                {
                    "layers": [_json_row(row) for row in rows],
                    "cka": finite,
                    "cka_layers": scored,
                    "input": _json_row(pixels[0]) if pixels else None,
                }
            )
        )
        return 0
    print(
        f"{record.name} on {dataset.name} {args.split}: {len(chosen):,} of {len(images):,} images (stratified sample)"
    )
    table = [Column("layer", "<", 16), Column("units", ">", 6)]
    table += [Column(c, ">", 15) for c in columns] + [Column("cka_prev", ">", 9)]
    cells = [  # the input pixels first: the reference line, not a layer (no cka_prev)
        ["(input pixels)", row["units"], *(_cell(row[c]) for c in columns)] for row in pixels
    ]
    missing: dict[str, tuple[dict, dict]] = {}  # "n/a: reason" or "note: ..." -> (figures, layers), both ordered
    for i, row in enumerate(rows):
        prev = ""
        if i:
            before, here = rows[i - 1]["layer"], row["layer"]
            prev = (
                format_score(cka[scored.index(before), scored.index(here)])
                if before in scored and here in scored
                else "n/a"
            )
        name = row["layer"] if row["reduction"] == "flatten" else f"{row['layer']} [{row['reduction']}]"
        cells.append([name, row["units"], *(_cell(row[c]) for c in columns), prev])
        listed = [(f"n/a: {row[c].reason}", c) for c in columns if isinstance(row[c], NotAvailable)]
        listed += [(f"note: used {note}", c) for c, note in row.get("notes", {}).items()]
        for text, c in listed:
            figures, layers = missing.setdefault(text, ({}, {}))
            figures[c] = layers[row["layer"]] = None
    for line in table_lines(table, cells):
        print(line)
    for text, (figures, layers) in missing.items():  # each reason once, with the figures and layers it holds for
        where = "every layer" if len(layers) == len(rows) > 1 else ", ".join(layers)
        kind, _, reason = text.partition(": ")
        print(f"{kind}: {', '.join(figures)} ({where}): {reason}")
    if any(
        not is_available(cka[scored.index(rows[i - 1]["layer"]), scored.index(row["layer"])])
        for i, row in enumerate(rows)
        if i and rows[i - 1]["layer"] in scored and row["layer"] in scored
    ):
        print(f"n/a: cka_prev: {RULES['cka']} (a constant layer has none)")
    return 0


def _metrics_umap_params(points: int) -> tuple[UMAPParams | None, str | None]:
    """The UMAP parameters ``metrics --umap`` maps ``points`` points with, or why there is no map.

    UMAP's defaults (15 neighbours) when there are enough points; else the most neighbours the points
    allow, said on stderr; below :data:`featlib.maps.embed.UMAP_MIN_POINTS`, no map (the reason is returned).
    """
    params = UMAPParams()
    if points >= embed.min_points(params):
        return params, None
    most = embed.max_n_neighbors(points)
    if most is None:
        try:
            embed.check_points(params, points)
        except embed.ReducerError as error:
            return None, f"no UMAP map: {error}"
    _log(
        f"note: --umap maps the {points} points with n_neighbors={most}, not {params.n_neighbors}: UMAP needs more "
        "points than neighbours"
    )
    return UMAPParams(n_neighbors=most), None


def _cell(score: object) -> str:
    """A figure in a table cell: ``0.912`` or ``n/a`` (the reason is listed under the table)."""
    return "n/a" if isinstance(score, NotAvailable) else format_score(score)


def _json_row(row: dict) -> dict:
    """A row of ``metrics`` for JSON: figures as numbers or ``null``, and ``"n/a": {figure: reason}``."""
    out = {key: (as_float(value) if isinstance(value, (float, NotAvailable)) else value) for key, value in row.items()}
    out["n/a"] = {key: value.reason for key, value in row.items() if isinstance(value, NotAvailable)}
    return out


def cmd_depth(args: argparse.Namespace) -> int:
    """``depth``: each sampled image's prediction depth (Baldock et al. 2021) over every layer of a saved model."""
    if args.sample < 2:
        raise UsageError(f"--sample must be at least 2; got {args.sample}")
    if args.k < 1:
        raise UsageError(f"--k must be at least 1; got {args.k}")
    workspace, dataset, record, model = _model_on_split(args)
    images, _ = dataset.split(args.split)
    runner = _runner(args, workspace)
    service = _service(workspace, runner)
    try:
        ref = ModelRef.of_record(workspace, record, model)
        ls = service.layer_set(ref, dataset, args.split, sample_size=args.sample, reduction=args.reduction)
        if args.k >= len(ls.indices):
            raise UsageError(f"--k must be below the {len(ls.indices):,} sampled images; got {args.k}")
        predicted, confidence = service.predictions(ref, dataset, args.split)
        predicted, confidence = predicted[ls.indices], confidence[ls.indices]
        start = time.perf_counter()
        depth = service.prediction_depth(ls, predicted, args.k)
        _log(f"prediction depth of {len(ls.indices):,} images in {time.perf_counter() - start:.2f} s")
    finally:
        runner.close()
    found = depth_lib.summary(depth, predicted == ls.labels, confidence)
    print(
        f"{record.name} on {dataset.name} {args.split}: {len(ls.indices):,} of {len(images):,} images "
        f"(stratified sample), {args.k}-NN votes by true label in each layer"
    )
    counts = np.bincount(depth, minlength=len(ls.names) + 1)
    for line in table_lines(
        [Column("depth", ">", 5), Column("layer", "<", 16), Column("images", ">", 7)],
        [[d, _printable(name), int(counts[d])] for d, name in enumerate([*ls.names, "(never)"])],
    ):
        print(line)
    print(
        f"mean depth: correct {found.mean_correct:.2f} ({found.n_correct}), misclassified {found.mean_wrong:.2f} ({found.n_wrong})"
    )
    print(f"spearman(depth, confidence): {found.spearman:+.3f}")
    if args.out:
        decided = [*ls.names, "never"]
        with _writing(args.out), open(args.out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["index", "label", "predicted", "confidence", "depth", "layer"])
            for row in range(len(ls.indices)):
                writer.writerow(
                    csv_cells.safe_row(
                        [
                            int(ls.indices[row]),
                            int(ls.labels[row]),
                            int(predicted[row]),
                            f"{float(confidence[row]):.6f}",
                            int(depth[row]),
                            decided[depth[row]],
                        ]
                    )
                )
        print(f"wrote {args.out}: {len(ls.indices)} images")
    return 0
