"""What the Model page's upload and the Representations page's compute buttons do: each reports in the page.

Every failure a user can cause (a bad file, a model that does not fit the
data) ends in an ``st.error`` naming the reason; nothing is saved then.
"""

from __future__ import annotations

import hashlib
import uuid

import streamlit as st

from featlib import datasets, jobs, models, names
from featlib.app import identity, resources, results, state, text
from featlib.app import job_watch as running
from featlib.errors import TextError
from featlib.jobs import stored
from featlib.models import diagnosis
from featlib.models.inputs import SCALE_CHOICES
from featlib.read import reductions

MODEL_UPLOAD = "model_upload"
"""The model uploader's widget key."""


def model_file_picked() -> bool:
    """Whether this session's model uploader holds a file (the Model page then opens on its tab)."""
    return st.session_state.get(MODEL_UPLOAD) is not None


def upload_form(dataset: datasets.Dataset) -> None:
    """The model upload: the file, the input scaling, the name, and the data it will be scored on."""
    text.caption(
        text.md(
            "A Keras 3 `.keras` file or a legacy `.h5` file, loaded with `safe_mode=True`; "
            "Lambda layers (arbitrary code) are refused, and so are TensorFlow SavedModels "
            "(a zipped one is explained). Limit {:g} MB.",
            models.MAX_MODEL_BYTES / 2**20,
        )
    )
    # .zip is accepted only so that a zipped SavedModel is refused with the reason.
    model_file = st.file_uploader("Model file", type=["keras", "h5", "zip"], key=MODEL_UPLOAD)
    cols = st.columns(2)
    scale = cols[0].radio(
        "Input scaling the model expects",
        list(SCALE_CHOICES),  # the model's own first, the default: what its Rescaling/Normalization states
        format_func=SCALE_CHOICES.get,
        key="upload_scale",
        help="The model's own: the scaling its Rescaling or Normalization layer at the input states (nested "
        "blocks before it, such as an augmentation block, included); pixels / 255 when it states none.",
    )
    upload_name = cols[1].text_input(
        "Save as", model_file.name.rsplit(".", 1)[0] if model_file else "uploaded", max_chars=names.MAX_NAME_LENGTH
    )
    split = diagnosis.scoring_split(dataset)
    title = resources.dataset_title(dataset.name, dataset.fingerprint)
    text.caption(
        f"It will be scored on {title}, {split} split ({len(dataset.split(split)[1]):,} "
        "images): pick another dataset above first if that is not the data it was made for."
    )
    if model_file is not None and st.button("Load this model", type="primary"):
        add_uploaded_model(model_file, upload_name, scale, dataset)


def add_uploaded_model(upload, name: str, scale: str, dataset: datasets.Dataset) -> None:
    """Checks an uploaded model file, fits it to the data, saves and selects it."""
    size = upload.size if hasattr(upload, "size") else len(upload.getvalue())
    if size > models.MAX_MODEL_BYTES:
        text.error(f"This model cannot be used: {models.too_big_message(upload.name, size)}")
        return
    data = upload.getvalue()
    try:
        name = names.check_name(name, "model name")
    except TextError as error:
        text.error(error)
        return
    try:
        spec = jobs.specs.upload_spec(
            upload.name, hashlib.sha256(data).hexdigest()[:16], dataset.fingerprint, scale, token=uuid.uuid4().hex
        )
    except jobs.JobLimitError as error:
        text.error(error)
        return
    creator, workspace = identity.current_user(), resources.workspace()
    record = running.run(
        spec,
        {"data": data, "dataset": running.dataset_input(dataset)},
        label=f"Checking and loading {upload.name}",
        store=lambda output: stored.store_upload(
            workspace,
            output,
            name=name,
            filename=upload.name,
            dataset=dataset.name,
            dataset_fp=dataset.fingerprint,
            input_scale=output.get("input_scale", scale),  # "own" resolved by the job to the model's own
            creator=creator,
        ),
        failure="This model cannot be used",
    )
    if record is None:
        return
    running.manager().forget(spec.key)  # the same file uploaded again is checked and saved again
    state.put(state.MODEL, record.id)
    where = record.where_measured(resources.dataset_title(dataset.name, dataset.fingerprint))
    scored = f" Scored from {record.scored_output}." if record.scored_output else ""
    text.success(
        f"Loaded {record.name}; it is now the current model. Accuracy {record.test_accuracy:.4f} on {where}.{scored}"
        f" Input scaling: {models.INPUT_SCALES[record.input_scale]}."
    )


def representation(
    record, model, dataset: datasets.Dataset, split: str, layer: str, method: str, reduction: str = reductions.AUTO
):
    """A layer's representation from the workspace, or computed by a job with a progress bar.

    ``reduction`` is a key of :data:`featlib.read.reductions.CHOICES` (the carried
    choice); a layer without spatial axes is flattened whatever it says.

    Returns ``(outputs, key)``; shows the reason and returns ``(None, key)``
    when the model cannot read the dataset.
    """
    try:
        rep = reductions.for_layer(model, layer, reduction, strict=False)
        rep.units  # a layer of no fixed size is refused here  # noqa: B018
    except (models.ModelError, reductions.ReductionError) as error:
        text.error(f"This model cannot read {dataset.name}: {error}")
        return None, ""
    outputs, key = results.representation(record, dataset, split, rep, method)
    if outputs is not None:
        resources.workspace().claim("representation", key, identity.current_user())
    return outputs, key
