"""The point inspector's "What the model looked at": the inspected image's saliency maps, side by side.

One for the class the model predicts, one for the class of the image's nearest neighbour in the layer that is
of another class (among the neighbours the inspector found), so a user sees why a 4 sits among the 9s: what
speaks for the predicted class, and what speaks for the neighbours' one. Each map is a job
(:meth:`featlib.service.Service.saliency`: integrated gradients, or Grad-CAM for a convolutional model), kept in
the workspace per image and class; drawn as the inspector draws images (dark strokes on white, enlarged by
whole pixels) with the evidence for the class laid over it in red.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import jobs, plots
from featlib.app import resources, text
from featlib.app.runner import service
from featlib.errors import ModelError, SaliencyError
from featlib.models import saliency as saliency_maps
from featlib.service import ModelRef

SIZE = 112
"""Pixels of each saliency image (the inspected image's size in the inspector)."""
TINT = np.array([214.0, 39.0, 40.0])
"""The colour of the evidence for a class (red: no class colour of the inspector's captions)."""
STRENGTH = 0.85
"""How much of a pixel the tint covers where the map is 1."""
FAINT = 0.6
"""How dark the strokes are drawn under the tint (1: as dark as the inspector's image), so the red stands out."""


def other_class(near: np.ndarray, labels: np.ndarray, predicted_class: int) -> int | None:
    """The position in ``near`` (dataset indices, nearest first) of the nearest image whose true label is not
    ``predicted_class``; ``None`` when every one is of that class."""
    other = np.flatnonzero(np.asarray(labels)[np.asarray(near, dtype=np.int64)] != predicted_class)
    return int(other[0]) if len(other) else None


def overlay(image: np.ndarray, saliency_map: np.ndarray, size: int = SIZE) -> np.ndarray:
    """``image`` (uint8 ``(h, w)``, light strokes on black) drawn as the inspector draws it (inverted, enlarged by
    whole pixels to about ``size``; strokes in grey, :data:`FAINT`), with ``saliency_map`` (float ``(h', w')`` in ``[0, 1]``, any size) laid over
    it in :data:`TINT`: uint8 RGB ``(s, s, 3)``."""
    base = 255.0 - FAINT * plots.upscale(image, size=size).astype(np.float64)
    rows = np.arange(base.shape[0]) * saliency_map.shape[0] // base.shape[0]
    cols = np.arange(base.shape[1]) * saliency_map.shape[1] // base.shape[1]
    weight = STRENGTH * np.clip(np.asarray(saliency_map, dtype=np.float64)[np.ix_(rows, cols)], 0.0, 1.0)[..., None]
    blended = (1.0 - weight) * base[..., None] + weight * TINT
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def show(
    context: tuple[str, str, str],
    point: int,
    near: np.ndarray | None,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    class_names,
) -> None:
    """The section, under the inspected image: its saliency map for the predicted class and for the class of its
    nearest neighbour of another class (``near``: the neighbours found, dataset indices nearest first; ``None``:
    none were found), from jobs run side by side.

    Args:
        context: ``(model id, dataset key, split)``; point: the inspected image's dataset index.
        images, labels, predicted: the split's images ``(n, h, w)`` uint8, true and predicted labels.
        class_names: the classes' names, by label.
    """
    model_id, dataset_key, split = context
    guess = int(predicted[point])
    found = None if near is None else other_class(near, labels, guess)
    ref = ModelRef.of_record(resources.workspace(), resources.record(model_id), resources.model(model_id))
    dataset = resources.dataset(dataset_key)
    text.markdown(text.md("**What the model looked at**"))
    wanted = {guess: f"predicted: {class_names[guess]}"}
    if found is not None:
        other = int(labels[near[found]])
        wanted[other] = f"neighbour #{int(near[found])}'s class: {class_names[other]}"
    maps = _maps(ref, dataset, split, point, list(wanted))
    if maps is None:
        return
    if found is None:  # no neighbour shown is of another class: the class the model ranks second instead
        other = int(np.argsort(maps[guess].scores)[-2])
        wanted[other] = f"its second choice: {class_names[other]}"
        more = _maps(ref, dataset, split, point, [other])
        if more is None:
            return
        maps |= more
    st.image(
        [overlay(images[point], maps[c].map) for c in wanted],
        caption=[text.escape(words) for words in wanted.values()],
        width=SIZE,
    )
    first = maps[guess]
    how = saliency_maps.METHODS[first.method] + (f", {first.steps} steps" if first.steps else f" ({first.layer})")
    shown = 0 if near is None else len(near)
    instead = "" if found is not None else f" None of its {shown} nearest neighbours shown is of another class."
    text.caption(
        text.md(
            "Red: the pixels that speak for the class, by {}, each map scaled to its own strongest pixel; the score "
            "explained is the class's {}.{}",
            how,
            first.score,
            instead,
        )
    )
    if first.method == saliency_maps.INTEGRATED_GRADIENTS:
        checks = "; ".join(f"{class_names[c]}: {maps[c].completeness_text}" for c in wanted)
        text.caption(text.md("Completeness (the attributions' sum against F(x) − F(black)): {}", checks))


def _maps(ref: ModelRef, dataset, split: str, point: int, classes: list[int]) -> dict | None:
    """Image ``point``'s saliency map for each of ``classes`` (jobs side by side), or ``None`` after explaining."""
    try:
        requests = {c: service().saliency_request(ref, dataset, split, point, c) for c in classes}
        return service().get_all(requests, label=lambda c, i, n: f"Saliency map {i + 1}/{n} of #{point}")
    except (jobs.JobLimitError, SaliencyError, ModelError) as error:
        text.error(f"The saliency maps cannot be computed: {error}")
        return None
