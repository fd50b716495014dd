"""Images drawn in the page's own theme: dark ink on white in the light theme, light ink on black in the dark one.

The datasets' images are ink on a blank ground (MNIST: a white stroke, 255, on black, 0). The light theme shows
them inverted, as on paper; the dark theme as they are, so no white tile glares from a dark page. The theme is the
browser's (``st.context.theme.type``, which Streamlit infers from the page's background); a session that has not
told it yet (its first run) gets the light theme's images.
"""

from __future__ import annotations

import numpy as np
import streamlit as st


def dark() -> bool:
    """Whether the page shows Streamlit's dark theme."""
    return getattr(st.context.theme, "type", None) == "dark"


def ink(image: np.ndarray) -> np.ndarray:
    """A uint8 image (or images) as the page draws it: ``255 - image`` in the light theme, itself in the dark."""
    image = np.asarray(image)
    return image if dark() else 255 - image
