"""The Model page's card of the current model: what it is, its accuracy and the data it was measured on."""

from __future__ import annotations

import streamlit as st

from featlib import datasets, jobs, models, plots
from featlib.app import job_watch as running
from featlib.app import resources, state, text, widgets
from featlib.jobs import stored
from featlib.store import ModelRecord, WorkspaceError


def show(record: ModelRecord, dataset: datasets.Dataset) -> None:
    """The current model's name, architecture and accuracy, where that was measured, and why it may be near chance.

    When the page's dataset is not the one the accuracy was measured on, says
    so: the figure belongs to the data named beside it, not to the data shown above.
    For a model with several outputs, says which one the accuracy and predicted labels come
    from and offers the others that fit the classes (:func:`output_picker`).
    """
    accuracy = "no accuracy recorded" if record.test_accuracy is None else f"accuracy {record.test_accuracy:.4f}"
    measured_fp = record.meta.get("dataset_fingerprint")
    measured = resources.dataset_title(record.dataset, measured_fp)
    where = record.where_measured(measured)
    scored = f" Scored from {record.scored_output}." if record.scored_output else ""
    text.success(f"Current model: {record.name} — {record.architecture}; {accuracy} on {where}.{scored}")
    text.caption(scale_sentence(record))
    output_picker(record, dataset)
    if measured_fp and measured_fp != dataset.fingerprint:
        current = resources.dataset_title(dataset.name, dataset.fingerprint)
        text.info(
            f"That accuracy was measured on {measured}, not on the dataset picked above "
            f"({current}). The other pages read {current}."
        )
    scale_suggestion(record, dataset)
    hints = record.meta.get("hints") or []
    if not hints:  # the size and classes checks (the hints hold them when the accuracy was near chance)
        widgets.fit_warning(dataset, [record.id])
    if hints:
        text.warning(
            text.md("This accuracy is near chance. What featlib checked:\n")
            + text.Markup("\n").join(text.md("- {}", hint) for hint in hints)
        )
    if record.meta.get("history"):
        st.plotly_chart(plots.training_curves(record.meta["history"]))


def output_picker(record: ModelRecord, dataset: datasets.Dataset) -> None:
    """For a model with several outputs that fit the classes: a picker that scores it from another (one job).

    Picking re-runs the upload's check on the saved model from that output (accuracy, near-chance
    causes) and records it in the model's meta; predicted labels on every page then come from it.
    It scores on the data the accuracy was measured on, so it is offered only while that dataset is
    picked above. Nothing is shown for a model with one output.
    """
    outputs = [o for o in record.meta.get("outputs") or [] if isinstance(o, dict)]
    current = record.meta.get("output")
    fitting = [str(o.get("name")) for o in outputs if o.get("width") == dataset.num_classes]
    if len(outputs) < 2 or current not in fitting or len(fitting) < 2:
        return
    if record.meta.get("dataset_fingerprint") != dataset.fingerprint:
        text.caption(
            f"To score it from another of its outputs ({', '.join(fitting)}), pick the dataset "
            "its accuracy was measured on above."
        )
        return
    key, pending = f"model_output/{record.id}", f"model_output_picked/{record.id}"
    if st.session_state.get(pending) is None:  # no pick of this user's under way: the picker shows the record
        st.session_state[key] = current

    def picked() -> None:
        st.session_state[pending] = st.session_state[key]

    st.selectbox(
        "Output scored (accuracy and predicted labels)",
        fitting,
        key=key,
        on_change=picked,
        help="The outputs with one value per class. Picking another scores the model from it.",
    )
    wanted = st.session_state.get(pending)
    if wanted is not None and (wanted == current or _rescore(record, dataset, wanted)):
        del st.session_state[pending]
        if wanted != current:
            st.rerun()


def scale_sentence(record: ModelRecord) -> str:
    """What the model's inputs are scaled by, and whether that is the model's own scaling.

    The model's own is the scaling its Rescaling or Normalization layer at the input states, recorded by
    the upload job (``meta["implied_scale"]``, :func:`featlib.models.implied_input_scale`); a model
    recorded without it (trained here, or uploaded before it was measured) gets the scaling alone.
    """
    scale = record.input_scale
    words = f"{models.INPUT_SCALES.get(scale, scale)} ('{scale}')"
    if "implied_scale" not in record.meta:
        return f"Input scaling: {words}."
    implied = record.meta["implied_scale"]
    if implied == scale:
        return f"Input scaling: {words}, the model's own: its Rescaling or Normalization layer at the input states it."
    if implied is None:
        return (
            f"Input scaling: {words}; the model states none (no Rescaling or Normalization layer at its input "
            "says which)."
        )
    return f"Input scaling: {words}, as chosen; the model's own is {models.INPUT_SCALES.get(implied, implied)}."


def scale_suggestion(record: ModelRecord, dataset: datasets.Dataset) -> None:
    """When the model's first layers imply another input scaling than it was given: says so; re-scores in one click.

    The implied scaling comes from a Rescaling or Normalization layer at the model's input
    (:func:`featlib.models.implied_input_scale`, measured by the upload job).
    """
    implied = record.meta.get("implied_scale")
    if (
        implied not in models.INPUT_SCALES
        or implied == record.input_scale
        or record.input_scale not in models.INPUT_SCALES
    ):
        return
    text.warning(
        f"{record.name} starts with a preprocessing layer that implies "
        f"{models.INPUT_SCALES[implied]} ('{implied}'), but it was given "
        f"{models.INPUT_SCALES[record.input_scale]} ('{record.input_scale}')."
    )
    if record.meta.get("dataset_fingerprint") != dataset.fingerprint:
        text.caption("Pick the dataset its accuracy was measured on above to score it with that scaling.")
        return
    if st.button(f"Score it with {models.INPUT_SCALES[implied]}", key=f"rescale-{record.id}", type="primary"):
        if _rescore(record, dataset, record.meta.get("output"), input_scale=implied):
            st.rerun()


def _rescore(
    record: ModelRecord, dataset: datasets.Dataset, output: str | None, input_scale: str | None = None
) -> bool:
    """Scores the saved model again on ``dataset`` (an ``upload`` job), from ``output`` and with ``input_scale``
    (its own when None), and records it; False after showing why not."""
    try:
        spec = jobs.specs.upload_spec(
            f"{record.name}.keras",
            record.fingerprint,
            dataset.fingerprint,
            input_scale or record.input_scale,
            token=f"rescore-{record.id}",
            output=output,
        )
    except jobs.JobLimitError as error:
        text.error(f"The model cannot be scored again: {error}")
        return False
    result = running.run(
        spec,
        {"data": running.model_input(record), "dataset": running.dataset_input(dataset)},
        label=f"Scoring {record.name} again",
        failure=f"{record.name} cannot be scored again",
    )
    if result is None:
        return False
    running.manager().forget(spec.key)  # picking this output again later scores it again
    try:
        stored.store_rescored(resources.workspace(), record, result, input_scale=input_scale)
    except WorkspaceError as error:
        text.error(error)
        return False
    return True


def current() -> ModelRecord | None:
    """The carried model's record, or None when none is picked (or it was deleted)."""
    model_id = state.get(state.MODEL)
    if not model_id:
        return None
    try:
        return resources.record(model_id)
    except WorkspaceError:
        return None
