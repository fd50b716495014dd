"""The Workspace page's History (every change recorded, with its old value) and Trash (restore, purge) views."""

from __future__ import annotations

import streamlit as st

from featlib import settings
from featlib.app import identity, text
from featlib.app.catalog import KIND_TITLES
from featlib.errors import FeatlibError
from featlib.store.permissions import why_not


def history_table(workspace) -> None:
    """The audit trail: who renamed, noted, deleted, restored or cancelled what, newest first."""
    rows = workspace.history()
    if not rows:
        text.caption("Nothing renamed, noted, deleted or cancelled yet.")
        return
    st.dataframe(
        [
            {
                "when (UTC)": r.at,
                "who": r.who or "(unnamed)",
                "login": r.who_subject,
                "did": r.action,
                "kind": KIND_TITLES.get(r.kind, r.kind),
                "item": r.item_name or r.item_id,
                "whose": r.owner or "(nobody)",
                "owner's login": r.owner_subject,
                "before": r.old_value,
                "after": r.new_value,
            }
            for r in rows
        ],
        hide_index=True,
        key="workspace-history",
        column_config={"login": None, "owner's login": None}
        if not any(r.who_subject or r.owner_subject for r in rows)
        else None,  # the login subjects: shown only on a server that has had a login
    )


def trash_list(workspace) -> None:
    """The trash: each deleted item, who deleted it and when, with a Restore button (under a login, an admin's only:
    disabled for the others, with the reason as its tooltip)."""
    entries = workspace.trash()
    actor = identity.actor()
    if not entries:
        text.caption(f"The trash is empty. Deleted items stay here {settings.get('FEATLIB_TRASH_DAYS')} days.")
        return
    for entry in entries:
        left, right = st.columns([5, 1])
        text.markdown(
            text.md(
                "**{}** · {} · made by {} · deleted by {} at {}{}",
                entry.name,
                KIND_TITLES.get(entry.kind, entry.kind),
                entry.owner or "(nobody)",
                entry.deleted_by or "(unnamed)",
                entry.deleted_at,
                f" · with {len(entry.contents) - 1} result(s)" if len(entry.contents) > 1 else "",
            ),
            on=left,
        )
        why = why_not(actor, "restore", entry.owner_subject, f"{entry.kind} {entry.name!r}")
        if right.button(
            "Restore", key=f"restore-{entry.id}", disabled=bool(why), help=text.escape(why) if why else None
        ):
            try:
                workspace.restore(entry.id, who=identity.current_user(), actor=actor)
            except FeatlibError as error:
                text.error(error)
                continue
            st.rerun()
