"""Tests for featlib.datasets.sources and the workspace's dataset uploads: real files and workspaces under tmp_path."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from featlib import datasets as D
from featlib.datasets import DatasetError
from featlib.datasets.sources import FORMS, labels_file_for, load_dataset, resolve

REPO = Path(__file__).resolve().parents[1]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
T10K = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
needs_fashion = pytest.mark.skipif(
    not all((DEBIAN_FASHION / f).is_file() for f in T10K),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)


def idx_bytes(arr: np.ndarray) -> bytes:
    """Hand-made ubyte IDX: 00 00 08 <ndim>, big-endian uint32 dims, the bytes."""
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(">u1").tobytes()


def write_idx(folder: Path, name: str, arr: np.ndarray) -> Path:
    """Writes ``arr`` as an IDX file ``folder/name``, gzipped when the name ends in .gz."""
    path = folder / name
    path.write_bytes(gzip.compress(idx_bytes(arr)) if name.endswith(".gz") else idx_bytes(arr))
    return path


def toy(n: int = 40, k: int = 4, side: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, side, side), dtype=np.uint8), (np.arange(n) % k).astype(np.uint8)


def mnist_pair(folder: Path, prefix: str = "t10k", gz: bool = True, n: int = 40) -> tuple[Path, Path]:
    """A small pair of files named as MNIST's are."""
    x, y = toy(n)
    ext = ".gz" if gz else ""
    return (
        write_idx(folder, f"{prefix}-images-idx3-ubyte{ext}", x),
        write_idx(folder, f"{prefix}-labels-idx1-ubyte{ext}", y),
    )


def fails(message: str, spec: str, **kwargs) -> str:
    with pytest.raises(DatasetError, match=message) as info:
        resolve(spec, **kwargs)
    return str(info.value)


# ----------------------------------------------------------------------------- built-ins and .npz


def test_builtin_and_npz(tmp_path):
    assert resolve("digits").fingerprint == D.load_digits().fingerprint
    x, y = toy(30, 3)
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    ds = resolve(str(tmp_path / "mine.npz"))
    assert ds.name == "mine.npz" and ds.splits == ("train", "test") and "mine.npz" in ds.source
    (tmp_path / "no-suffix").write_bytes((tmp_path / "mine.npz").read_bytes())
    assert resolve(str(tmp_path / "no-suffix")).fingerprint == ds.fingerprint  # known by its content
    assert load_dataset(str(tmp_path / "mine.npz")).fingerprint == ds.fingerprint  # load_dataset goes through here
    assert load_dataset(ds) is ds


def test_unknown_and_missing(tmp_path):
    message = fails(
        r"^Unknown dataset: 'cifar'\. Use one of \['digits', 'mnist', 'fashion_mnist'\], or give the "
        r"path of an \.npz file; IDX files",
        "cifar",
    )
    assert all(form in message for form in FORMS[1:])
    fails(r"^No such file: 'missing\.npz'\. Expected a dataset as one of: a built-in name", "missing.npz")
    fails(r"^No such file: '.*nope-images-idx3-ubyte\.gz'\. Expected", str(tmp_path / "nope-images-idx3-ubyte.gz"))
    fails(r"is a folder; expected a dataset as one of", str(tmp_path))
    fails(r"must be named by a non-empty string, one of: a built-in name .*; got '  '", "  ")


# ----------------------------------------------------------------------------- IDX


def test_one_images_file_finds_its_labels_and_guesses_the_split(tmp_path):
    images, labels = mnist_pair(tmp_path)
    ds = resolve(str(images))
    assert ds.splits == ("test",) and len(ds.y_test) == 40
    assert ds.name == "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz"
    assert ds.source == (
        "IDX files t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (one pair, used as the test "
        "split); labels file t10k-labels-idx1-ubyte.gz found next to the images file"
    )
    train_named, _ = mnist_pair(tmp_path, prefix="train", gz=False)
    guessed = resolve(str(train_named))  # not a test set by its name: split 80/20
    assert (len(guessed.y_train), len(guessed.y_test)) == (32, 8)
    assert "labels file train-labels-idx1-ubyte found next to" in guessed.source


def test_single_split_and_test_fraction_are_honoured(tmp_path):
    images, labels = mnist_pair(tmp_path)
    assert resolve(str(images), single_split="train").splits == ("train",)
    split = resolve(f"{images},{labels}", single_split="split", test_fraction=0.25)
    assert (len(split.y_train), len(split.y_test)) == (30, 10)
    assert "test_fraction 0.25" in split.source
    assert resolve(f" {images} , {labels} ").splits == ("test",)  # spaces around the parts; t10k: the test split


def test_labels_lookup_naming_convention(tmp_path):
    images = write_idx(tmp_path, "set_images.idx3.ubyte", toy()[0])
    looked_for = [tmp_path / "set_labels.idx1.ubyte", tmp_path / "set_labels.idx1.ubyte.gz"]
    assert labels_file_for(images) == (None, looked_for)
    labels = write_idx(tmp_path, "set_labels.idx1.ubyte.gz", toy()[1])  # the other compression is found too
    assert labels_file_for(images)[0] == labels
    upper = write_idx(tmp_path, "T10K-IMAGES-IDX3-UBYTE", toy()[0])
    assert labels_file_for(upper)[1][0].name == "T10K-LABELS-IDX1-UBYTE"
    assert labels_file_for(tmp_path / "digits.idx") == (None, [])


def test_missing_labels_file_says_what_was_looked_for(tmp_path):
    images = write_idx(tmp_path, "t10k-images-idx3-ubyte.gz", toy()[0])
    fails(
        rf"^No labels file next to {re.escape(str(images))}: looked for t10k-labels-idx1-ubyte\.gz and "
        rf"t10k-labels-idx1-ubyte in {re.escape(str(tmp_path))}\. Put it there or give both files as "
        r"IMAGES,LABELS\.",
        str(images),
    )
    odd = write_idx(tmp_path, "pictures.idx", toy()[0])
    fails(
        r"^pictures\.idx is neither an \.npz file nor an IDX images file named like \*-images-idx3-ubyte\[\.gz\], "
        r"so its labels file cannot be found; give both files as IMAGES,LABELS\. Accepted forms:",
        str(odd),
    )


def test_swapped_and_labels_only_files(tmp_path):
    images, labels = mnist_pair(tmp_path)
    fails(
        r"^images \(t10k-labels-idx1-ubyte\.gz\) must be a 3-D IDX file of images .* Are the images and labels "
        r"files swapped\?",
        f"{labels},{images}",
    )
    fails(
        r"^t10k-labels-idx1-ubyte\.gz is an IDX labels file; expected the images file "
        r"\(t10k-images-idx3-ubyte\.gz\) or both as IMAGES,LABELS",
        str(labels),
    )


def test_four_files_and_bad_lists(tmp_path):
    train = mnist_pair(tmp_path, prefix="train", n=60)
    test = mnist_pair(tmp_path, prefix="t10k", gz=False, n=20)
    ds = resolve(",".join(str(p) for p in (*train, *test)), single_split="test")  # single_split: not for four files
    assert ds.summary().endswith(": 60 train + 20 test images, 5×5, 4 classes")
    assert ds.source == (
        "IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte"
    )
    fails(
        r"IDX files are given as IMAGES,LABELS or TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS \(2 or 4 "
        r"non-empty paths\); got 3 part\(s\) in 'a,b,c'\.",
        "a,b,c",
    )
    fails(r"got 2 part\(s\) in 'a,'", "a,")
    fails(
        rf"^No such file: '{re.escape(str(tmp_path))}/gone' \(in the IDX files '.*'\)\. Expected a dataset as one of",
        f"{train[0]},{tmp_path / 'gone'}",
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"single_split": "val"}, r"single_split must be one of \['test', 'train', 'split'\] .*; got 'val'\."),
        ({"test_fraction": 1.5}, r"test_fraction must be a number strictly between 0 and 1 .*; got 1\.5\."),
        ({"test_fraction": 0.0}, r"got 0\.0\."),
    ],
)
def test_bad_options_fail_before_any_file_is_read(kwargs, message):
    fails(message, "no-such-file.npz", **kwargs)  # the option is reported, not the missing file
    fails(message, "digits", **kwargs)


@needs_fashion
def test_real_t10k_images_file_alone():
    ds = resolve(str(DEBIAN_FASHION / T10K[0]))
    assert ds.summary() == (
        "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz: 10,000 test images (no train split), 28×28, 10 classes"
    )
    assert ds.source.endswith(
        "(one pair, used as the test split); labels file t10k-labels-idx1-ubyte.gz found next to the images file"
    )
    split = resolve(str(DEBIAN_FASHION / T10K[0]), single_split="split", test_fraction=0.1)
    assert (len(split.y_train), len(split.y_test)) == (9000, 1000)


def test_resolving_imports_no_keras_and_no_streamlit(tmp_path):
    images, _ = mnist_pair(tmp_path)
    code = (
        f"import sys; from featlib.datasets.sources import resolve; resolve({str(images)!r}); resolve('digits'); "
        "print(sorted(m for m in ('streamlit', 'keras', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- workspace uploads


def one_split(name: str = "up", seed: int = 0, source: str = "IDX files a.gz, b.gz (one pair, used as the test split)"):
    x, y = toy(30, 3, seed=seed)
    return D.from_arrays(np.empty((0,)), [], name, x_test=x, y_test=y, source=source)


def test_upload_with_an_empty_split_round_trips_with_its_source(workspace):
    ds = one_split("t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (IDX, 3 classes, 30 images, 5×5)")
    fp = workspace.save_dataset(ds, creator="alice")
    back = workspace.load_dataset(fp)
    assert back.fingerprint == fp and back.splits == ("test",) and back.name == ds.name
    assert back.source == "IDX files a.gz, b.gz (one pair, used as the test split)"  # not "npz file <fp>.npz"
    assert np.array_equal(back.x_test, ds.x_test) and back.x_train.shape == (0, 5, 5)
    [row] = workspace.list_datasets()
    assert row["summary"] == f"{ds.name}: 30 test images (no train split), 5×5, 3 classes"
    [item] = [i for i in workspace.items() if i.kind == "dataset"]
    assert item.provenance["parameters"]["source"] == ds.source


def test_old_rows_without_a_source_read_their_name(workspace):
    fp = workspace.save_dataset(one_split("old upload"))
    with sqlite3.connect(workspace.index_path) as db:  # as a row written before sources were kept
        db.execute("UPDATE datasets SET meta = '{}' WHERE fingerprint = ?", (fp,))
    assert workspace.load_dataset(fp).source == "uploaded to the workspace as 'old upload'"
    with sqlite3.connect(workspace.index_path) as db:
        meta = {"provenance": {"parameters": {"source": f"npz file {fp}.npz (keys ['x_test'])"}}}
        db.execute("UPDATE datasets SET meta = ? WHERE fingerprint = ?", (json.dumps(meta), fp))
    assert workspace.load_dataset(fp).source == "uploaded to the workspace as 'old upload'"


def test_find_datasets(workspace):
    a = workspace.save_dataset(one_split("shared name", seed=1))
    b = workspace.save_dataset(one_split("shared name", seed=2))
    c = workspace.save_dataset(one_split("unique", seed=3))
    fps = lambda rows: sorted(r["fingerprint"] for r in rows)  # noqa: E731
    assert fps(workspace.find_datasets("shared name")) == sorted([a, b])
    assert fps(workspace.find_datasets("unique")) == [c]
    assert fps(workspace.find_datasets(c)) == [c]
    assert fps(workspace.find_datasets(c[:6].upper())) == [c]
    assert fps(workspace.find_datasets(f"upload:{c}")) == [c]
    assert workspace.find_datasets(c[:5]) == []  # too short a prefix
    assert workspace.find_datasets("nothing") == []


def test_resolve_workspace_uploads(workspace):
    a = workspace.save_dataset(one_split("shared name", seed=1))
    b = workspace.save_dataset(one_split("shared name", seed=2))
    c = workspace.save_dataset(one_split("my upload, with a comma", seed=3))
    ds = resolve("my upload, with a comma", workspace=workspace)  # a name, not two IDX files
    assert ds.fingerprint == c and ds.source.startswith("IDX files a.gz")
    assert resolve(c[:8], workspace=workspace).fingerprint == c
    assert resolve(f"upload:{a}", workspace=workspace).fingerprint == a
    message = fails(
        r"^'shared name' names 2 datasets in the workspace: .*\. Expected one; give its fingerprint "
        r"instead\.",
        "shared name",
        workspace=workspace,
    )
    assert a in message and b in message and "30 test images" in message
    fails(
        r"^Unknown dataset: 'other'\. .* \(the workspace holds: .*'my upload, with a comma' \(",
        "other",
        workspace=workspace,
    )
    fails(r"^Unknown dataset: 'shared name'", "shared name")  # without a workspace, uploads cannot be named
