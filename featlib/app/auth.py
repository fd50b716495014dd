"""Optional team login through Streamlit's built-in OIDC (``st.login``).

Login is on when ``.streamlit/secrets.toml`` has an ``[auth]`` section (see
the README); without one the app is open to whoever reaches the server. With a
login, each account has a role (viewer, member, admin: :mod:`featlib.store.permissions`).
"""

from __future__ import annotations

import streamlit as st

from featlib.app import text
from featlib.store.permissions import role_of, subject_of


def login_configured() -> bool:
    """Whether the server's secrets configure an OIDC provider."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return False


def require_login() -> None:
    """Stops the page behind a login button until the user has logged in."""
    if not login_configured():
        return
    if not st.user.get("is_logged_in", False):
        text.title("featlib")
        text.markdown("This server is shared by a team: log in to continue.")
        st.button("Log in", type="primary", on_click=st.login)
        st.stop()
    with st.sidebar:
        role = role_of(subject_of({key: st.user.get(key) for key in ("sub", "iss")}), str(st.user.get("email") or ""))
        text.caption(f"Logged in as {st.user.get('name') or st.user.get('email')} ({role})")
        st.button("Log out", on_click=st.logout)
