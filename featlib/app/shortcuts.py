"""The dashboard's keyboard shortcuts, in one table: the frequent buttons, one key each (issue 25, item 6).

Streamlit's ``shortcut=`` on a button (``st.button``, ``st.form_submit_button``) triggers it from anywhere on the
page and shows the keys on the button; the copy-link button (:mod:`featlib.app.clipboard`) listens for its own.
``Alt`` with a letter: Streamlit reserves ``C`` and ``R``, browsers most ``Ctrl`` letters, and an ``Alt`` letter
types nothing into a text field. On a Mac ``Alt`` is ``Option``.
"""

from __future__ import annotations

SHORTCUTS: dict[str, tuple[str, str]] = {
    "compute": ("Alt+Enter", "compute the map with the parameters set"),
    "cancel": ("Alt+X", "cancel the job in progress"),
    "copy_link": ("Alt+L", "copy the view's link"),
    "save_view": ("Alt+S", "save the view (in the Save view popover)"),
    "misclassified": ("Alt+M", "select the misclassified points"),
}
"""By action: ``(keys, what they do)``."""


def keys(action: str) -> str:
    """The keys of ``action`` (a key of :data:`SHORTCUTS`), as Streamlit's ``shortcut=`` takes them.

    Raises:
        KeyError: an action without a shortcut.
    """
    return SHORTCUTS[action][0]
