"""The Explore map read at a glance: a search box that selects points, and the classes' contours and labels.

The search box takes what :mod:`featlib.maps.point_query` reads (``12, 40-45``, ``label:7``, ``predicted:3``,
``confidence<0.6``, ``wrong``, class names) and makes what it finds among the map's points the selection
(:func:`featlib.app.links.put_selection`): outlined on the map, its images under it, carried in the link and in
saved views like any box or lasso selection. The toggle draws each class's 50 % density contour and its centre's
label with its purity (:func:`featlib.plots.class_contours`); it travels in links as ``contours=on``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from featlib.app import links, text
from featlib.errors import PointQueryError
from featlib.maps import point_query

SEARCH_KEY = "map_search"
"""Widget key of the search box's text."""
SEARCH_BUTTON = "map_search_button"
_OUTCOME = "featlib.map_search_outcome"
"""What the last search did, for the run after it: ``{"context", "kind", "query", "found", "message"}``."""
SEARCH_HELP = (
    "Selects the map's points that match. Indices: 12 · 12, 40-45 · #7. True label: label:7 or label:cat "
    '(quote a name with spaces: label:"ankle boot"). Predicted: predicted:3. Confidence: confidence<0.6, '
    "confidence>=90%, confidence:0.2-0.5. Mistakes: wrong (or misclassified), correct. Terms of one kind add up "
    "(label:3 label:5: either); terms of different kinds narrow down (label:4 predicted:9: the 4s taken for 9s)."
)
CONTOURS_HELP = (
    "Draws the line around the densest half of each class on the map (a smoothed 2-D histogram of its points) and, "
    "at the class's centre (its medoid: the point of the class nearest to all the others), its name and purity: "
    "the share of the map's points inside the line that belong to the class. By predicted class when the map is "
    "coloured by prediction, else by true class."
)


def contours_toggle() -> bool:
    """The sidebar's "Contours and class labels" toggle (a link's ``contours``); whether it is on."""
    return st.toggle("Contours and class labels", key=links.CONTOURS_TOGGLE, help=text.escape(CONTOURS_HELP))


def contours_note(on: bool) -> None:
    """Says under the map, while the contours are drawn, what the lines and the labels mean."""
    if on:
        text.caption(
            "Lines: the densest half of each class. Labels: the class at its centre (its medoid) and its purity, "
            "the share of the points inside its line that belong to it."
        )


def search_box(
    context: tuple[str, str, str],
    among: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: Sequence[str],
) -> None:
    """The search box: a one-line form whose submission selects the map's points that match, then says how many.

    Args:
        context: ``(model, dataset, split)`` of the selection.
        among: ``(m,)`` dataset indices of the map's points (the search finds only those).
        labels: ``(n,)`` int true labels of the whole split; ``predicted``: ``(n,)`` int predicted labels;
            ``confidence``: ``(n,)`` float probabilities of the predictions.
        class_names: the classes' names, by label.
    """
    with st.form("map-search", border=False, enter_to_submit=True):
        row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
        with row:
            st.text_input(
                "Find points",
                key=SEARCH_KEY,
                max_chars=point_query.MAX_QUERY_CHARS,
                placeholder=point_query.EXAMPLES,
                help=text.escape(SEARCH_HELP),
                label_visibility="collapsed",
            )
            st.form_submit_button(
                "Select",
                icon=":material/search:",
                key=SEARCH_BUTTON,
                on_click=_search,
                args=(context, among, labels, predicted, confidence, tuple(class_names)),
            )
    _show_outcome(context)


def _search(
    context: tuple[str, str, str],
    among: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: tuple[str, ...],
) -> None:
    """The search button's callback (before the run, so the map of that run shows the new selection)."""
    typed = str(st.session_state.get(SEARCH_KEY) or "").strip()
    outcome = {"context": tuple(context), "query": typed, "found": 0, "message": ""}
    if not typed:
        outcome["kind"] = "empty"
    else:
        try:
            found = point_query.find_points(typed, labels, predicted, confidence, class_names, among=among)
        except PointQueryError as error:
            outcome.update(kind="error", message=str(error))
        else:
            outcome.update(kind="found" if len(found) else "none", found=len(found))
            if len(found):
                links.put_selection(context, found)
    st.session_state[_OUTCOME] = outcome


def _show_outcome(context: tuple[str, str, str]) -> None:
    """Says, once, what the last search of this map did (every typed text shown as written, never as markup)."""
    outcome = st.session_state.pop(_OUTCOME, None)
    if not outcome or tuple(outcome["context"]) != tuple(context):
        return
    if outcome["kind"] == "empty":
        text.caption(f"Type what to find, such as {point_query.EXAMPLES}.")
    elif outcome["kind"] == "error":
        text.error(outcome["message"], icon=":material/search_off:")
    elif outcome["kind"] == "none":
        text.info(
            text.md("No point of the map matches {}; the selection is unchanged.", text.code(outcome["query"])),
            icon=":material/search_off:",
        )
    else:
        text.caption(text.md("{} selects **{:,}** of the map's points.", text.code(outcome["query"]), outcome["found"]))
