"""What the Model page's buttons do: each reports in the page and saves on success.

Every failure a user can cause (a bad file, a model that does not fit the
data) ends in an ``st.error`` naming the reason; nothing is saved then.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Callable

import streamlit as st

from featlib import datasets, jobs, models, plots
from featlib.app import identity, resources, results, state, widgets
from featlib.app import jobs as running
from featlib.jobs import stored

TRAINING = "featlib.training"
"""The result key of this session's last training job, so that coming back to the Model page shows it."""


def add_dataset(load: Callable[[], datasets.Dataset]) -> None:
    """Loads an uploaded dataset, keeps it in the workspace and selects it."""
    try:
        with st.spinner("Checking the dataset…"):
            dataset = load()
    except datasets.DatasetError as error:
        st.error(widgets.plain(f"This dataset cannot be used: {error}"))
        return
    fingerprint = resources.workspace().save_dataset(dataset, creator=identity.current_user())
    widgets.select_dataset(resources.UPLOAD_PREFIX + fingerprint)
    st.rerun()


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"128, 64"`` → ``(128, 64)``; a ValueError saying what is expected otherwise."""
    try:
        sizes = tuple(int(part) for part in text.replace(" ", ",").split(",") if part)
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 or s > 4096 for s in sizes):
        raise ValueError(f"Hidden layer sizes must be whole numbers from 1 to 4096, like '128, 64'; got {text!r}.")
    return sizes


def train_seed_mlp(
    dataset: datasets.Dataset,
    hidden_text: str,
    optimizer: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    name: str,
    checkpoints_text: str = "",
) -> None:
    """Trains the seed MLP with a live progress bar and curves, then saves it.

    ``checkpoints_text`` (``"1, 5"``) names epochs whose weights are saved too,
    each as its own model ``<name>@epoch<n>`` (see :func:`featlib.models.save_checkpoints`).
    """
    try:
        hidden = parse_hidden(hidden_text)
        checkpoint_epochs = models.parse_epochs(checkpoints_text, int(epochs))
    except ValueError as error:
        st.error(widgets.plain(error))
        return
    meta = {"optimizer": optimizer, "learning_rate": learning_rate, "batch_size": int(batch_size),
            "hidden": list(hidden), "dataset_fingerprint": dataset.fingerprint, "epochs": int(epochs)}  # fmt: skip
    try:
        spec = jobs.specs.train_spec(dataset.fingerprint, len(dataset.y_train), hidden=hidden, optimizer=optimizer,
                                     learning_rate=learning_rate, epochs=int(epochs), batch_size=int(batch_size),
                                     checkpoint_epochs=checkpoint_epochs, name=name or "mlp", token=uuid.uuid4().hex)  # fmt: skip
    except jobs.JobLimitError as error:
        st.error(widgets.plain(error))
        return
    creator, workspace = identity.current_user(), resources.workspace()
    handle = running.start(spec, {"dataset": running.dataset_input(dataset)}, store=lambda output: stored.store_trained(
        workspace, output, name=name or "mlp", dataset=dataset.name, meta=meta, creator=creator))  # fmt: skip
    st.session_state[TRAINING] = handle.spec.key
    _show_training(handle)


def resume_training() -> None:
    """Shows this session's last training again: its progress while it runs, its result once (after leaving the page)."""
    key = st.session_state.get(TRAINING)
    handle = running.manager().find(key) if key else None
    if handle is not None:
        _show_training(handle)


def _show_training(handle: jobs.JobHandle) -> None:
    chart = st.empty()
    drawn = [0]

    def draw_curves(handle: jobs.JobHandle) -> None:
        if len(handle.epochs) > drawn[0]:
            drawn[0] = len(handle.epochs)
            history: dict[str, list[float]] = {}
            for logs in handle.epochs:
                for metric, value in logs.items():
                    history.setdefault(metric, []).append(value)
            chart.plotly_chart(plots.training_curves(history), key=f"curves-{drawn[0]}")

    saved = running.follow(handle, label=handle.spec.title[:1].upper() + handle.spec.title[1:], on_update=draw_curves,
                           failure="The training failed")  # fmt: skip
    chart.empty()
    st.session_state.pop(TRAINING, None)
    if saved is None:
        return
    record, checkpoints = saved
    state.put(state.MODEL, record.id)
    if checkpoints:
        st.caption("Checkpoints saved: " + ", ".join(
            f"{widgets.plain(r.name)} (test accuracy {r.test_accuracy:.4f})" for r in checkpoints))  # fmt: skip
    cols = st.columns(3)
    cols[0].metric("test accuracy", f"{record.test_accuracy:.4f}")
    cols[1].metric("test loss", f"{record.meta.get('test_loss', float('nan')):.4f}")
    cols[2].metric("training time", f"{record.meta.get('seconds', 0):.1f} s")
    st.toast(f"Saved {record.name} in the workspace.")


def add_uploaded_model(upload, name: str, scale: str, dataset: datasets.Dataset) -> None:
    """Checks an uploaded model file, fits it to the data, saves and selects it."""
    size = upload.size if hasattr(upload, "size") else len(upload.getvalue())
    if size > models.MAX_MODEL_BYTES:
        st.error(widgets.plain(f"This model cannot be used: {models.too_big_message(upload.name, size)}"))
        return
    data = upload.getvalue()
    try:
        spec = jobs.specs.upload_spec(upload.name, hashlib.sha256(data).hexdigest()[:16], dataset.fingerprint, scale,
                                      token=uuid.uuid4().hex)  # fmt: skip
    except jobs.JobLimitError as error:
        st.error(widgets.plain(error))
        return
    creator, workspace = identity.current_user(), resources.workspace()
    record = running.run(
        spec, {"data": data, "dataset": running.dataset_input(dataset)}, label=f"Checking and loading {upload.name}",
        store=lambda output: stored.store_upload(workspace, output, name=name, filename=upload.name,
                                                 dataset=dataset.name, dataset_fp=dataset.fingerprint,
                                                 input_scale=scale, creator=creator),
        failure="This model cannot be used",
    )  # fmt: skip
    if record is None:
        return
    running.manager().forget(spec.key)  # the same file uploaded again is checked and saved again
    state.put(state.MODEL, record.id)
    st.success(f"Loaded {widgets.plain(record.name)}: test accuracy on {widgets.plain(dataset.name)} "
               f"{record.test_accuracy:.4f}.")  # fmt: skip


def representation(record, model, dataset: datasets.Dataset, split: str, layer: str, method: str):
    """A layer's outputs from the workspace, or computed by a job with a progress bar.

    Returns ``(outputs, key)``; shows the reason and returns ``(None, key)``
    when the model cannot read the dataset.
    """
    try:
        units = models.output_units(model, layer)
    except models.ModelError as error:
        st.error(widgets.plain(f"This model cannot read {dataset.name}: {error}"))
        return None, ""
    outputs, key = results.representation(record, dataset, split, layer, method, units)
    if outputs is not None:
        resources.workspace().claim("representation", key, identity.current_user())
    return outputs, key
