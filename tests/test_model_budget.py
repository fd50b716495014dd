"""What a model file declares is added up before Keras builds anything (issue 11, kind 3).

Real files: small Keras models saved as ``.keras`` and ``.h5``, then edited the way
a hostile upload would be (a config that declares a huge layer, a weights file
that declares a huge dataset it never stores). No huge layer is ever built: a
guard makes Keras's loader fail the test if it is reached.
"""

from __future__ import annotations

import json
import resource
import shutil
import time
import tracemalloc
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_zoo import keras2_dense, write_keras2_h5

from featlib import models
from featlib.models import ModelError
from featlib.models import budget as model_budget

HUGE_ROWS = 256_000_000


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """Small real models: an Embedding classifier (.keras, .h5), the seed MLP (.keras, .h5), a CNN (.keras)."""
    import keras
    from keras import layers

    folder = tmp_path_factory.mktemp("models")
    inputs = keras.Input((5,), dtype="int32")
    outputs = layers.Dense(10, activation="softmax")(layers.GlobalAveragePooling1D()(layers.Embedding(100, 6)(inputs)))
    embedding = keras.Model(inputs, outputs)
    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(4, 3),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    mlp = models.build_mlp((64,), hidden=(32,), seed=0)
    files = {}
    for name, model, suffixes in (
        ("emb", embedding, (".keras", ".h5")),
        ("mlp", mlp, (".keras", ".h5")),
        ("cnn", cnn, (".keras",)),
    ):
        for suffix in suffixes:
            files[name + suffix] = folder / f"{name}{suffix}"
            model.save(files[name + suffix])
    return files


@pytest.fixture
def keras_never_called(monkeypatch):
    """Fails the test if Keras's loader is reached (a refused file must be refused before it)."""
    import keras

    def reached(*args, **kwargs):
        raise AssertionError("keras.saving.load_model was called: the file was not refused before Keras")

    monkeypatch.setattr(keras.saving, "load_model", reached)


def _with_config(source: Path, target: Path, edit) -> Path:
    """A copy of a ``.keras`` file whose config.json ``edit(config)`` changed (other members as they are)."""
    with zipfile.ZipFile(source) as archive:
        config = json.loads(archive.read("config.json"))
        edit(config)
        with zipfile.ZipFile(target, "w") as out:
            for info in archive.infolist():
                out.writestr(info, json.dumps(config) if info.filename == "config.json" else archive.read(info))
    return target


def _layer(config: dict, kind: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["class_name"] == kind)


def _huge_embedding(config: dict) -> None:
    _layer(config, "Embedding")["config"]["input_dim"] = HUGE_ROWS


def _refused_cheaply(path: Path, match: str) -> None:
    """``load_model(path)`` raises ModelError matching ``match`` at once, without growing memory."""
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelError, match=match):
            models.load_model(path)
        seconds = time.perf_counter() - start
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) * 1024  # KiB on Linux
    assert seconds < 5 and traced < 200 * 2**20 and grown < 200 * 2**20, (seconds, traced, grown)


# The example of the issue ---------------------------------------------------------------------


def test_a_20_kb_keras_declaring_a_huge_embedding_is_refused_before_keras(saved, tmp_path, keras_never_called):
    path = _with_config(saved["emb.keras"], tmp_path / "huge.keras", _huge_embedding)
    assert path.stat().st_size < 30_000
    _refused_cheaply(
        path,
        r"huge.keras declares 6,144,000,280 bytes \(5,859.4 MiB\) of weights in its config.json; "
        r"models are limited to 2,147,483,648 bytes \(2,048.0 MiB\) on this server. The largest is "
        r"layer 'embedding' \(Embedding, input_dim 256,000,000 × output_dim 6, float32\): "
        r"1,536,000,000 parameters, 6,144,000,000 bytes \(5,859.4 MiB\). Refused before Keras built "
        r"anything; raise the limit with FEATLIB_MAX_MODEL_MB",
    )


def test_an_h5_whose_model_config_declares_a_huge_embedding_is_refused(saved, tmp_path, keras_never_called):
    path = tmp_path / "huge.h5"
    shutil.copyfile(saved["emb.h5"], path)
    with h5py.File(path, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        _huge_embedding(config)
        h5.attrs["model_config"] = json.dumps(config)
    _refused_cheaply(
        path,
        r"huge.h5 declares 6,144,000,280 bytes .* in its model_config; .* layer 'embedding' "
        r"\(Embedding, input_dim 256,000,000 × output_dim 6",
    )


def test_a_weights_file_declaring_a_huge_dataset_is_refused_from_its_metadata(saved, tmp_path, keras_never_called):
    """Compression and HDF5's fill value hide nothing: the declared shape counts, and no data is read."""
    weights = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(saved["emb.keras"]) as archive:
        weights.write_bytes(archive.read("model.weights.h5"))
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with h5py.File(weights, "r+") as h5:
        del h5["layers/embedding/vars/0"]
        h5.create_dataset(
            "layers/embedding/vars/0", shape=(HUGE_ROWS, 6), dtype="float32", chunks=(1024, 6), compression="gzip"
        )  # no chunk written: a few KB on disk
    path = tmp_path / "hidden.keras"
    with zipfile.ZipFile(path, "w") as out:
        for name, content in members.items():
            out.writestr(name, weights.read_bytes() if name == "model.weights.h5" else content)
    assert path.stat().st_size < 50_000
    _refused_cheaply(
        path,
        r"hidden.keras declares 6,144,000,2\d\d bytes .* in its model.weights.h5; .* the weights "
        r"'layers/embedding' \(largest dataset \(256000000, 6\) float32\)",
    )
    h5_path = tmp_path / "hidden.h5"
    shutil.copyfile(saved["emb.h5"], h5_path)
    with h5py.File(h5_path, "r+") as h5:
        del h5["model_weights/embedding/embedding/embeddings"]
        h5.create_dataset(
            "model_weights/embedding/embedding/embeddings",
            shape=(HUGE_ROWS, 6),
            dtype="float32",
            chunks=(1024, 6),
            compression="gzip",
        )
    _refused_cheaply(h5_path, r"hidden.h5 declares .* \(5,859.4 MiB\) of weights in its weights \(model_weights\)")


def test_a_config_json_past_its_bound_is_refused_before_it_is_parsed(saved, tmp_path, keras_never_called):
    path = tmp_path / "padded.keras"
    with zipfile.ZipFile(saved["mlp.keras"]) as archive, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in archive.infolist():
            content = archive.read(info)
            out.writestr(
                info.filename,
                content + b" " * model_budget.MAX_CONFIG_BYTES if info.filename == "config.json" else content,
            )
    _refused_cheaply(path, r"padded.keras's config.json inflates to 16,7\d\d,\d+ bytes; at most 16,777,216 are read")


def test_the_limit_is_a_setting(saved, monkeypatch):
    monkeypatch.setenv(model_budget.MAX_MODEL_MB_ENV, "0.005")  # 5,242 bytes: the small CNN needs 1,704
    assert model_budget.check_model_file(saved["cnn.keras"]).total_bytes == 1_704
    with pytest.raises(
        ModelError,
        match=r"mlp.keras declares 9,640 bytes \(0.0 MiB\) of weights in its config.json; "
        r"models are limited to 5,242 bytes .* The largest is layer 'dense' \(Dense, "
        r"64 inputs × units 32, float32\): 2,080 parameters, 8,320 bytes",
    ):
        models.load_model(saved["mlp.keras"])
    monkeypatch.setenv(model_budget.MAX_MODEL_MB_ENV, "lots")
    with pytest.raises(ModelError, match="FEATLIB_MAX_MODEL_MB must be a positive number of megabytes .* got 'lots'"):
        models.load_model(saved["mlp.keras"])


# Normal models pass, and are counted right ----------------------------------------------------


@pytest.mark.parametrize("name", ["mlp.keras", "mlp.h5", "cnn.keras", "emb.keras", "emb.h5"])
def test_normal_models_load_and_are_counted_exactly(saved, name):
    model = models.load_model(saved[name])
    budget = model_budget.check_model_file(saved[name])
    assert budget.config_bytes == budget.weights_bytes == model.count_params() * 4


def _zoo():
    import keras
    from keras import layers

    def seq(shape, *stack):
        return keras.Sequential([keras.Input(shape), *stack])

    query = keras.Input((5, 12))
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(query, query)
    pooled = layers.GlobalAveragePooling1D()(layers.Concatenate()([attended, query]))
    inner = seq((5,), layers.Dense(7), layers.Dense(3))
    outer_in = keras.Input((5,))
    return {
        "separable, depthwise, transposed, padded": seq(
            (16, 16, 3),
            layers.SeparableConv2D(8, 3),
            layers.DepthwiseConv2D(3, depth_multiplier=2),
            layers.Conv2DTranspose(4, 3, strides=2),
            layers.UpSampling2D(),
            layers.ZeroPadding2D(1),
            layers.Conv2D(3, 3),
            layers.GlobalMaxPooling2D(),
            layers.Dense(2),
        ),
        "channels first": seq(
            (1, 12, 12),
            layers.Conv2D(8, 3, data_format="channels_first"),
            layers.GlobalAveragePooling2D(data_format="channels_first"),
            layers.Dense(4),
        ),
        "recurrent": seq(
            (10,), layers.Embedding(100, 8), layers.LSTM(16, return_sequences=True), layers.GRU(8), layers.Dense(3)
        ),
        "wrappers": seq(
            (6,),
            layers.Embedding(50, 4),
            layers.Bidirectional(layers.SimpleRNN(5, return_sequences=True)),
            layers.TimeDistributed(layers.Dense(7)),
            layers.Flatten(),
            layers.Dense(2),
        ),
        "normalisation": seq(
            (64,),
            layers.Reshape((4, 16)),
            layers.LayerNormalization(),
            layers.Conv1D(6, 3),
            layers.GroupNormalization(groups=2),
            layers.PReLU(),
            layers.Flatten(),
            layers.Dense(5),
        ),
        "attention": keras.Model(query, layers.Dense(3)(pooled)),
        "nested": keras.Model(outer_in, layers.Dense(2)(inner(outer_in))),
    }


def _without_recorded_shapes(config):
    """The config as Keras 2 wrote it, as far as shapes go: no build_config, no shapes in inbound nodes."""
    if isinstance(config, dict):
        config.pop("build_config", None)
        if config.get("class_name") == "__keras_tensor__":
            config["config"].pop("shape", None)
        for value in config.values():
            _without_recorded_shapes(value)
    elif isinstance(config, list):
        for value in config:
            _without_recorded_shapes(value)
    return config


def test_the_config_estimate_of_common_layers_matches_keras(tmp_path):
    """Each rule of ESTIMATED_LAYERS against Keras's own count, from recorded shapes and from propagation alone."""
    for name, model in _zoo().items():
        path = tmp_path / "m.keras"
        model.save(path)
        budget = model_budget.check_model_file(path)
        want = model.count_params() * 4
        assert budget.config_bytes == budget.weights_bytes == want, name
        config = json.loads(json.dumps({"class_name": type(model).__name__, "config": model.get_config()}, default=str))
        propagated = model_budget.config_layers(_without_recorded_shapes(config))
        assert sum(layer.bytes for layer in propagated) == want, name


def test_a_keras2_h5_is_counted_from_its_batch_input_shape(tmp_path):
    path = tmp_path / "keras2.h5"
    rng = np.random.default_rng(0)
    write_keras2_h5(
        path,
        [keras2_dense("dense", 32, "relu", batch_input_shape=[None, 64]), keras2_dense("dense_1", 10, "softmax")],
        {
            "dense": {"kernel": rng.normal(size=(64, 32)), "bias": np.zeros(32)},
            "dense_1": {"kernel": rng.normal(size=(32, 10)), "bias": np.zeros(10)},
        },
    )
    budget = model_budget.check_model_file(path)
    assert [(layer.name, layer.params) for layer in budget.config] == [
        ("dense", 64 * 32 + 32),
        ("dense_1", 32 * 10 + 10),
    ]
    assert budget.weights_bytes == (64 * 32 + 32 + 32 * 10 + 10) * 8  # written as float64 by numpy
    with pytest.raises(ModelError, match=r"layer 'dense' \(Dense, 64 inputs × units 100,000,000, float32\)"):
        model_budget.check_model_file(_keras2_wide(path, tmp_path / "wide.h5"))


def _keras2_wide(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    with h5py.File(target, "r+") as h5:
        config = json.loads(h5.attrs["model_config"])
        config["config"]["layers"][0]["config"]["units"] = 100_000_000
        h5.attrs["model_config"] = json.dumps(config)
    return target


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "Dense",
            "Embedding",
            "Conv2D",
            "Sequential",
            "Functional",
            "Bidirectional",
            "__keras_tensor__",
            "channels_first",
            "same",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "class_name",
                    "config",
                    "layers",
                    "units",
                    "input_dim",
                    "output_dim",
                    "filters",
                    "kernel_size",
                    "build_config",
                    "input_shape",
                    "inbound_nodes",
                    "args",
                    "keras_history",
                    "shape",
                    "layer",
                    "batch_shape",
                    "name",
                    "dtype",
                    "axis",
                ]
            )
            | st.text(max_size=4),
            children,
            max_size=5,
        )
    ),
    max_leaves=40,
)


@settings(derandomize=True, max_examples=300, database=None, deadline=None)
@given(config=_JSON)
def test_sizing_any_json_config_gives_sizes_or_a_model_error(config):
    """The estimator alone (no Keras): any JSON gives non-negative sizes, or ModelError; never another exception."""
    try:
        sizes = model_budget.config_layers(config)
    except ModelError as error:
        assert "refused" in str(error)
        return
    assert all(s.params >= 0 and s.bytes >= 0 for s in sizes)


# Fuzzing: mutated real configs ----------------------------------------------------------------

FUZZ_LIMIT_MB = 16
"""The limit during the fuzz test: a mutated model that passes is built for real, so keep it small."""

_HUGE = st.sampled_from([HUGE_ROWS, 10**12, 2**31, 2**63, 10**30, 70_000])
_ODD = st.one_of(
    st.sampled_from(
        [
            HUGE_ROWS,
            10**12,
            0,
            -1,
            -(2**31),
            2**31,
            2**63,
            10**30,
            1.5,
            -0.0,
            1e308,
            float("inf"),
            float("nan"),
            True,
            None,
            "",
            "64",
            [],
            {},
            [None],
            [-1, -1],
        ]
    ),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=4),
)


_SIZE_KEYS = {
    "units",
    "input_dim",
    "output_dim",
    "filters",
    "kernel_size",
    "strides",
    "pool_size",
    "batch_shape",
    "batch_input_shape",
    "input_shape",
    "shape",
    "axis",
    "groups",
}
"""Config keys whose numbers size a layer: mutated first."""


def _numeric_paths(value, prefix=()) -> list[tuple]:
    """Paths to every number (and bool) in a config, and to every dict entry (to drop)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(prefix + (key,))
            found += _numeric_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (int, float)) or item is None:
                found.append(prefix + (i,))
            found += _numeric_paths(item, prefix + (i,))
    return found


def _mutate(config: dict, edits) -> dict:
    config = json.loads(json.dumps(config))
    for path, drop, value in edits:
        parent = config
        try:
            for step in path[:-1]:
                parent = parent[step]
            if drop and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return config


@pytest.fixture(scope="module")
def fuzz_bases(saved) -> dict[str, tuple[Path, dict, list, list]]:
    """Each saved model with its config, the paths to its sizes, and every path (numbers first: Hypothesis favours
    the first choices)."""
    bases = {}
    for name in ("emb.keras", "cnn.keras", "emb.h5", "mlp.h5"):
        path = saved[name]
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
        else:
            with h5py.File(path, "r") as h5:
                config = json.loads(h5.attrs["model_config"])
        paths = _numeric_paths(config)
        numbers = [
            p for p in paths if isinstance(_at(config, p), (int, float)) and not isinstance(_at(config, p), bool)
        ]
        sizes = [p for p in numbers if set(p) & _SIZE_KEYS]
        bases[name] = (path, config, sizes, numbers + [p for p in paths if p not in numbers])
    return bases


def _at(config, path):
    for step in path:
        config = config[step]
    return config


def _write(path: Path, config: dict, target: Path) -> Path:
    if path.suffix == ".keras":
        return _with_config(path, target.with_suffix(".keras"), lambda c: (c.clear(), c.update(config)))
    target = target.with_suffix(".h5")
    shutil.copyfile(path, target)
    with h5py.File(target, "r+") as h5:
        h5.attrs["model_config"] = json.dumps(config)
    return target


@settings(
    derandomize=True,
    max_examples=80,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_config_loads_within_the_limit_or_is_refused_with_a_model_error(
    fuzz_bases, tmp_path, monkeypatch, data
):
    monkeypatch.setenv(model_budget.MAX_MODEL_MB_ENV, str(FUZZ_LIMIT_MB))
    name = data.draw(st.sampled_from(sorted(fuzz_bases)))
    path, config, sizes, paths = fuzz_bases[name]
    edit = st.one_of(
        st.tuples(st.sampled_from(sizes), st.just(False), _HUGE),  # a size made huge
        st.tuples(st.sampled_from(paths), st.booleans(), _ODD),
    )  # any number made odd, or a key dropped
    edits = data.draw(st.lists(edit, min_size=1, max_size=3))
    mutated = _write(path, _mutate(config, edits), tmp_path / f"fuzz-{len(list(tmp_path.iterdir()))}")
    try:
        model = models.load_model(mutated)
    except ModelError as error:
        assert str(error).strip(), edits
        return
    assert model.count_params() * 4 <= FUZZ_LIMIT_MB * 2**20, edits
