"""The product's main path, once: a result's key → the stored result in the workspace, else a job → stored → returned.

The pages, the CLI and ``precompute`` all ask a :class:`Service` for what they show; they differ only in
the :class:`~featlib.jobs.runner.Runner` they give it (in this process, on a cluster with tqdm bars, or
on the server's cluster with a progress bar and a Cancel button). Keys come from :mod:`featlib.keys`,
jobs from :mod:`featlib.jobs.specs`, storing from :mod:`featlib.pipeline`; so a result made by one of
them is found by the others in a shared workspace.

Every result is a :class:`Request`: :meth:`Service.get` makes one, :meth:`Service.get_all` makes
several side by side, :meth:`Service.start` and :meth:`Service.finish` let a caller interleave jobs
(``precompute``). A new analysis adds a job kind (:mod:`featlib.jobs.tasks`), a spec, a request here
and a view; never another copy of the path.

Example (an untrained seed MLP on the bundled digits, in this process):
    >>> import tempfile
    >>> from featlib import datasets, models
    >>> from featlib.jobs.runner import InlineRunner
    >>> from featlib.maps import embed, neighbour_change
    >>> from featlib.store import Workspace
    >>> workspace = Workspace(tempfile.mkdtemp())
    >>> record = models.save_model(workspace, models.build_mlp((64,), hidden=(16, 8), seed=0), "mlp", dataset="digits")
    >>> digits = datasets.load_digits()
    >>> runner = InlineRunner()
    >>> service = Service(workspace, runner)
    >>> outputs, key = service.representation(record, digits, "train", "dense_1", "function")
    >>> outputs.shape
    (1437, 8)
    >>> _, labels = digits.split("train")
    >>> emb = service.embedding(outputs, key, labels, sample_size=500, params=embed.PCAParams())
    >>> emb.coords.shape
    (500, 2)
    >>> again, _ = service.representation(record, digits, "train", "dense_1", "function")  # stored: no job runs
    >>> len(runner.ran)
    2
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from featlib import jobs, keys, models, pipeline
from featlib.jobs.manager import JobHandle
from featlib.jobs.runner import Runner, Store
from featlib.maps import embed
from featlib.maps.neighbour_change import DEFAULT_K as NEIGHBOURS_COMPARED
from featlib.maps.neighbour_change import NeighbourChange
from featlib.maps.prediction_depth import DEFAULT_K as DEPTH_K
from featlib.maps.reducer_params import MAP_SAMPLE
from featlib.read import layers, reductions
from featlib.read.extract import METHODS

if TYPE_CHECKING:
    import keras

    from featlib.datasets import Dataset
    from featlib.store import ModelRecord, Workspace

K = TypeVar("K")

LayerProgress = Callable[[str, int, int], None]
"""Called as ``progress(layer name, layers done, layers in all)``, then ``("", all, all)``."""


@dataclass(frozen=True)
class ModelRef:
    """A model as the service needs it: its fingerprint, its ``.keras`` bytes as a job input, how it reads images.

    Build one with :meth:`of_record` (a saved model) or :meth:`of_model` (a model in memory, not saved).
    """

    fingerprint: str
    input: jobs.Input
    input_scale: str = "0-1"
    id: str | None = None
    """The model's workspace id, recorded with what is stored (``None``: a model not in the workspace)."""
    output: str | None = None
    """The output read for predictions, for a model with several (its record's ``meta["output"]``)."""
    load: Callable[[], keras.Model] | None = field(default=None, compare=False, repr=False)
    """Gives the loaded Keras model, for what needs its layers' shapes (reductions, units)."""

    @classmethod
    def of_record(cls, workspace: Workspace, record: ModelRecord, loaded: keras.Model | None = None) -> ModelRef:
        """A saved model; ``loaded``: the model already loaded (else it is loaded from the workspace when needed)."""
        return cls(
            record.fingerprint,
            jobs.model_input(workspace, record),
            record.input_scale,
            record.id,
            record.meta.get("output"),
            (lambda: loaded) if loaded is not None else (lambda: workspace.load_model(record)),
        )

    @classmethod
    def of_model(
        cls,
        model: keras.Model,
        fingerprint: str | None = None,
        *,
        input_scale: str = "0-1",
        model_id: str | None = None,
        output: str | None = None,
    ) -> ModelRef:
        """A model in memory: its bytes are written for a job only when it runs (``fingerprint``: computed if unset)."""
        fp = fingerprint or models.fingerprint(model)
        return cls(
            fp,
            jobs.Input(keys.model_input_key(fp), lambda: models.model_to_bytes(model)),
            input_scale,
            model_id,
            output,
            lambda: model,
        )

    def loaded(self) -> keras.Model:
        """The Keras model.

        Raises:
            ValueError: this reference was built without a way to load the model.
        """
        if self.load is None:
            raise ValueError(f"The model {self.fingerprint} is not loaded here; build its ModelRef with of_record.")
        return self.load()


def _identity(value: Any) -> Any:
    return value


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Request:
    """One result: its key, how to find it stored, and the job that makes it.

    Attributes:
        key: the stored result's key, or the job's when it is not stored.
        spec: builds the job (raises :class:`~featlib.jobs.JobLimitError` when it asks for too much);
            called only when the result is not stored.
        inputs: builds the job's inputs (called with :attr:`spec`).
        label: what the job does, for a progress bar ("Extracting dense_1 by …").
        failure: the start of the message shown when the job fails (the app's runner).
        store: writes the job's result into the workspace in this process (``None``: not stored).
        load: the stored result, or ``None`` (``None`` always for results that are not stored).
        finish: turns the runner's result (``store``'s return value) into what is returned.
    """

    key: str
    spec: Callable[[], jobs.JobSpec]
    inputs: Callable[[], Mapping[str, Any]]
    label: str
    failure: str = ""
    store: Store | None = None
    load: Callable[[], Any] = _nothing
    finish: Callable[[Any], Any] = _identity


class Service:
    """Gets or makes every result the product shows, in ``workspace``, running jobs through ``runner``.

    Args:
        workspace: where results are stored and looked up.
        runner: how jobs run and show progress (:mod:`featlib.jobs.runner`).
        creator: who asks (the app's user name): recorded as the maker of every result stored.
    """

    def __init__(self, workspace: Workspace, runner: Runner, *, creator: str = ""):
        self.workspace = workspace
        self.runner = runner
        self.creator = creator

    # The path ------------------------------------------------------------------

    def get(self, request: Request) -> Any | None:
        """The stored result of ``request``, else its job's, run through the runner and stored.

        Returns ``None`` only when the runner showed why there is no result (the app's).

        Raises:
            featlib.jobs.JobLimitError: the job asks for more than its kind allows (nothing ran).
            featlib.jobs.JobError, or the job's own exception in this process: see the runner's ``wait``.
        """
        found = request.load()
        if found is not None:
            return found
        result = self.runner.run(
            request.spec(), request.inputs(), request.store, label=request.label, failure=request.failure
        )
        return None if result is None else request.finish(result)

    def start(self, request: Request) -> JobHandle | None:
        """Starts the job of ``request`` unless its result is stored (then ``None``); see :meth:`finish`.

        Raises:
            featlib.jobs.JobLimitError: the job asks for more than its kind allows (nothing ran).
        """
        if request.load() is not None:
            return None
        return self.runner.start(request.spec(), request.inputs(), request.store)

    def finish(self, request: Request, handle: JobHandle | None, label: str = "") -> Any | None:
        """The result of ``request``: stored (``handle`` is ``None``), else its job's when it ends (see :meth:`get`)."""
        if handle is None:
            return request.load()
        result = self.runner.wait(handle, label=label or request.label, failure=request.failure)
        return None if result is None else request.finish(result)

    def get_all(
        self,
        requests: Mapping[K, Request],
        progress: LayerProgress | None = None,
        label: Callable[[K, int, int], str] | None = None,
    ) -> dict[K, Any] | None:
        """Every result of ``requests``: the stored ones, and the others' jobs all started before any is waited for.

        Args:
            requests: by name, in the order the results are returned.
            progress: called with each name before its result is looked up, then with ``("", n, n)``.
            label: ``label(name, i, n)``: the progress label of the ``i``-th of the ``n`` jobs that run.

        Returns:
            ``{name: result}``, or ``None`` as soon as one result is ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: a job asks for too much (none of the others is started after it).
        """
        handles: dict[K, JobHandle | None] = {}
        for done, (name, request) in enumerate(requests.items()):
            if progress is not None:
                progress(str(name), done, len(requests))
            handles[name] = self.start(request)
        running = [name for name, handle in handles.items() if handle is not None]
        results: dict[K, Any] = {}
        for name, request in requests.items():
            handle = handles[name]
            text = label(name, running.index(name), len(running)) if label is not None and handle is not None else ""
            result = self.finish(request, handle, text)
            if result is None:
                return None
            results[name] = result
        if progress is not None:
            progress("", len(requests), len(requests))
        return results

    def _ref(self, model: ModelRecord | ModelRef) -> ModelRef:
        return model if isinstance(model, ModelRef) else ModelRef.of_record(self.workspace, model)

    # Representations -----------------------------------------------------------

    def representation_request(
        self,
        model: ModelRecord | ModelRef,
        dataset: Dataset,
        split: str,
        layer: str | reductions.Representation,
        method: str,
        *,
        reduction: str = reductions.AUTO,
        input_scale: str | None = None,
    ) -> Request:
        """The request of :meth:`representation` (its ``finish`` loads the stored array)."""
        ref = self._ref(model)
        rep = (
            layer
            if isinstance(layer, reductions.Representation)
            else reductions.for_layer(ref.loaded(), layer, reduction)
        )
        scale = input_scale or ref.input_scale
        key = keys.representation_key(
            ref.fingerprint, dataset.fingerprint, split, rep.layer, method, scale, rep.reduction
        )
        n_images = len(dataset.split(split)[1])
        how = (
            METHODS[method]
            if rep.reduction == "flatten"
            else f"{METHODS[method]}, {reductions.REDUCTIONS[rep.reduction]}"
        )

        def load() -> np.ndarray | None:
            return self.workspace.load_array("representation", key)

        def store(outputs: np.ndarray) -> bool:  # no copy kept with the job: readers load the stored file
            return pipeline.save_representation(
                self.workspace,
                key,
                outputs,
                dataset,
                split,
                rep.layer,
                method,
                ref.id,
                reduction=rep.reduction,
                creator=self.creator,
            )

        return Request(
            key,
            spec=lambda: jobs.specs.extract_spec(
                key,
                n_images,
                rep.units,
                split=split,
                layer=rep.layer,
                method=method,
                input_scale=scale,
                model_fp=ref.fingerprint,
                reduction=rep.reduction,
            ),
            inputs=lambda: {"model": ref.input, "dataset": jobs.dataset_input(dataset)},
            label=f"Extracting {rep.layer} by {how}",
            failure=f"This model cannot read {dataset.name}",
            store=store,
            load=load,
            finish=lambda stored: load() if stored else None,
        )

    def representation(
        self,
        model: ModelRecord | ModelRef,
        dataset: Dataset,
        split: str,
        layer: str | reductions.Representation,
        method: str,
        *,
        reduction: str = reductions.AUTO,
        input_scale: str | None = None,
    ) -> tuple[np.ndarray | None, str]:
        """A layer's representation of every image of a split, and its key (:func:`featlib.keys.representation_key`).

        Args:
            model: a saved model's record, or a :class:`ModelRef`.
            dataset, split: the images (``"train"`` or ``"test"``).
            layer: the layer's name, resolved with ``reduction`` (a key of :data:`featlib.read.reductions.CHOICES`,
                ``auto`` by default) on the loaded model; or a :class:`~featlib.read.reductions.Representation`
                already resolved (``reduction`` is then not used).
            method: a key of :data:`featlib.read.extract.METHODS`.
            input_scale: ``"0-1"`` or ``"0-255"`` (default: the model's).

        Returns:
            ``(outputs, key)``: float32 ``(n images, units)``, or ``None`` when the runner showed why there is
            none, or the model was deleted before the result was stored.

        Raises:
            ReductionError: an unknown reduction, or pooling a layer without spatial axes.
            ModelError: no such layer.
            featlib.jobs.JobLimitError: the result would be larger than an extraction may return.
            The job's error (see :meth:`get`).
        """
        request = self.representation_request(
            model, dataset, split, layer, method, reduction=reduction, input_scale=input_scale
        )
        return self.get(request), request.key

    # Maps ------------------------------------------------------------------------

    def embedding_request(
        self,
        outputs: np.ndarray,
        rep_key: str,
        labels: np.ndarray,
        *,
        sample_size: int | None = MAP_SAMPLE,
        params: embed.ReducerParams = embed.UMAPParams(),
        sample_seed: int = 0,
        model_id: str | None = None,
        label: str = "",
    ) -> Request:
        """The request of :meth:`embedding`."""
        key = keys.embedding_key(rep_key, sample_size, sample_seed, params)
        title = embed.REDUCER_TITLES[embed.reducer_name(params)]

        @functools.cache
        def indices() -> np.ndarray:  # drawn only when the map is made, not when a stored one is loaded
            return embed.stratified_sample(labels, sample_size, seed=sample_seed)

        def spec() -> jobs.JobSpec:
            return jobs.specs.reduce_spec(
                key, len(indices()), params, keys.graph_key(rep_key, sample_size, sample_seed, params)
            )

        def store(coords: np.ndarray) -> pipeline.Embedding:
            return pipeline.save_embedding(
                self.workspace, key, indices(), coords, rep_key, model_id, creator=self.creator
            )

        return Request(
            key,
            spec,
            inputs=lambda: {
                "points": jobs.Input(keys.points_key(rep_key, sample_size, sample_seed), lambda: outputs[indices()]),
                "labels": np.asarray(labels)[indices()],
            },
            label=label or f"Computing the {title} map",
            failure=f"The {title} map cannot be made",
            store=store,
            load=lambda: pipeline.load_embedding(self.workspace, key),
        )

    def embedding(
        self,
        outputs: np.ndarray,
        rep_key: str,
        labels: np.ndarray,
        *,
        sample_size: int | None = MAP_SAMPLE,
        params: embed.ReducerParams = embed.UMAPParams(),
        sample_seed: int = 0,
        model_id: str | None = None,
        label: str = "",
    ) -> pipeline.Embedding | None:
        """A 2-D map of a label-stratified sample of ``outputs`` (:func:`featlib.keys.embedding_key`).

        Args:
            outputs: the representation, float32 ``(n, units)``; read only when the map is made.
            rep_key: its key (:func:`featlib.keys.representation_key` or :func:`featlib.keys.layer_key`).
            labels: the ``n`` points' classes (int).
            sample_size: points sampled (``None``: all); ``sample_seed``: the sample's seed.
            params: the reducer and its parameters (UMAP, PCA or t-SNE).
            model_id: the model's workspace id, recorded with the map.
            label: the progress label (default: "Computing the UMAP map").

        Returns:
            The :class:`~featlib.pipeline.Embedding`: ``indices`` int (positions in ``outputs``, sorted),
            ``coords`` float32 ``(sample, 2)``, ``key``; ``None`` when the runner showed why there is none.

        Raises:
            ReducerError: a sample size below 1.
            featlib.jobs.JobLimitError: more points than the reducer may map here.
            The job's error (see :meth:`get`): e.g. ``ValueError`` for outputs holding NaN, in this process.
        """
        return self.get(
            self.embedding_request(
                outputs,
                rep_key,
                labels,
                sample_size=sample_size,
                params=params,
                sample_seed=sample_seed,
                model_id=model_id,
                label=label,
            )
        )

    # Predictions and scores ------------------------------------------------------

    def predictions(
        self, model: ModelRecord | ModelRef, dataset: Dataset, split: str, input_scale: str | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The model's predicted label (int64) and its probability (float32), ``(n images,)`` each, for a split.

        Not stored: the job's result is kept in memory by a cluster's job manager (:func:`featlib.keys.predict_key`).
        A model with several outputs predicts from the one its record names.

        Raises:
            featlib.jobs.JobLimitError: more images than a prediction may read here.
            The job's error (see :meth:`get`): e.g. ModelError, no output fits the dataset's classes.
        """
        ref = self._ref(model)
        scale = input_scale or ref.input_scale
        n_images = len(dataset.split(split)[1])
        return self.get(
            Request(
                keys.predict_key(ref.fingerprint, dataset.fingerprint, split, scale, ref.output),
                spec=lambda: jobs.specs.predict_spec(
                    ref.fingerprint, dataset.fingerprint, n_images, split=split, input_scale=scale, output=ref.output
                ),
                inputs=lambda: {"model": ref.input, "dataset": jobs.dataset_input(dataset)},
                label="Predicting labels",
                failure=f"The model cannot predict {dataset.name}",
            )
        )

    def scores_request(
        self,
        subject: str,
        reps: np.ndarray,
        labels: np.ndarray,
        coords: np.ndarray | None,
        sample_size: int | None,
        label: str = "",
        failure: str = "",
    ) -> Request:
        """The request of :meth:`scores`."""
        return Request(
            keys.metrics_key(subject, sample_size),
            spec=lambda: jobs.specs.metrics_spec(subject, len(reps), sample_size),
            inputs=lambda: {"reps": reps, "labels": labels, "coords": coords},
            label=label or f"Scoring {len(reps):,} points",
            failure=failure or "The points cannot be scored",
        )

    def scores(
        self, subject: str, reps: np.ndarray, labels: np.ndarray, coords: np.ndarray | None, sample_size: int | None
    ) -> dict | None:
        """:func:`featlib.metrics.layer_metrics` of points of a representation and (``coords``) their map.

        Args:
            subject: what is scored (:func:`featlib.keys.metrics_key`): a map's key, or a layer's
                (:func:`featlib.keys.layer_scores_subject`).
            reps: float32 ``(n, units)``; labels: int ``(n,)``; coords: float ``(n, 2)`` or ``None`` (no map figures).
            sample_size: scored on at most this many of the points, stratified (``None``: all).

        Returns:
            ``{"knn_acc", "probe_acc", "silhouette", "knn_acc_2d", "trustworthiness", "n", "sample", ...}``
            (figures are floats or :class:`featlib.metrics.NotAvailable`); not stored.

        Raises:
            featlib.jobs.JobLimitError: more points than scoring may take here.
        """
        return self.get(self.scores_request(subject, reps, labels, coords, sample_size))

    # Every layer ---------------------------------------------------------------

    def layer_set(
        self,
        model: ModelRecord | ModelRef,
        dataset: Dataset,
        split: str,
        *,
        sample_size: int | None = layers.DEFAULT_SAMPLE,
        reduction: str = reductions.AUTO,
    ) -> layers.LayerSet | None:
        """Every layer's representation (and the inputs) for a stratified sample of a split, read in one job.

        Not stored: the job (:func:`featlib.keys.layer_set_job_key`) is kept in memory by a cluster's job
        manager; the :class:`~featlib.read.layers.LayerSet`'s own key is :func:`featlib.keys.layer_set_key`.

        Returns:
            The layer set (``reps``: float32 ``(points, units)`` per name), or ``None`` (see :meth:`get`).

        Raises:
            ReductionError: an unknown reduction.
            featlib.jobs.JobLimitError: the layers' outputs would be larger than the job may return.
            The job's error (see :meth:`get`): e.g. LayerError, no layer narrow enough.
        """
        ref = self._ref(model)
        reductions.check_choice(reduction)
        n_images = len(dataset.split(split)[1])
        points = min(sample_size or n_images, n_images)
        key = keys.layer_set_job_key(
            ref.fingerprint, dataset.fingerprint, split, ref.input_scale, sample_size, reduction
        )
        return self.get(
            Request(
                key,
                spec=lambda: jobs.specs.layer_set_spec(
                    key,
                    points,
                    layers.total_units(ref.loaded(), reduction=reduction),
                    model_fp=ref.fingerprint,
                    split=split,
                    input_scale=ref.input_scale,
                    sample_size=sample_size,
                    reduction=reduction,
                ),
                inputs=lambda: {"model": ref.input, "dataset": jobs.dataset_input(dataset)},
                label=f"Reading every layer for {points:,} points in one pass",
                failure=f"The layers of this model cannot be read for {dataset.name}",
            )
        )

    def layer_maps(
        self,
        ls: layers.LayerSet,
        params: embed.ReducerParams = embed.PCAParams(),
        *,
        model_id: str | None = None,
        names: Sequence[str] | None = None,
        progress: LayerProgress | None = None,
    ) -> dict[str, np.ndarray] | None:
        """A 2-D map of each representation of ``ls`` (all of its points), stored in the workspace.

        Each is the map :meth:`embedding` makes of the layer (:func:`featlib.keys.layer_key`, no sample);
        the missing ones run side by side.

        Args:
            ls: the layer set; names: the representations mapped (default: all, in order).
            params: the reducer and its parameters; model_id: recorded with each map.
            progress: see :meth:`get_all`.

        Returns:
            ``{name: float32 (points, 2)}``, rows in the order of ``ls.indices``; ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points than the reducer may map here.
        """
        title = embed.REDUCER_TITLES[embed.reducer_name(params)]
        requests = {
            name: self.embedding_request(
                ls.reps[name],
                keys.layer_key(ls.key, name),
                ls.labels,
                sample_size=None,
                params=params,
                model_id=model_id,
            )
            for name in (ls.names if names is None else names)
        }
        for name, request in requests.items():
            requests[name] = replace(request, failure=f"The {title} map of {name} cannot be made")
        found = self.get_all(requests, progress, label=lambda name, i, n: f"{title} map of {name} ({i + 1}/{n})")
        return None if found is None else {name: emb.coords for name, emb in found.items()}

    def layer_scores(
        self,
        ls: layers.LayerSet,
        coords: Mapping[str, np.ndarray] | None = None,
        params: embed.ReducerParams | None = None,
        *,
        names: Sequence[str] | None = None,
    ) -> list[dict] | None:
        """One row of figures per representation of ``ls``, scored on all of its points, the jobs side by side.

        Args:
            ls: the layer set; names: the representations scored (default: all, in order).
            coords: each one's map (:meth:`layer_maps`), for the map's figures; params: the reducer that made them
                (part of the key; ``None`` with no maps).

        Returns:
            ``[{"layer", "units", "reduction", **figures}]`` (see :meth:`scores`); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points than scoring may take here.
        """
        chosen = ls.names if names is None else list(names)
        requests = {
            name: self.scores_request(
                keys.layer_scores_subject(keys.layer_key(ls.key, name), params),
                ls.reps[name],
                ls.labels,
                None if coords is None else coords.get(name),
                None,
                failure="The layers cannot be scored on this sample",
            )
            for name in chosen
        }
        found = self.get_all(requests, label=lambda name, i, n: f"Scoring {name} ({i + 1}/{n})")
        if found is None:
            return None
        return [
            {"layer": name, "units": int(ls.reps[name].shape[1]), "reduction": ls.reduction(name), **found[name]}
            for name in chosen
        ]

    def neighbour_change(
        self,
        before: tuple[str, np.ndarray],
        after: tuple[str, np.ndarray],
        indices: np.ndarray,
        sample_size: int | None,
        k: int = NEIGHBOURS_COMPARED,
    ) -> NeighbourChange | None:
        """Each sampled image's ``k`` nearest neighbours in two representations, and how many it kept.

        Args:
            before, after: ``(representation key, outputs (n images, units))`` of the same split, e.g. two
                Compare panels (two layers, checkpoints, models or methods).
            indices: int ``(m,)``, the sampled images (a map's :attr:`featlib.pipeline.Embedding.indices`).
            sample_size: the sample's size as its maps are keyed (``None``: every image).
            k: neighbours per image.

        Returns:
            A :class:`featlib.maps.neighbour_change.NeighbourChange` over the ``m`` images (positions in
            ``indices``); not stored, kept in memory by a cluster's job manager; ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more images than the job may take here.
        """
        (key_a, outputs_a), (key_b, outputs_b) = before, after
        return self.get(
            Request(
                keys.neighbour_change_key(key_a, key_b, sample_size, k),
                spec=lambda: jobs.specs.neighbour_change_spec(key_a, key_b, sample_size, len(indices), k),
                inputs=lambda: {"before": outputs_a[indices], "after": outputs_b[indices]},
                label=f"Comparing the {k} nearest neighbours of {len(indices):,} images",
                failure="The neighbours cannot be compared",
            )
        )

    def cka(
        self, ls: layers.LayerSet, other: layers.LayerSet | None = None, *, names: Sequence[str] | None = None
    ) -> np.ndarray | None:
        """Linear CKA between the representations of ``ls`` (``names``, default all), or against ``other``'s.

        Returns:
            float64 ``(rows, columns)``: rows ``ls``'s, columns ``other``'s (or ``ls``'s); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points than the job may take here.
        """
        reps = [ls.reps[name] for name in (ls.names if names is None else names)]
        subject = keys.cka_subject(ls.key, names, None if other is None else other.key)
        return self.get(
            Request(
                keys.cka_key(subject),
                spec=lambda: jobs.specs.cka_spec(subject, len(reps[0])),
                inputs=lambda: {"reps": reps, "other": None if other is None else list(other.reps.values())},
                label="Linear CKA between layers",
                failure="CKA cannot be computed",
            )
        )

    def prediction_depth(
        self,
        ls: layers.LayerSet,
        predicted: np.ndarray,
        k: int = DEPTH_K,
    ) -> np.ndarray | None:
        """Each sampled image's prediction depth over the representations of ``ls``, in order (Baldock et al. 2021).

        Args:
            ls: the layer set; predicted: int ``(points,)``, the model's predicted label of each sampled image
                (rows in the order of ``ls.indices``); k: neighbours voting per image, the image itself excluded.
                The neighbours vote with their true labels (``ls.labels``: the paper's support set); see
                :mod:`featlib.maps.prediction_depth`.

        Returns:
            int64 ``(points,)``: the first representation's index (0: ``ls.names[0]``) from which every
            layer's k-NN vote is the prediction, ``len(ls.names)`` when never; not stored, kept in memory by a
            cluster's job manager (:func:`featlib.keys.prediction_depth_key`); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points than the job may take here.
            The job's error (see :meth:`get`): NeighbourError, e.g. ``k`` not below the points.
        """
        reps = list(ls.reps.values())
        return self.get(
            Request(
                keys.prediction_depth_key(ls.key, k),
                spec=lambda: jobs.specs.prediction_depth_spec(ls.key, len(ls.indices), len(reps), k),
                inputs=lambda: {"reps": reps, "predicted": np.asarray(predicted), "support": ls.labels},
                label=f"Prediction depth of {len(ls.indices):,} images ({k}-NN in each of {len(reps)} layers)",
                failure="The prediction depth cannot be computed",
            )
        )
