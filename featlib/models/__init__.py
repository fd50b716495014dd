"""Models: the seed MLP and its training, saving and loading, fingerprints, outputs, layers, inputs, upload checks.

The façade: every name below is importable from ``featlib.models`` (``from featlib import models;
models.load_model(path)``), as before the package was split. Keras is imported at its first use, through
:mod:`featlib.lazy`'s proxy, so that ``import featlib.models`` stays cheap.

Modules:
    seed: the seed MLP (:func:`build_mlp`) and :func:`train` with progress and checkpoints.
    serialize: a model as bytes and back, :func:`save_model` into the workspace, :func:`fingerprint`.
    outputs: a model's outputs, the classifier's one, batched predictions, labels and accuracy.
    layers: the layer table, each layer's activation and kind, :func:`check_layer`, nested models.
    layer_choice: the default layer a map is drawn of (:func:`choose_default_layer`), with its reason.
    summary: the architecture in one short line (:func:`architecture_summary`).
    inputs: the input scale a model implies, :func:`adapt_images` (scale and resize), :func:`input_shape`.
    checks: an uploaded file's checks before Keras reads it (size, archive, code layers, SavedModels).
    load: :func:`load_model`, the checks first, then Keras in safe mode.
    budget: a model file's size budget (parameters, layers, config) read before Keras builds anything.
    layer_sizes: each layer's parameters worked out from a model config (the budget's arithmetic).
    declared: what a ``.keras`` archive or ``.h5`` file declares (config and HDF5 weights), read without Keras.
    repair: loading Keras 2 files that Keras 3 refuses (fixed batch sizes, old configs).
    config: a model file's config JSON, read without Keras.
    keras_config: the layer names of a ``.keras`` file, read without Keras.
    nonfinite: NaN and inf in weights and outputs, refused with the layers named.
    diagnosis: a model's accuracy on a dataset and the input scale check.
    presets: the training presets (optimiser, learning rate, epochs, batch size).
"""

from __future__ import annotations

from featlib.errors import InputMismatchError, ModelError
from featlib.models.checks import (
    MAX_MODEL_INFLATED_BYTES,
    check_h5,
    check_model_archive,
    check_savedmodel,
    too_big_message,
)
from featlib.models.checks import __getattr__ as _checks_getattr
from featlib.models.config import first_line as _first_line  # noqa: F401  (the tests read models._first_line)
from featlib.models.config import parse_config
from featlib.models.inputs import (
    INPUT_SCALES,
    adapt_images,
    first_preprocessing_layer,
    implied_input_scale,
    input_shape,
    scale_implied_by,
)
from featlib.models.layer_choice import (
    DefaultLayer,
    choose_default_layer,
    default_layer,
    default_layer_reason,
    hidden_layers,
)
from featlib.models.layers import (
    NESTED_NOTE_MAX_NAMES,
    LayerInfo,
    activations,
    check_layer,
    layer_table,
    nested_layers_note,
    other_side_of_activation,
    output_units,
)
from featlib.models.load import load_model
from featlib.models.outputs import (
    OutputInfo,
    choose_output,
    classification_outputs,
    default_output,
    describe_outputs,
    evaluate_accuracy,
    model_outputs,
    output_index,
    padded,
    predict_labels,
    predict_output,
    recorded_output,
)
from featlib.models.seed import (
    OPTIMIZERS,
    Checkpoint,
    TrainingResult,
    build_mlp,
    model_with_weights,
    parse_epochs,
    save_checkpoints,
    train,
)
from featlib.models.serialize import fingerprint, model_from_bytes, model_to_bytes, save_model
from featlib.models.summary import SUMMARY_MAX_CHARS, architecture_summary

__all__ = [
    "Checkpoint",
    "DefaultLayer",
    "INPUT_SCALES",
    "InputMismatchError",
    "LayerInfo",
    "MAX_MODEL_INFLATED_BYTES",
    "ModelError",
    "NESTED_NOTE_MAX_NAMES",
    "OPTIMIZERS",
    "OutputInfo",
    "SUMMARY_MAX_CHARS",
    "TrainingResult",
    "activations",
    "adapt_images",
    "architecture_summary",
    "build_mlp",
    "check_h5",
    "check_layer",
    "check_model_archive",
    "check_savedmodel",
    "choose_default_layer",
    "choose_output",
    "classification_outputs",
    "default_layer",
    "default_layer_reason",
    "default_output",
    "describe_outputs",
    "evaluate_accuracy",
    "fingerprint",
    "first_preprocessing_layer",
    "hidden_layers",
    "implied_input_scale",
    "input_shape",
    "layer_table",
    "load_model",
    "model_from_bytes",
    "model_outputs",
    "model_to_bytes",
    "model_with_weights",
    "nested_layers_note",
    "other_side_of_activation",
    "output_index",
    "output_units",
    "padded",
    "parse_config",
    "parse_epochs",
    "predict_labels",
    "predict_output",
    "recorded_output",
    "save_checkpoints",
    "save_model",
    "scale_implied_by",
    "too_big_message",
    "train",
]


def __getattr__(name: str) -> int:
    """``MAX_MODEL_BYTES``: the largest model file in bytes (:data:`featlib.models.checks.MAX_MODEL_BYTES`), read now."""
    if name == "MAX_MODEL_BYTES":
        return _checks_getattr(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
