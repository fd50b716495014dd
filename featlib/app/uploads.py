"""The Model page's dataset upload: the form, the name it is kept under, and making it the current dataset."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import streamlit as st

from featlib import datasets, names
from featlib.app import identity, resources, text, widgets
from featlib.errors import FeatlibError

NOTICE = "featlib.dataset_notice"
"""What the last dataset upload did, shown once after the rerun that selects it."""

SINGLE_SPLITS = {
    "test": "as the test split only (to score a trained model)",
    "train": "as the train split only",
    "split": "split into train and test",
}


def dataset_form() -> None:
    """The upload form: an ``.npz`` tab and an IDX tab, each with an optional name."""
    text.caption(
        text.md(
            "An `.npz` with `x_train, y_train, x_test, y_test` (the Keras layout) or `x, y`; or "
            "MNIST-style IDX files (`.gz` or raw): one images/labels pair, or two pairs for the train and test "
            "splits. Images are grayscale, pixel values 0–255 or 0–1. Limit {:g} MB a file.",
            datasets.MAX_UPLOAD_BYTES / 2**20,
        )
    )
    npz_tab, idx_tab = st.tabs(["npz", "IDX"])
    with npz_tab:
        npz_file = st.file_uploader("Dataset .npz", type=["npz"], key="npz_upload")
        name = _name_input("npz")
        if npz_file is not None and st.button("Add this dataset", key="add_npz"):
            add_dataset(lambda: datasets.load_npz(npz_file, name="upload"), [npz_file.name], "npz", name)
    with idx_tab:
        _idx_form()


def _idx_form() -> None:
    cols = st.columns(2)
    images = cols[0].file_uploader("images", key="idx_images", help="e.g. t10k-images-idx3-ubyte.gz")
    labels = cols[1].file_uploader("labels", key="idx_labels", help="e.g. t10k-labels-idx1-ubyte.gz")
    with st.expander("A second pair, for the other split (optional)"):
        cols = st.columns(2)
        test_images = cols[0].file_uploader("test images", key="idx_test_images")
        test_labels = cols[1].file_uploader("test labels", key="idx_test_labels")
    two_pairs = test_images is not None and test_labels is not None
    single_split, test_fraction = "split", 0.2
    if images is not None and not two_pairs:
        guess = datasets.guess_single_split(images.name)
        single_split = st.radio(
            "Use this pair",
            list(SINGLE_SPLITS),
            index=list(SINGLE_SPLITS).index(guess),
            format_func=SINGLE_SPLITS.get,
            horizontal=True,
            key=f"idx_single_split-{images.name}",
        )
        if single_split == "split":
            test_fraction = st.slider(
                "Test fraction",
                0.05,
                0.5,
                0.2,
                0.05,
                key="idx_test_fraction",
                help="Stratified by label, seeded: the same files always give the same split.",
            )
    name = _name_input("idx")
    if images is None or labels is None or not st.button("Add these IDX files"):
        return
    files = [images, labels] + ([test_images, test_labels] if two_pairs else [])
    add_dataset(
        lambda: datasets.load_idx(
            images,
            labels,
            test_images if two_pairs else None,
            test_labels if two_pairs else None,
            name="upload",
            single_split=single_split,
            test_fraction=test_fraction,
        ),
        [f.name for f in files],
        "IDX",
        name,
    )


def _name_input(kind: str) -> str:
    return st.text_input(
        "Name (optional)",
        key=f"{kind}_dataset_name",
        max_chars=names.MAX_NAME_LENGTH,
        placeholder="the file names and what is inside",
        help="How everyone on this server will see this upload in the pickers; editable later on the Workspace page.",
    )


def add_dataset(load: Callable[[], datasets.Dataset], filenames: Sequence[str], kind: str, name: str) -> None:
    """Loads an uploaded dataset, keeps it in the workspace under its name, makes it the current one and says so.

    An upload whose images, labels and class names are already in the
    workspace is not stored twice: the stored one becomes current, under its name.
    """
    try:
        name = names.check_name(name, "dataset name") if name.strip() else ""
        with st.spinner("Checking the dataset…"):
            dataset = load()
    except FeatlibError as error:
        text.error(f"This dataset cannot be used: {error}")
        return
    dataset = dataclasses.replace(dataset, name=name or datasets.default_upload_name(filenames, dataset, kind))
    workspace = resources.workspace()
    stored = {row["fingerprint"]: row["name"] for row in workspace.list_datasets()}
    if dataset.fingerprint in stored:
        notice = f"These images and labels were uploaded before as “{stored[dataset.fingerprint]}”; that is now the current dataset."
    else:
        try:
            workspace.save_dataset(dataset, creator=identity.current_user())
        except FeatlibError as error:  # a quota or the free-disk floor (QuotaError): nothing was stored
            text.error(f"This dataset was not stored: {error}")
            return
        notice = f"Added “{dataset.name}” ({dataset.summary().split(': ', 1)[-1]}); it is now the current dataset."
    widgets.select_dataset(resources.UPLOAD_PREFIX + dataset.fingerprint)
    st.session_state[NOTICE] = notice
    st.rerun()


def show_notice() -> None:
    """Shows, once, what the last upload did."""
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        text.success(notice)
