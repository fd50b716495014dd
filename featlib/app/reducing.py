"""The pages' reduction of layers with spatial axes: the carried choice, its picker, the layer table.

The choice (a key of :data:`featlib.read.reductions.CHOICES`) is carried across
pages like the method (:data:`featlib.app.state.REDUCTION`); a layer without
spatial axes is flattened whatever it says, and shows no picker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from featlib.app import state
from featlib.read import reductions

if TYPE_CHECKING:
    import keras

PICKER = "reduction_picker"
MIB_COLUMN = "MiB"
"""The layer table's column of each representation's size, float32, for the images of the chosen split."""


def current(model: keras.Model, layer: str) -> reductions.Representation:
    """How the carried choice reads ``layer`` of ``model``.

    Raises:
        ModelError: no such layer.
    """
    return reductions.for_layer(model, layer, state.get(state.REDUCTION), strict=False)


def picker(container: Any, model: keras.Model, layer: str) -> reductions.Representation:
    """The "Reduction" picker, drawn in ``container`` only for a layer with spatial axes; returns the representation.

    Raises:
        ModelError: no such layer.
    """
    rep = current(model, layer)
    if not rep.spatial:
        return rep
    state.carried_widget(
        container.radio,
        "Reduction",
        list(reductions.CHOICES),
        state.REDUCTION,
        PICKER,
        format_func=_label(rep.shape),
        help=f"The layer's output per image has spatial axes ({reductions.shape_text(rep.shape)}). Flatten keeps every "
        "value; grid average pooling keeps the mean of at most 8×8 cells per channel (at most 2,048 values); "
        f"global average or max pooling keeps one per channel. Auto flattens up to {reductions.FLATTEN_MAX:,} "
        "values per image and pools to the grid above.",
    )
    return current(model, layer)


def _label(shape: tuple):
    """Each choice in words; ``auto`` says what it picks for this layer."""
    default = reductions.REDUCTIONS[reductions.default_reduction(shape)]

    def label(choice: str) -> str:
        return f"auto ({default})" if choice == reductions.AUTO else reductions.REDUCTIONS[choice]

    return label


def layer_frame(model: keras.Model, n_images: int, split: str) -> pd.DataFrame:
    """The layer table: output shape before and after the carried reduction, and its MiB for ``n_images`` of ``split``.

    Columns: name, type, activation (:func:`featlib.models.activations`: the function, and whether the
    output is read before or after it), output shape (per image, e.g. ``26×26×32``), reduction, representation
    (its shape, e.g. ``32``), :data:`MIB_COLUMN` (float32 MiB for the split; the count of images is
    in the column's help), params.
    """
    rows = reductions.layer_table(model, state.get(state.REDUCTION), n_images)
    frame = pd.DataFrame([vars(row) for row in rows]).set_index("index")
    frame = frame.rename(
        columns={"output_shape": "output shape", "representation_shape": "representation", "mib": MIB_COLUMN}
    )
    return frame[["name", "type", "activation", "output shape", "reduction", "representation", MIB_COLUMN, "params"]]
