"""The dashboard's entry point: ``featlib app`` runs ``streamlit run`` on this file; ``app.py`` (``make run``,
``streamlit run app.py`` in a checkout) calls :func:`main` too.

It sets the page up and hands over to ``st.navigation``, which registers the
page scripts of ``featlib/app/app_pages`` (:data:`featlib.app.widgets.APP_PAGES`);
they stay thin and call the glue in ``featlib.app``.
"""

from __future__ import annotations

import streamlit as st

from featlib.app import auth, identity, job_watch, links, resources, text, widgets


def main() -> None:
    """One run of the dashboard: set-up, login, the workers, the sidebar and the page asked for."""
    st.set_page_config(page_title="featlib", page_icon=":material/scatter_plot:", layout="wide")
    auth.require_login()
    resources.start_warm_up()
    try:
        job_watch.manager()  # the workers start (and one warms up) with the server's first page
    except (OSError, ValueError) as error:  # no scheduler at FEATLIB_SCHEDULER, a bad FEATLIB_WORKERS, ...
        text.error(f"The job workers cannot be started, so nothing can be computed: {error}")
        st.stop()

    navigation = st.navigation(
        [
            st.Page(widgets.HOME_PAGE, title="Home", icon=":material/home:", default=True),
            st.Page(widgets.MODEL_PAGE, title="Model", icon=":material/model_training:"),
            st.Page(widgets.REPRESENTATIONS_PAGE, title="Representations", icon=":material/layers:"),
            st.Page(widgets.EXPLORE_PAGE, title="Explore", icon=":material/scatter_plot:"),
            st.Page(widgets.LAYERS_PAGE, title="Layers", icon=":material/view_module:"),
            st.Page(widgets.COMPARE_PAGE, title="Compare", icon=":material/compare:"),
            st.Page(widgets.WORKSPACE_PAGE, title="Workspace", icon=":material/folder_shared:"),
            st.Page(widgets.JOBS_PAGE, title="Jobs", icon=":material/pending_actions:"),
        ]
    )
    if navigation.url_path:  # every page but Home (url path "") uses Keras
        resources.wait_for_libraries()
    links.restore_from_link()
    summary = st.sidebar.empty()
    widgets.sidebar_summary(summary)
    identity.sidebar()
    try:
        navigation.run()
    finally:  # shows at once what the page changed (an upload, a training), even when it stopped early
        widgets.sidebar_summary(summary)


if __name__ == "__main__":  # streamlit run featlib/app/dashboard.py, as `featlib app` does
    main()
