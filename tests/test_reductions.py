"""Convolutional layers at full scale: reductions (flatten, global average / max pooling) everywhere a representation is read.

A small CNN built here on the bundled 8×8 digits (Conv2D → MaxPooling2D → Conv2D → Flatten → Dense →
Dense softmax), and a wider 28×28 one whose first Conv2D (26×26×32 = 21,632 values per image) is above
the ``auto`` threshold. Every reduction is checked against NumPy on the layer's full output.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from featlib import jobs, metrics, models, pipeline
from featlib.jobs import tasks
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.read import extract, layers, reductions
from featlib.read.extract import METHODS, Extractor
from featlib.read.reductions import ReductionError, Representation
from featlib.service import ModelRef, Service
from featlib.store import Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
SPATIAL = ["conv", "pool", "conv_1"]


def grid_reference(full: np.ndarray) -> np.ndarray:
    """Grid average pooling of a channels-last batch, cell by cell (cell i of g spans [i*m//g, (i+1)*m//g))."""
    cells = reductions.grid_cells(full.shape[1:])
    edges = [[(i * m // g, (i + 1) * m // g) for i in range(g)] for m, g in zip(full.shape[1:-1], cells)]
    means = [full[(slice(None), *(slice(a, b) for a, b in box))] for box in itertools.product(*edges)]
    pooled = np.stack([m.mean(axis=tuple(range(1, full.ndim - 1))) for m in means], axis=1)
    return pooled.reshape(len(full), -1)


NUMPY = {
    "flatten": lambda full: full.reshape(len(full), -1),
    "grid": grid_reference,
    "gap": lambda full: full.mean(axis=tuple(range(1, full.ndim - 1))),
    "gmp": lambda full: full.max(axis=tuple(range(1, full.ndim - 1))),
}


def build_cnn(input_shape: tuple, filters: int = 8, seed: int = 0):
    """Conv2D → MaxPooling2D → Conv2D → Flatten → Dense → Dense softmax, seeded."""
    import keras

    kl = keras.layers
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            kl.Conv2D(filters, 3, activation="relu", name="conv"),
            kl.MaxPooling2D(name="pool"),
            kl.Conv2D(2 * filters, 2, activation="relu", name="conv_1"),
            kl.Flatten(name="flat"),
            kl.Dense(32, activation="relu", name="hidden"),
            kl.Dense(10, activation="softmax", name="out"),
        ],
        name="cnn",
    )


@pytest.fixture(scope="module")
def cnn(digits):
    """The 8×8 CNN, trained for a few epochs on the digits (read-only for tests)."""
    model = build_cnn((8, 8, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(models.adapt_images(digits.x_train, model), digits.y_train, epochs=8, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def wide():
    """A 28×28 CNN (untrained) whose first Conv2D outputs 26×26×32 values per image."""
    return build_cnn((28, 28, 1), filters=32)


@pytest.fixture(scope="module")
def x(digits, cnn):
    return models.adapt_images(digits.x_train, cnn)


def full_output(model, layer: str, x: np.ndarray) -> np.ndarray:
    import keras

    return keras.Model(model.inputs, model.get_layer(layer).output).predict(x, verbose=0)


# ----------------------------------------------------------------------------- the rule and the arithmetic


def test_the_default_flattens_up_to_the_threshold_and_pools_by_average_above():
    assert reductions.FLATTEN_MAX == 4_096
    assert reductions.default_reduction((26, 26, 32)) == "grid"  # MNIST's first Conv2D: 21,632 values
    assert reductions.default_reduction((6, 6, 8)) == "flatten"
    assert reductions.default_reduction((64, 64, 1)) == "flatten"  # exactly 4,096
    assert reductions.default_reduction((64, 64, 2)) == "grid"
    assert reductions.default_reduction((100_000,)) == "flatten"  # no spatial axes: nothing to pool
    assert reductions.default_reduction((None, None, 16)) == "gap"


def test_reduced_shapes_descriptions_and_key_parts():
    rep = Representation("conv2d", (26, 26, 32), "gap")
    assert (rep.reduced_shape, rep.units, rep.full_units) == ((32,), 32, 21_632)
    assert rep.title == "conv2d (global average pooling, 32 of 26×26×32)"
    assert Representation("conv2d", (26, 26, 32), "flatten").title == "conv2d (flatten, 21,632 of 26×26×32)"
    assert Representation("conv2d", (26, 26, 32), "gmp").title == "conv2d (global max pooling, 32 of 26×26×32)"
    assert Representation("dense", (64,)).title == "dense"
    assert Representation("conv2d", (26, 26, 32), "auto").reduction == "grid"
    assert (rep.key_part, Representation("conv2d", (26, 26, 32), "flatten").key_part) == ("/reduction=gap", "")
    assert rep.choice == "gap" and Representation("conv2d", (26, 26, 32), "grid").choice == "auto"
    assert rep.mib(10_000) == pytest.approx(32 * 4 * 10_000 / 2**20)
    assert Representation("conv2d", (26, 26, 32), "flatten").mib(10_000) == pytest.approx(825.2, abs=0.1)
    assert Representation("c", (32, 26, 26), "gap", channels_first=True).reduced_shape == (32,)


def test_pooling_a_layer_without_spatial_axes_is_refused_or_read_as_flatten():
    with pytest.raises(
        ReductionError,
        match=r"^global max pooling \(gmp\) needs a layer with spatial axes, like a Conv2D "
        r"output \(height, width, channels\); this layer's output per image is 64\. "
        r"Use flatten or auto\.$",
    ):
        reductions.resolve((64,), "gmp")
    assert reductions.resolve((64,), "gmp", strict=False) == "flatten"
    with pytest.raises(
        ReductionError,
        match=r"Unknown reduction: 'mean'\. Expected one of \['auto', 'flatten', 'grid', 'gap', 'gmp'\]",
    ):
        reductions.resolve((6, 6, 8), "mean")
    with pytest.raises(ReductionError, match="A key names a reduction"):
        reductions.key_part("auto")


def test_reduce_batch_equals_numpy_for_every_layout():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(5, 4, 3, 7)).astype("float64")
    for name, reference in NUMPY.items():
        out = reductions.reduce_batch(images, name)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, reference(images), rtol=1e-6, atol=1e-6)
    sequences = rng.normal(size=(5, 9, 4)).astype("float32")  # Conv1D: (steps, channels)
    np.testing.assert_allclose(reductions.reduce_batch(sequences, "gap"), sequences.mean(axis=1), atol=1e-6)
    first = np.moveaxis(images, -1, 1)  # channels first
    np.testing.assert_allclose(reductions.reduce_batch(first, "gmp", channels_first=True), images.max(axis=(1, 2)))
    flat = rng.normal(size=(5, 12)).astype("float32")
    assert np.shares_memory(reductions.reduce_batch(flat, "flatten"), flat)  # float32 already: no copy
    with pytest.raises(
        ReductionError, match=r"needs outputs with spatial axes \(n, \.\.\., channels\); got shape \(5, 12\)"
    ):
        reductions.reduce_batch(flat, "gap")


def test_batches_are_bounded_by_the_bytes_of_their_full_output():
    assert reductions.batch_size((26, 26, 32), 8192) == reductions.BATCH_BYTES // (4 * 21_632)
    assert reductions.batch_size((64,), 8192) == 8192
    assert reductions.batch_size((26, 26, 32), 8192, budget=1) == 1
    assert reductions.batch_size((None, None, 32), 100) == 100


# ----------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("reduction", list(reductions.REDUCTIONS))
def test_each_reduction_equals_numpy_on_the_full_output(cnn, x, method, reduction):
    for layer in SPATIAL:
        full = full_output(cnn, layer, x)
        out = extract.extract(cnn, layer, x, method=method, reduction=reduction, batch_size=500)
        assert out.dtype == np.float32 and out.flags.c_contiguous
        expected = NUMPY[reduction](full)
        assert out.shape == expected.shape == (len(x), Representation(layer, full.shape[1:], reduction).units)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_both_methods_agree_on_the_reduced_outputs(cnn, x, digits):
    for reduction in ("gap", "gmp"):
        comparison = extract.compare_methods(
            {m: Extractor(cnn, "conv", m, reduction) for m in METHODS}, x[:400], repeats=1
        )
        assert comparison.agree and comparison.max_abs_diff < 1e-5
    spec = jobs.specs.compare_methods_spec(
        "rep/k/reduction=gmp",
        300,
        model_fp=models.fingerprint(cnn),
        split="train",
        layer="conv_1",
        input_scale="0-1",
        reduction="gmp",
    )
    assert spec.params["reduction"] == "gmp"
    job = tasks.run_inline(spec, {"model": models.model_to_bytes(cnn), "dataset": digits})
    assert job.agree and job.n_samples == 300


def test_extraction_reads_batch_by_batch_into_an_output_of_the_reduced_size(cnn, x, monkeypatch):
    monkeypatch.setattr(reductions, "BATCH_BYTES", 100 * 1024)  # conv: 6×6×8 floats = 1,152 bytes per image
    per_batch = (100 * 1024) // (4 * 6 * 6 * 8)
    extractor = Extractor(cnn, "conv", "submodel", "gap")
    seen = []
    read = extractor._batch
    monkeypatch.setattr(extractor, "_batch", lambda batch, rows=0: seen.append(batch.shape) or read(batch, rows))
    out = extractor(x, batch_size=8192)
    assert len(seen) == -(-len(x) // per_batch) and max(shape[0] for shape in seen) == per_batch
    assert out.shape == (len(x), 8) and out.dtype == np.float32
    np.testing.assert_allclose(out, full_output(cnn, "conv", x).mean(axis=(1, 2)), atol=1e-5)


def test_extraction_memory_stays_near_the_reduced_size(wide, digits, monkeypatch):
    """Peak NumPy memory while reading a 26×26×32 Conv2D by pooling: a batch, not the 21,632-wide full output."""
    monkeypatch.setattr(reductions, "BATCH_BYTES", 4 * 2**20)
    x = models.adapt_images(digits.x_train[:1000], wide)
    full_bytes = len(x) * 21_632 * 4  # 82.5 MiB
    peaks = {}
    for reduction in ("gap", "flatten"):
        extractor = Extractor(wide, "conv", "function", reduction)
        extractor(x[:10])  # trace first
        tracemalloc.start()
        out = extractor(x)
        peaks[reduction] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert out.shape == (len(x), 32 if reduction == "gap" else 21_632)
        del out
    assert peaks["gap"] < full_bytes / 8, peaks  # a few 4 MiB batches at most
    assert peaks["flatten"] >= full_bytes  # the flattened result itself


def test_extract_all_pools_spatial_layers_batch_by_batch(cnn, x, monkeypatch):
    monkeypatch.setattr(reductions, "BATCH_BYTES", 256 * 1024)
    reps = extract.extract_all(cnn, x, reduction="gmp", batch_size=8192)
    assert {name: r.shape[1] for name, r in reps.items()} == {
        "conv": 8,
        "pool": 8,
        "conv_1": 16,
        "flat": 64,
        "hidden": 32,
        "out": 10,
    }
    for layer in SPATIAL:
        np.testing.assert_allclose(reps[layer], NUMPY["gmp"](full_output(cnn, layer, x)), atol=1e-5)
    np.testing.assert_allclose(reps["hidden"], extract.extract(cnn, "hidden", x), atol=1e-5)


# ----------------------------------------------------------------------------- keys, cache, specs


def test_keys_name_the_reduction_of_pooled_layers_only():
    base = ("mfp", "dfp", "train", "conv", "function", "0-1")
    assert pipeline.representation_key(*base) == "rep/mfp/dfp/train/conv/function/0-1"  # as before reductions
    assert pipeline.representation_key(*base, "flatten") == pipeline.representation_key(*base)
    assert pipeline.representation_key(*base, "gap") == "rep/mfp/dfp/train/conv/function/0-1/reduction=gap"
    assert len({pipeline.representation_key(*base, r) for r in reductions.REDUCTIONS}) == 4


def test_the_pipeline_caches_each_reduction_under_its_own_key(cnn, wide, digits, tmp_path):
    ws = Workspace(tmp_path / "ws")
    fp = models.fingerprint(cnn)
    runner = InlineRunner()
    service, ref = Service(ws, runner), ModelRef.of_model(cnn, fp)
    small, key = service.representation(ref, digits, "test", "conv", "function")  # auto: 288 values, flattened
    assert small.shape == (360, 288) and not key.endswith("reduction=gap")
    pooled, gmp_key = service.representation(ref, digits, "test", "conv", "function", reduction="gmp")
    assert pooled.shape == (360, 8) and gmp_key == key + "/reduction=gmp"
    item = ws.get_item("representation", gmp_key)
    assert item.parameters["reduction"] == "gmp" and "reduction gmp" in item.made_from
    assert item.provenance["parameters"]["reduction"] == "gmp"
    again, _ = service.representation(
        ref, digits, "test", "conv", "function", reduction="gmp"
    )  # a cache hit runs no job
    assert np.array_equal(again, pooled) and ws.usage()["representations"] == 2 and runner.ran == [key, gmp_key]
    big, big_key = service.representation(ModelRef.of_model(wide), digits, "test", "conv", "submodel")
    assert big.shape == (360, 2048) and big_key.endswith("/reduction=grid")  # auto pools 26×26×32 to 8×8×32
    with pytest.raises(ReductionError, match="Layer hidden: global average pooling"):
        service.representation(ref, digits, "test", "hidden", "function", reduction="gap")


def test_size_checks_count_the_reduced_units(wide, monkeypatch):
    monkeypatch.setenv("FEATLIB_LIMIT_EXTRACT_MB", "100")
    flat = reductions.for_layer(wide, "conv", "flatten")
    pooled = reductions.for_layer(wide, "conv", "gap")
    common = dict(split="test", layer="conv", method="function", input_scale="0-1", model_fp="fp")
    with pytest.raises(
        jobs.JobLimitError,
        match=r"results of 100 MiB on this server; this one would hold 825 MiB\. "
        r"Pick a smaller layer .*global average or max pooling",
    ):
        jobs.specs.extract_spec("rep/k", 10_000, flat.units, **common)
    spec = jobs.specs.extract_spec("rep/k/reduction=gap", 10_000, pooled.units, **common, reduction=pooled.reduction)
    assert spec.params["reduction"] == "gap" and "global average pooling" in spec.title
    assert "reduction" not in jobs.specs.extract_spec("rep/k", 10, flat.units, **common).params  # as before
    assert layers.total_units(wide, reduction="flatten") < layers.total_units(wide)  # wide layers are skipped when flat
    assert (
        layers.total_units(wide) == 784 + 2048 + 2048 + 1600 + 32 + 10
    )  # inputs, conv, pool, conv_1 pooled to grids; flat (9,216) skipped
    monkeypatch.setenv("FEATLIB_LIMIT_EXTRACT_ALL_MB", "1")
    with pytest.raises(jobs.JobLimitError):
        jobs.specs.layer_set_spec(
            "k", 10_000, layers.total_units(wide), model_fp="fp", split="test", input_scale="0-1", sample_size=None
        )


def test_the_layer_table_shows_shapes_before_and_after_and_mib(wide):
    rows = {row.name: row for row in reductions.layer_table(wide, "auto", 10_000)}
    conv = rows["conv"]
    assert (conv.output_shape, conv.reduction, conv.representation_shape) == (
        "26×26×32",
        "grid average pooling 8×8",
        "2048",
    )
    assert conv.mib == pytest.approx(78.125)
    assert (rows["hidden"].output_shape, rows["hidden"].reduction, rows["hidden"].representation_shape) == (
        "32",
        "flatten",
        "32",
    )
    flat = {row.name: row for row in reductions.layer_table(wide, "flatten", 10_000)}
    assert flat["conv"].representation_shape == "21632" and flat["conv"].mib == pytest.approx(825.2, abs=0.1)
    assert {row.name: row.reduction for row in reductions.layer_table(wide, "gmp", 100)}["hidden"] == "flatten"


# ----------------------------------------------------------------------------- every layer, maps, figures


def test_the_layer_set_reads_spatial_layers_reduced_instead_of_leaving_them_out(wide, digits):
    ls = layers.layer_set(wide, "fp", digits, "test", sample_size=200)
    assert ls.names == [layers.INPUT, "conv", "pool", "conv_1", "hidden", "out"]
    assert ls.skipped == {"flat": 9_216}  # a Flatten has no spatial axes to pool
    assert [ls.reps[name].shape[1] for name in ("conv", "pool", "conv_1")] == [2048, 2048, 1600]
    assert ls.describe("conv") == "conv (grid average pooling 8×8, 2,048 of 26×26×32)"
    assert ls.describe("hidden") == "hidden"
    x = models.adapt_images(digits.x_test[ls.indices], wide)
    np.testing.assert_allclose(ls.reps["conv_1"], NUMPY["grid"](full_output(wide, "conv_1", x)), atol=1e-5)
    # auto read these layers by global pooling before it pooled to a grid: its key says so, unlike an MLP's
    assert ls.key.endswith("/seed=0/reduction=auto-grid")
    flat = layers.layer_set(wide, "fp", digits, "test", sample_size=200, reduction="flatten")
    assert set(flat.skipped) == {"conv", "pool", "conv_1", "flat"}
    assert flat.key == ls.key.removesuffix("auto-grid") + "flatten"
    gmp = layers.layer_set(wide, "fp", digits, "test", sample_size=200, reduction="gmp")
    assert gmp.reduction("pool") == "gmp" and gmp.key != ls.key
    rows = layers.metrics_table(gmp)
    assert {row["layer"]: row["reduction"] for row in rows}["conv"] == "gmp"


def test_umap_and_metrics_run_on_a_conv_layers_reduced_representation(cnn, digits, tmp_path):
    ws = Workspace(tmp_path / "ws")
    service = Service(ws, InlineRunner())
    outputs, key = service.representation(
        ModelRef.of_model(cnn), digits, "train", "conv_1", "function", reduction="gap"
    )
    assert outputs.shape == (1437, 16)
    emb = service.embedding(outputs, key, digits.y_train, sample_size=400, params=embed.UMAPParams(n_epochs=50))
    assert emb.coords.shape == (400, 2) and emb.key.startswith(f"emb/{key}/")
    assert ws.get_item("embedding", emb.key).provenance["parameters"]["reduction"] == "gap"
    scores = metrics.layer_metrics(outputs[emb.indices], digits.y_train[emb.indices], emb.coords, sample_size=None)
    assert scores["knn_acc"] > 0.5 and scores["knn_acc_2d"] > 0.3  # ten classes: chance is 0.1
    ls = layers.layer_set(cnn, "fp", digits, sample_size=300, reduction="gap")
    coords = service.layer_maps(ls, embed.PCAParams())
    assert coords["conv"].shape == (300, 2)
    by_layer = {row["layer"]: row for row in layers.metrics_table(ls, coords)}
    assert by_layer["conv_1"]["units"] == 16 and by_layer["conv_1"]["knn_acc"] > 0.3


def test_cli_extract_reads_a_saved_cnn_by_global_max_pooling(cnn, digits, tmp_path):
    ws = Workspace(tmp_path / "ws")
    models.save_model(ws, cnn, "cnn", dataset="digits")
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, FEATLIB_WORKSPACE=str(ws.root), PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="2")

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "featlib", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )

    proc = cli("extract", "cnn", "--layer", "conv_1", "--reduction", "gmp", "--dataset", "digits", "--out", "gmp.npy")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "conv_1 (global max pooling, 16 of 2×2×16)" in proc.stderr
    out = np.load(tmp_path / "gmp.npy")
    assert out.shape == (1437, 16) and out.dtype == np.float32
    x = models.adapt_images(digits.x_train, cnn)
    np.testing.assert_allclose(out, NUMPY["gmp"](full_output(cnn, "conv_1", x)), atol=1e-5)
    key = pipeline.representation_key(
        models.fingerprint(cnn), digits.fingerprint, "train", "conv_1", "function", "0-1", "gmp"
    )
    assert np.array_equal(Workspace(ws.root).load_array("representation", key), out)
    proc = cli("extract", "cnn", "--layer", "hidden", "--reduction", "gap", "--dataset", "digits", "--out", "no.npy")
    assert proc.returncode == 2 and "global average pooling (gap) needs a layer with spatial axes" in proc.stderr
    assert not (tmp_path / "no.npy").exists()


# ----------------------------------------------------------------------------- the pages


def test_the_pages_pick_carry_and_name_a_conv_layers_reduction(app, cnn, tmp_path):
    from app_testing import no_exception, page_path

    record = models.save_model(Workspace(tmp_path / "ws"), cnn, "cnn", dataset="digits", test_accuracy=0.9)
    at = no_exception(app.run())
    at.session_state["featlib.model_id"] = record.id
    at.session_state["featlib.layer"] = "conv_1"
    at = no_exception(at.switch_page(page_path("representations")).run())
    picker = at.radio(key="reduction_picker")
    assert picker.value == "auto" and picker.options == [
        "auto (flatten)",
        "flatten",
        "grid average pooling",
        "global average pooling",
        "global max pooling",
    ]
    table = at.dataframe[0].value.set_index("name")
    assert list(table.columns[:6]) == ["type", "activation", "output shape", "reduction", "representation", "MiB"]
    assert tuple(table.loc["conv_1", ["output shape", "reduction", "representation"]]) == ("2×2×16", "flatten", "64")
    assert table.loc["conv_1", "MiB"] == pytest.approx(1437 * 64 * 4 / 2**20)

    picker.set_value("global max pooling")
    at = no_exception(at.run())
    table = at.dataframe[0].value.set_index("name")
    assert tuple(table.loc["conv", ["reduction", "representation"]]) == ("global max pooling", "8")
    assert tuple(table.loc["hidden", ["reduction", "representation"]]) == ("flatten", "32")  # no spatial axes
    next(b for b in at.button if b.label.startswith("Compute conv_1 (global max pooling, 16 of 2×2×16)")).click()
    at = no_exception(at.run())
    assert any("1,437 × 16 outputs" in s.value and "global max pooling" in s.value for s in at.success)
    next(b for b in at.button if b.label == "Check both methods").click()
    at = no_exception(at.run())
    assert [m.value for m in at.metric if m.label == "verdict"] == ["agree"]

    at.session_state["map_reducer"] = "pca"
    at = no_exception(at.switch_page(page_path("explore")).run())
    query = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert (query["layer"], query["reduction"]) == ("conv_1", "gmp")
    assert any("global max pooling, 16 of 2×2×16" in c.value for c in at.caption)
    maps = [item.id for item in Workspace(tmp_path / "ws").items() if item.kind == "embedding"]
    assert len(maps) == 1 and "/conv_1/function/0-1/reduction=gmp/sample=" in maps[0]

    at.session_state["layers_sample"] = 300
    at = no_exception(at.switch_page(page_path("layers")).run())
    figures = at.dataframe[0].value
    assert figures.loc["conv", "reduction"] == "gmp" and figures.loc["conv", "units"] == 8
    assert any("read by the reduction global max pooling" in c.value for c in at.caption)
