"""The Workspace page's bundle import: a checked bundle's model and view added to the workspace."""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import urlencode

import streamlit as st

from featlib import jobs
from featlib.app import identity, links, resources, text
from featlib.app import job_watch as running
from featlib.share import bundle
from featlib.store.permissions import why_not


def _store_bundle(workspace, checked: bundle.CheckedBundle, creator: str):
    """Stores a checked bundle; a bundle already imported is returned as its (informative) error, not raised."""
    try:
        return bundle.store_bundle(workspace, checked, creator=creator)
    except bundle.AlreadyImportedError as already:
        return already


def import_form() -> None:
    """Upload a bundle and import it, showing the link to its view or why it was refused."""
    why = why_not(identity.actor(), "create", "", "an item by importing a bundle")
    upload = st.file_uploader(
        "Bundle (.zip)", type=["zip"], key="bundle_upload", disabled=bool(why), help=text.escape(why) if why else None
    )
    if upload is None or not st.button(
        "Import this bundle", type="primary", disabled=bool(why), help=text.escape(why) if why else None
    ):
        return
    try:
        data, label = bundle.read_source(upload)
    except bundle.BundleError as error:
        text.error(f"This bundle cannot be imported: {error}")
        return
    creator, workspace = identity.current_user(), resources.workspace()
    try:
        spec = jobs.specs.bundle_spec(label, hashlib.sha256(data).hexdigest()[:16], token=uuid.uuid4().hex)
    except jobs.JobLimitError as error:
        text.error(error)
        return
    result = running.run(
        spec,
        {"data": data},
        label=f"Checking the bundle {label}",
        store=lambda checked: _store_bundle(workspace, checked, creator),
        failure="This bundle cannot be imported",
    )
    running.manager().forget(spec.key)  # importing the same file again is checked (and refused or stored) again
    if isinstance(result, bundle.AlreadyImportedError):
        text.info(result)
        return
    if result is None:
        return
    base = (st.context.url or "").split("?")[0].rsplit("/", 1)[0]
    link = f"{base}/explore?{urlencode(result.view.to_query())}"
    links.open_view(result.view)  # what was imported becomes the current model, dataset, layer and method
    text.success(f"Imported {result.model.name} with its map of {result.points:,} points; it is now the current model.")
    text.caption(bundle.measured_text(result))
    for difference in result.differences:
        text.warning(
            f"Made with other library versions: {difference}. The stored map is shown as it "
            "was; a recomputation here may differ."
        )
    text.markdown("Open the view with this link:")
    st.code(link, language=None, wrap_lines=True)
