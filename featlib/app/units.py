"""Which units make this cluster? The pages' sections on a layer's units (issue 27, item 2).

- The Layers page: each layer's dead units (constant on the sample) and near-duplicate units (``|r| > 0.99``
  with another), a bar chart with the table one click away (:func:`layer_counts`).
- The Explore page: after a box or lasso selection, the units ranked by how well each tells the selection from
  the rest of the map's points (AUROC), each of the first few with its most activating images and a button that
  colours the map by it (:func:`tell_apart`); and any unit's most activating images, picked by number
  (:func:`unit_browser`).

Everything is a job of the service (:meth:`featlib.service.Service.unit_stats`,
:meth:`featlib.service.Service.unit_ranking`), keyed by the representation and the sample and kept in the
workspace; the statistics are :mod:`featlib.maps.units`'. A convolution's units are its channels, each the mean
over the positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from featlib import jobs, keys, pipeline, plots
from featlib.app import text, theme
from featlib.app.runner import service
from featlib.errors import MetricError
from featlib.maps import units as unit_lib
from featlib.read import layers
from featlib.read.reductions import Representation

COLOURED = "featlib.unit_colour"
"""The unit the Explore map is coloured by: ``{"context": (model, dataset, split), "rep_key", "unit"}``."""
UNIT_PICKER = "units_picker"
UNITS_TOGGLE = "units_examine"
BARS = 15
"""Units drawn in the AUROC bar chart."""
SHOWN = 4
"""Units of the ranking shown with their most activating images and a colour button."""
COLUMNS = {
    "layer": "layer",
    "units": "units",
    "examined": "examined",
    "dead": "dead",
    "never_active": "never active",
    "duplicated": "near-duplicates",
    "groups": "groups",
    "redundant": "redundant",
}
"""Short headers, so the table fits the page's width; the section's caption says what each counts."""


def _how(rep: Representation | None) -> dict:
    """How ``rep``'s channels are pooled, as :func:`featlib.maps.units.channels` takes it."""
    if rep is None:
        return {}
    return {"shape": rep.shape, "reduction": rep.reduction, "channels_first": rep.channels_first}


# ----------------------------------------------------------------------------- the Layers page


def layer_rows(ls: layers.LayerSet) -> list[dict] | None:
    """Each layer's unit counts (:meth:`featlib.maps.units.UnitStats.summary` with ``"layer"``), one job per layer
    side by side; ``None`` after explaining."""
    requests = {
        name: service().unit_stats_request(keys.layer_key(ls.key, name), ls.reps[name], ls.representations.get(name))
        for name in ls.names
    }
    try:
        found = service().get_all(requests, label=lambda name, i, n: f"Examining the units of {name} ({i + 1}/{n})")
    except jobs.JobLimitError as error:
        text.error(f"The units cannot be examined: {error}")
        return None
    if found is None:
        return None
    return [{"layer": name, **found[name].summary()} for name in ls.names]


def counts_frame(rows: list[dict]) -> pd.DataFrame:
    """The counts as a table, one row per layer, columns named for people (:data:`COLUMNS`); ``examined`` only
    where a layer has more units than are examined, so the table fits the page's width."""
    frame = pd.DataFrame(rows)[list(COLUMNS)]
    if (frame["examined"] == frame["units"]).all():
        frame = frame.drop(columns="examined")
    return frame.rename(columns=COLUMNS)


def layer_counts(ls: layers.LayerSet) -> None:
    """The Layers page's section: dead and near-duplicate units per layer, a bar chart and the table in an
    expander."""
    text.subheader("Dead and near-duplicate units")
    rows = layer_rows(ls)
    if rows is None:
        return
    st.plotly_chart(plots.unit_counts(rows), key="unit-counts")
    text.caption(
        text.md(
            "On the {:,} sampled images. A unit (a convolution's channel, pooled over the positions) is **dead** when "
            "it is constant on them: in a ReLU layer, never active. Two units are **near-duplicates** when the "
            "absolute value of their Pearson correlation is above {}; constant units are left out; they form groups, "
            "and all but one of each group are redundant. At most {:,} units per layer are examined.",
            len(ls.indices),
            unit_lib.DUPLICATE_R,
            unit_lib.MAX_UNITS,
        )
    )
    with st.expander("The counts as a table"):
        st.dataframe(counts_frame(rows), hide_index=True, width="content")  # as wide as its columns, never cut


# ----------------------------------------------------------------------------- the Explore page


def colour_by(context: tuple[str, str, str], rep_key: str, unit: int) -> None:
    """Colours the Explore map by ``unit`` (a button's callback)."""
    st.session_state[COLOURED] = {"context": tuple(context), "rep_key": rep_key, "unit": int(unit)}


def stop_colouring() -> None:
    """Colours the Explore map as the sidebar says again (a button's callback)."""
    st.session_state.pop(COLOURED, None)


def coloured_unit(
    context: tuple[str, str, str], rep_key: str, outputs: np.ndarray, rep: Representation | None, emb
) -> tuple[np.ndarray, str] | None:
    """The unit the map is coloured by, for this layer and data: its value at each of the map's points
    (``emb.indices``) and its name; ``None`` when the map is coloured as the sidebar says."""
    chosen = st.session_state.get(COLOURED)
    if not chosen or tuple(chosen["context"]) != tuple(context) or chosen["rep_key"] != rep_key:
        return None
    try:
        values = unit_lib.unit_values(outputs[emb.indices], chosen["unit"], **_how(rep))
    except MetricError:  # a unit of another reading of the layer
        stop_colouring()
        return None
    return values, f"unit {chosen['unit']}"


def colour_note(shade: tuple[np.ndarray, str] | None) -> None:
    """Under a map coloured by a unit: what the colour is, and a button back to the sidebar's colouring."""
    if shade is None:
        return
    values, name = shade
    text.caption(
        text.md(
            "Colour: the activation of **{}** at each point (a channel's is its mean over the positions), from "
            "{:.3g} (dark) to {:.3g} (yellow).",
            name,
            float(values.min()) if len(values) else 0.0,
            float(values.max()) if len(values) else 0.0,
        )
    )
    st.button("Colour as the sidebar says", key="unit-colour-off", on_click=stop_colouring)


def _top_images(images: np.ndarray, rows: np.ndarray, caption: str) -> None:
    """A unit's most activating images (dataset indices ``rows``, highest first) in one row."""
    st.image(
        plots.montage(images[rows], columns=max(1, len(rows)), dark=theme.dark()),
        width="stretch",
        caption=text.escape(caption),
    )


def tell_apart(
    context: tuple[str, str, str],
    rep_key: str,
    outputs: np.ndarray,
    rep: Representation | None,
    emb: pipeline.Embedding,
    selected: np.ndarray,
    images: np.ndarray,
    sample_size: int | None,
) -> None:
    """The section "Units that tell the selection apart", after a box or lasso selection on the map."""
    mask = unit_lib.selection_mask(emb.indices, selected)
    if not len(selected):
        return
    text.subheader("Units that tell the selection apart")
    if not mask.any() or mask.all():
        text.info("Select some of the map's points, not none or all, to rank the units that tell them apart.")
        return
    try:
        ranking = service().unit_ranking(rep_key, outputs, rep, emb.indices, selected, sample_size, shown=SHOWN)
    except jobs.JobLimitError as error:
        text.error(f"The units cannot be ranked: {error}")
        return
    if ranking is None:
        return
    first = ranking.order[:BARS]
    st.plotly_chart(plots.unit_auroc(first, ranking.auroc[first]), key="unit-auroc")
    text.caption(
        text.md(
            "Each unit alone as a score for *selected*: its AUROC over the {:,} selected and {:,} other points of "
            "the map (1: higher on every selected image than on every other; 0: lower; 0.5: no better than chance). "
            "Ranked by the distance from 0.5: blue units are higher on the selection, red ones lower.",
            ranking.selected,
            ranking.others,
        )
    )
    for place, unit in enumerate(ranking.order[: len(ranking.top)]):
        auroc = float(ranking.auroc[unit])
        text.markdown(
            text.md(
                "**unit {}** · AUROC {:.3f} · {} on the selection",
                int(unit),
                auroc,
                "higher" if auroc >= 0.5 else "lower",
            )
        )
        rows = emb.indices[ranking.top[place]]
        _top_images(images, rows, f"its {len(rows)} most activating images among the map's points: {rows.tolist()}")
        st.button(
            "Colour the map by this unit",
            key=f"unit-colour-rank-{int(unit)}",
            on_click=colour_by,
            args=(context, rep_key, int(unit)),
        )
    with st.expander("Every unit's AUROC, as a table"):
        st.dataframe(
            pd.DataFrame(
                {
                    "unit": ranking.order,
                    "AUROC": ranking.auroc[ranking.order],
                    "higher on the selection": ranking.auroc[ranking.order] >= 0.5,
                }
            ),
            hide_index=True,
            width="stretch",
        )


def unit_browser(
    context: tuple[str, str, str],
    rep_key: str,
    outputs: np.ndarray,
    rep: Representation | None,
    emb: pipeline.Embedding,
    images: np.ndarray,
    sample_size: int | None,
) -> None:
    """The section "Units of this layer": any unit's most activating images among the map's points, and the
    layer's dead and near-duplicate units (a job, asked for by a toggle)."""
    text.subheader("Units of this layer")
    if not st.toggle(
        "Examine the units of this layer",
        key=UNITS_TOGGLE,
        help="Each unit's most activating images among the map's points, the dead units and the near-duplicates.",
    ):
        return
    try:
        stats = service().unit_stats(rep_key, outputs, rep, emb.indices, sample_size)
    except jobs.JobLimitError as error:
        text.error(f"The units cannot be examined: {error}")
        return
    if stats is None:
        return
    found = stats.summary()
    text.caption(
        text.md(
            "{:,} units examined (of {:,}) over the map's {:,} points: **{:,} dead** (constant), **{:,} "
            "near-duplicate** (|r| > {}) in {:,} groups.",
            found["examined"],
            found["units"],
            found["images"],
            found["dead"],
            found["duplicated"],
            unit_lib.DUPLICATE_R,
            found["groups"],
        )
    )
    if st.session_state.get(UNIT_PICKER, 0) >= stats.examined:
        st.session_state[UNIT_PICKER] = 0
    unit = int(st.number_input("Unit", 0, stats.examined - 1, key=UNIT_PICKER, step=1))
    notes = []
    if unit in set(stats.dead.tolist()):
        notes.append("dead: constant on these images")
    if stats.group[unit] >= 0:
        others = [int(u) for u in stats.groups[int(stats.group[unit])] if u != unit]
        notes.append(f"near-duplicate of {', '.join(map(str, others[:10]))}")
    text.caption(
        text.md(
            "unit {}: from {:.3g} to {:.3g}, mean {:.3g}{}",
            unit,
            float(stats.minimum[unit]),
            float(stats.maximum[unit]),
            float(stats.mean[unit]),
            (" · " + "; ".join(notes)) if notes else "",
        )
    )
    rows = emb.indices[stats.top[unit]]
    values = ", ".join(f"{v:.3g}" for v in stats.top_values[unit])
    _top_images(images, rows, f"its {len(rows)} most activating images: {rows.tolist()} (values {values})")
    st.button(
        "Colour the map by this unit", key="unit-colour-picked", on_click=colour_by, args=(context, rep_key, unit)
    )
    with st.expander("The dead and near-duplicate units"):
        text.caption(f"Dead: {', '.join(map(str, stats.dead.tolist())) or 'none'}")
        for number, members in enumerate(stats.groups):
            text.caption(f"Group {number + 1}: units {', '.join(map(str, members.tolist()))}")
