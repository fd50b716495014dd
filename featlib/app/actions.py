"""What the Model page's buttons do: each reports in the page and saves on success.

Every failure a user can cause (a bad file, a model that does not fit the
data) ends in an ``st.error`` naming the reason; nothing is saved then.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Callable

import streamlit as st

from featlib import datasets, models, plots
from featlib.app import identity, resources, state, widgets

_USER_ERRORS = (datasets.DatasetError, models.ModelError, ValueError)


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
    h, w = dataset.image_shape
    model = models.build_mlp((h * w,), hidden, dataset.num_classes)
    (x_train, y_train), (x_test, y_test) = dataset.split("train"), dataset.split("test")
    x_train = models.adapt_images(x_train, model, "0-1")
    x_test = models.adapt_images(x_test, model, "0-1")

    bar = st.progress(0.0, text="Training…")
    chart = st.empty()
    history: dict[str, list[float]] = {}

    def on_epoch_end(epoch: int, total: int, logs: dict) -> None:
        for metric, value in logs.items():
            history.setdefault(metric, []).append(value)
        bar.progress(
            epoch / total,
            text=f"Epoch {epoch}/{total} · loss {logs.get('loss', 0):.4f} · "
            f"val accuracy {logs.get('val_accuracy', 0):.4f}",
        )
        chart.plotly_chart(plots.training_curves(history), key=f"curves-{epoch}")

    with resources.heavy_work("training"):
        result = models.train(
            model, x_train, y_train, x_test, y_test,
            optimizer=optimizer, learning_rate=learning_rate, epochs=int(epochs),
            batch_size=int(batch_size), on_epoch_end=on_epoch_end, checkpoint_epochs=checkpoint_epochs,
        )  # fmt: skip
    bar.empty()
    chart.empty()
    meta = {"optimizer": optimizer, "learning_rate": learning_rate, "batch_size": int(batch_size),
            "hidden": list(hidden), "dataset_fingerprint": dataset.fingerprint}  # fmt: skip
    record = models.save_model(
        resources.workspace(), model, name or "mlp", dataset=dataset.name, test_accuracy=result.test_accuracy,
        creator=identity.current_user(),
        meta={**meta, "history": result.history, "epochs": int(epochs), "seconds": result.seconds,
              "checkpoint_epochs": list(checkpoint_epochs)},
    )  # fmt: skip
    saved = models.save_checkpoints(resources.workspace(), model, result, record, dataset=dataset.name, meta=meta,
                                    creator=identity.current_user())  # fmt: skip
    state.put(state.MODEL, record.id)
    if saved:
        st.caption("Checkpoints saved: " + ", ".join(
            f"{widgets.plain(r.name)} (test accuracy {r.test_accuracy:.4f})" for r in saved))  # fmt: skip
    cols = st.columns(3)
    cols[0].metric("test accuracy", f"{result.test_accuracy:.4f}")
    cols[1].metric("test loss", f"{result.test_loss:.4f}")
    cols[2].metric("training time", f"{result.seconds:.1f} s")
    st.toast(f"Saved {record.name} in the workspace.")


def add_uploaded_model(upload, name: str, scale: str, dataset: datasets.Dataset) -> None:
    """Checks an uploaded model file, fits it to the data, saves and selects it."""
    suffix = Path(upload.name).suffix.lower()
    size = upload.size if hasattr(upload, "size") else len(upload.getvalue())
    if size > models.MAX_MODEL_BYTES:
        st.error(widgets.plain(f"This model cannot be used: {models.too_big_message(upload.name, size)}"))
        return
    try:
        with tempfile.TemporaryDirectory() as folder:
            # The user's file name (made safe), so that messages name the file they chose.
            stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(upload.name).stem)[:80].lstrip(".") or "upload"
            path = Path(folder) / f"{stem}{suffix}"
            path.write_bytes(upload.getvalue())
            with st.spinner("Checking and loading the model…"):
                model = models.load_model(path)
        x_test, y_test = dataset.split("test")
        x_test = models.adapt_images(x_test, model, scale)
        accuracy = models.evaluate_accuracy(model, x_test, y_test)
    except _USER_ERRORS as error:
        st.error(widgets.plain(f"This model cannot be used: {error}"))
        return
    except Exception as error:  # a model whose forward pass fails on the data
        st.error(widgets.plain(f"The model failed on {dataset.name}'s images: {type(error).__name__}: {str(error)[:300]}"))
        return
    record = models.save_model(
        resources.workspace(), model, name or "uploaded", dataset=dataset.name, test_accuracy=accuracy,
        input_scale=scale,
        creator=identity.current_user(),
        meta={"uploaded_file": upload.name, "dataset_fingerprint": dataset.fingerprint},
    )  # fmt: skip
    state.put(state.MODEL, record.id)
    st.success(f"Loaded {record.name}: test accuracy on {dataset.name} {accuracy:.4f}.")


def representation(record, model, dataset: datasets.Dataset, split: str, layer: str, method: str):
    """A layer's outputs from the workspace, or computed with a progress bar.

    Returns ``(outputs, key)``; shows the reason and returns ``(None, key)``
    when the model cannot read the dataset.
    """
    from featlib import pipeline
    from featlib.extract import METHODS

    key = pipeline.representation_key(record.fingerprint, dataset.fingerprint, split, layer, method, record.input_scale)
    cached = resources.workspace().load_array("representation", key)
    if cached is not None:
        return cached, key
    update, clear = widgets.progress_bar(f"Extracting {layer} by {METHODS[method]}…")
    try:
        with resources.heavy_work("layer's outputs", key=key):
            outputs, key = pipeline.representation(
                resources.workspace(), model, record.fingerprint, dataset, split, layer, method,
                input_scale=record.input_scale, model_id=record.id, progress=update,
                extractor=resources.extractor(record.fingerprint, layer, method, model),
            )  # fmt: skip
    except models.ModelError as error:
        st.error(widgets.plain(f"This model cannot read {dataset.name}: {error}"))
        return None, key
    finally:
        clear()
    resources.workspace().claim("representation", key, identity.current_user())
    return outputs, key
