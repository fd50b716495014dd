"""The dashboard's script run, :func:`main`: each session's run of ``app.py`` (``make run``, ``streamlit run app.py``
in a checkout) and of :mod:`featlib.app.launch` (``featlib app``), the launchers the server starts from.

It sets the page up and hands over to ``st.navigation``, which registers the
page scripts of ``featlib/app/app_pages`` (:data:`featlib.app.widgets.APP_PAGES`);
they stay thin and call the glue in ``featlib.app``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from featlib.app import auth, identity, job_watch, links, resources, start_up, stored_map, text, widgets

WHILE_KERAS_LOADS: dict[str, Callable[[], Callable[[], None] | None]] = {"Explore": stored_map.show}
"""What a page, by title, draws from stored results while it waits for Keras (a restarted server's first seconds);
it returns what to load, once Keras has, before the page replaces it (``None``: nothing drawn)."""
ICON_DOTS = ((8, 9, "1f77b4"), (20, 7, "ff7f0e"), (13, 20, "2ca02c"), (24, 22, "d62728"), (6, 24, "17becf"))
"""The tab icon's dots: (column, row, colour) on a 32-pixel square, in the maps' palette (:data:`featlib.plots.DIGIT_COLOURS`)."""


def page_icon() -> Image.Image:
    """The browser tab's icon, a few dots of a map in the classes' colours, drawn here: no font server is asked
    for it (a material icon's favicon is fetched from Google's, which an offline server cannot reach)."""
    size, radius = 32, 4
    icon = np.full((size, size, 3), 255, dtype=np.uint8)
    rows, cols = np.mgrid[:size, :size]
    for col, row, colour in ICON_DOTS:
        icon[(rows - row) ** 2 + (cols - col) ** 2 <= radius**2] = [int(colour[i : i + 2], 16) for i in (0, 2, 4)]
    return Image.fromarray(icon)


def main() -> None:
    """One run of the dashboard: set-up, login, the workers, the sidebar and the page asked for."""
    st.set_page_config(page_title="featlib", page_icon=page_icon(), layout="wide")
    auth.require_login()
    start_up.prepare_server()  # begun when the server started: Keras, the job cluster, the first model and map

    # No icons beside the pages' names: a material icon is a word in a font (``layers``), read out and copied
    # with the name ("layers Representations").
    navigation = st.navigation(
        [
            st.Page(widgets.HOME_PAGE, title="Home", default=True),
            st.Page(widgets.MODEL_PAGE, title="Model"),
            st.Page(widgets.REPRESENTATIONS_PAGE, title="Representations"),
            st.Page(widgets.EXPLORE_PAGE, title="Explore"),
            st.Page(widgets.LAYERS_PAGE, title="Layers"),
            st.Page(widgets.COMPARE_PAGE, title="Compare"),
            st.Page(widgets.WORKSPACE_PAGE, title="Workspace"),
            st.Page(widgets.JOBS_PAGE, title="Jobs"),
        ]
    )
    if navigation.url_path:  # every page but Home (url path "") uses Keras
        _wait_for_start_up(navigation.title, WHILE_KERAS_LOADS.get(navigation.title))
    links.restore_from_link()
    summary = st.sidebar.empty()
    widgets.sidebar_summary(summary)
    identity.sidebar()
    try:
        navigation.run()
    finally:  # shows at once what the page changed (an upload, a training), even when it stopped early
        widgets.sidebar_summary(summary)
        resources.page_drawn()  # the start-up's import of Keras may begin: it waited for the first page


def _wait_for_start_up(title: str, meanwhile: Callable[[], Callable[[], None] | None] | None = None) -> None:
    """The page's frame (its title, ``meanwhile``'s stored results, a spinner) while Keras finishes loading; stops
    the page with the reason when the job cluster's start has failed.

    What ``meanwhile`` drew stays until what it returned has loaded (the page's model), so that the page replaces
    it at once.

    A page does not wait for a cluster still starting: its first result that needs a job waits for it
    (:func:`featlib.app.job_watch.manager`, which also says why when it cannot start), so a page of stored
    results (a restarted server's map) is drawn while the cluster starts.
    """
    frame = st.empty()
    if not resources.libraries_ready():
        with frame.container():
            text.title(title)
            then = meanwhile() if meanwhile is not None else None
            resources.wait_for_libraries()
            if then is not None:
                then()
    if job_watch.engine_failed():
        with frame.container():
            text.title(title)
            job_watch.manager()  # says why, and stops the page
    frame.empty()  # the page draws its own title
