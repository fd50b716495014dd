"""The results pages ask for, each from the workspace (or this server's memory) or else from a job.

Every function here returns quickly when the result exists, and otherwise
runs a job through :func:`featlib.app.job_watch.run` (progress, queue place,
cancel) whose result the server's job manager stores in the workspace.
Functions return ``None`` after showing why there is no result.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import datasets, jobs, pipeline
from featlib.app import job_watch as running
from featlib.app import resources, text
from featlib.maps import embed
from featlib.read import reductions
from featlib.read.extract import METHODS
from featlib.store import ModelRecord

METRICS_SAMPLE = 5_000
"""A map's metrics are scored on at most this many of its points (stratified)."""


def _refused(error: jobs.JobLimitError, what: str) -> None:
    text.error(f"{what} cannot be made: {error}")


def representation(record: ModelRecord, dataset: datasets.Dataset, split: str, layer: str, method: str,
                   units: int, reduction: str = "flatten") -> tuple[np.ndarray | None, str]:  # fmt: skip
    """A layer's representation ``(n, units)`` float32 for a split, and its key; ``(None, key)`` after explaining.

    ``units`` counts its columns after ``reduction`` (a key of :data:`featlib.read.reductions.REDUCTIONS`).
    """
    key = pipeline.representation_key(record.fingerprint, dataset.fingerprint, split, layer, method, record.input_scale,
                                      reduction)  # fmt: skip
    cached = resources.workspace().load_array("representation", key)
    if cached is not None:
        return cached, key
    images, _ = dataset.split(split)
    try:
        spec = jobs.specs.extract_spec(key, len(images), units, split=split, layer=layer, method=method,
                                       input_scale=record.input_scale, model_fp=record.fingerprint,
                                       reduction=reduction)  # fmt: skip
    except jobs.JobLimitError as error:
        _refused(error, f"The outputs of {layer}")
        return None, key

    workspace = resources.workspace()

    def store(outputs: np.ndarray) -> bool:  # the server keeps no copy in memory: pages read the stored file
        return pipeline.save_representation(workspace, key, outputs, dataset, split, layer, method, record.id,
                                            reduction=reduction)  # fmt: skip

    how = METHODS[method] if reduction == "flatten" else f"{METHODS[method]}, {reductions.REDUCTIONS[reduction]}"
    stored = running.run(
        spec, {"model": running.model_input(record), "dataset": running.dataset_input(dataset)}, store=store,
        label=f"Extracting {layer} by {how}", failure=f"This model cannot read {dataset.name}",
    )  # fmt: skip
    return (resources.workspace().load_array("representation", key) if stored is not None else None), key


def embedding(record: ModelRecord, outputs: np.ndarray, rep_key: str, labels: np.ndarray, sample_size: int | None,
              params: embed.ReducerParams, label: str) -> pipeline.Embedding | None:  # fmt: skip
    """The 2-D map of a stratified sample of ``outputs``, from the workspace or a reducer job."""
    key = pipeline.embedding_key(rep_key, sample_size, 0, params)
    emb = pipeline.load_embedding(resources.workspace(), key)
    if emb is not None:
        return emb
    indices = embed.stratified_sample(labels, sample_size, seed=0)
    try:
        spec = jobs.specs.reduce_spec(key, len(indices), params, graph_key=pipeline.graph_key(rep_key, sample_size, 0, params))
    except jobs.JobLimitError as error:
        _refused(error, f"The {embed.REDUCER_TITLES[embed.reducer_name(params)]} map")
        return None

    workspace = resources.workspace()

    def store(coords: np.ndarray) -> pipeline.Embedding:
        return pipeline.save_embedding(workspace, key, indices, coords, rep_key, record.id)

    points = jobs.Input(f"points/{rep_key}/{sample_size}", lambda: outputs[indices])
    return running.run(spec, {"points": points, "labels": labels[indices]}, store=store, label=label,
                       failure=f"The {embed.REDUCER_TITLES[embed.reducer_name(params)]} map cannot be made")  # fmt: skip


def predictions(model_id: str, dataset_key: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's predicted label (int64) and its probability (float32) for every image; stops the page on failure.

    Kept in memory by the server's job manager for every session (the last
    :data:`featlib.jobs.manager.KEEP_FINISHED` jobs' results). A model with several outputs
    predicts from the one its record names (``meta["output"]``, chosen on upload or on the Model page).
    """
    record = resources.record(model_id)
    dataset = resources.dataset(dataset_key)
    images, _ = dataset.split(split)
    try:
        spec = jobs.specs.predict_spec(record.fingerprint, dataset.fingerprint, len(images), split=split,
                                       input_scale=record.input_scale, output=record.meta.get("output"))  # fmt: skip
    except jobs.JobLimitError as error:
        text.error(f"Labels cannot be predicted: {error}")
        st.stop()
    result = running.run(spec, {"model": running.model_input(record), "dataset": running.dataset_input(dataset)},
                         label="Predicting labels", failure=f"The model cannot predict {dataset.name}")  # fmt: skip
    if result is None:
        st.stop()
    return result


def layer_metrics(key: str, reps: np.ndarray, labels: np.ndarray, coords: np.ndarray | None,
                  sample_size: int | None = METRICS_SAMPLE) -> dict | None:  # fmt: skip
    """:func:`featlib.metrics.layer_metrics` of a map's points (kept per ``key``), or ``None`` after explaining."""
    try:
        spec = jobs.specs.metrics_spec(key, len(reps), sample_size)
    except jobs.JobLimitError as error:
        text.error(f"The points cannot be scored: {error}")
        return None
    return running.run(spec, {"reps": reps, "labels": labels, "coords": coords},
                       label=f"Scoring {len(reps):,} points", failure="The points cannot be scored")  # fmt: skip
