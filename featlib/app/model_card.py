"""The Model page's card of the current model: what it is, its accuracy and the data it was measured on."""

from __future__ import annotations

import streamlit as st

from featlib import datasets, plots
from featlib.app import resources, widgets
from featlib.store import ModelRecord


def show(record: ModelRecord, dataset: datasets.Dataset) -> None:
    """The current model's name, architecture and accuracy, where that was measured, and why it may be near chance.

    When the page's dataset is not the one the accuracy was measured on, says
    so: the figure belongs to the data named beside it, not to the data shown above.
    """
    accuracy = "no accuracy recorded" if record.test_accuracy is None else f"accuracy {record.test_accuracy:.4f}"
    measured_fp = record.meta.get("dataset_fingerprint")
    measured = resources.dataset_title(record.dataset, measured_fp)
    where = record.where_measured(measured)
    st.success(widgets.plain(f"Current model: {record.name} — {record.architecture}; {accuracy} on {where}."))
    if measured_fp and measured_fp != dataset.fingerprint:
        current = resources.dataset_title(dataset.name, dataset.fingerprint)
        st.info(widgets.plain(f"That accuracy was measured on {measured}, not on the dataset picked above "
                              f"({current}). The other pages read {current}."))  # fmt: skip
    hints = record.meta.get("hints") or []
    if hints:
        st.warning(widgets.plain("This accuracy is near chance. What featlib checked:") + "\n"
                   + "\n".join(f"- {widgets.plain(hint)}" for hint in hints))  # fmt: skip
    if record.meta.get("history"):
        st.plotly_chart(plots.training_curves(record.meta["history"]))


def current() -> ModelRecord | None:
    """The carried model's record, or None when none is picked (or it was deleted)."""
    from featlib.app import state
    from featlib.store import WorkspaceError

    model_id = state.get(state.MODEL)
    if not model_id:
        return None
    try:
        return resources.record(model_id)
    except WorkspaceError:
        return None
