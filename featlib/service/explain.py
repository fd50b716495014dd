"""The service's explanations: saliency and units (a part of :class:`featlib.service.Service`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from featlib import jobs, keys
from featlib.maps import units as unit_lib
from featlib.models import saliency as saliency_maps
from featlib.read import reductions
from featlib.service.path import ServicePath
from featlib.service.requests import ModelRef, Request

if TYPE_CHECKING:
    from featlib.datasets import Dataset
    from featlib.store import ModelRecord


class ExplanationResults(ServicePath):
    """Why a point sits where it does: saliency of an image, the units of a layer and those that tell a selection apart."""

    def saliency_request(
        self,
        model: ModelRecord | ModelRef,
        dataset: Dataset,
        split: str,
        index: int,
        target: int,
        method: str = saliency_maps.AUTO,
        *,
        steps: int = saliency_maps.DEFAULT_STEPS,
        input_scale: str | None = None,
    ) -> Request:
        """The request of :meth:`saliency` (its ``load`` and ``finish`` give a
        :class:`~featlib.models.saliency.Saliency`).

        Raises:
            SaliencyError: no such image, an unknown method, Grad-CAM of a model without a convolutional layer.
        """
        ref = self._ref(model)
        scale = input_scale or ref.input_scale
        index = saliency_maps.check_index(index, len(dataset.split(split)[1]), split)
        chosen = saliency_maps.resolve_method(ref.loaded(), method)
        key = keys.saliency_key(
            ref.fingerprint, dataset.fingerprint, split, scale, index, target, chosen, steps, ref.output
        )
        kept = self.kept(key, ref.id)

        def load() -> saliency_maps.Saliency | None:
            found = kept["load"]()
            return None if found is None else saliency_maps.Saliency.from_figures(found)

        return Request(
            key,
            spec=lambda: jobs.specs.saliency_spec(
                key,
                model_fp=ref.fingerprint,
                split=split,
                index=index,
                target=target,
                method=chosen,
                steps=steps,
                input_scale=scale,
                output=ref.output,
            ),
            inputs=lambda: {"model": ref.input, "dataset": jobs.dataset_input(dataset)},
            label=f"What the model looked at in image #{index} ({saliency_maps.METHODS[chosen]})",
            failure="The saliency map cannot be computed",
            store=kept["store"],
            load=load,
            finish=saliency_maps.Saliency.from_figures,
        )

    def saliency(
        self,
        model: ModelRecord | ModelRef,
        dataset: Dataset,
        split: str,
        index: int,
        target: int,
        method: str = saliency_maps.AUTO,
        *,
        steps: int = saliency_maps.DEFAULT_STEPS,
        input_scale: str | None = None,
    ) -> saliency_maps.Saliency | None:
        """Image ``index`` of a split's saliency map for class ``target`` (:mod:`featlib.models.saliency`), a job.

        Args:
            model: a saved model's record, or a :class:`ModelRef`; a model with several outputs is read from the
                output its record names.
            dataset, split, index: the image (a dataset index of the split).
            target: the class explained (the predicted one, a neighbour's, ...).
            method: ``"integrated_gradients"``, ``"grad_cam"`` or ``"auto"`` (Grad-CAM for a model with a
                convolutional layer, else integrated gradients; resolved before the key is made).
            steps: integrated gradients' intervals; input_scale: default the model's.

        Returns:
            The :class:`~featlib.models.saliency.Saliency` (``map`` float32 ``(h, w)`` in ``[0, 1]``), kept in the
            workspace per image, class and method (:func:`featlib.keys.saliency_key`, :meth:`kept`): a second
            call runs no job; ``None`` (see :meth:`get`).

        Raises:
            SaliencyError: no such image or class, an unknown method, a model without gradients (the job's).
            featlib.jobs.JobLimitError: more steps than the job may take here.
        """
        return self.get(
            self.saliency_request(model, dataset, split, index, target, method, steps=steps, input_scale=input_scale)
        )

    def unit_stats_request(
        self,
        rep_key: str,
        outputs: np.ndarray,
        rep: reductions.Representation | None,
        indices: np.ndarray | None = None,
        sample_size: int | None = None,
        k: int = unit_lib.TOP_K,
    ) -> Request:
        """The request of :meth:`unit_stats` (several run side by side with :meth:`get_all`)."""
        points = len(outputs) if indices is None else len(indices)
        how = _unit_params(rep)
        count = (
            outputs.shape[1]
            if rep is None or not rep.spatial or rep.reduction in ("gap", "gmp")
            else rep.shape[0 if rep.channels_first else -1]
        )
        key = keys.unit_stats_key(rep_key, sample_size, k)
        return Request(
            key,
            spec=lambda: jobs.specs.unit_stats_spec(rep_key, sample_size, points, int(count or 0), k, how),
            inputs=lambda: {"outputs": outputs if indices is None else outputs[indices]},
            label=f"Finding the dead and near-duplicate units among {int(count or 0):,} over {points:,} images",
            failure="The units cannot be examined",
            **self.kept(key),
        )

    def unit_stats(
        self,
        rep_key: str,
        outputs: np.ndarray,
        rep: reductions.Representation | None,
        indices: np.ndarray | None = None,
        sample_size: int | None = None,
        k: int = unit_lib.TOP_K,
    ) -> unit_lib.UnitStats | None:
        """A layer's per-unit statistics over a sample of its images: each unit's (a convolution's channel's,
        pooled) ``k`` most activating images, the dead units and the near-duplicate ones (a job).

        Args:
            rep_key: the representation's key (or a layer set's :func:`featlib.keys.layer_key`).
            outputs: ``(n images, columns)``, the representation; rep: how it was read (its channels are pooled
                by its shape and reduction; ``None``: the columns are the units).
            indices: int ``(m,)``, the sampled rows (a map's :attr:`featlib.pipeline.Embedding.indices`; ``None``:
                every row); sample_size: the sample's size as its maps are keyed.

        Returns:
            A :class:`featlib.maps.units.UnitStats` whose positions are in ``indices`` (rows of ``outputs`` when
            ``None``); kept in the workspace under its job's key (:meth:`kept`); ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more images than the job may take here.
        """
        return self.get(self.unit_stats_request(rep_key, outputs, rep, indices, sample_size, k))

    def unit_ranking(
        self,
        rep_key: str,
        outputs: np.ndarray,
        rep: reductions.Representation | None,
        indices: np.ndarray,
        selected: np.ndarray,
        sample_size: int | None = None,
        shown: int = 8,
        k: int = unit_lib.TOP_K,
    ) -> unit_lib.UnitRanking | None:
        """A layer's units ranked by how well each tells the selected images from the rest of a sample (AUROC),
        with the ``k`` most activating images of the first ``shown`` (a job).

        Args:
            rep_key, outputs, rep, sample_size, k: as :meth:`unit_stats`.
            indices: int ``(m,)``, the sample's images (rows of ``outputs``); selected: the selected images (rows of
                ``outputs``; those outside ``indices`` are ignored).

        Returns:
            A :class:`featlib.maps.units.UnitRanking` whose positions are in ``indices``; ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: more images than the job may take here.
            The job's error (see :meth:`get`): MetricError when no image or every image of the sample is selected.
        """
        mask = unit_lib.selection_mask(indices, selected)
        digest = unit_lib.selection_digest(np.asarray(indices)[mask])
        how = _unit_params(rep)
        chosen = int(mask.sum())
        key = keys.unit_ranking_key(rep_key, sample_size, digest)
        return self.get(
            Request(
                key,
                spec=lambda: jobs.specs.unit_ranking_spec(
                    rep_key, sample_size, digest, len(indices), chosen, shown, k, how
                ),
                inputs=lambda: {"outputs": outputs[indices], "selected": mask},
                label=f"Ranking the units that tell {chosen:,} selected images from the others",
                failure="The units cannot be ranked",
                **self.kept(key),
            )
        )


def _unit_params(rep: reductions.Representation | None) -> dict:
    """How a representation's channels are pooled, as a unit job's parameters (plain values)."""
    if rep is None:
        return {}
    return {"shape": list(rep.shape), "reduction": rep.reduction, "channels_first": bool(rep.channels_first)}
