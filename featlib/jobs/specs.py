"""Building a job's spec: its key, its title, and the size check of its kind, the same for pages, links and the CLI.

Every builder refuses, with :class:`~featlib.jobs.JobLimitError`, a job that
asks for more than :mod:`featlib.jobs.limits` allows, before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from featlib import keys
from featlib.jobs.limits import check_size
from featlib.jobs.spec import JobSpec
from featlib.maps import checkpoint_flow, embed, gpu, seed_stability
from featlib.maps.embed import REDUCER_TITLES, reducer_name
from featlib.read.reductions import REDUCTIONS


def train_spec(
    dataset_fp: str,
    n_train: int,
    *,
    hidden: Sequence[int],
    optimizer: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    checkpoint_epochs: Sequence[int] = (),
    name: str = "mlp",
    token: str = "",
    seed: int | None = 0,
) -> JobSpec:
    """Training the seed MLP on a dataset of ``n_train`` training images.

    ``token`` makes the key unique per request (two users may train the same
    configuration on purpose; each gets a model).
    """
    check_size("train", n_train)
    params = {
        "hidden": [int(h) for h in hidden],
        "optimizer": optimizer,
        "learning_rate": float(learning_rate),
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "checkpoint_epochs": [int(e) for e in checkpoint_epochs],
        "seed": seed,
    }
    return JobSpec("train", keys.train_key(dataset_fp, token), params, f"training {name}: {epochs} epochs")


def upload_spec(
    filename: str, data_sha: str, dataset_fp: str, input_scale: str, token: str = "", output: str | None = None
) -> JobSpec:
    """Checking an uploaded model file (by its bytes' digest) and scoring it on a dataset.

    It is scored on the dataset's test split, or its train split when it has no test split.

    ``token`` makes the key unique per upload (two users uploading the same file each get their model).
    ``output`` names the output a model with several is scored from (unset: the first that fits the
    dataset's classes, see :func:`featlib.jobs.tasks.check_upload`).
    """
    check_size("upload", 0)
    params = {"filename": filename, "input_scale": input_scale} | ({"output": output} if output is not None else {})
    return JobSpec(
        "upload",
        keys.upload_key(data_sha, dataset_fp, input_scale, token, output),
        params,
        f"checking the upload {filename}",
    )


def extract_spec(
    rep_key: str,
    n_images: int,
    units: int,
    *,
    split: str,
    layer: str,
    method: str,
    input_scale: str,
    model_fp: str,
    reduction: str = "flatten",
) -> JobSpec:
    """Reading ``layer`` for the ``n_images`` of a split; its result holds ``n_images × units`` float32.

    ``units`` counts the representation's columns after ``reduction`` (a key of
    :data:`featlib.read.reductions.REDUCTIONS`; 32 for a 26×26×32 Conv2D read by
    pooling), so the size check is on what the job returns. A flattened
    layer's parameters are those they always were.
    """
    check_size("extract", n_images, result_bytes=n_images * units * 4)
    params = {"model_fp": model_fp, "split": split, "layer": layer, "method": method, "input_scale": input_scale}
    how = method
    if reduction != "flatten":
        params["reduction"] = reduction
        how = f"{method}, {REDUCTIONS[reduction]}"
    return JobSpec("extract", rep_key, params, f"reading {layer} ({how}) for {n_images:,} images")


def layer_set_spec(
    key: str,
    points: int,
    total_units: int,
    *,
    model_fp: str,
    split: str,
    input_scale: str,
    sample_size: int | None,
    reduction: str = "auto",
) -> JobSpec:
    """Reading every layer for a sample of ``points`` images in one pass.

    ``total_units`` counts every kept layer's columns after ``reduction`` (a key of
    :data:`featlib.read.reductions.CHOICES`, see :func:`featlib.read.layers.total_units`).
    """
    check_size("extract_all", points, result_bytes=points * total_units * 4)
    params = {"model_fp": model_fp, "split": split, "input_scale": input_scale, "sample_size": sample_size}
    if reduction != "auto":
        params["reduction"] = reduction
    return JobSpec("extract_all", key, params, f"reading every layer for {points:,} images")


def compare_methods_spec(
    rep_key: str, sample: int, *, model_fp: str, split: str, layer: str, input_scale: str, reduction: str = "flatten"
) -> JobSpec:
    """Running both extraction methods on ``sample`` images, each reduced by ``reduction``, and comparing them."""
    check_size("compare_methods", sample)
    params = {"model_fp": model_fp, "split": split, "layer": layer, "input_scale": input_scale, "sample": int(sample)}
    if reduction != "flatten":
        params["reduction"] = reduction
    return JobSpec(
        "compare_methods", keys.compare_methods_key(rep_key, sample), params, f"comparing the two methods on {layer}"
    )


def predict_spec(
    model_fp: str, dataset_fp: str, n_images: int, *, split: str, input_scale: str, output: str | None = None
) -> JobSpec:
    """The model's predicted labels and confidences for a split.

    ``output`` names the output read for a model with several (the record's ``meta["output"]``);
    unset (every model with one output), the key and parameters are those it always had.
    """
    check_size("predict", n_images)
    params = {"model_fp": model_fp, "split": split, "input_scale": input_scale}
    if output is not None:
        params = {**params, "output": output}
    return JobSpec(
        "predict",
        keys.predict_key(model_fp, dataset_fp, split, input_scale, output),
        params,
        f"predicting {n_images:,} labels",
    )


def reduce_spec(emb_key: str, points: int, params, graph_key: str = "") -> JobSpec:
    """A 2-D map of ``points`` points by the reducer ``params`` names (UMAP, PCA or t-SNE).

    The backend (CPU or GPU) is chosen here, in the submitting process
    (:func:`featlib.maps.gpu.choose`), and the worker makes the map on that one or
    fails saying why, so the stored map's ``backend`` is the one that made it.
    """
    reducer = reducer_name(params)
    check_size(f"reduce:{reducer}", points)
    return JobSpec(
        "reduce",
        emb_key,
        {"params": params, "graph_key": graph_key, "backend": gpu.choose(reducer)},
        f"a {REDUCER_TITLES[reducer]} map of {points:,} points",
        limit=f"reduce:{reducer}",
    )


def metrics_spec(key: str, points: int, sample_size: int | None) -> JobSpec:
    """Scoring a layer and its map (kNN, probe, silhouette, trustworthiness) on at most ``sample_size`` points."""
    check_size("metrics", min(points, sample_size or points))
    return JobSpec(
        "metrics", keys.metrics_key(key, sample_size), {"sample_size": sample_size}, f"scoring {points:,} points"
    )


def cka_spec(key: str, points: int) -> JobSpec:
    """Linear CKA between the representations of ``points`` points (all layers of one or two models)."""
    check_size("metrics", points)
    return JobSpec("cka", keys.cka_key(key), {}, f"CKA between layers on {points:,} points", limit="metrics")


def neighbours_spec(rep_key: str, sample_size: int | None, points: int, position: int, k: int, params) -> JobSpec:
    """The ``k`` nearest neighbours of one point (row ``position``) among a map's ``points`` sampled points, by the
    metric of the map made with the reducer ``params`` (:func:`featlib.maps.neighbours.map_metric`).

    Runs under the ``metrics`` limit (a search over at most as many points as a map's scores).
    """
    check_size("metrics", points)
    metric = params.metric_key if isinstance(params, embed.UMAPParams) else "euclidean"
    return JobSpec(
        "neighbours",
        keys.neighbours_key(rep_key, sample_size, metric, k, position),
        {"position": int(position), "k": int(k), "params": params},
        f"the {int(k)} nearest neighbours of a point among {points:,}",
        limit="metrics",
    )


def neighbour_change_spec(rep_key_a: str, rep_key_b: str, sample_size: int | None, points: int, k: int) -> JobSpec:
    """Each of ``points`` images' ``k`` nearest neighbours in two representations, and how many it kept
    (:func:`featlib.maps.neighbour_change.neighbour_change`); under the ``metrics`` limit (two searches over as
    many points as a map's scores)."""
    check_size("metrics", points)
    return JobSpec(
        "neighbour_change",
        keys.neighbour_change_key(rep_key_a, rep_key_b, sample_size, k),
        {"k": int(k)},
        f"comparing the {int(k)} nearest neighbours of {points:,} images in two layers",
        limit="metrics",
    )


def checkpoint_flow_spec(key: str, points: int, checkpoints: int, params, method: str) -> JobSpec:
    """One stable UMAP map of ``points`` images per each of ``checkpoints`` checkpoints of a training
    (:func:`featlib.maps.checkpoint_flow.checkpoint_flow`); under the UMAP map's limit, counting every checkpoint's
    points (the layout holds them all at once).

    Raises:
        featlib.jobs.JobLimitError: more points in all than a UMAP map may take here.
        featlib.errors.ReducerError: fewer than two or more than :data:`featlib.maps.checkpoint_flow.MAX_CHECKPOINTS`
            checkpoints, another reducer than UMAP, or a ``method`` not in :data:`featlib.maps.checkpoint_flow.METHODS`.
    """
    if not isinstance(params, embed.UMAPParams):
        raise embed.ReducerError(
            f"A training's stable map is a UMAP map; got {REDUCER_TITLES[reducer_name(params)]}. Pick UMAP."
        )
    if not checkpoint_flow.MIN_CHECKPOINTS <= checkpoints <= checkpoint_flow.MAX_CHECKPOINTS:
        raise embed.ReducerError(
            f"A training's stable map lays out {checkpoint_flow.MIN_CHECKPOINTS} to "
            f"{checkpoint_flow.MAX_CHECKPOINTS} checkpoints together; got {checkpoints}. Pick fewer epochs."
        )
    if method not in checkpoint_flow.METHODS:
        raise embed.ReducerError(
            f"Unknown way to tie a training's maps: {method!r}. Choose one of {list(checkpoint_flow.METHODS)}."
        )
    check_size("reduce:umap", points * checkpoints)
    return JobSpec(
        "checkpoint_flow",
        key,
        {"params": params, "method": method},
        f"a stable UMAP map of {points:,} points across {checkpoints} checkpoints",
        limit="reduce:umap",
    )


def prediction_depth_spec(layer_set_key: str, points: int, layers: int, k: int) -> JobSpec:
    """Each of ``points`` images' prediction depth over ``layers`` representations (one k-NN search per
    layer, :mod:`featlib.maps.prediction_depth`); under the ``metrics`` limit (a search per layer over as many
    points as a map's scores)."""
    check_size("metrics", points)
    return JobSpec(
        "prediction_depth",
        keys.prediction_depth_key(layer_set_key, k),
        {"k": int(k)},
        f"the prediction depth of {points:,} images over {layers} layers ({int(k)}-NN)",
        limit="metrics",
    )


def layer_flow_spec(layer_set_key: str, points: int, layers: int, k: int) -> JobSpec:
    """``points`` images cut into ``k`` clusters in each of ``layers`` representations (k-means, fixed seed) and
    the flows between them (:func:`featlib.maps.layer_flow.layer_flow`); under the ``metrics`` limit (points and
    seconds: one k-means per layer over as many points as a map's scores)."""
    check_size("metrics", points)
    return JobSpec(
        "layer_flow",
        keys.layer_flow_key(layer_set_key, k),
        {"k": int(k)},
        f"the flow of {points:,} images through {layers} layers ({int(k)} clusters each)",
        limit="metrics",
    )


def unit_stats_spec(rep_key: str, sample_size: int | None, points: int, units: int, k: int, rep: dict) -> JobSpec:
    """Per-unit statistics of a layer over ``points`` images (:func:`featlib.maps.units.unit_stats`): each unit's
    ``k`` most activating images, the dead and the near-duplicate units; ``rep`` holds ``shape``, ``reduction`` and
    ``channels_first`` (how its channels are pooled). Under the ``metrics`` limit (at most 4,096 units and 10,000
    images are examined)."""
    check_size("metrics", points)
    return JobSpec(
        "unit_stats",
        keys.unit_stats_key(rep_key, sample_size, k),
        {"k": int(k), **rep},
        f"the dead and near-duplicate units of {units:,} over {points:,} images",
        limit="metrics",
    )


def unit_ranking_spec(
    rep_key: str, sample_size: int | None, selection: str, points: int, selected: int, shown: int, k: int, rep: dict
) -> JobSpec:
    """Ranking a layer's units by how well each tells ``selected`` of ``points`` images from the others (AUROC,
    :func:`featlib.maps.units.ranking`), with the ``k`` most activating images of the first ``shown``; under the
    ``metrics`` limit."""
    check_size("metrics", points)
    return JobSpec(
        "unit_ranking",
        keys.unit_ranking_key(rep_key, sample_size, selection),
        {"shown": int(shown), "k": int(k), **rep},
        f"ranking the units that tell {selected:,} selected images from {points - selected:,} others",
        limit="metrics",
    )


def saliency_spec(
    key: str,
    *,
    model_fp: str,
    split: str,
    index: int,
    target: int,
    method: str,
    steps: int,
    input_scale: str,
    output: str | None = None,
) -> JobSpec:
    """One image's saliency map for class ``target`` (:func:`featlib.models.saliency.saliency`, ``method`` resolved);
    under the ``predict`` limit, its points the inputs sent through the model (``steps + 2`` for integrated
    gradients, 1 for Grad-CAM)."""
    check_size("predict", int(steps) + 2 if method == "integrated_gradients" else 1)
    params = {
        "model_fp": model_fp,
        "split": split,
        "index": int(index),
        "target": int(target),
        "method": method,
        "steps": int(steps),
        "input_scale": input_scale,
    }
    if output is not None:
        params["output"] = output
    how = "integrated gradients" if method == "integrated_gradients" else "Grad-CAM"
    return JobSpec("saliency", key, params, f"what the model looked at in image #{int(index)} ({how})", limit="predict")


def placed_map_spec(key: str, points: int, placed: int, params) -> JobSpec:
    """A map of ``points`` points by the reducer ``params`` names with ``placed`` more placed on it
    (:func:`featlib.maps.placement.place`); under that reducer's map limit (``reduce:<reducer>``), for all the points."""
    reducer = reducer_name(params)
    check_size(f"reduce:{reducer}", points + placed)
    return JobSpec(
        "placed_map",
        key,
        {"params": params},
        f"a {REDUCER_TITLES[reducer]} map of {points:,} points with {placed:,} placed on it",
        limit=f"reduce:{reducer}",
    )


def seed_stability_spec(emb_key: str, points: int, params, seeds: int) -> JobSpec:
    """The map of ``points`` points by ``params`` made with ``seeds`` seeds, aligned, each point's displacement
    (:func:`featlib.maps.seed_stability.seed_maps`); under that reducer's map limit, ``seeds`` maps in its time.

    Raises:
        ReducerError: a PCA map, or ``seeds`` outside 2..10 (:func:`featlib.maps.seed_stability.check_seeds`).
    """
    reducer = reducer_name(params)
    seed_stability.seeds_for(params, seeds)
    check_size(f"reduce:{reducer}", points)
    return JobSpec(
        "seed_stability",
        keys.seed_stability_key(emb_key, seeds),
        {"params": params, "n_seeds": int(seeds), "backend": gpu.choose(reducer)},
        f"the {REDUCER_TITLES[reducer]} map of {points:,} points with {int(seeds)} seeds",
        limit=f"reduce:{reducer}",
    )


def bundle_spec(label: str, data_sha: str, token: str = "") -> JobSpec:
    """Checking a bundle (by its bytes' digest) before it is imported; ``token`` makes the key unique per import."""
    check_size("bundle", 0)
    return JobSpec("bundle", keys.bundle_key(data_sha, token), {"label": label}, f"checking the bundle {label}")
