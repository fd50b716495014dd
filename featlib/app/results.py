"""The results pages ask for, each from the workspace (or this server's memory) or else from a job.

Every function here asks the service (:func:`featlib.app.runner.service`, :mod:`featlib.service`): it
returns quickly when the result exists, and otherwise runs a job through
:func:`featlib.app.job_watch.run` (progress, queue place, cancel) whose result the server's job manager
stores in the workspace. Functions return ``None`` after showing why there is no result (a job refused
for its size is said here).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import datasets, jobs, pipeline
from featlib.app import resources, text
from featlib.app.runner import service
from featlib.maps import embed, reducer_params
from featlib.maps.neighbour_change import NeighbourChange
from featlib.read import reductions
from featlib.store import ModelRecord

METRICS_SAMPLE = reducer_params.MAP_METRICS_SAMPLE
"""A map's metrics are scored on at most this many of its points (stratified)."""


def _refused(error: jobs.JobLimitError, what: str) -> None:
    text.error(f"{what} cannot be made: {error}")


def representation(
    record: ModelRecord, dataset: datasets.Dataset, split: str, rep: reductions.Representation, method: str
) -> tuple[np.ndarray | None, str]:
    """A layer's representation ``(n, rep.units)`` float32 for a split, and its key; ``(None, key)`` after explaining.

    ``rep`` says how the layer is read (:func:`featlib.read.reductions.for_layer`: its reduction and units).
    """
    request = service().representation_request(record, dataset, split, rep, method)
    try:
        return service().get(request), request.key
    except jobs.JobLimitError as error:
        _refused(error, f"The outputs of {rep.layer}")
        return None, request.key


def embedding(
    record: ModelRecord,
    outputs: np.ndarray,
    rep_key: str,
    labels: np.ndarray,
    sample_size: int | None,
    params: embed.ReducerParams,
    label: str,
) -> pipeline.Embedding | None:
    """The 2-D map of a stratified sample of ``outputs``, from the workspace or a reducer job."""
    try:
        return service().embedding(
            outputs, rep_key, labels, sample_size=sample_size, params=params, model_id=record.id, label=label
        )
    except jobs.JobLimitError as error:
        _refused(error, f"The {embed.REDUCER_TITLES[embed.reducer_name(params)]} map")
        return None


def predictions(model_id: str, dataset_key: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's predicted label (int64) and its probability (float32) for every image; stops the page on failure.

    Kept in memory by the server's job manager for every session (the last
    :data:`featlib.jobs.manager.KEEP_FINISHED` jobs' results). A model with several outputs
    predicts from the one its record names (``meta["output"]``, chosen on upload or on the Model page).
    """
    try:
        result = service().predictions(resources.record(model_id), resources.dataset(dataset_key), split)
    except jobs.JobLimitError as error:
        text.error(f"Labels cannot be predicted: {error}")
        st.stop()
    if result is None:
        st.stop()
    return result


def layer_metrics(
    key: str, reps: np.ndarray, labels: np.ndarray, coords: np.ndarray | None, sample_size: int | None = METRICS_SAMPLE
) -> dict | None:
    """:func:`featlib.metrics.layer_metrics` of a map's points (kept per ``key``), or ``None`` after explaining."""
    try:
        return service().scores(key, reps, labels, coords, sample_size)
    except jobs.JobLimitError as error:
        text.error(f"The points cannot be scored: {error}")
        return None


def neighbour_change(
    before: tuple[str, np.ndarray], after: tuple[str, np.ndarray], indices: np.ndarray, sample_size: int | None
) -> NeighbourChange | None:
    """:meth:`featlib.service.Service.neighbour_change` of two representations (a job, kept in memory), or ``None``
    after explaining."""
    try:
        return service().neighbour_change(before, after, indices, sample_size)
    except jobs.JobLimitError as error:
        text.error(f"The neighbours cannot be compared: {error}")
        return None
