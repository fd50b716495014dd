"""The Streamlit glue: cached resources, session state and shared widgets.

The only part of featlib that imports Streamlit. Pages call this; this calls
the core.
"""
