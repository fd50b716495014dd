"""Precomputing a model's representations and maps as jobs, so the dashboard shows them at once.

``python -m featlib precompute MODEL --dataset D`` calls :func:`run`: one
extraction job per layer × method, and once each has been stored, one map
job per reducer on a stratified sample. They run side by side on the
cluster's workers; this process stores every result in the workspace through
the service the pages ask (:class:`featlib.service.Service`), so a page opening
any of them reads a file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from featlib import jobs, models
from featlib.cli.runner import follow, progress_bar
from featlib.datasets import Dataset
from featlib.errors import UsageError
from featlib.maps import embed
from featlib.models import keras_config
from featlib.read import reductions
from featlib.read.extract import METHODS
from featlib.service import ModelRef, Service

REDUCER_PARAMS = {"umap": embed.UMAPParams, "pca": embed.PCAParams, "tsne": embed.TSNEParams}


@dataclass
class Summary:
    """What :func:`run` did: counts of results computed and already stored, and the failures with their reasons."""

    computed: int = 0
    already: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def text(self) -> str:
        """One line per failure, then the counts."""
        lines = [f"failed: {reason}" for reason in self.failed]
        lines.append(
            f"precomputed {self.computed} result(s), {self.already} already in the workspace, "
            f"{len(self.failed)} failed, in {self.seconds:.1f} s"
        )
        return "\n".join(lines)


def _choices(text: str, known, what: str) -> list[str]:
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [c for c in chosen if c not in known]
    if not chosen or unknown:
        raise UsageError(f"--{what} takes a comma-separated list of {sorted(known)}; got {text!r}.")
    return chosen


def run(
    service: Service,
    model: str,
    dataset: Dataset,
    *,
    split: str = "train",
    layers: str = "all",
    methods: str = "function,submodel",
    reducers: str = "umap,pca",
    sample_size: int | None = 10_000,
    reduction: str = reductions.AUTO,
) -> Summary:
    """Computes every chosen (layer, method) representation and (reducer) map that the workspace lacks.

    Args:
        service: the workspace the results fill, and its runner: where the jobs run (a cluster, or this process).
        model: a model's name or id in the workspace.
        dataset, split: the images.
        layers: ``"all"`` or comma-separated layer names.
        methods, reducers: comma-separated names (``function``, ``submodel``; ``umap``, ``pca``, ``tsne``).
        sample_size: the stratified sample each map is made of (``None``: every image).
        reduction: a key of :data:`featlib.read.reductions.CHOICES` for the layers with spatial axes
            (the others are flattened).

    Raises:
        featlib.datasets.DatasetError: the dataset has no ``split`` split; before the model is loaded.
        ValueError: unknown layers, methods or reducers, or a sample above a reducer's limit or below its minimum
            (:class:`featlib.maps.embed.ReducerError`); before any job runs (methods, reducers and the sample before
            the model is loaded).
        featlib.store.WorkspaceError: no such model.
    """
    started = time.perf_counter()
    workspace = service.workspace
    images, labels = dataset.split(split)  # a split the dataset lacks is refused before the model loads
    reductions.check_choice(reduction)
    chosen_methods = _choices(methods, METHODS, "methods")
    params = [REDUCER_PARAMS[r]() for r in _choices(reducers, REDUCER_PARAMS, "reducers")]
    indices = embed.stratified_sample(labels, sample_size, seed=0)
    for p in params:  # refuse what a reducer's limit forbids, or too few points for it, before anything runs
        jobs.specs.reduce_spec("check", len(indices), p)
        try:
            embed.check_points(p, len(indices))
        except embed.ReducerError as error:
            able = [name for name, cls in REDUCER_PARAMS.items() if len(indices) >= embed.min_points(cls())]
            raise embed.ReducerError(
                f"{error} With --reducers, choose among those that can map {len(indices)} "
                f"points with their defaults: {', '.join(able) or 'none'}."
            ) from None
    record = workspace.get_model(model)
    if layers.strip() != "all":  # a layer the model's file names nowhere is refused before the model loads
        data = workspace.model_bytes(record)
        if keras_config.unknown_layers(data, [n.strip() for n in layers.split(",") if n.strip()]):
            _choices(layers, keras_config.top_level_layers(data), "layers")
    loaded = workspace.load_model(record)
    names = [layer.name for layer in loaded.layers]
    chosen_layers = names if layers.strip() == "all" else _choices(layers, names, "layers")
    models.adapt_images(images[:1], loaded, record.input_scale)
    ref = ModelRef.of_record(workspace, record, loaded)
    summary = Summary()
    handles: list = []
    waiting_maps: dict[str, object] = {}  # rep key -> extraction handle

    def submit_maps(rep_key: str) -> None:
        outputs = workspace.load_array("representation", rep_key)
        for p in params:
            handle = service.start(
                service.embedding_request(
                    outputs, rep_key, labels, sample_size=sample_size, params=p, model_id=record.id
                )
            )
            if handle is None:
                summary.already += 1
            else:
                handles.append(handle)

    for layer in chosen_layers:
        rep = reductions.for_layer(loaded, layer, reduction, strict=False)
        for method in chosen_methods:
            request = service.representation_request(ref, dataset, split, rep, method)
            handle = service.start(request)
            if handle is None:
                summary.already += 1
                submit_maps(request.key)
                continue
            handles.append(handle)
            waiting_maps[request.key] = handle
    with progress_bar("precompute: representations and maps", total=max(len(handles), 1), unit="job") as bar:
        while waiting_maps:
            for rep_key, handle in list(waiting_maps.items()):
                if handle.is_finished:
                    del waiting_maps[rep_key]
                    if handle.error is None:
                        submit_maps(rep_key)
            bar.total = len(handles)
            bar.n = sum(h.is_finished for h in handles)
            bar.refresh()
            time.sleep(0.2)
        follow(handles, bar)
    for handle in handles:
        if handle.error is not None:
            summary.failed.append(f"{handle.spec.title}: {handle.error}")
        else:
            summary.computed += 1
    summary.seconds = time.perf_counter() - started
    return summary
