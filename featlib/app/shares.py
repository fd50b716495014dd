"""The Workspace page's share of each user: items and bytes against the quotas, and the free-disk floor."""

from __future__ import annotations

import streamlit as st

from featlib.app import text
from featlib.app.catalog import size
from featlib.errors import FeatlibError
from featlib.store.quotas import MIN_FREE_MB, USER_ITEMS, USER_MB, WORKSPACE_ITEMS, WORKSPACE_MB, Quotas, Share

NOBODY = "(nobody named)"
"""How the share of items made without a user name is listed."""


def share_rows(shares: list[Share], limits: Quotas) -> list[dict]:
    """One row per maker for the share table: items, bytes, the fraction of the workspace's bytes, and of the
    maker's quotas (``None`` when that quota is not set)."""
    total = sum(share.bytes for share in shares) or 1
    rows = []
    for share in shares:
        rows.append(
            {
                "user": share.maker or NOBODY,
                "items": share.items,
                "size": size(share.bytes),
                "of the workspace": share.bytes / total,
                "of their size quota": None if limits.user_bytes is None else share.bytes / limits.user_bytes,
                "of their item quota": None if limits.user_items is None else share.items / limits.user_items,
            }
        )
    return rows


def quota_line(limits: Quotas, free: int) -> str:
    """The quotas in force, in one line: ``"Quotas: per user 1.0 GiB (FEATLIB_QUOTA_USER_MB) ..."``."""

    def per(bytes_: int | None, items: int | None, mb: str, count: str) -> str:
        parts = [f"{size(bytes_)} ({mb})" if bytes_ is not None else f"no size quota ({mb} unset)"]
        parts.append(f"{items:,} items ({count})" if items is not None else f"no item quota ({count} unset)")
        return " and ".join(parts)

    floor = f"{size(limits.min_free)} must stay free" if limits.min_free else "no floor"
    return (
        f"Quotas: per user {per(limits.user_bytes, limits.user_items, USER_MB, USER_ITEMS)}; for the workspace "
        f"{per(limits.workspace_bytes, limits.workspace_items, WORKSPACE_MB, WORKSPACE_ITEMS)}. Disk: "
        f"{size(free)} free, {floor} ({MIN_FREE_MB}). A new item past a quota is refused; delete items here to "
        "make room, or ask the admin to raise the setting."
    )


def shares_table(workspace) -> None:
    """Each user's share of the workspace: a table of items and bytes per maker, with bars for the fraction of the
    workspace each holds and, when quotas are set, of each user's quota (:mod:`featlib.store.quotas`)."""
    try:
        limits = workspace.quotas()
    except FeatlibError as error:  # a quota setting with a bad value: said, the shares still shown
        text.error(error)
        limits = Quotas(None, None, None, None, 0)
    shares = workspace.shares()
    rows = share_rows(shares, limits)
    columns = {
        "of the workspace": st.column_config.ProgressColumn(
            "of the workspace", help="This user's bytes over every item's.", format="percent", min_value=0, max_value=1
        ),
        "of their size quota": st.column_config.ProgressColumn(
            "of their size quota", help=f"This user's bytes over {USER_MB}.", format="percent", min_value=0, max_value=1
        )
        if limits.user_bytes is not None
        else None,
        "of their item quota": st.column_config.ProgressColumn(
            "of their item quota",
            help=f"This user's items over {USER_ITEMS}.",
            format="percent",
            min_value=0,
            max_value=1,
        )
        if limits.user_items is not None
        else None,
    }
    if rows:
        st.dataframe(rows, key="workspace-shares", hide_index=True, width="stretch", column_config=columns)
    else:
        text.caption("Nothing is stored yet.")
    text.caption(quota_line(limits, workspace.free_bytes()))
