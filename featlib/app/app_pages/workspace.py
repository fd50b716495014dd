"""Workspace: everything the team trained, uploaded and computed on this server."""

import streamlit as st

from featlib.app import bundle_import, catalog, history, identity, resources, shares, text

catalog.switch_to_opened()  # a saved view's "Open" was pressed
text.title("Workspace")
workspace = resources.workspace()
text.caption(text.md("Shared by everyone using this server, in {}.", text.code(workspace.root.resolve())))
with st.expander("Import a bundle", icon=":material/upload:"):
    text.caption(
        text.md("A bundle (.zip) exported from the Explore page of a featlib server, or by `python -m featlib export`.")
    )
    bundle_import.import_form()

items = workspace.items()  # read after an import, so that it is listed
usage = workspace.usage()
counts = st.container(horizontal=True, gap="medium", wrap=True)  # wraps into rows on a narrow screen, never a column
counts.metric("models", usage["models"], width="content")
counts.metric("dataset uploads", usage["datasets"], width="content")
counts.metric("representations", usage["representations"], width="content")
counts.metric("maps", usage["embeddings"], width="content")
counts.metric("saved views", usage["views"], width="content")
counts.metric(
    "disk use",
    catalog.size(usage["bytes"]),
    help="Every file of the workspace, the index and caches included.",
    width="content",
)

left, middle, right = st.columns([4, 3, 3])
query = left.text_input("Filter", placeholder="name, note, layer, dataset, maker…")
makers = middle.multiselect(
    "Made by",
    sorted({i.creator or "(nobody)" for i in items}),
    placeholder=f"anyone (you are {identity.current_user() or 'unnamed'})",
)
sort = right.selectbox("Sort by", list(catalog.SORTS))
kinds = st.pills(
    "Kinds",
    list(catalog.KIND_TITLES),
    selection_mode="multi",
    default=list(catalog.KIND_TITLES),
    format_func=catalog.KIND_TITLES.get,
)

layout = st.segmented_control(
    "Show",
    list(catalog.LAYOUTS),
    default="groups",
    key="workspace-layout",
    format_func=catalog.LAYOUTS.get,
    required=True,
)
shown = catalog.filtered(items, query, kinds, makers, sort)
text.caption(f"{len(shown)} of {len(items)} items · {catalog.size(sum(i.bytes for i in shown))} listed")
if layout == "table":
    catalog.table(shown)
elif layout == "cards":
    for item in shown[: catalog.PAGE_SIZE]:
        catalog.item_card(item)
    if len(shown) > catalog.PAGE_SIZE:
        text.caption(f"The first {catalog.PAGE_SIZE} are shown; filter to see the others.")
else:
    catalog.grouped_list(shown)
catalog.pending_delete(items)
catalog.pending_bulk_delete(items)
catalog.pending_change(items)

text.subheader("Trash")
text.caption("Deleted items, restorable until they are purged (FEATLIB_TRASH_DAYS).")
history.trash_list(workspace)

text.subheader("History")
text.caption("Every rename, note, delete, restore and job cancel: who, what, the value before and after, when.")
history.history_table(workspace)

text.subheader("Each user's share")
shares.shares_table(workspace)
