"""How much memory a model file declares, added up before Keras builds anything.

A 19 KB ``.keras`` whose config declares ``Embedding(input_dim=256_000_000,
output_dim=6)`` makes Keras allocate about 6 GB while it builds the layer, before
it finds that the weights file does not match. :func:`check_model_file` reads
only what a file declares and refuses it, naming the largest layer, when either
of two sums is over the limit:

- **the config** (``config.json`` of a ``.keras``, the ``model_config``
  attribute of a legacy ``.h5``): each layer's parameters as they follow from
  its config and input shape (``Dense``: inputs × units + units; ``Embedding``:
  input_dim × output_dim; convolutions: kernel × channels × filters; recurrent
  layers, attention, normalisation, wrappers and nested models likewise; see
  :data:`ESTIMATED_LAYERS`), times the size of its variables' dtype. The input
  shape a layer is built with is read from what Keras itself reads
  (``build_config``, the shapes recorded in ``inbound_nodes``, the model's input
  layer), and propagated through the layers when the config does not record it
  (Keras 2 files); a dimension nowhere known counts as 1, so the sum is a lower
  bound of what Keras would allocate. Layers of other kinds count 0 here.
- **the weights** (``model.weights.h5`` of a ``.keras``, the datasets under
  ``model_weights`` of an ``.h5``): every HDF5 dataset's declared shape × its
  dtype's size, read from HDF5's metadata (``dataset.shape``, ``dataset.dtype``)
  without reading any data, so no compression or fill value hides a size.

Also bounded, before anything is parsed: ``config.json`` at
:data:`MAX_CONFIG_BYTES` uncompressed (read no further than that, whatever the
zip's header says), and the HDF5 objects visited at :data:`MAX_H5_OBJECTS`
(the whole archive is bounded by :func:`featlib.models.check_model_archive`'s zip-bomb rule).

The limit is a setting: ``FEATLIB_MAX_MODEL_MB`` (MiB, default
:data:`DEFAULT_MAX_MODEL_MB`, 2 GiB), read at each check (:func:`model_limit_bytes`).

This module is the budget's façade and its arithmetic against the limit; the reading lives by noun:
:mod:`featlib.models.layer_sizes` (a config's layers, sized without Keras) and
:mod:`featlib.models.declared` (what a ``.keras`` archive or an ``.h5`` file declares).

Example:
    >>> budget = check_model_file("model.keras")  # doctest: +SKIP
    >>> budget.largest.name, budget.total_bytes  # doctest: +SKIP
    ('dense', 402216)
"""

from __future__ import annotations

from pathlib import Path

from featlib import settings
from featlib.errors import ModelError
from featlib.models.declared import (  # noqa: F401  (re-exported: the budget's façade)
    MAX_CONFIG_BYTES,
    MAX_H5_OBJECTS,
    Budget,
    h5_budget,
    keras_budget,
)
from featlib.models.layer_sizes import (  # noqa: F401  (re-exported: the budget's façade)
    ESTIMATED_LAYERS,
    MAX_CONFIG_DEPTH,
    LayerSize,
    config_layers,
)

MAX_MODEL_MB_ENV = "FEATLIB_MAX_MODEL_MB"
DEFAULT_MAX_MODEL_MB = int(settings.setting(MAX_MODEL_MB_ENV).default)


def model_limit_bytes(environ: dict | None = None) -> int:
    """The most bytes of weights a model may declare: ``$FEATLIB_MAX_MODEL_MB`` MiB, 2,048 when unset.

    Raises:
        ModelError: the variable is set to something other than a positive number of MiB.
    """
    try:
        return settings.mebibytes(MAX_MODEL_MB_ENV, environ=environ)
    except ValueError as error:
        raise ModelError(str(error)) from None


def check_model_file(path: str | Path, limit: int | None = None) -> Budget:
    """Refuses a ``.keras`` or ``.h5`` model file that declares more weights than ``limit``, before Keras reads it.

    Files that are not a readable zip or HDF5 file, or have no config, pass here with an empty
    :class:`Budget`: :func:`featlib.models.load_model`'s own checks refuse them with their reasons.

    Args:
        path: the model file (``.keras``, ``.h5`` or ``.hdf5``; other suffixes pass).
        limit: bytes; default :func:`model_limit_bytes`.

    Returns:
        What the file declares.

    Raises:
        ModelError: over the limit (naming the layer, its size in bytes and MiB, the limit and
            ``FEATLIB_MAX_MODEL_MB``), a ``config.json`` over :data:`MAX_CONFIG_BYTES`, or a
            config or weights file that cannot be read.
    """
    path = Path(path)
    limit = model_limit_bytes() if limit is None else limit
    suffix = path.suffix.lower()
    if suffix == ".keras":
        budget = keras_budget(path)
    elif suffix in (".h5", ".hdf5"):
        budget = h5_budget(path)
    else:
        return Budget()
    _refuse_over(budget, limit, path.name)
    return budget


def _refuse_over(budget: Budget, limit: int, filename: str) -> None:
    if budget.total_bytes <= limit:
        return
    from_config = budget.config_bytes >= budget.weights_bytes
    where = budget.source_config if from_config else budget.source_weights
    total = budget.config_bytes if from_config else budget.weights_bytes
    layer = budget.largest
    named = ""
    if layer is not None:
        what = f"layer {layer.name!r} ({layer.kind}" if from_config else f"the weights {layer.name!r} ("
        named = (
            f" The largest is {what}{', ' if from_config else ''}{layer.detail}): {layer.params:,} parameters, "
            f"{layer.bytes:,} bytes ({_mib(layer.bytes)})."
        )
    raise ModelError(
        f"{filename} declares {total:,} bytes ({_mib(total)}) of weights in its {where}; models are limited to "
        f"{limit:,} bytes ({_mib(limit)}) on this server.{named} Refused before Keras built anything; raise the "
        f"limit with {MAX_MODEL_MB_ENV} (MiB) if the server has the memory for it."
    )


def _mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"
