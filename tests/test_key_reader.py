"""Keys are read back in one place (issue 22): ``featlib.keys.read_key`` inverts the builders, for any field values.

The Workspace listing, provenance and bundles read a key's fields through it; before, each split the key by
hand (``split("/")[2]``, ``split("/sample=")``), and a layer set's map (whose representation key holds a
``sample=`` of its own) was cut at the wrong place.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings

from featlib import keys, provenance
from featlib.maps.embed import PCAParams, TSNEParams, UMAPParams

# Field values as keys hold them: no "/" (a path separator in the key), no "=" (a name=value part).
FIELD = st.text(st.characters(blacklist_characters="/=", blacklist_categories=("Cs",)), min_size=1, max_size=12)
PARAMS = st.sampled_from([UMAPParams(), UMAPParams(n_neighbors=5, random_state=7), TSNEParams(), PCAParams()])
SAMPLE = st.one_of(st.none(), st.integers(1, 70_000))


@settings(max_examples=60, deadline=None)
@given(FIELD, FIELD, FIELD, FIELD, FIELD, FIELD, st.sampled_from(["flatten", "gap", "gmp"]), SAMPLE, PARAMS)
def test_a_representation_and_its_map_read_back_as_built(model, data, split, layer, method, scale, pooled, n, params):
    rep = keys.representation_key(model, data, split, layer, method, scale, pooled)
    for key in (rep, keys.embedding_key(rep, n, 3, params)):
        fields = keys.read_key(key)
        assert (fields.kind, fields.rep_key) == ("representation", rep)
        assert (fields.model_fp, fields.dataset_fp, fields.split) == (model, data, split)
        assert (fields.layer, fields.method, fields.input_scale) == (layer, method, scale)
        assert fields.parameters.get("reduction", "flatten") == pooled
    fields = keys.read_key(keys.embedding_key(rep, n, 3, params))
    assert fields.is_map and fields.reducer == params.key.split("-", 1)[0]
    assert (fields.parameters["sample"], fields.parameters["seed"]) == (str(n), "3")


@settings(max_examples=60, deadline=None)
@given(FIELD, FIELD, FIELD, FIELD, st.integers(1, 70_000), st.sampled_from(["auto", "flatten", "gap"]), SAMPLE, PARAMS)
def test_a_layer_set_s_layer_and_its_map_read_back_with_both_samples(
    model, data, split, layer, n_set, pooled, n, params
):
    layer_rep = keys.layer_key(keys.layer_set_key(model, data, split, "0-1", n_set, 0, pooled), layer)
    fields = keys.read_key(keys.embedding_key(layer_rep, n, 0, params))
    assert (fields.kind, fields.rep_key, fields.layer, fields.method) == ("layer", layer_rep, layer, None)
    assert (fields.parameters["layers_sample"], fields.parameters["sample"]) == (str(n_set), str(n))
    assert fields.parameters.get("reduction", "auto") == pooled


def test_other_keys_read_as_no_representation():
    for key in (keys.train_key("d", "t"), keys.bundle_key("abc"), "layers/m/d", "rep/m", "emb/rep/m"):
        assert keys.read_key(key).kind == "", key


def test_provenance_of_a_layer_set_map_names_its_layer_and_the_map_s_sample():
    layer_rep = keys.layer_key(keys.layer_set_key("m1", "d1", "test", "0-1", 2000, 0), "dense_1")
    made = provenance.for_key(keys.embedding_key(layer_rep, 500, 0, UMAPParams()))
    assert (made["model_fingerprint"], made["dataset_fingerprint"]) == ("m1", "d1")
    assert made["parameters"]["layer"] == "dense_1"
    assert (made["parameters"]["sample"], made["parameters"]["layers_sample"]) == ("500", "2000")
