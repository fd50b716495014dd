"""featlib dashboard in a checkout: ``streamlit run app.py`` (``make run``); the installed one is ``featlib app``.

Both run :func:`featlib.app.dashboard.main`, whose ``st.navigation`` serves the
pages of ``featlib/app/app_pages``.
"""

from featlib.app.dashboard import main

main()
