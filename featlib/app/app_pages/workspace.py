"""Workspace: everything the team trained, uploaded and computed on this server."""

import streamlit as st

from featlib.app import catalog, identity, resources, text

catalog.switch_to_opened()  # a saved view's "Open" was pressed
text.title("Workspace")
workspace = resources.workspace()
text.caption(text.md("Shared by everyone using this server, in {}.", text.code(workspace.root.resolve())))
with st.expander("Import a bundle", icon=":material/upload:"):
    text.caption(
        text.md("A bundle (.zip) exported from the Explore page of a featlib server, or by `python -m featlib export`.")
    )
    catalog.import_form()

items = workspace.items()  # read after an import, so that it is listed
usage = workspace.usage()
cols = st.columns([1, 1.3, 1.5, 1, 1.2, 1.6])
cols[0].metric("models", usage["models"])
cols[1].metric("dataset uploads", usage["datasets"])
cols[2].metric("representations", usage["representations"])
cols[3].metric("maps", usage["embeddings"])
cols[4].metric("saved views", usage["views"])
cols[5].metric(
    "disk use", catalog.size(usage["bytes"]), help="Every file of the workspace, the index and caches included."
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

shown = catalog.filtered(items, query, kinds, makers, sort)
text.caption(f"{len(shown)} of {len(items)} items · {catalog.size(sum(i.bytes for i in shown))} listed")
for item in shown[: catalog.PAGE_SIZE]:
    catalog.item_card(item)
if len(shown) > catalog.PAGE_SIZE:
    text.caption(f"The first {catalog.PAGE_SIZE} are shown; filter to see the others.")
catalog.pending_delete(items)
