"""The service's results over every layer of a model (a part of :class:`featlib.service.Service`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from featlib import jobs, keys
from featlib.errors import LayerError
from featlib.maps import embed
from featlib.maps import layer_flow as flow_lib
from featlib.maps.prediction_depth import DEFAULT_K as DEPTH_K
from featlib.read import layers, reductions
from featlib.service.path import ServicePath
from featlib.service.requests import LayerProgress, ModelRef, Request

if TYPE_CHECKING:
    from featlib.datasets import Dataset
    from featlib.store import ModelRecord


class LayerResults(ServicePath):
    """Every layer of a model on one sample: the layer set, its maps, figures, CKA, prediction depth and layer flow."""

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
                **self.kept(keys.cka_key(subject)),
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
            layer's k-NN vote is the prediction, ``len(ls.names)`` when never; kept in the workspace
            (:meth:`kept`, :func:`featlib.keys.prediction_depth_key`); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points than the job may take here.
            The job's error (see :meth:`get`): NeighbourError, e.g. ``k`` not below the points.
        """
        reps = list(ls.reps.values())
        return self.get(
            Request(
                keys.prediction_depth_key(ls.key, k),
                **self.kept(keys.prediction_depth_key(ls.key, k)),
                spec=lambda: jobs.specs.prediction_depth_spec(ls.key, len(ls.indices), len(reps), k),
                inputs=lambda: {"reps": reps, "predicted": np.asarray(predicted), "support": ls.labels},
                label=f"Prediction depth of {len(ls.indices):,} images ({k}-NN in each of {len(reps)} layers)",
                failure="The prediction depth cannot be computed",
            )
        )

    def layer_flow(
        self, ls: layers.LayerSet, predicted: np.ndarray, classes: int, k: int | None = None
    ) -> flow_lib.LayerFlow | None:
        """Every representation of ``ls`` cut into clusters and the sampled images flowing between them, in order.

        Args:
            ls: the layer set (the input pixels first, then every layer); predicted: int ``(points,)``, the
                model's predicted label of each sampled image (rows in the order of ``ls.indices``); classes:
                the dataset's classes; k: clusters per representation (default
                :func:`featlib.maps.layer_flow.cluster_count`: twice the classes, at most the points).

        Returns:
            A :class:`featlib.maps.layer_flow.LayerFlow` over the ``points`` sampled images (rows of ``ls``),
            kept in the workspace under :func:`featlib.keys.layer_flow_key`; ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points than the job may take here.
            The job's error (see :meth:`get`): LayerError, e.g. a single representation.
        """
        k = flow_lib.cluster_count(len(ls.indices), classes) if k is None else max(1, min(int(k), len(ls.indices)))
        key = keys.layer_flow_key(ls.key, k)
        kept = self.kept(key)

        def load() -> flow_lib.LayerFlow | None:
            found = kept["load"]()
            if not isinstance(found, dict):
                return None
            try:
                return flow_lib.LayerFlow.of_fields(found)
            except (LayerError, TypeError, ValueError):  # not what featlib wrote: made again, and replaced
                return None

        return self.get(
            Request(
                key,
                spec=lambda: jobs.specs.layer_flow_spec(ls.key, len(ls.indices), len(ls.reps), k),
                inputs=lambda: {"reps": dict(ls.reps), "labels": ls.labels, "predicted": np.asarray(predicted)},
                label=f"Layer flow of {len(ls.indices):,} images ({k} clusters in each of {len(ls.reps)} layers)",
                failure="The layer flow cannot be computed",
                store=lambda flow: kept["store"](flow.fields()),
                load=load,
                finish=lambda found: (
                    found if isinstance(found, flow_lib.LayerFlow) else flow_lib.LayerFlow.of_fields(found)
                ),
            )
        )
