"""The service's comparisons: neighbours kept, a training's checkpoints, a placed split, seed stability (a part of :class:`featlib.service.Service`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from featlib import jobs, keys, pipeline
from featlib.maps import embed
from featlib.maps.checkpoint_flow import DEFAULT_METHOD as FLOW_METHOD
from featlib.maps.neighbour_change import DEFAULT_K as NEIGHBOURS_COMPARED
from featlib.maps.neighbour_change import NeighbourChange
from featlib.maps.placed_map import PlacedMap
from featlib.maps.reducer_params import MAP_SAMPLE
from featlib.maps.seed_stability import DEFAULT_SEEDS as STABILITY_SEEDS
from featlib.maps.seed_stability import SeedStability
from featlib.service.path import ServicePath
from featlib.service.requests import Request

if TYPE_CHECKING:
    pass


class ChangeResults(ServicePath):
    """How representations change: between two of them, over a training's checkpoints, across splits and seeds."""

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
            ``indices``); kept in the workspace (:meth:`kept`); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more images than the job may take here.
        """
        (key_a, outputs_a), (key_b, outputs_b) = before, after
        key = keys.neighbour_change_key(key_a, key_b, sample_size, k)
        return self.get(
            Request(
                key,
                **self.kept(key),
                spec=lambda: jobs.specs.neighbour_change_spec(key_a, key_b, sample_size, len(indices), k),
                inputs=lambda: {"before": outputs_a[indices], "after": outputs_b[indices]},
                label=f"Comparing the {k} nearest neighbours of {len(indices):,} images",
                failure="The neighbours cannot be compared",
            )
        )

    def checkpoint_flow(
        self,
        reps: Sequence[tuple[str, np.ndarray]],
        labels: np.ndarray,
        *,
        sample_size: int | None = MAP_SAMPLE,
        params: embed.UMAPParams = embed.UMAPParams(),
        sample_seed: int = 0,
        method: str = FLOW_METHOD,
        model_ids: Sequence[str | None] | None = None,
    ) -> list[pipeline.Embedding] | None:
        """One layer of a training's checkpoints on one stable UMAP map (:mod:`featlib.maps.checkpoint_flow`).

        Args:
            reps: ``(representation key, outputs (n images, units))`` of each checkpoint, in training order (the
                trained model last), the same layer read on the same split.
            labels: int ``(n,)``, the images' classes (the sample is stratified by them, as a map's is).
            sample_size, sample_seed: the sample (:func:`featlib.maps.embed.stratified_sample`; ``None``: all), the
                same images as a map of that sample size.
            params: the UMAP parameters; method: a key of :data:`featlib.maps.checkpoint_flow.METHODS`.
            model_ids: each checkpoint's workspace id, recorded with its map.

        Returns:
            One :class:`~featlib.pipeline.Embedding` per checkpoint (the same sorted ``indices``, float32
            ``(m, 2)`` coordinates), each stored as a map of its representation
            (:func:`featlib.keys.flow_map_key`); ``None`` (see :meth:`get`).

        Raises:
            featlib.errors.ReducerError: fewer than two or too many checkpoints, another reducer than UMAP.
            featlib.jobs.JobLimitError: more points in all than a UMAP map may take here.
        """
        rep_keys = [key for key, _ in reps]
        map_keys = [keys.flow_map_key(k, rep_keys, sample_size, sample_seed, params, method) for k in rep_keys]
        owners = list(model_ids) if model_ids is not None else [None] * len(reps)
        key = keys.checkpoint_flow_key(rep_keys, sample_size, sample_seed, params, method)

        @functools.cache
        def indices() -> np.ndarray:
            return embed.stratified_sample(labels, sample_size, seed=sample_seed)

        def load() -> list[pipeline.Embedding] | None:
            found = [pipeline.load_embedding(self.workspace, k) for k in map_keys]
            return None if any(f is None for f in found) else found

        def store(flow: np.ndarray) -> list[pipeline.Embedding]:
            return [
                pipeline.save_embedding(self.workspace, k, indices(), coords, rep, owner, creator=self.creator)
                for k, coords, rep, owner in zip(map_keys, flow, rep_keys, owners)
            ]

        return self.get(
            Request(
                key,
                spec=lambda: jobs.specs.checkpoint_flow_spec(key, len(indices()), len(reps), params, method),
                inputs=lambda: {
                    "reps": [outputs[indices()] for _, outputs in reps],
                    "labels": np.asarray(labels)[indices()],
                },
                label=f"Laying out {len(reps)} checkpoints on one stable UMAP map",
                failure="The training's stable map cannot be made",
                store=store,
                load=load,
            )
        )

    def placed_map(
        self,
        fit: tuple[str, np.ndarray, np.ndarray],
        other: tuple[str, np.ndarray, np.ndarray],
        sample_size: int | None,
        params: embed.ReducerParams = embed.UMAPParams(),
    ) -> PlacedMap | None:
        """A map fitted on a sample of one representation, with a sample of another placed on it (issue 29, item 4).

        Args:
            fit: ``(representation key, outputs (n, units), labels (n,))`` of the points the map is fitted on (the
                train split).
            other: the same of the points placed on it (the test split, or another dataset read by the same layer:
                the same ``units``).
            sample_size: each side's stratified sample (seed 0, as the maps' samples; ``None``: every point).
            params: the reducer and its parameters.

        Returns:
            A :class:`featlib.maps.placed_map.PlacedMap` with its ``fitted_indices`` and ``placed_indices`` (positions
            in each side's outputs); kept in the workspace as a figure under its job's key
            (:func:`featlib.keys.placed_map_key`, :meth:`kept`); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more points, both sides together, than the reducer may map here.
            The job's error (see :meth:`get`): ReducerError, e.g. too few points or columns that differ.
        """
        (key_a, outputs_a, labels_a), (key_b, outputs_b, labels_b) = fit, other
        fit_rows = embed.stratified_sample(np.asarray(labels_a), sample_size, seed=0)
        other_rows = embed.stratified_sample(np.asarray(labels_b), sample_size, seed=0)
        key = keys.placed_map_key(key_a, key_b, sample_size, params)
        title = embed.REDUCER_TITLES[embed.reducer_name(params)]
        kept = self.kept(key)

        def indexed(found: PlacedMap | None) -> PlacedMap | None:
            return None if found is None else replace(found, fitted_indices=fit_rows, placed_indices=other_rows)

        return self.get(
            Request(
                key,
                spec=lambda: jobs.specs.placed_map_spec(key, len(fit_rows), len(other_rows), params),
                inputs=lambda: {
                    "points": outputs_a[fit_rows],
                    "other": outputs_b[other_rows],
                    "labels": np.asarray(labels_a)[fit_rows],
                },
                label=f"Fitting a {title} map on {len(fit_rows):,} points and placing {len(other_rows):,} on it",
                failure=f"The points cannot be placed on the {title} map",
                store=kept["store"],
                load=lambda: indexed(kept["load"]()),
                finish=indexed,
            )
        )

    def seed_stability(
        self,
        outputs: np.ndarray,
        emb: pipeline.Embedding,
        labels: np.ndarray,
        params: embed.ReducerParams,
        seeds: int = STABILITY_SEEDS,
    ) -> SeedStability | None:
        """The map ``emb`` made again with ``seeds`` seeds (its own first), aligned onto it, and how far each point
        moved (issue 29, item 5; :func:`featlib.maps.seed_stability.seed_maps`).

        Args:
            outputs: the representation the map was made of, ``(n, units)``; labels: its classes ``(n,)``.
            emb: the map (its points ``emb.indices``, its key); params: the parameters that made it.
            seeds: from 2 to 10.

        Returns:
            A :class:`featlib.maps.seed_stability.SeedStability` over the map's points (rows as ``emb.indices``),
            kept in the workspace under its job's key (:func:`featlib.keys.seed_stability_key`, :meth:`kept`); its figures
            (:attr:`~featlib.maps.seed_stability.SeedStability.figures`) are stored with a saved view of the map
            (:class:`featlib.share.views.View`'s ``stability``). ``None`` (see :meth:`get`).

        Raises:
            ReducerError: a PCA map (no seed), or ``seeds`` outside 2..10.
            featlib.jobs.JobLimitError: more points than the reducer may map here.
        """
        key = keys.seed_stability_key(emb.key, seeds)
        title = embed.REDUCER_TITLES[embed.reducer_name(params)]
        return self.get(
            Request(
                key,
                spec=lambda: jobs.specs.seed_stability_spec(emb.key, len(emb.indices), params, seeds),
                inputs=lambda: {"points": outputs[emb.indices], "labels": np.asarray(labels)[emb.indices]},
                label=f"Making the {title} map of {len(emb.indices):,} points with {seeds} seeds",
                failure=f"The {title} map cannot be made with other seeds",
                **self.kept(key),
            )
        )
