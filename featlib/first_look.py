"""The server's first look: a model and its map made before the first visitor asks (issue 24, item 2).

A server started on an empty workspace has nothing to show, and a first-time visitor used to wait for a
training, a layer's outputs and a map, one after the other, about 30 s on two cores. :func:`prepare` does
that work as jobs while the server starts, through the same :class:`featlib.service.Service` the pages ask,
with the keys the Explore page's defaults give: the visitor's page finds each result stored, or attaches to
its running job. On a workspace that has models, it maps the latest one (the model a new session starts
on, :func:`featlib.app.widgets.latest_choice`) when its map is missing; nothing is trained then.

The server runs it once per process when ``FEATLIB_FIRST_LOOK`` is on (the default;
:mod:`featlib.app.resources`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from featlib import datasets, jobs, keys, models
from featlib.jobs.stored import store_trained
from featlib.maps import embed
from featlib.maps.reducer_params import MAP_METRICS_SAMPLE, MAP_SAMPLE
from featlib.models import presets
from featlib.read import model_description, reductions
from featlib.service import ModelRef, Service
from featlib.store import ModelRecord

FIRST_MODEL = "first-look-mlp"
"""The name of the model the server trains on an empty workspace (the seed MLP, 128-64, the default preset)."""
SETTING = "FEATLIB_FIRST_LOOK"
"""The setting (:mod:`featlib.settings`) that turns the first look off, for the server and ``featlib prepare``."""
DATASET = "digits"
"""The data of the first model: the offline default dataset, a new session's default."""
CREATOR = "featlib server"
"""The maker recorded with what :func:`prepare` makes."""
HIDDEN = (128, 64)
SPLIT, METHOD = "train", "function"
"""The Explore page's default split and extraction method (:data:`featlib.app.state.DEFAULTS`)."""


@dataclass(frozen=True)
class FirstLook:
    """What :func:`prepare` made or found: the model, whether it trained it, its default layer and map's key."""

    model: ModelRecord
    trained: bool
    layer: str
    emb_key: str


def prepare(
    service: Service, dataset: datasets.Dataset, before_loading: Callable[[], None] | None = None
) -> FirstLook | None:
    """Trains the seed MLP when the workspace has no model, then maps the latest model's default layer.

    The map is the Explore page's default for a new session: the ``train`` split, the backend function, the
    ``auto`` reduction, UMAP with its default parameters on a stratified sample of at most
    :data:`featlib.maps.reducer_params.MAP_SAMPLE` images. Each step runs as a job of ``service``'s runner and
    is stored in its workspace; a result already stored is not made again. Then the model's predictions and
    the map's figures, which the page asks for next (stored too, so a restarted server shows them at once).
    A workspace that holds all of it (:func:`find`) is left as it is, without importing Keras.

    Args:
        service: the workspace and where the jobs run (the server's cluster).
        dataset: the data a new model is trained on (the server's default dataset, the offline digits).
        before_loading: called before the model is loaded in this process, with Keras (a server waits there for
            its own start-up's import of Keras: two threads importing TensorFlow at once can deadlock).

    Returns:
        What was prepared; ``None`` when the latest model was measured on other data than ``dataset`` (its
        visitors pick it on the Model page; nothing is made for them).

    Raises:
        featlib.jobs.JobError: a job failed, was cancelled or lost its worker.
        featlib.errors.FeatlibError: the latest model cannot be loaded or read.
    """
    found = find(service, dataset)
    if found is not None:
        return found
    workspace = service.workspace
    latest = workspace.list_models()
    trained = not latest
    if trained:
        record = _train(service, dataset)
    elif latest[0].meta.get("dataset_fingerprint") != dataset.fingerprint:
        return None
    else:
        record = latest[0]
    if before_loading is not None:
        before_loading()
    model = workspace.load_model(record)
    layer = models.default_layer(model)
    model_description.record_description(workspace, record, model)  # a restarted server draws the map without Keras
    ref = ModelRef.of_record(workspace, record, model)
    rep = reductions.for_layer(model, layer, reductions.AUTO, strict=False)
    outputs, rep_key = service.representation(ref, dataset, SPLIT, rep, METHOD)
    if outputs is None:
        return None
    _, labels = dataset.split(SPLIT)
    sample = _sample(dataset)
    params = embed.UMAPParams()
    emb = service.embedding(
        outputs, rep_key, labels, sample_size=sample, params=params, model_id=record.id, label="Mapping the first model"
    )
    # What the Explore page asks next, stored beside the map: predictions, the map's figures.
    service.predictions(ref, dataset, SPLIT)
    if emb is not None:
        service.scores(emb.key, outputs[emb.indices], labels[emb.indices], emb.coords, MAP_METRICS_SAMPLE)
    return FirstLook(record, trained, layer, keys.embedding_key(rep_key, sample, 0, params))


def find(service: Service, dataset: datasets.Dataset) -> FirstLook | None:
    """What :func:`prepare` made, when all of it is stored, found without Keras; else ``None``.

    The latest model measured on ``dataset``, with its description (:mod:`featlib.read.model_description`), its
    default layer's map, its predictions and the map's figures stored: a restarted server (and ``featlib
    prepare``, ``make run``) finds them in a second, where loading the model would first import TensorFlow.
    """
    latest = service.workspace.list_models()
    if not latest or latest[0].meta.get("dataset_fingerprint") != dataset.fingerprint:
        return None
    record = latest[0]
    described = model_description.of_record(record)
    if described is None:
        return None
    rep = described.representation(described.default_layer)
    rep_key = service.representation_request(record, dataset, SPLIT, rep, METHOD).key
    emb_key = keys.embedding_key(rep_key, _sample(dataset), 0, embed.UMAPParams())
    stored = (
        service.workspace.load_array("embedding", emb_key) is not None
        and service.predictions_request(record, dataset, SPLIT).load() is not None
        and service.workspace.load_result(keys.metrics_key(emb_key, MAP_METRICS_SAMPLE)) is not None
    )
    return FirstLook(record, False, described.default_layer, emb_key) if stored else None


def _sample(dataset: datasets.Dataset) -> int | None:
    """The Explore page's default sample of the split: :data:`MAP_SAMPLE` images, or all of them (``None``)."""
    return None if MAP_SAMPLE >= len(dataset.split(SPLIT)[1]) else MAP_SAMPLE


def _train(service: Service, dataset: datasets.Dataset) -> ModelRecord:
    """The seed MLP trained on ``dataset`` with the default preset, as the Model page's Train button does."""
    chosen = presets.preset(presets.DEFAULT_PRESET)
    epochs, batch_size = chosen.for_size(len(dataset.y_train))
    spec = jobs.specs.train_spec(
        dataset.fingerprint,
        len(dataset.y_train),
        hidden=HIDDEN,
        optimizer=chosen.optimizer,
        learning_rate=chosen.learning_rate,
        epochs=epochs,
        batch_size=batch_size,
        name=FIRST_MODEL,
        token=uuid.uuid4().hex,
    )
    meta = {
        "optimizer": chosen.optimizer,
        "learning_rate": chosen.learning_rate,
        "epochs": epochs,
        "batch_size": batch_size,
        "hidden": list(HIDDEN),
        "dataset_fingerprint": dataset.fingerprint,
        "first_look": True,
    }
    workspace = service.workspace
    record, _ = service.runner.run(
        spec,
        {"dataset": jobs.dataset_input(dataset)},
        store=lambda output: store_trained(
            workspace, output, name=FIRST_MODEL, dataset=dataset.name, meta=meta, creator=CREATOR
        ),
        label="Training the first model",
    )
    return record
