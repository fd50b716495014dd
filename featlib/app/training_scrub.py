"""Compare's "Scrub a training" section: one layer of a training's checkpoints on one stable map (issue 29, item 2).

For a trained model with checkpoints (the Model page's "Save checkpoints after epoch", or
:class:`featlib.callbacks.CheckpointCallback` in the user's own ``model.fit``), the chosen layer of every
checkpoint is read on one sample and laid out by one job (:meth:`featlib.service.Service.checkpoint_flow`,
:mod:`featlib.maps.checkpoint_flow`) so that an image moves on the map only as far as it moved in the layer.
A slider and a play button move the points from epoch to epoch (:func:`featlib.plots.checkpoint_flow`); two
chosen epochs are compared image by image (:meth:`featlib.service.Service.neighbour_change`): the images whose
neighbours in the layer changed most, ringed on the map and shown beside their old and new neighbours.

It is a section of the Compare page rather than a page of its own: it compares one layer across checkpoints,
which is what Compare's "This layer across checkpoints" does side by side, and it uses the page's dataset,
split and neighbour-change views; it sits in its own expander because it needs no comparison applied.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import datasets, jobs, models, plots
from featlib.app import actions, comparing, neighbour_moves, resources, results, state, text
from featlib.app.runner import service
from featlib.errors import FeatlibError
from featlib.maps import checkpoint_flow as flow_lib
from featlib.maps import embed, neighbour_change
from featlib.share import compare, exports
from featlib.store import ModelRecord

MODEL, LAYER, SAMPLE, SHOWN = "scrub_model", "scrub_layer", "scrub_sample", "scrub_shown"
"""Widget and session keys: the training, the layer, the sample size, and the layout asked for."""
EPOCH_A, EPOCH_B = "scrub_epoch_a", "scrub_epoch_b"
"""Widget keys of the two checkpoints whose neighbours are compared."""
DEFAULT_SAMPLE = 2_000
"""The sample laid out by default (a label-stratified one, as the maps')."""
MOVED_SHOWN = neighbour_moves.MOVED_SHOWN


def trainings(records: list[ModelRecord]) -> dict[str, list[ModelRecord]]:
    """Each trained model with checkpoints: ``{its id: [checkpoints by epoch..., the trained model]}``.

    With more than :data:`featlib.maps.checkpoint_flow.MAX_CHECKPOINTS` in all, the checkpoints kept are spread
    evenly from the first epoch; the trained model is always the last.
    """
    found = {}
    for record in records:
        if record.meta.get("checkpoint_of"):
            continue
        chain = compare.checkpoints_of(records, record.id)
        if not chain:
            continue
        most = flow_lib.MAX_CHECKPOINTS - 1
        if len(chain) > most:
            chain = [chain[int(i)] for i in np.unique(np.linspace(0, len(chain) - 1, most).round())]
        found[record.id] = [*chain, record]
    return found


def titles(chain: list[ModelRecord]) -> list[str]:
    """The frames' names: ``"epoch 1"``, ..., and the trained model's ``"epoch 10 (trained)"`` (or ``"trained"``)."""
    names = [f"epoch {r.meta['epoch']}" for r in chain[:-1]]
    epochs = chain[-1].meta.get("epochs")
    names.append(f"epoch {epochs} (trained)" if isinstance(epochs, int) else "trained")
    return names


def _chosen(chains: dict[str, list[ModelRecord]], dataset: datasets.Dataset, split: str) -> tuple | None:
    """The widgets: the training, the layer, the sample; ``(final id, layer, sample size or None)`` once asked."""
    by_id = {final: chain[-1] for final, chain in chains.items()}
    if st.session_state.get(MODEL) not in by_id:
        carried = state.get(state.MODEL)
        st.session_state[MODEL] = next(
            (final for final, chain in chains.items() if carried in {r.id for r in chain}), next(iter(by_id))
        )
    n_points = len(dataset.split(split)[1])
    cols = st.columns([2, 2, 1])
    final = cols[0].selectbox(
        "Training", list(by_id), key=MODEL, format_func=lambda m: f"{by_id[m].name} ({len(chains[m]) - 1} checkpoints)"
    )
    names = comparing.layer_names(final)
    if not names:
        text.error(f"{by_id[final].name} cannot be loaded.")
        return None
    if st.session_state.get(LAYER) not in names:
        carried = state.get(state.LAYER)
        st.session_state[LAYER] = carried if carried in names else models.default_layer(resources.model(final))
    layer = cols[1].selectbox("Layer", names, key=LAYER)
    st.session_state.setdefault(SAMPLE, min(DEFAULT_SAMPLE, n_points))
    st.session_state[SAMPLE] = min(max(int(st.session_state[SAMPLE]), 1), n_points)
    sample = cols[2].number_input(
        "Sample size", 1, n_points, key=SAMPLE, step=500, help=f"1 to all {n_points:,} images of the split."
    )
    wanted = (final, layer, None if sample >= n_points else int(sample), split, dataset.fingerprint)
    st.button(
        "Lay out the checkpoints",
        type="primary",
        on_click=lambda: st.session_state.__setitem__(SHOWN, wanted),
        help="Reads the layer of every checkpoint and lays them out on one stable UMAP map (a job; stored).",
    )
    return wanted if st.session_state.get(SHOWN) == wanted else None


def flow_maps(reps: list[tuple[str, np.ndarray]], labels: np.ndarray, sample: int | None, model_ids: list[str]):
    """:meth:`featlib.service.Service.checkpoint_flow` (a job, stored), or ``None`` after explaining."""
    try:
        return service().checkpoint_flow(reps, labels, sample_size=sample, model_ids=model_ids)
    except (jobs.JobLimitError, embed.ReducerError) as error:
        text.error(f"The training's stable map cannot be made: {error}")
        return None


def show(records: list[ModelRecord], dataset: datasets.Dataset, split: str, method: str, reduction: str) -> None:
    """The section: pick a training and a layer, lay its checkpoints out, scrub and compare two epochs."""
    chains = trainings(records)
    if not chains:
        text.caption(
            "No training with checkpoints yet: train one with 'Save checkpoints after epoch' on the Model page, "
            "or save them from your own model.fit with featlib.callbacks.CheckpointCallback."
        )
        return
    chosen = _chosen(chains, dataset, split)
    if chosen is None:
        return
    final, layer, sample, _, _ = chosen
    chain = chains[final]
    reps = []
    for record in chain:
        try:
            model = resources.model(record.id)
        except FeatlibError as error:
            text.error(f"{record.name} cannot be loaded: {error}")
            return
        outputs, key = actions.representation(record, model, dataset, split, layer, method, reduction)
        if outputs is None:
            return
        reps.append((key, outputs))
    images, labels = dataset.split(split)
    flow = flow_maps(reps, labels, sample, [r.id for r in chain])
    if flow is None:
        return
    names = titles(chain)
    indices = flow[0].indices
    coords = np.stack([e.coords for e in flow])
    moves = flow_lib.displacement(coords)
    cols = st.columns(2)
    if st.session_state.get(EPOCH_A) not in names or st.session_state.get(EPOCH_B) not in names:
        st.session_state[EPOCH_A], st.session_state[EPOCH_B] = names[0], names[-1]
    a = names.index(cols[0].selectbox("Moved most from", names, key=EPOCH_A))
    b = names.index(cols[1].selectbox("to", names, key=EPOCH_B))
    change = None
    if a != b:
        change = results.neighbour_change(reps[a], reps[b], indices, sample)
    moved = [] if change is None else neighbour_change.moved_most(change, MOVED_SHOWN)
    st.plotly_chart(
        plots.checkpoint_flow(
            coords,
            indices,
            labels[indices],
            names,
            dataset.class_names,
            title=f"{chain[-1].name} · {layer} · {len(indices):,} images · {flow_lib.METHODS[flow_lib.DEFAULT_METHOD]}",
            marked=indices[np.asarray(moved, dtype=int)],
            start=len(names) - 1,
        ),
        key="scrub-flow",
    )
    text.caption(
        "Between consecutive checkpoints an image moved by a median of "
        + ", ".join(f"{np.median(m):.1%}" for m in moves)
        + " of the map's size. Press play, or drag the slider; the ringed images are those whose neighbours in "
        "the layer changed most between the two epochs below."
    )
    if change is None:
        text.caption("Pick two different checkpoints to see which images moved most between them.")
        return
    _moved_images(change, moved, indices, images, labels, dataset, (names[a], names[b]))


def _moved_images(change, moved, indices, images, labels, dataset: datasets.Dataset, epochs: tuple[str, str]) -> None:
    """The images that moved most, each beside its neighbours at both epochs, and every image's as CSV."""
    before, after = epochs
    text.markdown(
        text.md(
            "On average an image kept **{:.0%}** of its {} nearest neighbours in the layer from {} to {}. "
            "**The {} images that moved most**: each row is the image, then its neighbours at {}, then at {}.",
            change.kept,
            change.k,
            before,
            after,
            len(moved),
            before,
            after,
        )
    )
    neighbour_moves.moved_images(change, moved, indices, images, labels, dataset.class_names)
    st.download_button(
        "Download the neighbours of every image at both epochs (CSV)",
        exports.table_bytes(neighbour_moves.table(change, indices, labels, dataset.class_names), "csv"),
        file_name="neighbours-across-checkpoints.csv",
        mime="text/csv",
        icon=":material/download:",
        key="scrub-csv",
    )
