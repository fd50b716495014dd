"""Compare's "What moved" section: how each image's nearest neighbours changed between two panels (issue 29, item 3).

For two panels of the same sample, each image's 10 nearest neighbours in each panel's own layer space and
the share it kept (Jaccard), from a job (:meth:`featlib.service.Service.neighbour_change`): the second
panel's map coloured by that share, the images that moved most beside their old and new neighbours, where
the neighbours went class by class, and all of it as CSV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from featlib import datasets, keys, plots
from featlib.app import results, text, theme
from featlib.app.comparing import PanelMap, panel_title
from featlib.maps import neighbour_change
from featlib.maps.embed import REDUCER_TITLES
from featlib.share import exports

PAIR = "cmp_moved_pair"
"""The session key of the panel compared with panel 1."""
MOVED_SHOWN = 8
"""The images that moved most, each shown with its neighbours before and after."""


def show(maps: list[PanelMap], dataset: datasets.Dataset, split: str, sample: int | None) -> None:
    """The section, under the Compare page's metrics, for two or more panels."""
    if len(maps) < 2:
        return
    text.subheader("What moved")
    others = list(range(1, len(maps)))
    if st.session_state.get(PAIR) not in others:
        st.session_state[PAIR] = others[0]
    pair = st.selectbox(
        "Compare panel 1 with",
        others,
        format_func=lambda i: f"panel {i + 1}: {panel_title(maps[i].record, maps[i].panel, maps[i].layer_title)}",
        key=PAIR,
    )
    first, other = maps[0], maps[pair]
    indices = first.embedding.indices
    if not np.array_equal(np.sort(indices), np.sort(other.embedding.indices)):  # panels share one sample
        text.info("The two panels' maps are of different samples; their neighbours cannot be compared point by point.")
        return
    change = results.neighbour_change(
        (keys.read_key(first.embedding.key).rep_key, first.outputs),
        (keys.read_key(other.embedding.key).rep_key, other.outputs),
        indices,
        sample,
    )
    if change is None:
        return
    images, labels = dataset.split(split)
    before, after = "panel 1", f"panel {pair + 1}"
    text.caption(
        text.md(
            "Each image's {} nearest neighbours in each panel's own layer space (Euclidean), among the {:,} "
            "images of the sample: on average an image kept **{:.0%}** of them ({} against {}). The colour is each "
            "image's Jaccard index of its two neighbour sets: 1, every neighbour kept; 0, none.",
            change.k,
            len(indices),
            change.kept,
            after,
            before,
        )
    )
    position = {int(i): p for p, i in enumerate(indices)}
    order = np.array([position[int(i)] for i in other.embedding.indices])  # panel's rows → positions in indices
    st.plotly_chart(
        plots.neighbours_kept_map(
            other.embedding.coords,
            other.embedding.indices,
            change.jaccard[order],
            f"Neighbours kept, on the map of {after}",
            REDUCER_TITLES[other.panel.reducer],
        ),
        key="moved-map",
    )
    shift = neighbour_change.class_shift(change, labels[indices], dataset.num_classes)
    st.plotly_chart(plots.class_shift_heatmap(shift, dataset.class_names, before, after), key="moved-classes")
    moved = neighbour_change.moved_most(change, MOVED_SHOWN)
    text.markdown(
        text.md(
            "**The {} images that moved most**: each row is the image, then its {} nearest neighbours in {}, then in {}.",
            len(moved),
            change.k,
            before,
            after,
        )
    )
    moved_images(change, moved, indices, images, labels, dataset.class_names)
    st.download_button(
        "Download the neighbours of every image (CSV)",
        exports.table_bytes(table(change, indices, labels, dataset.class_names), "csv"),
        file_name=f"neighbours-panel1-panel{pair + 1}.csv",
        mime="text/csv",
        icon=":material/download:",
    )


def moved_images(
    change: neighbour_change.NeighbourChange,
    moved: np.ndarray,
    indices: np.ndarray,
    images: np.ndarray,
    labels: np.ndarray,
    class_names,
) -> None:
    """The images that moved most, one row each: the image, a blank tile, its neighbours before, a blank tile, its
    neighbours after (``moved``: positions in the sample ``indices``, as :func:`~featlib.maps.neighbour_change.moved_most`
    gives them), captioned with each image's class and Jaccard index."""
    blank = np.zeros((1, *images.shape[1:]), dtype=images.dtype)  # a blank tile between the three groups
    rows = [
        np.concatenate(
            [images[[indices[p]]], blank, images[indices[change.before[p]]], blank, images[indices[change.after[p]]]]
        )
        for p in moved
    ]
    st.image(
        plots.montage(np.concatenate(rows), columns=3 + 2 * change.k, dark=theme.dark()),
        width="stretch",
        caption=text.escape(
            "; ".join(
                f"image {indices[p]} ({class_names[labels[indices[p]]]}): Jaccard {change.jaccard[p]:.2f}"
                for p in moved
            )
        ),
    )


def table(
    change: neighbour_change.NeighbourChange, indices: np.ndarray, labels: np.ndarray, class_names
) -> pd.DataFrame:
    """One row per image: its index in the split, its class, the share of neighbours it kept, and its neighbours'
    indices before and after (space-separated, nearest first)."""
    return pd.DataFrame(
        {
            "index": indices.astype(int),
            "label": [class_names[labels[i]] for i in indices],
            "kept_jaccard": change.jaccard,
            "neighbours_before": [" ".join(map(str, indices[row])) for row in change.before],
            "neighbours_after": [" ".join(map(str, indices[row])) for row in change.after],
        }
    )
