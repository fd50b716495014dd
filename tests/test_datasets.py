"""Tests for featlib.datasets: real files written to tmp_path, messages pinned."""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from featlib import archives
from featlib import datasets as D
from featlib.datasets import DatasetError

REPO = Path(__file__).resolve().parents[1]
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray, code: int = 0x08, dtype: str = ">u1") -> bytes:
    """Hand-made IDX: 00 00 <type> <ndim>, big-endian uint32 dims, big-endian payload."""
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=dtype).tobytes()


def toy(n: int = 50, k: int = 5, side: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, side, side), dtype=np.uint8), np.arange(n) % k


def run_isolated(code: str, keras_home: Path) -> dict:
    """Runs code in a fresh Python with KERAS_HOME set (keras reads it at import); returns its JSON line."""
    env = dict(os.environ, KERAS_HOME=str(keras_home), PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- module & Dataset


def test_import_is_cheap_and_streamlit_free():
    code = (
        "import sys, featlib.datasets; "
        "print(sorted(m for m in ('streamlit', 'keras', 'tensorflow', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_digits_shapes_range_and_stratified_split():
    ds = D.load_digits()
    assert ds.name == "digits"
    assert ds.x_train.shape == (1437, 8, 8) and ds.x_test.shape == (360, 8, 8)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() == 0 and ds.x_train.max() == 255
    assert ds.image_shape == (8, 8) and ds.num_classes == 10
    assert ds.class_names == tuple(str(i) for i in range(10))
    test_counts = np.bincount(ds.y_test, minlength=10)
    assert test_counts.min() >= 35 and test_counts.max() <= 37  # stratified: ~20% of ~180 per class
    assert ds.summary() == "digits: 1,437 train + 360 test images, 8×8, 10 classes"
    assert D.load_builtin("digits").summary() == ds.summary()


def test_digits_deterministic_and_fingerprint():
    a, b = D.load_digits(), D.load_digits()
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert len(a.fingerprint) == 16 and int(a.fingerprint, 16) >= 0
    assert a.fingerprint == b.fingerprint
    assert "fingerprint" in a.__dict__  # cached on the frozen instance
    x, y = toy()
    other = D.from_arrays(x, y, "toy")
    assert other.fingerprint != a.fingerprint
    renamed = D.from_arrays(x, y, "toy-again")
    assert renamed.fingerprint == other.fingerprint  # content, not name
    relabelled = D.from_arrays(x, y, "toy", class_names=list("abcde"))
    assert relabelled.fingerprint != other.fingerprint


def test_dataset_arrays_read_only_and_split():
    x, y = toy()
    ds = D.from_arrays(x, y, "toy")
    assert x.flags.writeable  # the caller's array is untouched
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0, 0] = 1
    xs, ys = ds.split("test")
    assert xs is ds.x_test and ys is ds.y_test
    with pytest.raises(ValueError, match=r"No such split: 'val'\. Valid splits are: \['train', 'test'\]"):
        ds.split("val")


def test_load_builtin_unknown():
    with pytest.raises(
        DatasetError,
        match=r"No such built-in dataset: 'cifar'\. Built-in datasets are: "
        r"\['digits', 'mnist', 'fashion_mnist'\]",
    ):
        D.load_builtin("cifar")
    with pytest.raises(DatasetError, match="No such keras dataset: 'cifar10'"):
        D.load_keras_dataset("cifar10")


def test_sample_indices_per_class():
    labels = np.array([0, 1, 1, 2, 2, 2, 0, 1, 2, 2])
    picked = D.sample_indices_per_class(labels, 2, seed=3)
    assert list(picked) == [0, 1, 2]
    for c, idx in picked.items():
        assert len(idx) == 2 and (labels[idx] == c).all() and list(idx) == sorted(idx)
    assert {c: list(v) for c, v in D.sample_indices_per_class(labels, 2, seed=3).items()} == {
        c: list(v) for c, v in picked.items()
    }
    assert len(D.sample_indices_per_class(labels, 100)[0]) == 2
    with pytest.raises(ValueError, match="per_class must be >= 1; got 0"):
        D.sample_indices_per_class(labels, 0)


# ----------------------------------------------------------------------------- from_arrays


def test_from_arrays_conversions():
    rng = np.random.default_rng(1)
    x01 = rng.random((40, 16))  # flat floats in [0, 1]
    y_onehot = np.eye(4)[np.arange(40) % 4]
    ds = D.from_arrays(x01, y_onehot, "f", x_test=x01[:8].reshape(8, 4, 4, 1) * 255, y_test=np.arange(8) % 4)
    assert ds.image_shape == (4, 4) and ds.x_train.dtype == np.uint8
    assert np.array_equal(ds.x_train, np.rint(x01 * 255).reshape(40, 4, 4).astype(np.uint8))
    assert np.array_equal(ds.y_train, np.arange(40) % 4) and ds.num_classes == 4
    assert np.array_equal(ds.x_test, ds.x_train[:8])
    ds2 = D.from_arrays(np.full((10, 3, 3), 7, np.int32), (np.arange(10) % 2).astype(float).reshape(10, 1), "i")
    assert ds2.x_train.max() == 7 and ds2.y_train.dtype == np.int64
    assert len(ds2.y_train) == 8 and len(ds2.y_test) == 2  # plain/stratified 80/20


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros((4, 5, 5), bool), "x must hold numeric pixel values .* got dtype bool"),
        (np.zeros((4, 5, 5), complex), "got dtype complex128"),
        (np.array([["a"] * 4] * 4), r"got dtype <U1"),
        (np.zeros((4, 5, 5), object), "got dtype object"),
        (
            np.zeros((4, 5, 5, 3)),
            r"must have shape \(n, h, w\), \(n, h, w, 1\) or \(n, h\*w\); got shape \(4, 5, 5, 3\)",
        ),
        (np.zeros((4, 50)), r"50 is not a perfect square"),
        (np.zeros((0, 5, 5)), r"x holds no images \(shape \(0, 5, 5\)\)"),
        (np.zeros((4, 513, 513), np.uint8), "images larger than 512×512 are not supported; x holds 513×513"),
        (np.array([np.nan, np.inf, 0.5, 0.2] * 16).reshape(4, 4, 4), "x holds 32 NaN/inf values"),
        (
            np.full((4, 3, 3), 300.0),
            r"float pixel values must lie in \[0, 1\] or \[0, 255\]; x ranges over \[300, 300\]",
        ),
        (np.full((4, 3, 3), -1.0), r"ranges over \[-1, -1\]"),
        (np.full((4, 3, 3), 256, np.int16), "integer pixel values must lie in 0..255; x ranges over 256..256"),
        (np.full((4, 3, 3), -2, np.int8), r"ranges over -2..-2"),
    ],
)
def test_from_arrays_rejects_images(x, message):
    with pytest.raises(DatasetError, match=message):
        D.from_arrays(x, np.arange(4) % 2, "bad")


@pytest.mark.parametrize(
    "y, kwargs, message",
    [
        (np.arange(9) % 2, {}, "same count; got 10 images and 9 labels in y"),
        (np.array(["a", "b"] * 5), {}, "y must hold integer class indices 0..k-1; got dtype <U1"),
        (np.arange(10) % 2 == 0, {}, "got dtype bool"),
        (np.arange(10) - 1, {}, r"labels must be >= 0; y holds 1 negative labels \(smallest -1\)"),
        (np.arange(10) * 0.5, {}, r"float y must hold whole numbers; got values such as \[0.5, 1.5, 2.5\]"),
        (np.full((10, 3), 0.3), {}, r"2-D y of shape \(10, 3\) must be one-hot"),
        (np.zeros((10, 2, 2)), {}, r"y must have shape \(n,\), \(n, 1\) or one-hot \(n, k\); got shape \(10, 2, 2\)"),
        (
            np.arange(10) % 3,
            {"class_names": ["a", "b"]},
            r"labels must be in 0..1 for 2 class names \['a', 'b'\]; got label 2",
        ),
        (np.arange(10) % 2, {"class_names": ["a", "a"]}, r"class names must be unique; got duplicates \['a'\]"),
        (np.array([0] * 9 + [1500]), {}, "at most 1000 classes are supported; y holds label 1500"),
        (np.full(10, 3), {}, "needs at least 2 classes to colour and compare; got only class 3"),
    ],
)
def test_from_arrays_rejects_labels(y, kwargs, message):
    x = np.zeros((10, 4, 4), np.uint8)
    with pytest.raises(DatasetError, match=message):
        D.from_arrays(x, y, "bad", **kwargs)


def test_from_arrays_rejects_mismatched_splits():
    x, y = toy(side=4)
    with pytest.raises(DatasetError, match="give both x_test and y_test, or neither"):
        D.from_arrays(x, y, "bad", x_test=x)
    with pytest.raises(DatasetError, match="train and test images must have the same size; got 4×4 and 5×5"):
        D.from_arrays(x, y, "bad", x_test=np.zeros((3, 5, 5), np.uint8), y_test=[0, 1, 2])
    with pytest.raises(DatasetError, match="same count; got 3 images and 2 labels in y_test"):
        D.from_arrays(x, y, "bad", x_test=np.zeros((3, 4, 4), np.uint8), y_test=[0, 1])
    with pytest.raises(DatasetError, match=r"x_train and x_test hold no images \(shapes \(0, 4, 4\) and \(0,\)\)"):
        D.from_arrays(np.zeros((0, 4, 4)), [], "bad", x_test=np.zeros((0,)), y_test=[])
    with pytest.raises(DatasetError, match="same count; got 0 images and 3 labels in y_test"):
        D.from_arrays(x, y, "bad", x_test=np.zeros((0, 4, 4), np.uint8), y_test=[0, 1, 2])
    with pytest.raises(DatasetError, match=r"x holds no images \(shape \(0, 4, 4\)\)"):
        D.from_arrays(np.zeros((0, 4, 4)), [], "bad")  # without x_test there is nothing to split


# ----------------------------------------------------------------------------- npz


def test_npz_train_test_layout_path_bytes_and_upload(tmp_path):
    x, y = toy(60, 3)
    xt, yt = toy(12, 3, seed=1)
    path = tmp_path / "myfile.npz"
    np.savez(path, x_train=x, y_train=y, x_test=xt, y_test=yt, class_names=np.array(["cat", "dog", "eel"]))
    ds = D.load_npz(path)
    assert ds.name == "upload:myfile" and ds.class_names == ("cat", "dog", "eel")
    assert np.array_equal(ds.x_train, x) and np.array_equal(ds.y_test, yt)
    assert "myfile.npz" in ds.source
    upload = io.BytesIO(path.read_bytes())
    upload.name = "myfile.npz"
    upload.seek(10)  # a half-read upload is read from the start
    assert D.load_npz(upload).fingerprint == ds.fingerprint
    from_bytes = D.load_npz(path.read_bytes(), name="mine")
    assert from_bytes.name == "mine" and from_bytes.fingerprint == ds.fingerprint


def test_npz_x_y_layout_is_split_stratified(tmp_path):
    x, y = toy(100, 4)
    path = tmp_path / "xy.npz"
    np.savez_compressed(path, x=x, y=y)
    ds = D.load_npz(path)
    assert len(ds.y_train) == 80 and len(ds.y_test) == 20
    assert np.bincount(ds.y_test).tolist() == [5, 5, 5, 5]
    assert D.load_npz(path).fingerprint == ds.fingerprint


def test_npz_rejects_pickle(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, x=np.zeros((4, 3, 3)), y=np.array([0, 1, "two", None], dtype=object))
    with pytest.raises(
        DatasetError,
        match=r"array 'y' in pickled.npz has dtype object.*pickle is refused for "
        r"safety \(allow_pickle=False\)",
    ):
        D.load_npz(path)


def test_npz_missing_keys_and_not_a_zip(tmp_path):
    path = tmp_path / "keys.npz"
    np.savez(path, images=np.zeros((4, 3, 3)), labels=np.arange(4))
    with pytest.raises(
        DatasetError,
        match=r"Expected keys: \(x_train, y_train, x_test, y_test\) or \(x, y\).*"
        r"Keys found: \['images', 'labels'\]",
    ):
        D.load_npz(path)
    np.savez(path, x_train=np.zeros((4, 3, 3)), y_train=np.arange(4), x_test=np.zeros((4, 3, 3)))
    with pytest.raises(DatasetError, match="has x_test but not its partner"):
        D.load_npz(path)
    with pytest.raises(
        DatasetError,
        match=r"not an \.npz file \(expected a NumPy \.npz archive, got 20 bytes "
        r"starting with b'hello, w'\)",
    ):
        D.load_npz(b"hello, world! (text)")
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    with pytest.raises(DatasetError, match=r"got a single \.npy array \(save with np\.savez instead\)"):
        D.load_npz(buf.getvalue())
    with pytest.raises(DatasetError, match=r"not an \.npz file \(expected a NumPy \.npz archive, got an empty file"):
        D.load_npz(b"")
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(DatasetError, match=r"of \.npy members, got a zip with members \['readme.txt'\]"):
        D.load_npz(zbuf.getvalue())
    with pytest.raises(DatasetError, match=r"No such file: '.*nope.npz'"):
        D.load_npz(tmp_path / "nope.npz")
    with pytest.raises(DatasetError, match="must be a path, bytes or a binary file object; got int"):
        D.load_npz(42)


def test_too_big_file(tmp_path, monkeypatch):
    x, y = toy()
    path = tmp_path / "big.npz"
    np.savez(path, x=x, y=y)
    monkeypatch.setenv("FEATLIB_MAX_UPLOAD_MB", str(1000 / 2**20))  # 1,000 bytes, read at each upload
    size = path.stat().st_size
    for source in (path, path.read_bytes(), io.BytesIO(path.read_bytes())):
        with pytest.raises(
            DatasetError,
            match=rf"is \d.* \({size:,} bytes\); files are limited to 1,000 bytes "
            r"\(MAX_UPLOAD_BYTES\)",
        ):
            D.load_npz(source)
    with pytest.raises(DatasetError, match="limited to 1,000 bytes"):
        D.load_idx(b"\0" * 1001, b"")


def test_zip_bomb_real_compressed_zeros(tmp_path, monkeypatch):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, x=np.zeros((2000, 64, 64), np.uint8), y=np.arange(2000) % 2)  # 8 MB -> ~10 KB
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(D.files, "MAX_INFLATED_BYTES", 1024 * 1024)
    with pytest.raises(
        DatasetError,
        match=r"bomb.npz looks like a zip bomb: its members declare 7.8 MiB .*"
        r"limits are 1.0 MiB .* in total \(MAX_INFLATED_BYTES\)",
    ):
        D.load_npz(path)
    monkeypatch.setattr(D.files, "MAX_INFLATED_BYTES", 1 << 30)
    monkeypatch.setattr(archives, "BOMB_MIN_BYTES", 1024 * 1024)  # now only the ratio rule trips
    with pytest.raises(DatasetError, match=r"looks like a zip bomb: .* \(ratio [\d,]+x\)"):
        D.load_npz(path)


def test_zip_bomb_crafted_declared_size():
    x, y = toy(10, 2)
    buf = io.BytesIO()
    np.savez(buf, x=x, y=y)
    data = bytearray(buf.getvalue())
    pos = data.find(b"PK\x01\x02")  # central directory entry of the first member
    data[pos + 24 : pos + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size: ~4 GiB
    with pytest.raises(DatasetError, match=r"looks like a zip bomb: its members declare 4.0 GiB"):
        D.load_npz(bytes(data))


def test_npy_header_larger_than_member():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "x.npy",
            b"\x93NUMPY\x01\x00"
            + struct.pack("<H", 118)
            + b"{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 1000, 1000), }".ljust(117)
            + b"\n",
        )
        zf.writestr("y.npy", b"")
    with pytest.raises(
        DatasetError,
        match=r"array 'x' .* declares shape \(100000, 1000, 1000\) of uint8 "
        r"\(93.1 GiB .*\) but its member holds only 128 bytes",
    ):
        D.load_npz(buf.getvalue())


# ----------------------------------------------------------------------------- IDX


def test_idx_raw_and_gzip_round_trip(tmp_path):
    x, y = toy(30, 3, side=5)
    xt, yt = toy(9, 3, side=5, seed=2)
    files = {"tr-img": idx_bytes(x), "tr-lab": idx_bytes(y), "te-img": idx_bytes(xt), "te-lab": idx_bytes(yt)}
    paths = []
    for i, (stem, blob) in enumerate(files.items()):
        p = tmp_path / (stem + (".gz" if i % 2 else ""))
        p.write_bytes(gzip.compress(blob) if i % 2 else blob)
        paths.append(p)
    assert np.array_equal(D.parse_idx(files["tr-img"]), x)
    assert np.array_equal(D.parse_idx(gzip.compress(files["tr-img"])), x)
    ds = D.load_idx(*paths, name="mine")
    assert ds.name == "mine" and ds.summary() == "mine: 30 train + 9 test images, 5×5, 3 classes"
    assert np.array_equal(ds.x_train, x) and np.array_equal(ds.y_test, yt)
    split = D.load_idx(io.BytesIO(files["tr-img"]), gzip.compress(files["tr-lab"]))
    assert split.name == "idx" and len(split.y_train) == 24 and len(split.y_test) == 6


def test_idx_other_types_and_multimember_gzip():
    a = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    assert np.array_equal(D.parse_idx(idx_bytes(a, 0x0B, ">i2")), a)
    f = np.linspace(0, 1, 8, dtype=np.float32).reshape(2, 2, 2)
    out = D.parse_idx(idx_bytes(f, 0x0D, ">f4"))
    assert out.dtype == np.float32 and out.dtype.isnative and np.array_equal(out, f)
    blob = idx_bytes(np.arange(20, dtype=np.uint8))
    assert np.array_equal(D.parse_idx(gzip.compress(blob[:7]) + gzip.compress(blob[7:])), np.arange(20))


def test_idx_rejects_bad_files(monkeypatch):
    x, y = toy(10, 2, side=4)
    with pytest.raises(DatasetError, match=r"IDX data is an empty file \(0 bytes\)"):
        D.parse_idx(b"")
    with pytest.raises(DatasetError, match=r"^images: IDX data is an empty file"):
        D.load_idx(b"", idx_bytes(y))
    with pytest.raises(DatasetError, match=r"^train_images: IDX data is an empty file"):
        D.load_idx(b"", idx_bytes(y), idx_bytes(x), idx_bytes(y))
    lying = idx_bytes(x)[:-10]
    with pytest.raises(
        DatasetError,
        match=r"IDX header declares shape \(10, 4, 4\) of uint8, i.e. 160 bytes of "
        r"data, but the file holds 150 bytes after the 16-byte header",
    ):
        D.parse_idx(lying)
    with pytest.raises(DatasetError, match="i.e. 160 bytes"):
        D.parse_idx(gzip.compress(lying))
    with pytest.raises(
        DatasetError,
        match=r"not an IDX file: expected magic bytes 00 00 .* got 50 4b 03 04 "
        r"\(a zip/\.npz file\)",
    ):
        D.parse_idx(b"PK\x03\x04rest")
    with pytest.raises(DatasetError, match=r"declares 3 dimensions \(16 header bytes\) but the file holds only 8"):
        D.parse_idx(b"\x00\x00\x08\x03\x00\x00\x00\x01")
    with pytest.raises(
        DatasetError,
        match=r"^images must be a 3-D IDX file of images \(n, rows, "
        r"cols\); got a 1-D array of shape \(10,\)\. Are the images and labels",
    ):
        D.load_idx(idx_bytes(y), idx_bytes(x))
    with pytest.raises(DatasetError, match="gzip data is truncated"):
        D.parse_idx(gzip.compress(idx_bytes(x))[:-12])
    with pytest.raises(DatasetError, match="give both test_images and test_labels, or neither"):
        D.load_idx(idx_bytes(x), idx_bytes(y), test_images=idx_bytes(x))
    monkeypatch.setattr(D.files, "MAX_INFLATED_BYTES", 100_000)
    bomb = gzip.compress(idx_bytes(np.zeros((1000, 28, 28), np.uint8)))
    # The header is read first: what it declares is refused before the rest is inflated.
    with pytest.raises(
        DatasetError,
        match=r"IDX header declares shape \(1000, 28, 28\) of uint8, i.e. 765.6 KiB "
        r"\(784,000 bytes\) of data; the limit is 97.7 KiB .* \(MAX_INFLATED_BYTES\)",
    ):
        D.parse_idx(bomb)
    lying = gzip.compress(
        idx_bytes(np.zeros((10, 4, 4), np.uint8)) + bytes(90_000)
    )  # inflated no further than declared
    with pytest.raises(DatasetError, match=r"gzip data inflates to more than the 176 bytes its IDX header declares"):
        D.parse_idx(lying)


def write_idx(folder: Path, name: str, arr: np.ndarray) -> Path:
    """Writes `arr` as an IDX file `folder/name`, gzipped when the name ends in .gz."""
    blob = idx_bytes(arr)
    path = folder / name
    path.write_bytes(gzip.compress(blob) if name.endswith(".gz") else blob)
    return path


def test_idx_one_pair_as_test_train_or_split(tmp_path):
    x, y = toy(40, 4, side=5)
    images = write_idx(tmp_path, "t10k-images-idx3-ubyte.gz", x)
    labels = write_idx(tmp_path, "t10k-labels-idx1-ubyte", y)
    test = D.load_idx(images, labels, name="t10k", single_split="test")
    assert test.splits == ("test",) and np.array_equal(test.x_test, x) and np.array_equal(test.y_test, y)
    assert test.x_train.shape == (0, 5, 5) and test.y_train.shape == (0,) and test.image_shape == (5, 5)
    assert test.summary() == "t10k: 40 test images (no train split), 5×5, 4 classes"
    assert test.source == (
        "IDX files t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte (one pair, used as the test split)"
    )
    train = D.load_idx(images, labels, name="t10k", single_split="train")
    assert train.splits == ("train",) and np.array_equal(train.x_train, x) and train.x_test.shape == (0, 5, 5)
    assert train.summary() == "t10k: 40 train images (no test split), 5×5, 4 classes"
    assert train.source.endswith("(one pair, used as the train split)")
    assert len({test.fingerprint, train.fingerprint}) == 2
    split = D.load_idx(images, labels, name="t10k", single_split="split", test_fraction=0.25)
    assert (len(split.y_train), len(split.y_test)) == (30, 10)
    assert sorted(np.bincount(split.y_test).tolist()) == [2, 2, 3, 3]  # stratified: 10 of each class, 2 or 3 in test
    assert split.source.endswith(
        "(one pair, split into 30 train + 10 test images: test_fraction 0.25, seed 0, stratified by class)"
    )
    assert D.load_idx(images, labels, single_split="split", test_fraction=0.25).fingerprint == split.fingerprint


def test_idx_one_pair_default_is_the_old_80_20_split(tmp_path):
    x, y = toy(50, 5, side=4)
    old_style = D.load_idx(idx_bytes(x), idx_bytes(y))  # as before single_split existed
    assert (len(old_style.y_train), len(old_style.y_test)) == (40, 10) and old_style.splits == ("train", "test")
    assert old_style.fingerprint == D.from_arrays(x, y, "idx").fingerprint  # the same seeded split
    assert (
        old_style.fingerprint
        == D.load_idx(idx_bytes(x), idx_bytes(y), single_split="split", test_fraction=0.2).fingerprint
    )


def test_idx_four_files_positional_call_ignores_single_split(tmp_path):
    x, y = toy(30, 3, side=5)
    xt, yt = toy(9, 3, side=5, seed=2)
    paths = [write_idx(tmp_path, n, a) for n, a in (("a.gz", x), ("b", y), ("c", xt), ("d.gz", yt))]
    ds = D.load_idx(*paths, name="four")
    assert ds.summary() == "four: 30 train + 9 test images, 5×5, 3 classes"
    assert ds.source == "IDX files a.gz, b, c, d.gz"
    assert D.load_idx(*paths, name="four", single_split="test").fingerprint == ds.fingerprint


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"single_split": "val"}, r"single_split must be one of \['test', 'train', 'split'\] .*; got 'val'\."),
        ({"single_split": None}, r"single_split must be one of .*; got None\."),
        ({"test_fraction": 0}, r"test_fraction must be a number strictly between 0 and 1 .*, like 0.2; got 0\."),
        ({"test_fraction": 1.0}, r"got 1.0\."),
        ({"test_fraction": -0.2}, r"got -0.2\."),
        ({"test_fraction": float("nan")}, r"got nan\."),
        ({"test_fraction": True}, r"got True\."),
        ({"test_fraction": "0.2"}, r"got '0.2'\."),
        ({"test_fraction": 0.99}, r"test_fraction 0.99 of 10 images leaves no image for the train split"),
    ],
)
def test_idx_one_pair_bad_options(kwargs, message):
    x, y = toy(10, 2, side=4)
    with pytest.raises(DatasetError, match=message):
        D.load_idx(idx_bytes(x), idx_bytes(y), **kwargs)


def test_idx_one_pair_checks_options_before_reading():
    with pytest.raises(DatasetError, match="single_split must be one of"):
        D.load_idx(b"", b"", single_split="both")  # the option, not the empty files, is reported


def test_idx_test_only_pair_needs_two_classes():
    x, _ = toy(10, 2, side=4)
    with pytest.raises(DatasetError, match=r"the test split \(the only split\) needs at least 2 classes .* class 1"):
        D.load_idx(idx_bytes(x), idx_bytes(np.ones(10, np.uint8)), single_split="test")


@pytest.mark.parametrize(
    "filename, expected",
    [
        ("t10k-images-idx3-ubyte.gz", "test"),
        ("T10K-IMAGES-IDX3-UBYTE", "test"),
        ("my_TEST_images.idx", "test"),
        ("train-images-idx3-ubyte.gz", "split"),
        ("images.idx", "split"),
        ("/tmp/test_dir/train-images-idx3-ubyte.gz", "split"),  # folders do not count, only the file's name
        ("C:\\tests\\train-images.idx", "split"),
    ],
)
def test_guess_single_split(filename, expected):
    assert D.guess_single_split(filename) == expected


# ----------------------------------------------------------------------------- one-split datasets


def test_one_split_dataset_splits_summary_and_errors():
    x, y = toy(20, 4, side=6)
    ds = D.from_arrays(np.empty((0,)), [], "only test", x_test=x, y_test=y)
    assert ds.splits == ("test",) and ds.image_shape == (6, 6) and ds.num_images == 20
    assert ds.x_train.shape == (0, 6, 6) and ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.split("test")[0] is ds.x_test
    with pytest.raises(
        DatasetError,
        match=r"The dataset 'only test' has no train split; expected one of its splits "
        r"\['test'\], got 'train'\.",
    ):
        ds.split("train")
    with pytest.raises(ValueError, match=r"No such split: 'val'\. Valid splits are: \['train', 'test'\]"):
        ds.split("val")
    # However the empty split came in, the dataset and its fingerprint are the same.
    same = D.from_arrays(np.zeros((0, 6, 6), np.float32), np.zeros((0, 1)), "x", x_test=x, y_test=y)
    assert same.fingerprint == ds.fingerprint
    assert D.from_arrays(x, y, "x", x_test=np.zeros((0, 36)), y_test=[]).splits == ("train",)
    with pytest.raises(DatasetError, match="has no images: both its train and test splits are empty"):
        D.Dataset("empty", ds.x_train, ds.y_train, ds.x_train, ds.y_train, ("a", "b"))


def test_two_split_fingerprint_formula_unchanged():
    x, y = toy(10, 2, side=2)
    ds = D.from_arrays(x[:8], y[:8], "t", x_test=x[8:], y_test=y[8:])
    h = __import__("hashlib").sha256()
    for field in ("x_train", "y_train", "x_test", "y_test"):
        a = np.ascontiguousarray(getattr(ds, field))
        h.update(f"{field}:{a.shape}:{a.dtype.str};".encode())
        h.update(a)
    h.update("\x00".join(ds.class_names).encode())
    assert ds.fingerprint == h.hexdigest()[:16]


def test_npz_with_an_empty_split_round_trips(tmp_path):
    x, y = toy(12, 3, side=4)
    ds = D.from_arrays(np.empty((0,)), [], "t", x_test=x, y_test=y)
    path = tmp_path / "one.npz"
    np.savez(
        path,
        x_train=ds.x_train,
        y_train=ds.y_train,
        x_test=ds.x_test,
        y_test=ds.y_test,
        class_names=np.array(ds.class_names),
    )
    back = D.load_npz(path, name="t")
    assert back.splits == ("test",) and back.fingerprint == ds.fingerprint
    assert back.summary() == "t: 12 test images (no train split), 4×4, 3 classes"
    np.savez(path, x_train=np.zeros((0, 4, 4)), y_train=np.zeros(0), x_test=np.zeros((0, 4, 4)), y_test=np.zeros(0))
    with pytest.raises(DatasetError, match="x_train and x_test hold no images"):
        D.load_npz(path)


# ----------------------------------------------------------------------------- names of uploads


def test_content_summary_and_default_upload_name():
    mnist_like = D.from_arrays(np.empty((0,)), [], "m", x_test=np.zeros((20, 28, 28)), y_test=np.arange(20) % 10)
    assert D.content_summary(mnist_like, "IDX") == "MNIST-like IDX, 10 classes, 20 images, 28×28"
    assert D.default_upload_name(
        ["/home/me/t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], mnist_like, "IDX"
    ) == ("t10k-images-idx3-ubyte.gz + labels (MNIST-like IDX, 10 classes, 20 images, 28×28)")  # issue 28: short
    x, y = toy(50, 5, side=6)
    small = D.from_arrays(x, y, "s")
    assert D.content_summary(small, "npz") == "npz, 5 classes, 50 images, 6×6"
    assert D.default_upload_name(["my data.npz"], small, "npz") == "my data.npz (npz, 5 classes, 50 images, 6×6)"
    with pytest.raises(ValueError, match=r"kind must be one of \['IDX', 'npz'\]; got 'zip'"):
        D.content_summary(small, "zip")


def test_default_upload_name_is_short_and_printable():
    x, y = toy(50, 5, side=6)
    ds = D.from_arrays(x, y, "s")
    four = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    name = D.default_upload_name([f + "-renamed-by-a-browser" for f in four], ds, "IDX")
    assert name == "train-images-idx3-ubyte.gz-renamed-by-a-browser + 3 more files (IDX, 5 classes, 50 images, 6×6)"
    long = D.default_upload_name(["a" * 300 + ".npz"], ds, "npz")
    assert len(long) == 120 and long.endswith("aaa.npz (npz, 5 classes, 50 images, 6×6)") and "…" in long
    odd = D.default_upload_name(["bad\nname\x00\x1b[31m.npz", ""], ds, "npz")
    assert odd.isprintable() and odd == "bad name??[31m.npz (npz, 5 classes, 50 images, 6×6)"
    assert D.default_upload_name([], ds, "npz") == "npz, 5 classes, 50 images, 6×6"
    many = D.default_upload_name(["x" * 200, "y" * 200], ds, "IDX")
    assert len(many) <= 120 and many.isprintable() and " + 1 more file (" in many


@pytest.mark.skipif(
    not all((DEBIAN_FASHION / f).is_file() for f in D._FASHION_FILES),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)
def test_real_t10k_pair_as_the_test_split():
    images, labels = DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz", DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz"
    how = D.guess_single_split(images.name)
    assert how == "test"
    ds = D.load_idx(images, labels, name="Fashion t10k", single_split=how)
    assert ds.summary() == "Fashion t10k: 10,000 test images (no train split), 28×28, 10 classes"
    assert ds.source == (
        "IDX files t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (one pair, used as the test split)"
    )
    assert D.default_upload_name([images.name, labels.name], ds, "IDX") == (
        "t10k-images-idx3-ubyte.gz + labels (MNIST-like IDX, 10 classes, 10,000 images, 28×28)"
    )
    split = D.load_idx(images, labels, single_split="split")
    assert (len(split.y_train), len(split.y_test)) == (8000, 2000)
    assert np.bincount(split.y_test).tolist() == [200] * 10  # stratified


# ----------------------------------------------------------------------------- keras.datasets


def test_keras_cache_dir_and_fashion_seeding(tmp_path, monkeypatch):
    src = tmp_path / "debian"
    src.mkdir()
    for fname in D._FASHION_FILES:
        (src / fname).write_bytes(fname.encode())
    home = tmp_path / "kh"
    home.mkdir()
    existing = home / "datasets" / "fashion-mnist" / D._FASHION_FILES[0]
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"already cached")
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(D.builtin, "DEBIAN_FASHION_MNIST_DIR", src)
    assert D._keras_cache_dir() == home
    D._seed_fashion_mnist_cache()
    assert existing.read_bytes() == b"already cached"
    for fname in D._FASHION_FILES[1:]:
        assert (existing.parent / fname).read_bytes() == fname.encode()
    assert sorted(p.name for p in existing.parent.iterdir()) == sorted(D._FASHION_FILES)  # no temp files left


@pytest.mark.skipif(
    not all((DEBIAN_FASHION / f).is_file() for f in D._FASHION_FILES),
    reason="Debian package dataset-fashion-mnist not installed (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_offline_through_real_keras_loader(tmp_path):
    code = """if True:
        import json, os
        from featlib.datasets import load_keras_dataset
        ds = load_keras_dataset("fashion_mnist")
        cached = sorted(os.listdir(os.path.join(os.environ["KERAS_HOME"], "datasets", "fashion-mnist")))
        print(json.dumps({"train": ds.x_train.shape, "test": ds.x_test.shape, "dtype": str(ds.x_train.dtype),
                          "classes": ds.class_names, "labels": sorted(set(ds.y_train.tolist())),
                          "cached": cached, "source": ds.source, "max": int(ds.x_train.max())}))
    """
    out = run_isolated(code, tmp_path)
    assert out["train"] == [60000, 28, 28] and out["test"] == [10000, 28, 28]
    assert out["dtype"] == "uint8" and out["max"] == 255
    assert out["labels"] == list(range(10)) and out["classes"][0] == "T-shirt/top" and len(out["classes"]) == 10
    assert out["cached"] == sorted(D._FASHION_FILES)
    assert out["source"] == "keras.datasets.fashion_mnist.load_data()"


def test_mnist_without_network_is_unavailable(tmp_path):
    code = """if True:
        import json
        from featlib.datasets import DatasetUnavailableError, load_keras_dataset
        try:
            load_keras_dataset("mnist")
            print(json.dumps({"ok": True}))
        except DatasetUnavailableError as e:
            print(json.dumps({"ok": False, "message": str(e), "chained": e.__cause__ is not None}))
    """
    out = run_isolated(code, tmp_path)
    if out["ok"]:
        pytest.skip("MNIST downloaded: this machine has network access")
    assert out["chained"]
    assert out["message"].startswith(
        "MNIST could not be downloaded (no network?). keras.datasets downloads it "
        f"once into {tmp_path / 'datasets'}; use the bundled 8×8 digits or upload"
    )
