"""Who may change what on a server with ``st.login`` on: roles, owners keyed by the login's subject, one rule table.

With a login on, every item and job records its owner's stable subject (the login's ``sub`` claim, prefixed by its
issuer when the provider gives one: ``"https://accounts.google.com|1234"``) beside the display name, and each
logged-in account has one role:

- **viewer** (listed in ``FEATLIB_VIEWERS``): opens and exports; changes nothing;
- **member** (everyone else logged in): also makes new items, and renames, notes, deletes and cancels their own
  items and jobs (those whose recorded subject is theirs);
- **admin** (listed in ``FEATLIB_ADMINS``; an account on both lists is an admin): changes anything, and restores
  from the trash or purges it.

Items made before owners were recorded have no subject: under a login only admins change them.

Without a login there are no roles: names are only labels anyone can type, the store takes every change (the
dashboard asks first before changing another person's item), and the store methods get ``actor=None``.

:func:`can` is the one rule table; :func:`check` raises :class:`~featlib.errors.RoleError` naming the rule, the
role and the fix. The store calls :func:`check` inside each change's write transaction (rename, note, delete,
restore, purge, job cancel), so a page that forgets a check is still refused. This module imports no Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from featlib import settings
from featlib.errors import RoleError

VIEWER, MEMBER, ADMIN = "viewer", "member", "admin"
ROLES = (VIEWER, MEMBER, ADMIN)
"""The roles, from the fewest rights to the most."""
READS = ("open", "export")
"""What every role may do."""
OWN_CHANGES = ("rename", "note", "delete", "cancel")
"""The changes a member may make to their own items and jobs, and an admin to any."""
ADMIN_ONLY = ("restore", "purge")
"""The changes only an admin may make."""
ACTIONS = READS + ("create",) + OWN_CHANGES + ADMIN_ONLY
"""Every action :func:`can` knows (``"create"``: import, train, upload: members and admins)."""


@dataclass(frozen=True)
class Actor:
    """A logged-in user acting on the workspace: display ``name``, stable ``subject`` and ``role`` (one of
    :data:`ROLES`)."""

    name: str
    subject: str
    role: str


def subject_of(claims: Mapping[str, object]) -> str:
    """The stable subject of a login's claims (``st.user``): ``"<iss>|<sub>"``, or ``<sub>`` without an issuer;
    ``""`` when the claims hold no ``sub``."""
    sub = str(claims.get("sub") or "").strip()
    iss = str(claims.get("iss") or "").strip()
    if not sub:
        return ""
    return f"{iss}|{sub}" if iss else sub


def role_of(subject: str, email: str = "", environ: Mapping[str, str] | None = None) -> str:
    """The role of a logged-in account: ``"admin"`` when ``FEATLIB_ADMINS`` lists its subject (whole, or the part
    after ``|``) or its e-mail (any case), else ``"viewer"`` when ``FEATLIB_VIEWERS`` does, else ``"member"``.

    Both settings are read at each call, so a changed list takes effect at the user's next page run.
    """
    names = {subject, subject.rsplit("|", 1)[-1]} - {""}
    mail = email.strip().lower()

    def listed(setting: str) -> bool:
        return any(entry in names or (mail and entry.lower() == mail) for entry in settings.get(setting, environ) or ())

    if listed("FEATLIB_ADMINS"):
        return ADMIN
    if listed("FEATLIB_VIEWERS"):
        return VIEWER
    return MEMBER


def can(role: str, action: str, owner_subject: str, user_subject: str) -> bool:
    """Whether a user of ``role`` with subject ``user_subject`` may do ``action`` to an item or job whose recorded
    owner is ``owner_subject`` (``""``: made before owners were recorded, or by nobody logged in).

    Raises:
        ValueError: a role outside :data:`ROLES` or an action outside :data:`ACTIONS`.
    """
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: expected one of {list(ROLES)}.")
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}: expected one of {list(ACTIONS)}.")
    if action in READS or role == ADMIN:
        return True
    if role == VIEWER or action in ADMIN_ONLY:
        return False
    if action == "create":
        return True
    return bool(owner_subject) and owner_subject == user_subject


def rule(role: str, action: str) -> str:
    """The rule that decides ``action`` for ``role``, in words (for messages and tooltips)."""
    if action in READS:
        return "everyone logged in may open and export"
    if role == VIEWER:
        return "viewers may open and export only"
    if action in ADMIN_ONLY:
        return f"only admins may {action} (the trash)"
    if role == MEMBER:
        return "members change only their own items and jobs"
    return "admins change anything"


def why_not(actor: Actor | None, action: str, owner_subject: str, what: str = "this item") -> str:
    """Why ``actor`` may not do ``action`` to ``what`` (owned by ``owner_subject``): the rule, the role and the fix;
    ``""`` when it may (and always without a login: ``actor`` is ``None``)."""
    if actor is None or can(actor.role, action, owner_subject, actor.subject):
        return ""
    if actor.role == VIEWER:
        fix = "ask an admin to remove you from FEATLIB_VIEWERS"
    elif action in ADMIN_ONLY:
        fix = "ask an admin (FEATLIB_ADMINS) to do it"
    elif not owner_subject:
        fix = "it was made before owners were recorded, so only an admin (FEATLIB_ADMINS) may change it"
    else:
        fix = "ask its owner or an admin (FEATLIB_ADMINS) to do it"
    return f"You cannot {action} {what}: {rule(actor.role, action)}, and you are a {actor.role}. To change it, {fix}."


def check(actor: Actor | None, action: str, owner_subject: str, what: str = "this item") -> None:
    """Refuses ``action`` on ``what`` (owned by ``owner_subject``) when ``actor``'s role does not allow it; returns
    when it does, and always when ``actor`` is ``None`` (no login: names are only labels).

    Raises:
        RoleError: naming the rule, the role and the fix.
        ValueError: an unknown role or action.
    """
    reason = why_not(actor, action, owner_subject, what)
    if reason:
        raise RoleError(reason)
