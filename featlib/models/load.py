"""Loading a model file: the upload checks first, then Keras in safe mode (:func:`load_model`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import featlib.models.budget as model_budget
import featlib.models.repair as model_repair
import featlib.models.scratch as scratch
from featlib.errors import ModelError
from featlib.lazy import keras
from featlib.models.checks import check_h5, check_layer_classes, check_model_archive, check_savedmodel
from featlib.models.config import first_line as _first_line
from featlib.models.inputs import input_shape
from featlib.models.nonfinite import check_weights

if TYPE_CHECKING:
    import keras


def load_model(path: str | Path) -> keras.Model:
    """Loads a ``.keras`` or legacy ``.h5`` model safely.

    First, what the file declares (its config's layers and its weights file's datasets) is added
    up and refused above ``FEATLIB_MAX_MODEL_MB`` (:func:`featlib.models.budget.check_model_file`),
    before Keras builds anything. ``.keras`` files are checked by :func:`check_model_archive` and loaded with
    ``safe_mode=True``; ``.h5`` files are checked by :func:`check_h5` first;
    SavedModels (folders or zips of them) are refused by :func:`check_savedmodel`.

    Two kinds of saved graphs are rebuilt so that featlib can feed them
    (:mod:`featlib.models.repair`): Keras 2 Sequential ``.h5`` files whose first layer
    carries ``batch_input_shape`` (Keras 3 alone reads ``[None, 64]`` as ``(None, None, 64)``)
    get the ``InputLayer`` they meant, and models saved with a fixed batch size
    (``(2, 64)``) get a free one, ``(None, 64)``, with the same weights and outputs.

    Keras 2.0 and 2.1 ``.h5`` files, which store a Sequential model's layers as a bare list, are
    given the later layout first. A layer class Keras does not define (a custom layer) is refused by
    :func:`~featlib.models.checks.check_layer_classes`; an ``.h5`` file Keras still cannot read is
    explained by :func:`featlib.models.repair.h5_problem` (the layer, its class and settings).

    Raises:
        ModelError: with the reason, for any file that cannot be used: code layers, custom layer
            classes, a damaged file, several inputs, a model saved before it was built, a fixed batch
            size that cannot be freed, NaN or inf in a weight (a
            :class:`~featlib.models.nonfinite.NonFiniteError` naming the layer and weight), ...
    """
    path = Path(path)
    suffix = path.suffix.lower()
    check_savedmodel(path)
    model_budget.check_model_file(path)  # what the config and weights declare, before anything is built
    if suffix == ".keras":
        check_model_archive(path)
    elif suffix in (".h5", ".hdf5"):
        check_h5(path)
    else:
        raise ModelError(
            f"Unsupported model file {path.name!r}: upload a Keras 3 .keras file or a legacy "
            ".h5 file (SavedModel folders are not accepted: they can run arbitrary code)."
        )
    check_layer_classes(path)  # a custom layer class: refused, naming it, before Keras asks for its code
    scratch.clean_stale()  # what loads of killed processes (a worker stopped at its limit) left behind
    scratch.keep_keras_temp_here()  # Keras's extraction folders under this process's, removed however it ends
    try:
        with model_repair.keras2_input_layers(path) as readable:
            model = keras.saving.load_model(readable, compile=False, safe_mode=True)
    except ModelError:
        raise
    except Exception as error:  # Keras raises many types for bad files.
        raise ModelError(_unreadable(path, error)) from error
    if not isinstance(model, keras.Model):
        raise ModelError(f"{path.name} does not hold a Keras model (got {type(model).__name__}).")
    input_shape(model)  # several inputs, no layers, never built: refuse now, with the reason
    check_weights(model, path.name)  # NaN/inf weights: refused, naming the layer and weight (NonFiniteError)
    return model_repair.free_batch_axis(model, path.name)


def _unreadable(path: Path, error: Exception) -> str:
    """The message for a file that passed the checks but that Keras could not load: what in the file is the cause.

    For an ``.h5`` file, :func:`featlib.models.repair.h5_problem` names the layer, class, settings and the
    Keras version that wrote it; otherwise (or when it finds nothing) Keras's first line follows.
    """
    problem = model_repair.h5_problem(path) if path.suffix.lower() in (".h5", ".hdf5") else None
    if problem:
        return (
            f"{path.name} cannot be loaded: {problem}. featlib reads .h5 files of Keras 2.0 or later made of "
            "Keras's own layers; load the model with Keras 2 (tf.keras 2.x also reads older files) and save it "
            "again, or rebuild it from Keras 3 layers, copy its weights and save it as a .keras file."
        )
    return f"Keras could not load {path.name}: {_first_line(error)}"
