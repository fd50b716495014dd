"""Every cache and job key of featlib, built here and nowhere else.

A key names one result: where it is stored in the workspace (a representation, a map), the job
that makes it (two jobs with one key never run at once: a second request attaches to the first,
:class:`featlib.jobs.JobManager`), or an input sent to the cluster once. Each function says what
its key identifies: the inputs that change it. Keys of stored results must never change for the
same inputs, or every workspace already stored would miss: the strings are those featlib has
always written (``tests/test_service.py`` pins some).

Stored in the workspace:

- :func:`representation_key`: a layer's outputs for a split (``rep/...``).
- :func:`embedding_key`: a 2-D map of a sample of a representation (``emb/...``); :func:`maps_prefix`
  starts the keys of every map of one.
- :func:`flow_map_key`: one checkpoint's map in a training's stable map (``emb/...``, made by the job of
  :func:`checkpoint_flow_key`).

Of jobs (their results are kept in memory by the job manager, or stored under the keys above):

- :func:`layer_set_job_key`, :func:`predict_key`, :func:`metrics_key`, :func:`cka_key`,
  :func:`compare_methods_key`, :func:`neighbours_key`, :func:`neighbour_change_key`, :func:`train_key`,
  :func:`upload_key`, :func:`saliency_key`,
  :func:`bundle_key`.

Parts of other keys: :func:`layer_set_key` (a layer set, and with :func:`layer_key` each layer of it),
:func:`layer_scores_subject`, :func:`cka_subject`.

In a process's memory or on the cluster: :func:`graph_key` (a kNN graph), :func:`points_key`,
:func:`model_input_key`, :func:`dataset_input_key` (job inputs sent once), :func:`extractor_key`
(a worker's extractor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from featlib.maps.embed import UMAPParams
from featlib.read import reductions

if TYPE_CHECKING:
    from featlib.maps.embed import ReducerParams


# ----------------------------------------------------------------------------- stored in the workspace


def representation_key(
    model_fp: str, dataset_fp: str, split: str, layer: str, method: str, scale: str, reduction: str = "flatten"
) -> str:
    """One layer's representation of every image of a dataset split, stored in the workspace.

    ``rep/<model fp>/<dataset fp>/<split>/<layer>/<method>/<scale>``, then ``/reduction=gap`` or
    ``/reduction=gmp`` for a pooled spatial layer (:func:`featlib.read.reductions.key_part`): a
    flattened layer, Dense or convolutional, keeps the key it had before reductions existed.
    Changed by the model's weights and architecture (fingerprint), the dataset (fingerprint), the
    split, the layer, the extraction method, the input scaling and the reduction.

    Raises:
        ReductionError: ``reduction`` is not a key of :data:`featlib.read.reductions.REDUCTIONS`
            (``auto`` is resolved per layer first).
    """
    return f"rep/{model_fp}/{dataset_fp}/{split}/{layer}/{method}/{scale}" + reductions.key_part(reduction)


def embedding_key(rep_key: str, sample_size: int | None, sample_seed: int, params: ReducerParams) -> str:
    """A 2-D map (UMAP, PCA or t-SNE) of a stratified sample of a representation, stored in the workspace.

    ``emb/<rep key>/sample=<n or None>/seed=<seed>/<params.key>``: changed by the representation
    (``rep_key``, :func:`representation_key` or :func:`layer_key`), the sample's size and seed, and
    every parameter of the reducer (``params.key``, e.g. ``umap-n_neighbors=15-…``).
    """
    return f"emb/{rep_key}/sample={sample_size}/seed={sample_seed}/{params.key}"


def maps_prefix(rep_key: str) -> str:
    """The start of the key of every map of a representation: ``emb/<rep key>/`` (deleted with it)."""
    return f"emb/{rep_key}/"


def _flow_digest(rep_keys: Sequence[str]) -> str:
    """A short digest naming a training's checkpoints read in one layer: the representations' keys, in order."""
    return hashlib.sha256("\n".join(rep_keys).encode("utf-8")).hexdigest()[:16]


def checkpoint_flow_key(
    rep_keys: Sequence[str], sample_size: int | None, sample_seed: int, params: ReducerParams, method: str
) -> str:
    """The job laying out one layer of a training's checkpoints on a stable map (:mod:`featlib.maps.checkpoint_flow`).

    ``flow/<method>/sample=<n or None>/seed=<seed>/<params.key>/<digest>``: changed by every checkpoint's
    representation, in order (:func:`_flow_digest` of their keys), the sample, the reducer's parameters and how the
    maps are tied (``method``). Its result is stored as one map per checkpoint (:func:`flow_map_key`).
    """
    return f"flow/{method}/sample={sample_size}/seed={sample_seed}/{params.key}/{_flow_digest(rep_keys)}"


def flow_map_key(
    rep_key: str,
    rep_keys: Sequence[str],
    sample_size: int | None,
    sample_seed: int,
    params: ReducerParams,
    method: str,
) -> str:
    """One checkpoint's map in a training's stable map, stored in the workspace as a map of its representation.

    ``emb/<rep key>/sample=<n>/seed=<seed>/flow=<digest>-how=<method>/<params.key>``: an :func:`embedding_key`
    with the flow's part before the reducer's, so it is listed and deleted with the representation
    (:func:`maps_prefix`) and read back by :func:`read_key` (parameters ``flow`` and ``how``).
    """
    flow = f"flow={_flow_digest(rep_keys)}-how={method}"
    return f"emb/{rep_key}/sample={sample_size}/seed={sample_seed}/{flow}/{params.key}"


# ----------------------------------------------------------------------------- every layer of a model


def layer_set_key(
    model_fp: str,
    dataset_fp: str,
    split: str,
    input_scale: str,
    sample_size: int | None,
    seed: int,
    reduction: str = reductions.AUTO,
) -> str:
    """Every layer of a model read for one stratified sample of a split (a :class:`featlib.read.layers.LayerSet`).

    ``layers/<model fp>/<dataset fp>/<split>/<scale>/sample=<n or None>/seed=<seed>``, then
    ``/reduction=<r>`` unless ``reduction`` is ``auto`` (the keys of maps made before reductions existed
    stay valid). Changed by the model, the dataset, the split, the input scaling, the sample's size and
    seed, and the reduction choice of spatial layers. The stored maps of a layer set's layers are keyed
    under it (:func:`layer_key`).
    """
    key = f"layers/{model_fp}/{dataset_fp}/{split}/{input_scale}/sample={sample_size}/seed={seed}"
    return key + ("" if reduction == reductions.AUTO else f"/reduction={reduction}")


def layer_set_job_key(
    model_fp: str,
    dataset_fp: str,
    split: str,
    input_scale: str,
    sample_size: int | None,
    reduction: str = reductions.AUTO,
) -> str:
    """The job that reads every layer for a sample (``extract_all``); its result is kept in memory, not stored.

    ``layerset/<model fp>/<dataset fp>/<split>/<scale>/<n or None>``, then ``/reduction=<r>`` unless
    ``auto``: the same inputs as :func:`layer_set_key` (the sample's seed is always 0).
    """
    key = f"layerset/{model_fp}/{dataset_fp}/{split}/{input_scale}/{sample_size}"
    return key + ("" if reduction == reductions.AUTO else f"/reduction={reduction}")


def layer_key(layer_set_key: str, name: str) -> str:
    """One layer's representation within a layer set: ``<layer set key>/<layer name>`` (``input`` for the pixels).

    Used as the representation key of that layer's maps (:func:`embedding_key`) and scores.
    """
    return f"{layer_set_key}/{name}"


def layer_scores_subject(layer_key: str, params: ReducerParams | None) -> str:
    """What the scores of one layer of a layer set, and of its map, are about (give it to :func:`metrics_key`).

    ``<layer key>/<params.key>``: scored with the map its reducer made; ``<layer key>/None``: without a map.
    """
    return f"{layer_key}/{None if params is None else params.key}"


def cka_subject(layer_set_key: str, names: Sequence[str] | None = None, other: str | None = None) -> str:
    """What a CKA matrix is about (give it to :func:`cka_key`): the layers of one layer set, or of two.

    ``<layer set key>``, then ``/<name>,<name>,…`` when only some of its representations are compared
    (``metrics`` leaves out the input pixels), then ``/<other layer set key>`` against another model's.
    """
    subject = layer_set_key if names is None else f"{layer_set_key}/{','.join(names)}"
    return subject if other is None else f"{subject}/{other}"


# ----------------------------------------------------------------------------- jobs


def metrics_key(subject: str, sample_size: int | None) -> str:
    """The job scoring a representation and its map (kNN, probe, silhouette, trustworthiness).

    ``metrics/<subject>/<sample size or None>``; ``subject`` is the map's :func:`embedding_key` (the
    Explore and Compare pages), or :func:`layer_scores_subject`.
    """
    return f"metrics/{subject}/{sample_size}"


def cka_key(subject: str) -> str:
    """The job of linear CKA between representations: ``cka/<subject>`` (:func:`cka_subject`)."""
    return f"cka/{subject}"


def neighbour_change_key(rep_key_a: str, rep_key_b: str, sample_size: int | None, k: int) -> str:
    """The job comparing each image's ``k`` nearest neighbours in two representations of the same sample.

    ``moved/<sample size or None>/<k>/<rep key a>|<rep key b>``: changed by both representations (their keys:
    model, data, split, layer, method, scaling, reduction), the sample (stratified, seed 0) and ``k``;
    ordered (``a`` is the "before").
    """
    return f"moved/{sample_size}/{int(k)}/{rep_key_a}|{rep_key_b}"


def prediction_depth_key(layer_set_key: str, k: int) -> str:
    """The job of each sampled image's prediction depth (:mod:`featlib.maps.prediction_depth`) over a layer set.

    ``depth/<k>/<layer set key>``: changed by the layer set (model, data, split, scaling, sample, reduction)
    and the neighbours voting per image.
    """
    return f"depth/{int(k)}/{layer_set_key}"


def layer_flow_key(layer_set_key: str, k: int) -> str:
    """The job clustering every representation of a layer set and counting the images flowing between clusters
    (:mod:`featlib.maps.layer_flow`): ``layerflow/<k>/<layer set key>``; changed by the layer set (model, data,
    split, scaling, sample, reduction) and the clusters per representation (the k-means seed is fixed)."""
    return f"layerflow/{int(k)}/{layer_set_key}"


def saliency_key(
    model_fp: str,
    dataset_fp: str,
    split: str,
    input_scale: str,
    index: int,
    target: int,
    method: str,
    steps: int,
    output: str | None = None,
) -> str:
    """The job of one image's saliency map for one class (:mod:`featlib.models.saliency`).

    ``saliency/<model fp>/<dataset fp>/<split>/<scale>/<image index>/class=<class>/<method>``, then
    ``/steps=<steps>`` for integrated gradients and ``/output=<name>`` for a model with several outputs whose
    record names the one read: changed by the model, the dataset, the split, the input scaling, the image, the
    class explained, the method (resolved: never ``auto``) and its steps.
    """
    key = f"saliency/{model_fp}/{dataset_fp}/{split}/{input_scale}/{int(index)}/class={int(target)}/{method}"
    key += f"/steps={int(steps)}" if method == "integrated_gradients" else ""
    return key if output is None else f"{key}/output={output}"


def unit_stats_key(rep_key: str, sample_size: int | None, k: int) -> str:
    """The job of a layer's per-unit statistics (:func:`featlib.maps.units.unit_stats`) over a sample of its images.

    ``units/<sample size or None>/<k>/<rep key>``: changed by the representation (its key: model, data, split,
    layer, method, scaling, reduction; or a layer set's :func:`layer_key`, whose sample is in it), the sample
    (stratified, seed 0) and the most activating images kept per unit.
    """
    return f"units/{sample_size}/{int(k)}/{rep_key}"


def unit_ranking_key(rep_key: str, sample_size: int | None, selection: str) -> str:
    """The job ranking a layer's units by how well each tells a selection from the rest of a sample (AUROC).

    ``unitrank/<sample size or None>/<selection digest>/<rep key>``: changed by the representation, the sample
    and the selection (:func:`featlib.maps.units.selection_digest` of its images).
    """
    return f"unitrank/{sample_size}/{selection}/{rep_key}"


def placed_map_key(rep_key: str, other_rep_key: str, sample_size: int | None, params: ReducerParams) -> str:
    """The job fitting a map on a sample of one representation and placing a sample of another on it (issue 29,
    item 4: the test split on the train split's map).

    ``placed/<sample size or None>/<params.key>/<rep key>|<other rep key>``: changed by both representations
    (their keys: model, data, split, layer, method, scaling, reduction), the samples' size (stratified, seed 0, the
    same size for both) and every parameter of the reducer; ordered (the map is fitted on ``rep_key``'s points).
    """
    return f"placed/{sample_size}/{params.key}/{rep_key}|{other_rep_key}"


def seed_stability_key(emb_key: str, seeds: int) -> str:
    """The job making a map again with ``seeds`` seeds and measuring how far its points move (issue 29, item 5).

    ``stability/<seeds>/<map key>``: changed by the map (:func:`embedding_key`: its points, sample, reducer and
    parameters, its own seed the first of the seeds) and the number of seeds.
    """
    return f"stability/{int(seeds)}/{emb_key}"


def predict_key(model_fp: str, dataset_fp: str, split: str, input_scale: str, output: str | None = None) -> str:
    """The job predicting a model's labels and confidences for every image of a split.

    ``predict/<model fp>/<dataset fp>/<split>/<scale>``, then ``/output=<name>`` for a model with
    several outputs whose record names the one read (unset: the key it always had).
    """
    key = f"predict/{model_fp}/{dataset_fp}/{split}/{input_scale}"
    return key if output is None else f"{key}/output={output}"


def compare_methods_key(rep_key: str, sample: int) -> str:
    """The job running both extraction methods on the first ``sample`` images of a representation: ``check/<rep key>/<n>``."""
    return f"check/{rep_key}/{sample}"


def neighbours_key(rep_key: str, sample_size: int | None, metric_key: str, k: int, position: int) -> str:
    """The job finding the ``k`` nearest neighbours of one point (row ``position``) of a map's sample.

    ``neighbours/<rep key>/<sample size>/<metric>/k=<k>/<position>``; ``metric_key`` is the map's metric
    as keys name it (:attr:`featlib.maps.embed.UMAPParams.metric_key`, ``euclidean`` for PCA and t-SNE).
    """
    return f"neighbours/{rep_key}/{sample_size}/{metric_key}/k={int(k)}/{int(position)}"


def train_key(dataset_fp: str, token: str) -> str:
    """A training job: ``train/<dataset fp>/<token>``; ``token`` makes it unique per request."""
    return f"train/{dataset_fp}/{token}"


def upload_key(data_sha: str, dataset_fp: str, input_scale: str, token: str = "", output: str | None = None) -> str:
    """Checking and scoring an uploaded model file: ``upload/<bytes' digest>/<dataset fp>/<scale>/<token>[/output=<name>]``."""
    key = f"upload/{data_sha}/{dataset_fp}/{input_scale}/{token}"
    return key + (f"/output={output}" if output is not None else "")


def bundle_key(data_sha: str, token: str = "") -> str:
    """Checking a bundle before it is imported: ``bundle/<bytes' digest>/<token>``."""
    return f"bundle/{data_sha}/{token}"


# ----------------------------------------------------------------------------- in memory, on the cluster


def graph_key(rep_key: str, sample_size: int | None, sample_seed: int, params: ReducerParams) -> str:
    """The kNN graph a UMAP map of a sample uses, kept in a process (``""`` for PCA and t-SNE: none).

    ``<rep key>/sample=<n>/seed=<seed>/<n_neighbors>/<metric>/<pca_dims>``: maps of the same points that
    differ only in ``min_dist``, seed or epochs share it.
    """
    if not isinstance(params, UMAPParams):
        return ""
    return f"{rep_key}/sample={sample_size}/seed={sample_seed}/{params.n_neighbors}/{params.metric}/{params.pca_dims}"


def points_key(rep_key: str, sample_size: int | None, sample_seed: int = 0) -> str:
    """The job input of a map's points (the sample's rows of a representation), sent to the cluster once.

    ``points/<rep key>/<sample size>``, then ``/seed=<seed>`` for a sample drawn with another seed than 0.
    """
    return f"points/{rep_key}/{sample_size}" + (f"/seed={sample_seed}" if sample_seed else "")


def model_input_key(model_fp: str) -> str:
    """The job input of a model's ``.keras`` bytes, sent to the cluster once per fingerprint: ``model/<fp>``."""
    return f"model/{model_fp}"


def dataset_input_key(dataset_fp: str) -> str:
    """The job input of a dataset, sent to the cluster once per fingerprint: ``dataset/<fp>``."""
    return f"dataset/{dataset_fp}"


def extractor_key(model_fp: str, layer: str, method: str, reduction: str = "flatten") -> str:
    """A worker's extractor of one layer of a model, by one method and reduction: ``<fp>/<layer>/<method>/<reduction>``."""
    return f"{model_fp}/{layer}/{method}/{reduction}"


# ----------------------------------------------------------------------------- read back


def model_and_layer(key: str) -> tuple[str, str | None] | None:
    """The model and the layer a key is about, read back from the representation or layer-set key inside it.

    Any key built above that holds a :func:`representation_key` (``rep/<model fp>/<dataset fp>/<split>/<layer>/...``,
    as maps', scores' and neighbours' keys do), a :func:`layer_set_key` with or without a :func:`layer_key`, or a
    :func:`layer_set_job_key`.

    Returns:
        ``(model fingerprint, layer name)``; the layer is ``None`` when the key is about every layer of a layer
        set; ``None`` when the key names no model's layers (training, an upload, a bundle, a job input).

    >>> model_and_layer(metrics_key(layer_scores_subject(layer_key(layer_set_key("m1", "d1", "test", "0-1",
    ...     2000, 0), "dense_1"), None), 2000))
    ('m1', 'dense_1')
    >>> model_and_layer(layer_set_job_key("m1", "d1", "test", "0-1", 2000))
    ('m1', None)
    >>> model_and_layer(train_key("d1", "t")) is None
    True
    """
    parts = key.split("/")
    for i, part in enumerate(parts):
        if part == "rep" and len(parts) > i + 4:
            return parts[i + 1], parts[i + 4]
        if part == "layers" and len(parts) > i + 6 and parts[i + 5].startswith("sample="):
            rest = [p for p in parts[i + 7 :] if not p.startswith("reduction=")]
            return parts[i + 1], (rest[0] if rest else None)
        if part == "layerset" and len(parts) > i + 5:
            return parts[i + 1], None
    return None


@dataclass(frozen=True)
class KeyFields:
    """What a representation's or a map's key says, read back by :func:`read_key`.

    Attributes:
        kind: ``"representation"`` (:func:`representation_key`), ``"layer"`` (a layer of a layer set,
            :func:`layer_key`), or either with ``is_map`` (an :func:`embedding_key` of one); ``""`` for
            another key.
        rep_key: the representation key (the whole key unless it is a map's).
        model_fp, dataset_fp, split, layer, method, input_scale: the key's fields (``None`` where it has none;
            a layer set reads every layer in one pass, its ``method`` is ``None``).
        parameters: ``name=value`` parts as strings: ``reduction``, ``layers_sample`` and ``layers_seed`` (the
            layer set's sample), then a map's ``sample``, ``seed`` and reducer parameters.
        reducer: a map's reducer (``umap``, ``pca``, ``tsne``), else ``""``.
    """

    kind: str
    rep_key: str
    is_map: bool = False
    model_fp: str | None = None
    dataset_fp: str | None = None
    split: str | None = None
    layer: str | None = None
    method: str | None = None
    input_scale: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    reducer: str = ""


def read_key(key: str) -> KeyFields:
    """The fields of a representation, layer-set layer or map key, read back (the inverse of the builders above).

    >>> fields = read_key(embedding_key(representation_key("m1", "d1", "test", "dense_1", "function", "0-1"),
    ...     500, 0, UMAPParams()))
    >>> fields.kind, fields.is_map, fields.layer, fields.parameters["sample"], fields.reducer
    ('representation', True, 'dense_1', '500', 'umap')
    >>> read_key(layer_key(layer_set_key("m1", "d1", "test", "0-1", 2000, 0), "dense_1")).layer
    'dense_1'
    >>> read_key(train_key("d1", "t")).kind
    ''
    """
    parts = key.split("/")
    is_map = parts[0] == "emb"
    rest = parts[1:] if is_map else parts
    parameters: dict[str, str] = {}
    if rest[:1] == ["rep"] and len(rest) >= 7:
        _, model_fp, dataset_fp, split, layer, method, scale = rest[:7]
        kind, layer_at = "representation", None
    elif rest[:1] == ["layers"] and len(rest) >= 8 and rest[5].startswith("sample="):
        _, model_fp, dataset_fp, split, scale = rest[:5]
        parameters.update(layers_sample=rest[5].removeprefix("sample="), layers_seed=rest[6].removeprefix("seed="))
        kind, layer, method, layer_at = "layer", None, None, 7
    else:
        return KeyFields("", key, is_map)
    used = 7
    if rest[7:8] and rest[7].startswith("reduction="):  # featlib.read.reductions.key_part
        parameters["reduction"], used = rest[7].removeprefix("reduction="), 8
    if layer_at is not None:  # a layer set's layer comes after the set's own parts
        if len(rest) <= used:
            return KeyFields("", key, is_map)
        layer, used = rest[used], used + 1
    tail = rest[used:]
    for part in tail if is_map else ():  # sample=<n>/seed=<s>/<reducer>-<name>=<value>-…
        for pair in part.split("-"):
            if "=" in pair:
                name, _, value = pair.partition("=")
                parameters.setdefault(name, value)
    reducer = tail[-1].split("-", 1)[0] if is_map and tail else ""
    return KeyFields(
        kind, "/".join(rest[:used]), is_map, model_fp, dataset_fp, split, layer, method, scale, parameters, reducer
    )
