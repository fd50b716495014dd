"""Every CLI command on datasets of 1, 2, 6, 8, 30 and 100 images, and of one image per class.

Each dataset is a real ``.npz`` file (both splits of ``n`` images, 8×8) and, from 2 images on, an
upload in the workspace (so that views can be exported); the commands run in-process through
:func:`featlib.cli.main`. The property, for every command and size: it works, or it exits non-zero
with featlib's ``error:`` line; never a traceback, never ``nan`` printed as a score, never a
scikit-learn / umap-learn warning. Where a rule decides, the message is pinned.

Also here: the library's side of the same rules (:func:`featlib.maps.embed.min_points`, the reducers'
refusals, :class:`featlib.metrics.NotAvailable`).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from featlib import metrics
from featlib.maps import embed

SIDE = 8
SIZES = {
    "n1": (1, 1),
    "n2": (2, 2),
    "n6": (6, 3),
    "n8": (8, 3),
    "n30": (30, 10),
    "n100": (100, 10),
    "one_per_class": (10, 10),
}
"""Dataset name -> (images per split, classes); labels cycle through the classes."""
NAN = re.compile(r"\bnan\b")  # how Python prints a NaN float


@dataclass
class Run:
    args: tuple[str, ...]
    rc: int
    out: str
    err: str
    warned: list[str]

    def __str__(self) -> str:
        return f"{' '.join(self.args)} -> {self.rc}\nstdout:\n{self.out[-3000:]}\nstderr:\n{self.err[-3000:]}\nwarnings: {self.warned}"


def cli(workspace: Path, *args: str) -> Run:
    """``python -m featlib --workspace W ARGS`` in this process; checks what must hold for every run."""
    from featlib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # third-party internals, not shown to users
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
        try:
            rc = main(["--workspace", str(workspace), *args])
        except SystemExit as exit_:  # argparse
            rc = exit_.code
    run = Run(args, rc, out.getvalue(), err.getvalue(), [f"{w.category.__name__}: {w.message}" for w in caught])
    assert "Traceback" not in run.err and "Traceback" not in run.out, str(run)
    assert not run.warned, str(run)
    assert not NAN.search(run.out), f"nan printed as a score:\n{run}"
    if run.rc != 0:
        assert "error: " in run.err or "failed: " in run.out, str(run)
    return run


def works(run: Run) -> Run:
    assert run.rc == 0, str(run)
    return run


def refused(run: Run, message: str) -> Run:
    assert run.rc != 0 and re.search(message, run.err + run.out), f"expected a refusal matching {message!r}:\n{run}"
    return run


def make_npz(folder: Path, name: str, n: int, classes: int) -> Path:
    rng = np.random.default_rng(n)
    arrays = {}
    for split in ("train", "test"):
        y = np.arange(n) % classes
        centres = rng.integers(0, 256, (classes, SIDE, SIDE))
        noise = rng.integers(-30, 31, (n, SIDE, SIDE))
        arrays[f"x_{split}"] = np.clip(centres[y] + noise, 0, 255).astype("uint8")
        arrays[f"y_{split}"] = y
    path = folder / f"{name}.npz"
    np.savez(path, **arrays)
    return path


@dataclass
class Small:
    name: str
    n: int
    classes: int
    npz: Path
    spec: str  # what --dataset gets: the workspace upload's fingerprint, or the .npz path when none
    workspace: Path
    model_file: Path
    folder: Path

    def run(self, *args: str) -> Run:
        return cli(self.workspace, *args)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("small")


@pytest.fixture(scope="module", params=list(SIZES))
def small(request, folder) -> Small:
    from featlib import models
    from featlib.datasets import DatasetError, load_npz
    from featlib.store import Workspace

    n, classes = SIZES[request.param]
    here = folder / request.param
    here.mkdir()
    npz = make_npz(here, request.param, n, classes)
    workspace = here / "ws"
    spec = str(npz)
    try:
        spec = Workspace(workspace).save_dataset(load_npz(npz, name=request.param))
    except DatasetError:  # one image: not a dataset at all; every command must say so
        pass
    model_file = here / "mlp.keras"
    models.build_mlp((SIDE * SIDE,), hidden=(8,), num_classes=max(classes, 2), seed=0).save(model_file)
    return Small(request.param, n, classes, npz, spec, workspace, model_file, here)


@pytest.fixture(scope="module")
def trained(small) -> Run:
    return small.run("train", "--dataset", small.spec, "--name", "m", "--epochs", "2", "--hidden", "8")


def test_train_layers_add_ls(small, trained):
    if small.n == 1:
        refused(trained, "needs at least 2 classes")
        refused(
            small.run("add", str(small.model_file), "--name", "a", "--dataset", small.spec), "needs at least 2 classes"
        )
        works(small.run("ls"))
        return
    assert re.search(r"test accuracy \d\.\d{4}", works(trained).out)
    assert "dense_1" in works(small.run("layers", "m")).out
    added = works(small.run("add", str(small.model_file), "--name", "a", "--dataset", small.spec))
    assert re.search(rf"accuracy \d\.\d{{4}} on .*{small.n}", added.out), added.out
    listed = json.loads(works(small.run("ls", "--json")).out)
    assert {item["name"] for item in listed["items"] if item["kind"] == "model"} >= {"m", "a"}
    works(small.run("ls"))


def test_extract_by_both_methods(small, trained):
    for method in ("function", "submodel"):
        run = small.run(
            "extract",
            "m",
            "--layer",
            "dense_1",
            "--method",
            method,
            "--dataset",
            small.spec,
            "--out",
            str(small.folder / f"{method}.npy"),
        )
        if small.n == 1:
            refused(run, "needs at least 2 classes")
            continue
        works(run)
        assert np.load(small.folder / f"{method}.npy").shape == (small.n, small.classes)


def test_embed_follows_umaps_rule(small, trained):
    out = str(small.folder / "emb.csv")
    default = small.run("embed", "m", "--layer", "dense_1", "--dataset", small.spec, "--out", out, "--n-epochs", "20")
    few = small.run(
        "embed",
        "m",
        "--layer",
        "dense_1",
        "--dataset",
        small.spec,
        "--out",
        out,
        "--n-epochs",
        "20",
        "--n-neighbors",
        "2",
    )
    if small.n == 1:
        refused(default, "needs at least 2 classes")
        return
    if small.n < 16:
        refused(
            default,
            rf"UMAP needs at least 16 points for n_neighbors=15 .*; got {small.n}\. The fix: "
            rf"(lower n_neighbors to {small.n - 1} or fewer|map at least 4 points)",
        )
    else:
        works(default)
    if small.n < 4:
        refused(few, rf"UMAP needs at least 4 points for n_neighbors=2 .*; got {small.n}")
    else:
        assert works(few).out.startswith(f"wrote {out}: {small.n} points")


def test_metrics_print_na_not_nan(small, trained):
    plain = small.run("metrics", "m", "--dataset", small.spec)
    mapped = small.run("metrics", "m", "--dataset", small.spec, "--umap", "--json")
    if small.n == 1:
        refused(plain, "needs at least 2 classes")
        return
    works(plain)
    rows = json.loads(works(mapped).out)["layers"]
    assert [row["layer"] for row in rows] == ["dense", "activation", "dense_1", "activation_1"]
    for row in rows:
        for figure in ("knn_acc", "probe_acc", "silhouette", "knn_acc_2d", "trustworthiness"):
            value = row[figure]
            assert (value is None) == (figure in row["n/a"]), row
            assert value is None or 0 <= value <= 1 or figure == "silhouette" and -1 <= value <= 1, row
    per_class = small.n // small.classes
    first = rows[0]
    if per_class < 2:  # a class of one point cannot be cross-validated
        assert first["knn_acc"] is None and "needs at least 2 points per class" in first["n/a"]["knn_acc"]
        assert re.search(r"n/a: knn_acc, probe_acc.* \(every layer\): needs at least 2 points per class", plain.out)
    else:
        assert first["knn_acc"] is not None and first["probe_acc"] is not None
    if small.n < 4:
        assert "UMAP needs at least" in first["n/a"]["trustworthiness"]
    if small.n < 3 or small.classes >= small.n:
        assert first["silhouette"] is None
    if 4 <= small.n < 21:
        assert re.search(
            r"note: .*trustworthiness \(every layer\): used k = \d, not 10 neighbours",
            works(small.run("metrics", "m", "--dataset", small.spec, "--umap")).out,
        )


def test_precompute(small, trained):
    pca = small.run(
        "precompute",
        "m",
        "--dataset",
        small.spec,
        "--scheduler",
        "inline",
        "--layers",
        "dense_1",
        "--methods",
        "function",
        "--reducers",
        "pca",
    )
    both = small.run(
        "precompute",
        "m",
        "--dataset",
        small.spec,
        "--scheduler",
        "inline",
        "--layers",
        "dense_1",
        "--methods",
        "function",
    )
    if small.n == 1:
        refused(pca, "needs at least 2 classes")
        return
    assert "0 failed" in works(pca).out
    if small.n < 16:
        refused(
            both,
            rf"UMAP needs at least 16 points .*got {small.n}\. .*With --reducers, choose among those that "
            rf"can map {small.n} points with their defaults: pca",
        )
    else:
        assert "0 failed" in works(both).out


def test_export_import(small, trained, tmp_path):
    if small.n < 4:
        return  # no map to export (UMAP refuses; see test_embed_follows_umaps_rule)
    out = str(small.folder / "emb.csv")
    works(
        small.run(
            "embed",
            "m",
            "--layer",
            "dense_1",
            "--dataset",
            small.spec,
            "--out",
            out,
            "--n-epochs",
            "20",
            "--n-neighbors",
            "2",
        )
    )
    link = f"model=m&dataset=upload:{small.spec}&layer=dense_1&sample=10000&n_neighbors=2&n_epochs=20"
    bundle = str(small.folder / "view.zip")
    works(small.run("export", link, "--out", bundle))
    imported = cli(tmp_path / "other", "import", bundle)
    assert imported.rc == 0 or "error: " in imported.err, str(imported)
    works(cli(tmp_path / "other", "ls"))


def test_bench_refuses_too_few_points(small):
    if 2 * small.n >= embed.min_points("umap"):  # bench reads both splits
        pytest.skip("bench on enough points runs UMAP in fresh processes for minutes; here only its refusal is tested")
    run = small.run("bench", "--dataset", small.spec if small.n > 1 else str(small.npz), "--no-browser")
    refused(
        run,
        "needs at least 2 classes"
        if small.n == 1
        else rf"bench maps its points with UMAP's defaults, which need at least 16 points; got {2 * small.n}",
    )


def test_one_image_idx_pair_is_refused_with_featlibs_message(tmp_path):
    import struct

    x = np.zeros((1, SIDE, SIDE), "uint8")
    images, labels = tmp_path / "t10k-images-idx3-ubyte", tmp_path / "t10k-labels-idx1-ubyte"
    images.write_bytes(struct.pack(">BBBB3I", 0, 0, 8, 3, 1, SIDE, SIDE) + x.tobytes())
    labels.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 1) + b"\x00")
    refused(
        cli(tmp_path / "ws", "extract", "m", "--layer", "dense", "--dataset", str(images), "--out", "x.npy"),
        "needs at least 2 classes",
    )


# ----------------------------------------------------------------------------- the library's rules


@pytest.mark.parametrize(
    "reducer, params, need",
    [
        ("pca", None, 2),
        ("umap", None, 16),
        ("umap", embed.UMAPParams(n_neighbors=2), 4),
        ("umap", embed.UMAPParams(n_neighbors=5), 6),
        ("tsne", None, 91),
        ("tsne", embed.TSNEParams(perplexity=2), 7),
        ("tsne", embed.TSNEParams(perplexity=2.5), 8),
    ],
)
def test_min_points_per_reducer(reducer, params, need):
    assert embed.min_points(reducer, params) == need
    if params is not None:
        assert embed.min_points(params) == need
    assert embed.MIN_POINTS[reducer] <= need


def test_widget_bounds_follow_the_points():
    assert [embed.max_n_neighbors(n) for n in (3, 4, 8, 1000)] == [None, 3, 7, embed.MAX_N_NEIGHBORS]
    assert embed.max_perplexity(6) is None and embed.max_perplexity(7) == 2.0 and embed.max_perplexity(10_000) == 100
    for n in (4, 8, 30):  # the bounds are within what the reducers take
        assert embed.min_points(embed.UMAPParams(n_neighbors=embed.max_n_neighbors(n))) <= n
    for n in (7, 8, 30, 100):
        assert embed.min_points(embed.TSNEParams(perplexity=embed.max_perplexity(n))) <= n


@pytest.mark.parametrize("n", [1, 2, 3, 4, 6, 7, 8])
@pytest.mark.parametrize(
    "params", [embed.PCAParams(), embed.UMAPParams(n_neighbors=2, n_epochs=10), embed.TSNEParams(perplexity=2)]
)
def test_reducers_map_or_refuse_with_featlibs_rule(n, params):
    x = np.random.default_rng(n).normal(size=(n, 3)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if n < embed.min_points(params):
            with pytest.raises(
                embed.ReducerError, match=rf"needs at least {embed.min_points(params)} points .*got {n}"
            ):
                embed.reduce(x, params)
        else:
            coords = embed.reduce(x, params)
            assert coords.shape == (n, 2) and np.isfinite(coords).all()


@pytest.mark.parametrize(
    "params", [embed.PCAParams(), embed.TSNEParams(perplexity=2), embed.UMAPParams(n_neighbors=3, n_epochs=10)]
)
@pytest.mark.parametrize(
    "x",
    [np.zeros((12, 3)), np.zeros((12, 1)), np.ones((12, 1)) * np.arange(12)[:, None]],
    ids=["constant", "one-unit constant", "one unit"],
)
def test_degenerate_representations_map_without_crashing(params, x):
    """A dead layer's zeros crashed scikit-learn's t-SNE (SIGSEGV) from its PCA start; a one-unit layer broke PCA."""
    coords = embed.reduce(x.astype("float32"), params)
    assert coords.shape == (12, 2) and np.isfinite(coords).all()


def test_reducer_parameters_are_bounded():
    for bad, message in [
        ({"random_state": -1}, r"random_state must be within \[0, 2147483647\]; got -1"),
        ({"n_neighbors": 100_000}, "n_neighbors must be at most 200; got 100000"),
        ({"n_epochs": 10**9}, "n_epochs must be at least 1 and at most 5,000"),
        ({"n_neighbors": 2.5}, "n_neighbors must be a whole number; got 2.5"),
    ]:
        with pytest.raises(ValueError, match=message):
            embed.UMAPParams(**bad)
    with pytest.raises(ValueError, match="random_state must be within"):
        embed.TSNEParams(random_state=2**40)


@pytest.mark.parametrize("n, classes", [(1, 1), (2, 2), (3, 2), (6, 3), (8, 3), (10, 10), (30, 10), (100, 10)])
def test_layer_metrics_are_numbers_or_say_why(n, classes):
    rng = np.random.default_rng(n)
    labels = np.arange(n) % classes
    reps = rng.normal(size=(n, 5)) + labels[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = metrics.layer_metrics(reps, labels, rng.normal(size=(n, 2)))
    for key in ("knn_acc", "probe_acc", "silhouette", "knn_acc_2d", "trustworthiness"):
        value = result[key]
        if isinstance(value, metrics.NotAvailable):
            assert str(value).startswith("n/a — needs") and f"{value:.3f}" == str(value)
            assert metrics.as_float(value) is None and metrics.format_score(value) == str(value)
        else:
            assert np.isfinite(value) and metrics.format_score(value) == f"{value:.3f}"
    cv_possible = n // classes >= 2
    assert metrics.is_available(result["knn_acc"]) == cv_possible == metrics.is_available(result["probe_acc"])
    assert metrics.is_available(result["trustworthiness"]) == (n >= 3)
    assert metrics.is_available(result["silhouette"]) == (2 <= classes < n)
    if cv_possible and n < 30:
        assert "knn_acc" in result["notes"] and result["notes"]["knn_acc"].startswith("k = ")
    if 3 <= n < 21:
        assert result["notes"]["trustworthiness"].startswith(f"k = {(n - 1) // 2}, not 10 neighbours")


def test_metrics_name_the_non_finite_values():
    labels = np.arange(40) % 4
    reps = np.random.default_rng(0).normal(size=(40, 3))
    reps[2, 1] = np.nan
    result = metrics.layer_metrics(reps, labels)
    assert str(result["knn_acc"]) == (
        "n/a — the representation holds 1 non-finite value (NaN or inf) of 120; expected finite values"
    )
    assert np.isnan(metrics.linear_cka(reps, reps)) and metrics.format_score(float("nan")) == "n/a"
