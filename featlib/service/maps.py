"""The service's representations, maps, predictions and scores (a part of :class:`featlib.service.Service`)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from featlib import jobs, keys, pipeline
from featlib.maps import embed
from featlib.maps.reducer_params import MAP_SAMPLE
from featlib.read import reductions
from featlib.read.extract import METHODS
from featlib.service.path import ServicePath
from featlib.service.requests import ModelRef, Request

if TYPE_CHECKING:
    from featlib.datasets import Dataset
    from featlib.store import ModelRecord


class MapResults(ServicePath):
    """Representations, maps, predictions and their figures: the results every page starts from."""

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

    def predictions_request(
        self, model: ModelRecord | ModelRef, dataset: Dataset, split: str, input_scale: str | None = None
    ) -> Request:
        """The request of :meth:`predictions` (its ``load`` finds them stored, without Keras)."""
        ref = self._ref(model)
        scale = input_scale or ref.input_scale
        n_images = len(dataset.split(split)[1])
        key = keys.predict_key(ref.fingerprint, dataset.fingerprint, split, scale, ref.output)
        return Request(
            key,
            **self.kept(key, ref.id),
            spec=lambda: jobs.specs.predict_spec(
                ref.fingerprint, dataset.fingerprint, n_images, split=split, input_scale=scale, output=ref.output
            ),
            inputs=lambda: {"model": ref.input, "dataset": jobs.dataset_input(dataset)},
            label="Predicting labels",
            failure=f"The model cannot predict {dataset.name}",
        )

    def predictions(
        self, model: ModelRecord | ModelRef, dataset: Dataset, split: str, input_scale: str | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The model's predicted label (int64) and its probability (float32), ``(n images,)`` each, for a split.

        Kept in the workspace as a figure of the model (:meth:`kept`, :func:`featlib.keys.predict_key`).
        A model with several outputs predicts from the one its record names.

        Raises:
            featlib.jobs.JobLimitError: more images than a prediction may read here.
            The job's error (see :meth:`get`): e.g. ModelError, no output fits the dataset's classes.
        """
        return self.get(self.predictions_request(model, dataset, split, input_scale))

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
        key = keys.metrics_key(subject, sample_size)
        return Request(
            key,
            **self.kept(key),
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
            (figures are floats or :class:`featlib.metrics.NotAvailable`); kept in the workspace (:meth:`kept`).

        Raises:
            featlib.jobs.JobLimitError: more points than scoring may take here.
        """
        return self.get(self.scores_request(subject, reps, labels, coords, sample_size))
