"""Explore's "Is this picture an accident of the seed?" section (issue 29, item 5).

A switch in the sidebar and a number of seeds (5 by default, 2 to 10): the page's map is made again with the
next seeds (a job, :meth:`featlib.service.Service.seed_stability`), each aligned onto it, and a map under the
page's shows each point coloured by how far it moved (its median displacement, in shares of the map's width) with
the stable core outlined (:mod:`featlib.maps.seed_stability`). The figures go into the page's link and saved
view (:class:`featlib.share.views.View`'s ``stability``), so whoever opens it reads how much of the picture to
believe; a link that carries them says so above the map.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st

from featlib import jobs, pipeline, plots
from featlib.app import links, text
from featlib.app.maps import MapChoice
from featlib.app.runner import service
from featlib.errors import FeatlibError
from featlib.lazy import plotly_go as go
from featlib.maps import seed_stability
from featlib.maps.seed_stability import SeedStability, StabilityFigures
from featlib.share.views import View

SWITCH, SEEDS = links.SEEDS_SWITCH, links.SEEDS_COUNT
"""Widget keys of the sidebar's switch and number of seeds (a link's ``seeds``)."""
LINKED = "featlib.linked_stability"
"""The figures an opened link carried: ``{"figures": StabilityFigures, "map": map key or None}``."""
COMPUTED = "featlib.computed_stability"
"""Figures computed in this session, by map key and number of seeds."""
HEIGHT = 480


def controls(choice: MapChoice) -> int | None:
    """The sidebar's switch and seeds; keeps the figures of a link just opened (call it before
    :func:`featlib.app.links.show_link_notes`). Returns the number of seeds to compare, or ``None`` when off."""
    raw = (st.session_state.get(links.LINK_ASKED) or {}).get("stability")
    if raw:
        try:
            st.session_state[LINKED] = {"figures": StabilityFigures.from_text(raw), "map": None}
        except ValueError:  # read_link named it already
            st.session_state.pop(LINKED, None)
    with st.sidebar:
        on = st.toggle(
            "Compare seeds",
            key=SWITCH,
            disabled=choice.reducer == "pca" or choice.three_d,
            help="Is this picture an accident of the seed? Makes the map again with other seeds, aligns each onto "
            "this one and shows how far each point moves; the figures go into the link and a saved view. PCA has "
            "no seed; 2-D maps only (the seeds' maps are aligned and drawn flat).",
        )
        if not on or choice.reducer == "pca" or choice.three_d:
            return None
        return int(
            st.number_input(
                "Seeds",
                seed_stability.MIN_SEEDS,
                seed_stability.MAX_SEEDS,
                value=seed_stability.DEFAULT_SEEDS,
                key=SEEDS,
                help="This map's seed and the next ones; each is a whole map.",
            )
        )


def linked(emb_key: str) -> StabilityFigures | None:
    """The figures the opened link carried, for the first map the page showed after opening it (``emb_key``)."""
    found = st.session_state.get(LINKED)
    if not found:
        return None
    if found["map"] is None:
        found["map"] = emb_key
    return found["figures"] if found["map"] == emb_key else None


def with_figures(view: View, emb_key: str, seeds: int | None) -> View:
    """``view`` carrying the map's seed stability figures: those computed in this session for this map and number
    of seeds, else those of the link that opened it; unchanged when neither."""
    figures = (st.session_state.get(COMPUTED) or {}).get((emb_key, seeds)) if seeds else None
    figures = figures or linked(emb_key)
    return view if figures is None else dataclasses.replace(view, stability=figures)


def show(
    outputs: np.ndarray,
    emb: pipeline.Embedding,
    labels: np.ndarray,
    choice: MapChoice,
    seeds: int | None,
) -> None:
    """The section: a linked view's figures, and when the switch is on, the seeds' job and its map.

    Args:
        outputs: the layer's outputs for the split ``(n, units)``; labels: its classes ``(n,)``.
        emb: the page's map; choice: the page's :class:`featlib.app.maps.MapChoice`; seeds: from :func:`controls`.
    """
    shared = linked(emb.key)
    if shared is not None:
        text.caption(text.md("This view was shared with its seed stability: {}.", shared.sentence))
    if seeds is None:
        return
    text.subheader("Seed stability")
    try:
        found = service().seed_stability(outputs, emb, labels, choice.params, seeds)
    except (jobs.JobLimitError, FeatlibError) as error:
        text.error(f"The map cannot be compared over seeds: {error}")
        return
    if found is None:
        return
    computed = st.session_state.setdefault(COMPUTED, {})
    fresh = (emb.key, seeds) not in computed
    computed[(emb.key, seeds)] = found.figures
    draw(found, emb, labels, choice.title)
    if fresh:  # once: the link and the "Save view" form above now carry the figures
        st.rerun()


def figure(found: SeedStability, emb: pipeline.Embedding, labels: np.ndarray, title: str) -> go.Figure:
    """The map coloured by each point's median displacement (a share of the map's width, shown up to twice the
    core's bound), the core outlined."""
    moved = np.minimum(found.displacement, 2 * found.threshold)
    fig = plots.scatter_map(
        emb.coords,
        emb.indices,
        labels[emb.indices],
        axis_name=title,
        colour=plots.UNIT_COLOUR,
        unit=moved,
        unit_title="moves over the seeds (share of the map's width)",
        height=HEIGHT,
        title=f"{title} map: how far each point moves over {len(found.seeds)} seeds",
    )
    xs, ys, share = seed_stability.core_grid(emb.coords, found.core)
    return plots.add_stable_core(fig, xs, ys, share)


def draw(found: SeedStability, emb: pipeline.Embedding, labels: np.ndarray, title: str) -> None:
    """The map of displacements with the stable core, and its figures in one sentence."""
    st.plotly_chart(figure(found, emb, labels, title), key="seed-stability-map")
    text.caption(
        text.md(
            "{}. Seeds {}. A point's displacement is the median, over the other seeds' maps aligned onto this one "
            "(rotation, reflection, scale and shift), of its distance to where this map puts it, in shares of the "
            "map's width (the span of the middle 98% of its points). Outlined: the stable core, points that move "
            "less than {:.0%} of the width.",
            found.figures.sentence.capitalize(),
            ", ".join(map(str, found.seeds)),
            found.threshold,
        )
    )
