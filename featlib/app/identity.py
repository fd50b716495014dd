"""Who is using the dashboard: the login name under ``st.login``, else a name set once per browser.

Without a login the sidebar asks for a name once. It is kept in the session
and in a browser cookie (``featlib_user``, one year, ``SameSite=Lax``) set by
a tiny ``st.components.v2`` script: Streamlit reads cookies when a session
starts (``st.context.cookies``), so every later visit from that browser, a
reload or a new tab, knows the name. It is a label for "who made this", not
an authentication: anyone can type any name; turn on ``st.login`` for that.

With ``st.login`` on, the user is the logged-in account (:func:`actor`): its stable subject (``sub``, with the
issuer), its display name (unique among the workspace's accounts, :meth:`featlib.store.Workspace.sign_in`) and its
role (:mod:`featlib.store.permissions`: ``FEATLIB_ADMINS``, ``FEATLIB_VIEWERS``, everyone else a member).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, unquote

import streamlit as st

from featlib import names
from featlib.app import auth, resources, text
from featlib.errors import TextError
from featlib.store import Workspace
from featlib.store.permissions import Actor, role_of, subject_of

COOKIE = "featlib_user"
MAX_NAME = 40
_NAME = "featlib.user_name"
_ACCOUNT = "featlib.account"
_SET_COOKIE_JS = f"""
export default function (component) {{
    const name = component.data && component.data.name;
    if (name) {{
        document.cookie = "{COOKIE}=" + name + "; path=/; max-age=31536000; SameSite=Lax";
    }}
}}
"""
_set_cookie = st.components.v2.component("featlib_identity_cookie", js=_SET_COOKIE_JS)


def clean_name(text: str) -> str:
    """A display name: runs of white space made one space, then :func:`featlib.names.check_name`'s rule
    (1 to :data:`MAX_NAME` printable characters, NFKC, one script per word) and no look-alike of a name already
    in the workspace (:func:`featlib.names.check_lookalike`, whether typed or read from the cookie); a
    :class:`~featlib.errors.TextError` naming the rule otherwise."""
    if any(not c.isprintable() and not c.isspace() for c in text):  # an escape code, not white space to fold
        return names.check_name(text, "user name", MAX_NAME)  # raises, naming the characters
    name = names.check_name(" ".join(text.split()), "user name", MAX_NAME)  # NFKC, one script per word
    return names.check_lookalike(name, resources.workspace().user_names(), "user name")


def actor_of(claims: Mapping[str, object], workspace: Workspace) -> Actor:
    """The logged-in user of a login's ``claims`` (``st.user``): subject, display name and role.

    The display name is the claims' ``name`` (else ``email``, else the subject), made unique among the workspace's
    accounts (:meth:`featlib.store.Workspace.sign_in`); the role is read from ``FEATLIB_ADMINS`` and
    ``FEATLIB_VIEWERS`` now (:func:`featlib.store.permissions.role_of`). Claims without a subject get the name and
    no subject: such a user owns nothing, so a member of them changes nothing.
    """
    subject = subject_of(claims)
    email = str(claims.get("email") or "").strip()
    wanted = " ".join(str(claims.get("name") or email or subject or "unnamed").split())[:MAX_NAME] or "unnamed"
    name = workspace.sign_in(subject, wanted, email) if subject else wanted
    return Actor(name, subject, role_of(subject, email))


def actor() -> Actor | None:
    """The logged-in user (:func:`actor_of` of ``st.user``) when ``st.login`` is on; ``None`` without a login (names
    are only labels then, and the store takes every change)."""
    if not (auth.login_configured() and st.user.get("is_logged_in", False)):
        return None
    claims = {key: st.user.get(key) for key in ("sub", "iss", "name", "email")}
    cached = st.session_state.get(_ACCOUNT)
    if cached is not None and cached[0] == claims:  # signed in once per session; the role read at each call
        subject, name = cached[1]
        return Actor(name, subject, role_of(subject, str(claims.get("email") or "")))
    found = actor_of(claims, resources.workspace())
    st.session_state[_ACCOUNT] = (claims, (found.subject, found.name))
    return found


def current_user() -> str:
    """The login account's display name when ``st.login`` is on (:func:`actor`), else the name this browser set
    ('' when none yet)."""
    found = actor()
    if found is not None:
        return found.name
    if _NAME not in st.session_state:
        try:
            st.session_state[_NAME] = clean_name(unquote(st.context.cookies.get(COOKIE, "")))
        except TextError:
            return ""
    return st.session_state[_NAME]


def sidebar() -> None:
    """The sidebar's "you are …" line, and the name field when no name is set yet."""
    if auth.login_configured():
        return  # auth.require_login shows the login name
    name = current_user()
    with st.sidebar:
        if name:
            text.caption(text.md("You are **{}**: what you make is listed under this name.", name))
            if st.session_state.get(_NAME + ".new"):
                _set_cookie(data={"name": quote(name)}, key="featlib_identity_cookie", height=0)
            with st.popover("Change name", icon=":material/badge:"):
                _name_form()
        else:
            _name_form()


def _name_form() -> None:
    with st.form("identity", border=False):
        typed = st.text_input("Your name", max_chars=MAX_NAME, help="Shown beside what you train, upload and compute.")
        if st.form_submit_button("Save name"):
            try:
                st.session_state[_NAME] = clean_name(typed)
            except TextError as error:
                text.error(error)
                return
            st.session_state[_NAME + ".new"] = True
            st.rerun()
