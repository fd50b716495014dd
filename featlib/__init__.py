"""featlib: see what the layers of a Keras classifier have learned.

The core (everything here except ``featlib.app``) is plain Python on NumPy,
Keras, umap-learn, plotly and SQLite, and never imports Streamlit, so it works
the same from a notebook, the CLI or the dashboard.
"""

__version__ = "0.1.0"
