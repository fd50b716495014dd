"""The installed dashboard's launcher: ``featlib app`` runs ``streamlit run`` on this file (``app.py`` is the
checkout's).

``streamlit run`` finds :data:`app`, an ``st.App``, and serves it: the server begins its preparation as it starts
(:func:`featlib.app.start_up.lifespan`), and each session runs this file, whose run is
:func:`featlib.app.dashboard.main`.
"""

import streamlit as st

from featlib.app import dashboard, start_up

app = st.App(__file__, lifespan=start_up.lifespan)

if __name__ == "__main__":  # a session's run of this file (the server imports it as the module "launch")
    dashboard.main()
