"""featlib dashboard in a checkout: ``streamlit run app.py`` (``make run``); the installed one is ``featlib app``.

``streamlit run`` finds :data:`app`, an ``st.App``, and serves it: the server begins its preparation as it starts
(:func:`featlib.app.start_up.lifespan`), and each session runs this file, whose run is
:func:`featlib.app.dashboard.main` (``st.navigation`` serving the pages of ``featlib/app/app_pages``).
:mod:`featlib.app.launch` is the same for the installed package; Streamlit finds an ``st.App`` only as an
assignment in the file it runs, so each launcher has its own.
"""

import streamlit as st

from featlib.app import dashboard, start_up

app = st.App(__file__, lifespan=start_up.lifespan)

if __name__ == "__main__":  # a session's run of this file (the server imports it as the module "app")
    dashboard.main()
