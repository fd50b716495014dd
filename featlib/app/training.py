"""The Model page's training: its form, the job it starts, and its live progress and result."""

from __future__ import annotations

import re
import uuid

import streamlit as st

from featlib import datasets, jobs, models, names, plots
from featlib.app import identity, resources, state, text
from featlib.app import job_watch as running
from featlib.errors import FeatlibError, TrainingError
from featlib.jobs import stored
from featlib.models import presets as training_presets

TRAINING = "featlib.training"
"""The result key of this session's last training job, so that coming back to the Model page shows it."""


def parse_hidden(text: str) -> tuple[int, ...]:
    """``"128, 64"`` → ``(128, 64)``; a ValueError saying what is expected otherwise."""
    try:
        sizes = tuple(int(part) for part in text.replace(" ", ",").split(",") if part)
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 or s > 4096 for s in sizes):
        raise TrainingError(f"Hidden layer sizes must be whole numbers from 1 to 4096, like '128, 64'; got {text!r}.")
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
        name = names.check_name(name, "model name")
        hidden = parse_hidden(hidden_text)
        checkpoint_epochs = models.parse_epochs(checkpoints_text, int(epochs))
        if checkpoint_epochs:  # each is saved as <name>@epoch<n>, a name under the same rule
            names.check_name(f"{name}@epoch{max(checkpoint_epochs)}", "checkpoint's name (the model's name and @epoch)")
    except FeatlibError as error:
        text.error(error)
        return
    meta = {
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "batch_size": int(batch_size),
        "hidden": list(hidden),
        "dataset_fingerprint": dataset.fingerprint,
        "epochs": int(epochs),
        "split": "test",
        "n_images": len(dataset.y_test),
    }
    try:
        spec = jobs.specs.train_spec(
            dataset.fingerprint,
            len(dataset.y_train),
            hidden=hidden,
            optimizer=optimizer,
            learning_rate=learning_rate,
            epochs=int(epochs),
            batch_size=int(batch_size),
            checkpoint_epochs=checkpoint_epochs,
            name=name,
            token=uuid.uuid4().hex,
        )
    except jobs.JobLimitError as error:
        text.error(error)
        return
    creator, workspace = identity.current_user(), resources.workspace()
    try:
        handle = running.start(
            spec,
            {"dataset": running.dataset_input(dataset)},
            store=lambda output: stored.store_trained(
                workspace, output, name=name, dataset=dataset.name, meta=meta, creator=creator
            ),
        )
    except jobs.JobLimitError as error:  # TooManyJobsError: this user has as many jobs queued or running as one may
        text.error(error)
        return
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

    saved = running.follow(
        handle,
        label=handle.spec.title[:1].upper() + handle.spec.title[1:],
        on_update=draw_curves,
        failure="The training failed",
    )
    chart.empty()
    st.session_state.pop(TRAINING, None)
    if saved is None:
        return
    record, checkpoints = saved
    state.put(state.MODEL, record.id)
    if checkpoints:
        text.caption(
            "Checkpoints saved: " + ", ".join(f"{r.name} (test accuracy {r.test_accuracy:.4f})" for r in checkpoints)
        )
    cols = st.columns(3)
    cols[0].metric(
        "test accuracy", f"{record.test_accuracy:.4f}", help=text.escape(f"Measured on {record.measured_on}.")
    )
    cols[1].metric("test loss", f"{record.meta.get('test_loss', float('nan')):.4f}")
    cols[2].metric("training time", f"{record.meta.get('seconds', 0):.1f} s")
    text.success(f"Saved {record.name} in the workspace; it is now the current model, scored on {record.measured_on}.")


def training_form(dataset: datasets.Dataset) -> None:
    """The seed MLP's form on ``dataset``'s train split; starts the job, or shows the one this session started."""
    missing = [split for split in ("train", "test") if split not in dataset.splits]
    if missing:
        text.info(
            f"{dataset.name} has no {missing[0]} split, so the seed MLP cannot be trained and scored "
            "on it. Pick another dataset above (or upload this one again, split into train and test), "
            "or upload a model trained elsewhere and score it on this one."
        )
        resume_training()
        return
    chosen = training_presets.preset(
        st.radio(
            "Preset",
            list(training_presets.PRESETS),
            horizontal=True,
            key="train_preset",
            format_func=lambda key: training_presets.PRESETS[key].label,
            help="Fills the optimiser, learning rate, epochs and batch size below; change any of them before training.",
        )
    )
    default_epochs, default_batch = chosen.for_size(len(dataset.y_train))
    with st.form("train"):
        cols = st.columns(3)
        hidden_text = cols[0].text_input("Hidden layer sizes", "128, 64")
        # Keyed by preset: picking another preset redraws these with its values.
        optimizer = cols[1].selectbox(
            "Optimizer",
            models.OPTIMIZERS,
            models.OPTIMIZERS.index(chosen.optimizer),
            format_func=str.upper,
            key=f"train_optimizer_{chosen.name}",
        )
        learning_rate = cols[2].number_input(
            "Learning rate", 1e-5, 1.0, chosen.learning_rate, format="%.4f", key=f"train_lr_{chosen.name}"
        )
        epochs = cols[0].number_input("Epochs", 1, 200, default_epochs, key=f"train_epochs_{chosen.name}")
        batch_size = cols[1].number_input("Batch size", 1, 4096, default_batch, key=f"train_batch_{chosen.name}")
        name = cols[2].text_input("Save as", default_model_name(dataset), max_chars=names.MAX_NAME_LENGTH)
        checkpoints_text = cols[0].text_input(
            "Save checkpoints after epoch",
            "",
            placeholder="e.g. 1, 5",
            help="Each is saved as its own model, named like mlp-digits@epoch1, to compare on the Compare page.",
        )
        text.caption(
            f"Trained on the {len(dataset.y_train):,} train images of {dataset.name}, validation "
            "split 0.2 as in the seed, inputs scaled to 0–1; scored on its "
            f"{len(dataset.y_test):,} test images."
        )
        submitted = st.form_submit_button("Train", type="primary")
    if submitted:
        train_seed_mlp(dataset, hidden_text, optimizer, learning_rate, epochs, batch_size, name, checkpoints_text)
    else:
        resume_training()


def default_model_name(dataset: datasets.Dataset) -> str:
    """``mlp-`` and the dataset's name made short and plain: ``mlp-digits``, ``mlp-t10k-images-idx3-ubyte``."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", dataset.name.split(" (")[0].removesuffix(".gz")).strip("-")[:40].strip("-")
    return f"mlp-{stem or 'upload'}"
