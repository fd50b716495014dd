"""Tests for ``featlib`` commands on a tmp workspace.

Most commands run in this process through :func:`featlib.cli.main` (:meth:`CliEnv.run`), in the CLI's own
folder with its environment, as a shell would run ``featlib ARGS`` less the interpreter's start (TensorFlow's
import alone takes ~5 CPU s a process); what only a fresh interpreter shows runs in one: the ``python -m
featlib`` entry and ``--help`` (:meth:`CliEnv.run_process`), the light core import and the checks made before
Keras is imported (:func:`watched`). tests/test_package.py runs the installed command.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_testing import run_command

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("train", "layers", "add", "extract", "embed", "export", "import", "ls")


@dataclass
class CliEnv:
    cwd: Path
    workspace: Path
    env: dict

    def run(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        """``featlib ARGS`` in this process: in ``cwd``, with ``env``'s variables, its output captured.

        ``timeout`` is not enforced here (kept for :meth:`run_process`'s signature); pytest's own timeout
        and the commands' job limits apply.
        """
        return run_command(list(args), self.cwd, self.env)

    def run_process(self, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
        """``python -m featlib ARGS`` in a fresh interpreter."""
        return subprocess.run(
            [sys.executable, "-m", "featlib", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nstdout:\n{proc.stdout[-2000:]}\nstderr:\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> CliEnv:
    cwd = tmp_path_factory.mktemp("cli")
    workspace = cwd / "ws"
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, FEATLIB_WORKSPACE=str(workspace), PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="2")
    return CliEnv(cwd, workspace, env)


@pytest.fixture(scope="module")
def session(cli):
    """Runs the documented sequence once; later tests inspect the results."""
    runs = {
        "train": cli.run("train", "--dataset", "digits", "--epochs", "2", "--name", "demo"),
        "layers": cli.run("layers", "demo"),
        "extract_f": cli.run(
            "extract",
            "demo",
            "--layer",
            "dense_1",
            "--method",
            "function",
            "--dataset",
            "digits",
            "--out",
            "reps_f.npy",
        ),
        "extract_s": cli.run(
            "extract",
            "demo",
            "--layer",
            "dense_1",
            "--method",
            "submodel",
            "--dataset",
            "digits",
            "--out",
            "reps_s.npy",
        ),
        "embed": cli.run(
            "embed", "demo", "--layer", "dense_1", "--dataset", "digits", "--out", "emb.csv", "--n-epochs", "50"
        ),
    }
    return runs


def test_sequence_succeeds_and_writes_files(cli, session):
    for proc in session.values():
        ok(proc)
    for name in ("reps_f.npy", "reps_s.npy", "emb.csv"):
        assert (cli.cwd / name).is_file(), name
    assert (cli.workspace / "index.sqlite").is_file()
    assert not (cli.cwd / "workspace").exists()  # FEATLIB_WORKSPACE was used, not ./workspace


def test_train_reports_and_saves_model(cli, session):
    proc = ok(session["train"])
    assert proc.stdout.startswith("saved demo (64-128-64-10 (Sequential, 17,226 params)): test accuracy ")
    assert "epoch 1/2" in proc.stderr and "epoch 2/2" in proc.stderr
    from featlib.models import fingerprint
    from featlib.store import Workspace

    ws = Workspace(cli.workspace)
    record = ws.get_model("demo")
    assert record.dataset == "digits" and 0.0 <= record.test_accuracy <= 1.0
    assert f"test accuracy {record.test_accuracy:.4f}" in proc.stdout
    assert record.meta["epochs"] == 2 and len(record.meta["history"]["loss"]) == 2
    # The fingerprint computed in the CLI process matches this process's.
    assert fingerprint(ws.load_model(record)) == record.fingerprint


def test_layers_lists_table_with_default(session):
    lines = ok(session["layers"]).stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "name", "type"]
    names = [line.split()[1] for line in lines[1:]]
    assert names == ["dense", "activation", "dense_1", "activation_1", "dense_2", "activation_2"]
    marked = [line for line in lines[1:] if line.endswith("<- default")]
    assert len(marked) == 1 and marked[0].split()[1] == "dense_1"
    assert "(None, 64)" in marked[0] and "8,256" in marked[0]


def test_extract_both_methods_agree(cli, session):
    reps_f = np.load(cli.cwd / "reps_f.npy", allow_pickle=False)
    reps_s = np.load(cli.cwd / "reps_s.npy", allow_pickle=False)
    assert reps_f.shape == reps_s.shape == (1437, 64)
    assert reps_f.dtype == reps_s.dtype == np.float32
    np.testing.assert_allclose(reps_f, reps_s, rtol=0, atol=1e-5)
    assert np.all(np.isfinite(reps_f)) and reps_f.std() > 0
    assert "wrote reps_f.npy: 1437 rows × 64 columns" in ok(session["extract_f"]).stdout
    assert "dense_1 by backend function" in session["extract_f"].stderr
    assert "dense_1 by functional sub-model" in session["extract_s"].stderr


def test_extract_matches_library_on_saved_model(cli, session, digits):
    from featlib import models
    from featlib.read import extract
    from featlib.store import Workspace

    model = Workspace(cli.workspace).load_model("demo")
    x = models.adapt_images(digits.x_train, model)
    expected = extract.extract(model, "dense_1", x)
    np.testing.assert_allclose(np.load(cli.cwd / "reps_f.npy"), expected, rtol=0, atol=1e-5)


def test_embed_csv_has_labels_at_indices(cli, session, digits):
    assert "wrote emb.csv: 1437 points" in ok(session["embed"]).stdout
    with open(cli.cwd / "emb.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert header == ["index", "x", "y", "label", "predicted"]
    assert {"x", "y", "label"} <= set(header)
    assert len(body) == 1437
    index = np.array([int(r[0]) for r in body])
    coords = np.array([[float(r[1]), float(r[2])] for r in body])
    labels = np.array([int(r[3]) for r in body])
    predicted = np.array([int(r[4]) for r in body])
    assert np.array_equal(np.sort(index), np.arange(1437))
    assert np.array_equal(labels, digits.y_train[index])
    assert np.all(np.isfinite(coords)) and coords.std(axis=0).min() > 0
    assert set(predicted) <= set(range(10))


def test_embed_is_cached_in_workspace(cli, session):
    from featlib.store import Workspace

    usage = Workspace(cli.workspace).usage()
    assert usage["models"] == 1
    assert usage["representations"] == 2  # function and submodel; embed reused the function one
    assert usage["embeddings"] == 1


def test_core_import_is_light(cli):
    code = (
        "import sys, featlib.cli, featlib.pipeline; "
        "print(sorted(m for m in ('streamlit', 'keras', 'tensorflow', 'umap', 'sklearn') if m in sys.modules))"
    )
    proc = ok(subprocess.run([sys.executable, "-c", code], cwd=cli.cwd, env=cli.env, capture_output=True, text=True))
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_for_every_command(cli, command):
    args = ["--help"] if command is None else [command, "--help"]
    proc = ok(cli.run_process(*args))
    assert proc.stdout.startswith("usage: python -m featlib")
    if command is None:
        for name in COMMANDS:
            assert name in proc.stdout
    else:
        assert command in proc.stdout.splitlines()[0]


def fails(proc: subprocess.CompletedProcess, message: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stderr, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_unknown_layer_fails_cleanly(cli, session):
    proc = cli.run("extract", "demo", "--layer", "dense_9", "--out", "x.npy")
    fails(proc, "error: No such layer: dense_9")
    assert proc.returncode == 2
    assert not (cli.cwd / "x.npy").exists()


def test_unknown_model_fails_cleanly(cli, session):
    fails(cli.run("layers", "nomodel"), "error: No such model: nomodel. The workspace holds: ['demo']")
    fails(cli.run("embed", "nomodel", "--layer", "dense_1", "--out", "y.csv"), "No such model: nomodel")


def test_unknown_dataset_name_fails_cleanly(cli, session):
    proc = cli.run("train", "--dataset", "cifar", "--name", "x")
    fails(proc, "error: Unknown dataset: 'cifar'. Use one of ['digits', 'mnist', 'fashion_mnist']")


def test_missing_npz_fails_cleanly(cli, session):
    proc = cli.run("extract", "demo", "--layer", "dense_1", "--dataset", "missing.npz", "--out", "z.npy")
    fails(proc, "error: No such file: 'missing.npz'")


def test_bad_arguments_fail_with_usage(cli):
    fails(
        cli.run("extract", "demo", "--layer", "dense_1", "--method", "magic", "--out", "a.npy"),
        "invalid choice: 'magic'",
    )
    fails(cli.run("train", "--epochs", "2"), "the following arguments are required: --name")
    fails(cli.run(), "the following arguments are required: COMMAND")


# ----------------------------------------------------------------------------- sharing: export, import, ls

EMBED_LINK = "http://localhost:8501/explore?model=demo&dataset=digits&layer=dense_1&sample=10000&n_epochs=50"


def test_export_then_import_into_an_empty_workspace(cli, session, tmp_path):
    import json
    import zipfile

    from featlib.store import Workspace

    ok(session["embed"])
    proc = ok(cli.run("export", EMBED_LINK, "--out", str(tmp_path / "view.zip"), "--by", "alice"))
    assert proc.stdout.startswith(f"wrote {tmp_path / 'view.zip'}: ")
    with zipfile.ZipFile(tmp_path / "view.zip") as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["exported_by"] == "alice" and manifest["embedding"]["points"] == 1437
    other = tmp_path / "other-ws"
    proc = ok(cli.run("--workspace", str(other), "import", str(tmp_path / "view.zip"), "--by", "bob"))
    assert proc.stdout.startswith("imported demo (id ") and "explore?model=" in proc.stdout
    source, target = Workspace(cli.workspace), Workspace(other)
    [emb] = [i for i in source.items() if i.kind == "embedding"]
    [imported] = [i for i in target.items() if i.kind == "embedding"]
    assert imported.id == emb.id
    assert np.array_equal(target.load_array("embedding", emb.id), source.load_array("embedding", emb.id))
    assert target.get_model("demo").fingerprint == source.get_model("demo").fingerprint

    listing = ok(cli.run("--workspace", str(other), "ls")).stdout.splitlines()
    assert listing[0].split()[:3] == ["kind", "name", "by"]
    assert any(line.split()[:2] == ["model", "demo"] for line in listing)
    assert listing[-1].startswith("2 item(s); the workspace ")
    items = json.loads(ok(cli.run("--workspace", str(other), "ls", "--json")).stdout)["items"]
    assert {i["kind"] for i in items} == {"model", "embedding"}
    assert (
        next(i for i in items if i["kind"] == "model")["provenance"]["model_fingerprint"]
        == target.get_model("demo").fingerprint
    )


def test_import_of_a_bad_bundle_fails_cleanly(cli, tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    fails(
        cli.run("--workspace", str(tmp_path / "ws"), "import", str(tmp_path / "bad.zip")),
        "error: bad.zip is not a zip archive",
    )
    fails(cli.run("export", "model=demo", "--out", "x.zip"), "error: The link lacks dataset, layer")


def test_precompute_fills_the_workspace_on_a_local_cluster(cli, session):
    """Every layer x method representation and each reducer's map, as jobs on a real LocalCluster."""
    from featlib import pipeline
    from featlib.maps import embed
    from featlib.store import Workspace

    ok(session["train"])
    proc = ok(
        cli.run(
            "precompute",
            "demo",
            "--dataset",
            "digits",
            "--layers",
            "dense,dense_1",
            "--methods",
            "function,submodel",
            "--reducers",
            "pca,umap",
            "--sample",
            "500",
            timeout=600,
        )
    )
    assert "failed" not in proc.stdout.split("precomputed")[0]
    ws = Workspace(cli.workspace)
    record = ws.get_model("demo")
    from featlib.datasets import load_digits

    data_fp = load_digits().fingerprint
    for layer in ("dense", "dense_1"):
        for method in ("function", "submodel"):
            rep_key = pipeline.representation_key(record.fingerprint, data_fp, "train", layer, method, "0-1")
            assert ws.load_array("representation", rep_key) is not None, rep_key
            for params in (embed.PCAParams(), embed.UMAPParams()):
                emb = pipeline.load_embedding(ws, pipeline.embedding_key(rep_key, 500, 0, params))
                assert emb is not None and emb.coords.shape == (500, 2), (rep_key, params)
    jobs = ws.jobs.list()
    assert {j.kind for j in jobs} >= {"extract", "reduce"} and all(j.status == "done" for j in jobs)
    again = ok(
        cli.run(
            "precompute",
            "demo",
            "--dataset",
            "digits",
            "--layers",
            "dense,dense_1",
            "--reducers",
            "pca,umap",
            "--sample",
            "500",
            timeout=600,
        )
    )
    assert "precomputed 0 result(s), 12 already in the workspace, 0 failed" in again.stdout


def test_precompute_refuses_bad_choices_before_any_job(cli, session):
    ok(session["train"])
    proc = cli.run("precompute", "demo", "--reducers", "umap,tsnee", "--scheduler", "inline")
    assert proc.returncode == 2
    assert "--reducers takes a comma-separated list of ['pca', 'tsne', 'umap']; got 'umap,tsnee'" in proc.stderr
    limited = CliEnv(cli.cwd, cli.workspace, dict(cli.env, FEATLIB_LIMIT_REDUCE_TSNE_POINTS="500"))
    proc = limited.run(
        "precompute", "demo", "--reducers", "tsne", "--sample", "1000", "--dataset", "digits", "--scheduler", "inline"
    )
    assert proc.returncode == 2
    assert "A t-SNE map is limited to 500 points on this server; this one asks for 1,000." in proc.stderr
    assert "precomputed" not in proc.stdout


def test_precompute_in_process_computes_what_is_missing(cli, session):
    ok(session["train"])
    proc = ok(
        cli.run(
            "precompute",
            "demo",
            "--layers",
            "activation_1",
            "--methods",
            "function",
            "--reducers",
            "pca",
            "--sample",
            "300",
            "--scheduler",
            "inline",
        )
    )
    assert "precomputed 2 result(s), 0 already in the workspace, 0 failed" in proc.stdout


def test_embed_gives_on_a_local_cluster_what_it_gives_in_process(cli, session):
    from featlib import pipeline
    from featlib.datasets import load_digits
    from featlib.maps import embed
    from featlib.store import Workspace

    ok(session["embed"])
    args = ("embed", "demo", "--layer", "dense_1", "--dataset", "digits", "--n-epochs", "50", "--sample", "700")
    proc = ok(cli.run(*args, "--out", "emb_cluster.csv", "--scheduler", "local"))
    assert "wrote emb_cluster.csv: 700 points" in proc.stdout
    ws = Workspace(cli.workspace)
    record = ws.get_model("demo")
    rep_key = pipeline.representation_key(
        record.fingerprint, load_digits().fingerprint, "train", "dense_1", "function", "0-1"
    )
    ws.delete(
        "embedding", pipeline.embedding_key(rep_key, 700, 0, embed.UMAPParams(n_epochs=50))
    )  # computed again below
    ok(cli.run(*args, "--out", "emb_inline.csv", "--scheduler", "inline"))
    cluster = np.loadtxt(cli.cwd / "emb_cluster.csv", delimiter=",", skiprows=1)
    inline = np.loadtxt(cli.cwd / "emb_inline.csv", delimiter=",", skiprows=1)
    assert cluster.shape == (700, 5)
    np.testing.assert_array_equal(cluster[:, [0, 3, 4]], inline[:, [0, 3, 4]])
    np.testing.assert_allclose(cluster[:, 1:3], inline[:, 1:3], atol=1e-4)


# ----------------------------------------------------------------------------- datasets: every source, checked first

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
DATASET_COMMANDS = ("train", "add", "extract", "embed", "metrics", "precompute", "bench")

# Runs the CLI in a fresh interpreter whose workspace refuses to be asked for models: what it prints last is the
# exit status, the model calls made and the heavy modules imported.
_WATCHED_MAIN = """if True:
    import json, sys
    from featlib import cli
    from featlib.store import Workspace, WorkspaceError
    calls = []
    for method in ("get_model", "load_model"):
        def watched(self, *args, _method=method, **kwargs):
            calls.append(_method)
            raise WorkspaceError(f"{_method} was reached")
        setattr(Workspace, method, watched)
    rc = cli.main(sys.argv[1:])
    print(json.dumps({"rc": rc, "calls": calls, "heavy": [m for m in ("keras", "tensorflow") if m in sys.modules]}))
"""


def idx_file(path: Path, arr: np.ndarray) -> Path:
    """Writes ``arr`` (uint8) as an IDX file, gzipped when the name ends in .gz."""
    import gzip
    import struct

    blob = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    blob += np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(blob) if path.name.endswith(".gz") else blob)
    return path


@pytest.fixture(scope="module")
def t10k(cli, digits) -> Path:
    """The digits' test split as MNIST-named IDX files; returns the images file (its labels file lies next to it)."""
    folder = cli.cwd / "idx"
    idx_file(folder / "t10k-labels-idx1-ubyte.gz", digits.y_test)
    return idx_file(folder / "t10k-images-idx3-ubyte.gz", digits.x_test)


def watched(cli: CliEnv, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    import json

    proc = subprocess.run(
        [sys.executable, "-c", _WATCHED_MAIN, *args],
        cwd=cli.cwd,
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args, message",
    [
        (
            (
                "extract",
                "nomodel",
                "--layer",
                "dense_1",
                "--dataset",
                "idx/lonely-images-idx3-ubyte.gz",
                "--out",
                "x.npy",
            ),
            "error: No labels file next to idx/lonely-images-idx3-ubyte.gz: looked for lonely-labels-idx1-ubyte.gz and "
            "lonely-labels-idx1-ubyte in idx.",
        ),
        (
            (
                "extract",
                "nomodel",
                "--layer",
                "dense_1",
                "--dataset",
                "idx/t10k-labels-idx1-ubyte.gz,idx/t10k-images-idx3-ubyte.gz",
                "--out",
                "x.npy",
            ),
            "Are the images and labels files swapped?",
        ),
        (
            (
                "extract",
                "nomodel",
                "--layer",
                "dense_1",
                "--dataset",
                "idx/t10k-images-idx3-ubyte.gz",
                "--split",
                "train",
                "--out",
                "x.npy",
            ),
            "error: --split train: the dataset 't10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz' "
            "has no train split; expected one of its splits ['test'], got 'train'.",
        ),
        (
            (
                "embed",
                "nomodel",
                "--layer",
                "dense_1",
                "--dataset",
                "idx/t10k-images-idx3-ubyte.gz",
                "--idx-split",
                "split",
                "--test-fraction",
                "1.5",
                "--out",
                "x.csv",
            ),
            "error: test_fraction must be a number strictly between 0 and 1",
        ),
        (
            ("metrics", "nomodel", "--dataset", "nothing.npz"),
            "error: No such file: 'nothing.npz'. Expected a dataset as one of:",
        ),
        (("precompute", "nomodel", "--dataset", "cifar", "--scheduler", "inline"), "error: Unknown dataset: 'cifar'."),
        (
            ("train", "--name", "x", "--dataset", "idx/t10k-images-idx3-ubyte.gz"),
            "error: train needs a train and a test split (it trains on one and reports accuracy on the other); the dataset "
            "'t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz' has only a test split. For one IDX images/labels pair, "
            "pass --idx-split split",
        ),
        (
            ("train", "--name", "x", "--dataset", "idx/t10k-images-idx3-ubyte.gz", "--idx-split", "train"),
            "has only a train split",
        ),
        (("bench", "--dataset", "idx/t10k-images-idx3-ubyte.gz,idx/nothing"), "error: No such file: 'idx/nothing'"),
    ],
)
def test_a_bad_dataset_fails_before_keras_or_any_model(cli, t10k, args, message):
    """The dataset and split are checked first: no model is looked up or loaded, and Keras is never imported."""
    idx_file(cli.cwd / "idx" / "lonely-images-idx3-ubyte.gz", np.zeros((4, 8, 8), np.uint8))
    proc, seen = watched(cli, *args)
    assert message in proc.stderr, proc.stderr[-3000:]
    assert seen == {"rc": 2, "calls": [], "heavy": []}, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


def test_a_good_dataset_goes_on_to_the_model(cli, t10k):
    """The harness above does catch the model lookup, once the dataset is good."""
    proc, seen = watched(cli, "extract", "nomodel", "--layer", "dense_1", "--dataset", str(t10k), "--out", "x.npy")
    assert seen == {"rc": 2, "calls": ["get_model"], "heavy": []}
    assert "error: get_model was reached" in proc.stderr


@pytest.mark.parametrize("command", DATASET_COMMANDS)
def test_every_dataset_option_lists_the_accepted_forms(cli, command):
    text = " ".join(ok(cli.run(command, "--help")).stdout.split())
    for fragment in (
        "--dataset",
        "a built-in name (digits, mnist, fashion_mnist)",
        "the path of an .npz file",
        "IMAGES,LABELS or TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS",
        "*-images-idx3-ubyte[.gz]",
        "the name or fingerprint of a dataset uploaded to the workspace",
        "--idx-split {test,train,split}",
        "--test-fraction F",
    ):
        assert fragment in text, (command, fragment)


def test_extract_reads_a_t10k_images_file_end_to_end(cli, session, t10k, digits):
    from featlib import models
    from featlib.read import extract
    from featlib.store import Workspace

    ok(session["train"])
    proc = ok(cli.run("extract", "demo", "--layer", "dense_1", "--dataset", str(t10k), "--out", "t10k.npy"))
    assert "wrote t10k.npy: 360 rows × 64 columns" in proc.stdout
    assert "labels file t10k-labels-idx1-ubyte.gz found next to the images file" in proc.stderr
    assert "(one pair, used as the test split)" in proc.stderr
    assert "has no train split; using its test split" in proc.stderr
    model = Workspace(cli.workspace).load_model("demo")
    expected = extract.extract(model, "dense_1", models.adapt_images(digits.x_test, model))
    np.testing.assert_allclose(np.load(cli.cwd / "t10k.npy"), expected, rtol=0, atol=1e-5)
    pair = f"{t10k},{t10k.with_name('t10k-labels-idx1-ubyte.gz')}"
    proc = ok(
        cli.run(
            "extract",
            "demo",
            "--layer",
            "dense_1",
            "--dataset",
            pair,
            "--idx-split",
            "split",
            "--test-fraction",
            "0.25",
            "--split",
            "test",
            "--out",
            "t10k_split.npy",
        )
    )
    assert "wrote t10k_split.npy: 90 rows × 64 columns" in proc.stdout
    assert "split into 270 train + 90 test images: test_fraction 0.25, seed 0, stratified by class" in proc.stderr


def test_an_upload_is_named_from_the_cli_and_listed(cli, session, digits):
    import json

    from featlib.datasets import from_arrays
    from featlib.store import Workspace

    ok(session["train"])
    name = "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (IDX, 10 classes, 360 images, 8×8)"
    source = "IDX files t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (one pair, used as the test split)"
    upload = from_arrays(np.empty((0,)), [], name, x_test=digits.x_test, y_test=digits.y_test, source=source)
    ws = Workspace(cli.workspace)
    fp = ws.save_dataset(upload, creator="alice")
    proc = ok(cli.run("extract", "demo", "--layer", "dense_1", "--dataset", name, "--out", "upload.npy"))
    assert "wrote upload.npy: 360 rows × 64 columns" in proc.stdout
    assert "(one pair, used as the test split)" in proc.stderr and f"{fp}.npz" not in proc.stderr
    assert np.array_equal(np.load(cli.cwd / "upload.npy"), np.load(cli.cwd / "t10k.npy"))  # the same images
    assert (
        "wrote by_fp.npy: 360 rows"
        in ok(cli.run("extract", "demo", "--layer", "dense_1", "--dataset", fp[:8], "--out", "by_fp.npy")).stdout
    )
    listing = ok(cli.run("ls", "--kind", "dataset")).stdout.splitlines()
    assert "dataset uploads (give --dataset the full name or the fingerprint):" in listing
    assert f"  {fp}  {name}" in listing
    assert any(i["name"] == name for i in json.loads(ok(cli.run("ls", "--json")).stdout)["items"])
    other = from_arrays(digits.x_test[:100], digits.y_test[:100], name)  # the same name, other images
    ws.save_dataset(other)
    proc = cli.run("extract", "demo", "--layer", "dense_1", "--dataset", name, "--out", "ambiguous.npy")
    fails(proc, f"error: '{name}' names 2 datasets in the workspace: ")
    assert fp in proc.stderr and other.fingerprint in proc.stderr and "give its fingerprint instead" in proc.stderr


@pytest.mark.skipif(
    not (DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_t10k_files_train_and_extract(cli):
    images = DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz"
    pair = f"{images},{DEBIAN_FASHION / 't10k-labels-idx1-ubyte.gz'}"
    proc = ok(
        cli.run(
            "train",
            "--dataset",
            pair,
            "--idx-split",
            "split",
            "--epochs",
            "1",
            "--hidden",
            "32",
            "16",
            "--name",
            "fashion-t10k",
        )
    )
    assert "8,000 train + 2,000 test images" in proc.stderr
    proc = ok(
        cli.run("extract", "fashion-t10k", "--layer", "dense_1", "--dataset", str(images), "--out", "fashion.npy")
    )
    assert "wrote fashion.npy: 10000 rows × 16 columns" in proc.stdout
    assert "10,000 test images (no train split), 28×28, 10 classes" in proc.stderr


# ----------------------------------------------------------------------------- model files: add, and commands given a path


@dataclass
class HeadsFile:
    """A two-head model saved as a .keras file in the CLI's folder, and a workspace of its own for these tests."""

    path: Path
    model: object
    evaluated: float  # head_a's test accuracy by model.evaluate
    workspace: Path

    def run(self, cli: CliEnv, *args: str) -> subprocess.CompletedProcess:
        return cli.run("--workspace", str(self.workspace), *args)


@pytest.fixture(scope="module")
def heads(cli, digits) -> HeadsFile:
    from multi_output_models import trained_two_heads

    model, evaluated = trained_two_heads(digits)
    path = cli.cwd / "heads.keras"
    model.save(path)
    return HeadsFile(path, model, evaluated, cli.cwd / "ws_files")


@pytest.fixture(scope="module")
def added(cli, heads) -> subprocess.CompletedProcess:
    return ok(heads.run(cli, "add", heads.path.name, "--name", "heads", "--dataset", "digits", "--by", "alice"))


def test_add_saves_the_record_the_page_saves_and_says_what_it_measured(cli, heads, added, digits, tmp_path):
    from featlib.jobs import stored, tasks
    from featlib.store import Workspace

    record = Workspace(heads.workspace).get_model("heads")
    output = tasks.check_upload(
        data=heads.path.read_bytes(), filename=heads.path.name, dataset=digits, input_scale="0-1"
    )  # the page's job, then the page's store
    page = stored.store_upload(
        Workspace(tmp_path / "page"),
        output,
        name="heads",
        filename=heads.path.name,
        dataset=digits.name,
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
        creator="alice",
    )
    fields = ("name", "dataset", "architecture", "input_scale", "fingerprint", "creator")
    assert [getattr(record, f) for f in fields] == [getattr(page, f) for f in fields]
    assert record.test_accuracy == pytest.approx(page.test_accuracy) == pytest.approx(heads.evaluated, abs=1e-6)
    without_provenance = lambda meta: {k: v for k, v in meta.items() if k != "provenance"}  # noqa: E731
    assert without_provenance(record.meta) == without_provenance(page.meta)
    assert record.meta["provenance"]["parameters"] == page.meta["provenance"]["parameters"]
    assert (record.meta["output"], record.meta["uploaded_file"]) == ("head_a", "heads.keras")
    assert added.stdout.splitlines() == [
        f"added heads ({record.architecture}): accuracy {heads.evaluated:.4f} on digits, test split, 360 images",
        "input scaling: pixels / 255 (as the seed) ('0-1'): the model states no input scaling (it has no Rescaling "
        "or Normalization layer at its input) (choose another with --scale)",
        "scored from output head_a, 10-way; other outputs: head_b (10 units)",
    ]


def test_add_of_a_model_near_chance_prints_what_featlib_checked(cli, heads, tmp_path):
    from test_diagnosis import raw_pixel_model_bytes

    path = cli.cwd / "raw.keras"
    path.write_bytes(raw_pixel_model_bytes())
    proc = ok(heads.run(cli, "add", "raw.keras", "--name", "raw", "--scale", "0-1"))
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("added raw (") and " on digits, test split, 360 images" in lines[0]
    assert lines[1].startswith("input scaling: pixels / 255 (as the seed) ('0-1'), as chosen")
    assert lines[2].startswith("scored from the model's only output ")
    assert lines[3] == "this accuracy is near chance. What featlib checked:"
    assert lines[4].startswith("  - Input scaling: with raw 0–255 pixels the accuracy on the test split is")
    proc = ok(heads.run(cli, "add", "raw.keras", "--name", "raw", "--scale", "0-255"))
    assert "note: a model named 'raw' exists already; saved as 'raw-2'" in proc.stdout
    assert "near chance" not in proc.stdout


def _lambda_keras(path: Path) -> Path:
    """A .keras zip whose config names a Lambda layer (written without Keras)."""
    import json
    import zipfile

    config = {"class_name": "Sequential", "config": {"layers": [{"class_name": "Lambda", "config": {}}]}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return path


@pytest.mark.parametrize(
    "make, args, message",
    [
        (
            None,
            ("missing.keras", "--name", "x"),
            "error: No such model file: 'missing.keras'; expected the path of a .keras or .h5 file.",
        ),
        (
            lambda d: (d / "empty.keras").write_bytes(b""),
            ("empty.keras", "--name", "x"),
            "error: The model file empty.keras is empty (0 bytes); expected a .keras or .h5 model.",
        ),
        (
            lambda d: (d / "text.keras").write_text("not a zip"),
            ("text.keras", "--name", "x"),
            "error: text.keras is not a Keras 3 .keras file (a .keras file is a zip archive)",
        ),
        (
            lambda d: (d / "model.txt").write_text("weights"),
            ("model.txt", "--name", "x"),
            "error: Unsupported model file 'model.txt': expected a Keras 3 .keras file or a legacy .h5 file",
        ),
        (
            lambda d: (d / "saved").mkdir(exist_ok=True) or (d / "saved" / "saved_model.pb").write_bytes(b"x"),
            ("saved", "--name", "x"),
            "error: saved is a TensorFlow SavedModel folder (it holds saved_model.pb)",
        ),
        (
            lambda d: _lambda_keras(d / "lambda.keras"),
            ("lambda.keras", "--name", "x"),
            "error: lambda.keras contains Lambda layer(s), which can run arbitrary Python code",
        ),
        (None, ("heads.keras", "--name", " "), "error: A model name cannot be empty"),
        (None, ("heads.keras", "--name", "x", "--dataset", "cifar"), "error: Unknown dataset: 'cifar'."),
    ],
)
def test_add_refuses_a_bad_file_name_or_dataset_before_keras(cli, heads, make, args, message):
    if make is not None:
        make(cli.cwd)
    proc, seen = watched(cli, "--workspace", str(heads.workspace), "add", *args)
    assert message in proc.stderr, proc.stderr[-3000:]
    assert seen["heavy"] == [] and seen["calls"] == [], (seen, proc.stderr[-3000:])
    assert seen["rc"] == 2 and "Traceback" not in proc.stderr


def test_layers_of_a_model_file_shows_them_after_the_upload_checks_without_adding_it(cli, heads):
    from featlib.store import Workspace

    proc = ok(heads.run(cli, "layers", "heads.keras"))
    assert (
        "is a model file, not a model in the workspace; showing its layers after the upload checks, without "
        "adding it (add it with `python -m featlib add heads.keras --name NAME --dataset DATASET`)" in proc.stderr
    )
    names = [line.split()[1] for line in proc.stdout.splitlines()[1:-1]]
    assert names == ["pixels", "trunk", "head_a", "head_b"]
    assert "trunk" in next(line for line in proc.stdout.splitlines() if "<- default" in line)
    assert proc.stdout.splitlines()[-1] == "outputs: head_a (10 units) and head_b (10 units)"
    assert "heads.keras" not in [m.name for m in Workspace(heads.workspace).list_models()]
    (cli.cwd / "text.keras").write_text("not a zip")
    fails(heads.run(cli, "layers", "text.keras"), "error: text.keras is not a Keras 3 .keras file")
    fails(heads.run(cli, "layers", "nothing.keras"), "error: No such model: nothing.keras. The workspace holds: [")
    assert (
        "'nothing.keras' is not a model file either: no such file." in heads.run(cli, "layers", "nothing.keras").stderr
    )


@pytest.mark.parametrize(
    "args",
    [
        ("extract", "heads.keras", "--layer", "trunk", "--out", "x.npy"),
        ("embed", "heads.keras", "--layer", "trunk", "--out", "x.csv"),
        ("metrics", "heads.keras"),
        ("precompute", "heads.keras", "--scheduler", "inline"),
    ],
)
def test_commands_given_a_model_file_say_how_to_add_it(cli, heads, args):
    proc = heads.run(cli, *args)
    fails(proc, "error: No such model: heads.keras. The workspace holds: ")
    assert (
        "'heads.keras' is a model file, not a model in the workspace: add it first (it is checked and scored as "
        "on the Model page) with `python -m featlib add heads.keras --name NAME --dataset DATASET`, then give "
        "NAME here." in proc.stderr
    )
    assert proc.returncode == 2


def test_embed_of_a_two_head_model_writes_the_labels_of_its_scored_output(cli, heads, added, digits):
    proc = ok(
        heads.run(
            cli,
            "embed",
            "heads",
            "--layer",
            "trunk",
            "--dataset",
            "digits",
            "--split",
            "test",
            "--n-epochs",
            "20",
            "--out",
            "heads.csv",
        )
    )
    assert "wrote heads.csv: 360 points" in proc.stdout
    with open(cli.cwd / "heads.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    indices = np.array([int(r["index"]) for r in rows])
    predicted = np.array([int(r["predicted"]) for r in rows])
    assert predicted.min() >= 0 and predicted.max() <= 9
    images, _ = digits.split("test")
    head_a = np.asarray(heads.model.predict(images.reshape(len(images), -1) / 255.0, verbose=0)[0]).argmax(axis=1)
    np.testing.assert_array_equal(predicted, head_a[indices])
