"""A model's description (issue 24, item 2): what a page reads of a saved model before Keras has loaded.

Every layer's representation from the description is the one :func:`featlib.read.reductions.for_layer` reads from
the loaded model, for every reduction; the default layer is :func:`featlib.models.default_layer`'s; the server keeps
it in the model's record once, changing nothing else; and a description that is not what featlib writes is not
used.
"""

from __future__ import annotations

import json

import keras
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featlib import models
from featlib.errors import ModelError
from featlib.read import model_description, reductions
from featlib.read.model_description import LayerShape, ModelDescription


def _odd_models() -> dict[str, keras.Model]:
    """Layers of every kind of shape: flat, spatial channels last and first, sizes unknown, a layer called twice."""
    cnn = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.Conv2D(4, 3, data_format="channels_first"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    free = keras.Input((None, None, 3))
    pooled = keras.layers.GlobalMaxPooling2D()(keras.layers.Conv2D(5, 3, name="conv_free")(free))
    unknown = keras.Model(free, keras.layers.Dense(4, activation="softmax")(pooled))
    shared = keras.layers.Dense(6, name="shared")
    a, b = keras.Input((5,)), keras.Input((5,))
    twice = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([shared(a), shared(b)])))
    return {"mlp": models.build_mlp((128, 64), seed=0), "cnn": cnn, "unknown sizes": unknown, "shared": twice}


@pytest.mark.parametrize("name", ["mlp", "cnn", "unknown sizes", "shared"])
def test_the_description_reads_every_layer_as_the_loaded_model_does(name):
    model = _odd_models()[name]
    described = ModelDescription.from_json(json.loads(json.dumps(model_description.describe(model).to_json())))
    assert described is not None
    assert described.default_layer == models.default_layer(model)
    readable = []
    for layer in model.layers:
        try:
            reductions.output_shape(model, layer.name)
        except ModelError:  # several outputs (a layer called twice): not described, and not read by name
            with pytest.raises(ModelError, match="No layer named"):
                described.representation(layer.name)
            continue
        readable.append(layer.name)
        for choice in reductions.CHOICES:
            assert described.representation(layer.name, choice) == reductions.for_layer(
                model, layer.name, choice, strict=False
            ), (layer.name, choice)
    assert described.names() == readable
    if name == "shared":  # Keras 3 reads a layer called twice at its first call, and so does the description
        assert "shared" in readable
    if name == "cnn":  # the channels-first convolution is pooled over its last two axes
        first = [each for each in described.layers if each.channels_first]
        assert [each.shape for each in first] == [(4, 24, 6)]  # (26, 26, 8) read as channels 26, then 26 × 8
        assert described.representation(first[0].name, "gap").units == 4


def test_the_server_keeps_a_model_s_description_once_and_changes_nothing_else(workspace, model):
    record = models.save_model(workspace, model, "kept", dataset="digits", test_accuracy=0.9, meta={"seed": 3})
    assert model_description.of_record(record) is None
    described = model_description.record_description(workspace, record, model)
    again = workspace.get_model(record.id)
    assert model_description.of_record(again) == described == model_description.describe(model)
    assert (again.test_accuracy, again.meta["seed"], again.meta["provenance"], again.name) == (
        0.9,
        3,
        record.meta["provenance"],
        "kept",
    )
    workspace.update_model(record.id, test_accuracy=0.95, meta={"note": "rescored"})
    assert model_description.record_description(workspace, workspace.get_model(record.id), model) == described
    assert workspace.get_model(record.id).test_accuracy == 0.95  # not written again over a later change


def test_a_deleted_model_is_not_described_and_nothing_is_raised(workspace, model):
    record = models.save_model(workspace, model, "gone", dataset="digits")
    workspace.delete("model", record.id, who="ann")  # by another user, between the load and the description
    assert model_description.record_description(workspace, record, model) is None


_GOOD = ModelDescription((LayerShape("dense", (128,)), LayerShape("conv", (3, 4, 5), True)), "dense").to_json()
_BROKEN = [
    None,
    [],
    "description",
    {**_GOOD, "version": 2},
    {**_GOOD, "default_layer": "missing"},
    {**_GOOD, "default_layer": 3},
    {**_GOOD, "layers": "dense"},
    {**_GOOD, "layers": [["dense", [128]]]},
    {**_GOOD, "layers": [["dense", [-1], False]]},
    {**_GOOD, "layers": [["dense", [True], False]]},
    {**_GOOD, "layers": [["dense", [1.5], False]]},
    {**_GOOD, "layers": [["dense", [128], "no"]]},
    {**_GOOD, "layers": [[7, [128], False]]},
]


@pytest.mark.parametrize("document", _BROKEN, ids=range(len(_BROKEN)))
def test_a_description_featlib_did_not_write_is_not_used(document):
    assert ModelDescription.from_json(_GOOD) is not None
    assert ModelDescription.from_json(document) is None


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c) | st.dictionaries(st.text(max_size=8), c),
    )
)
def test_any_json_is_read_as_a_description_or_refused_never_raised(document):
    found = ModelDescription.from_json(document)
    assert found is None or found.default_layer in found.names()
