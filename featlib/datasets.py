"""Datasets of small grey images with integer class labels.

A `Dataset` holds uint8 images `(n, h, w)` and int64 labels for a train and a
test split, plus class names and a content fingerprint. Loaders cover
scikit-learn's bundled 8×8 digits (offline), MNIST and Fashion-MNIST through
`keras.datasets`, and user files (`.npz`, IDX with optional gzip). Every
loader funnels through `from_arrays`, the one place where inputs are
validated; bad input raises `DatasetError` with the rule, what was expected
and what was received.

Uploaded files are untrusted: sizes are bounded before reading
(`MAX_UPLOAD_BYTES`), zip members and gzip payloads before inflating
(`MAX_INFLATED_BYTES`), and `.npz` files are read with `allow_pickle=False`.

Example:

    >>> from featlib import datasets
    >>> ds = datasets.load_builtin("digits")
    >>> ds.summary()
    'digits: 1,437 train + 360 test images, 8×8, 10 classes'
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Union

import numpy as np

from featlib import archives

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


class DatasetError(ValueError):
    """A file or array that featlib cannot use; the message says why and how to fix it."""


class DatasetUnavailableError(RuntimeError):
    """A built-in dataset that cannot be loaded on this machine (e.g. no network)."""


UPLOAD_LIMIT_ENV = "FEATLIB_MAX_UPLOAD_MB"
DEFAULT_UPLOAD_LIMIT_MB = 200


def upload_limit_bytes(environ: dict | None = None) -> int:
    """The size limit of one uploaded file: `$FEATLIB_MAX_UPLOAD_MB` MiB, 200 when unset.

    Read once at import into `MAX_UPLOAD_BYTES` (and `models.MAX_MODEL_BYTES`).

    Raises:
        ValueError: the variable is set to something other than a positive number.
    """
    raw = (os.environ if environ is None else environ).get(UPLOAD_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_UPLOAD_LIMIT_MB * 1024 * 1024
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise ValueError(f"{UPLOAD_LIMIT_ENV} must be a positive number of megabytes (MiB), like "
                         f"{DEFAULT_UPLOAD_LIMIT_MB}; got {raw!r}.")
    return max(1, int(mb * 1024 * 1024))


MAX_UPLOAD_BYTES: int = upload_limit_bytes()
MAX_INFLATED_BYTES: int = 1024 * 1024 * 1024
MAX_IMAGE_SIDE = 512
MAX_CLASSES = 1000
_GZIP_CHUNK = 8 * 1024 * 1024
_TEST_FRACTION = 0.2

BUILTIN_DATASETS: dict[str, str] = {
    "digits": "Digits 8×8 (scikit-learn, offline)",
    "mnist": "MNIST 28×28 (keras.datasets)",
    "fashion_mnist": "Fashion-MNIST 28×28 (keras.datasets)",
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Debian's package `dataset-fashion-mnist` installs the files keras downloads.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                  "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels for a train and a test split.

    Arrays are stored as read-only views: uint8 images `(n, h, w)` with values
    0..255 and int64 labels `(n,)` with values `0..num_classes-1`. Build one
    with `from_arrays` (which validates and converts) or a loader.

    Attributes:
        name: Short identifier, e.g. `"digits"` or `"upload:myfile"`.
        x_train, y_train, x_test, y_test: The two splits.
        class_names: One name per class index.
        source: One line saying where the data came from.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        for field in ("x_train", "y_train", "x_test", "y_test"):
            view = np.asarray(getattr(self, field)).view()
            view.flags.writeable = False  # the view only; the caller's array is untouched
            object.__setattr__(self, field, view)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        for x, y, split in ((self.x_train, self.y_train, "train"), (self.x_test, self.y_test, "test")):
            if x.dtype != np.uint8 or x.ndim != 3 or y.dtype != np.int64 or y.shape != x.shape[:1]:
                raise DatasetError(
                    f"Dataset {split} split must be uint8 images (n, h, w) and int64 labels (n,); got "
                    f"{x.dtype} {x.shape} and {y.dtype} {y.shape}. Build datasets with from_arrays().")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(f"train and test images must have the same size; got "
                               f"{_hw(self.x_train)} and {_hw(self.x_test)}.")

    @property
    def image_shape(self) -> tuple[int, int]:
        """Image height and width."""
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    @property
    def num_classes(self) -> int:
        """Number of classes (`len(class_names)`)."""
        return len(self.class_names)

    @functools.cached_property
    def fingerprint(self) -> str:
        """16 hex chars of sha256 over the four arrays (shape, dtype, bytes) and class names."""
        h = hashlib.sha256()
        for field in ("x_train", "y_train", "x_test", "y_test"):
            a = np.ascontiguousarray(getattr(self, field))
            h.update(f"{field}:{a.shape}:{a.dtype.str};".encode())
            h.update(a)
        h.update("\x00".join(self.class_names).encode())
        return h.hexdigest()[:16]

    def split(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Returns `(images, labels)` of `"train"` or `"test"`."""
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"No such split: {split!r}. Valid splits are: ['train', 'test']")

    def summary(self) -> str:
        """One line, e.g. `"digits: 1,437 train + 360 test images, 8×8, 10 classes"`."""
        return (f"{self.name}: {len(self.y_train):,} train + {len(self.y_test):,} test images, "
                f"{_hw(self.x_train)}, {self.num_classes} classes")


# ----------------------------------------------------------------------------- built-ins

def load_builtin(name: str) -> Dataset:
    """Loads one of `BUILTIN_DATASETS` by key."""
    if name == "digits":
        return load_digits()
    if name in ("mnist", "fashion_mnist"):
        return load_keras_dataset(name)
    raise DatasetError(f"No such built-in dataset: {name!r}. Built-in datasets are: {list(BUILTIN_DATASETS)}")


def load_dataset(spec: str) -> Dataset:
    """A built-in dataset by name, or a user ``.npz`` file by path (as the CLI takes them)."""
    if spec in BUILTIN_DATASETS:
        return load_builtin(spec)
    path = Path(spec)
    if path.suffix.lower() == ".npz":
        return load_npz(path)
    raise DatasetError(
        f"Unknown dataset: {spec!r}. Use one of {list(BUILTIN_DATASETS)} or the path of an .npz file."
    )


def load_digits() -> Dataset:
    """scikit-learn's bundled 1,797 handwritten 8×8 digits, offline.

    Pixel values 0..16 are scaled to 0..255 (rounded); the split is a
    deterministic stratified 80/20 (`random_state=0`): 1,437 train + 360 test.
    """
    from sklearn.datasets import load_digits as sk_load_digits
    from sklearn.model_selection import train_test_split

    bunch = sk_load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=_TEST_FRACTION, random_state=0, stratify=y)
    return from_arrays(x_tr, y_tr, "digits", class_names=[str(i) for i in range(10)], x_test=x_te,
                       y_test=y_te, source="scikit-learn load_digits (bundled, offline), 0..16 scaled to 0..255")


def load_keras_dataset(name: str) -> Dataset:
    """MNIST or Fashion-MNIST through the real `keras.datasets.<name>.load_data()`.

    Keras downloads the files once into its cache (`$KERAS_HOME` or
    `~/.keras`, under `datasets/`). For Fashion-MNIST, the files of Debian's
    package `dataset-fashion-mnist` are first copied into that cache when it
    lacks them, so the real loader works offline.

    Raises:
        DatasetUnavailableError: the loader failed (typically: no network).
    """
    titles = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
    if name not in titles:
        raise DatasetError(f"No such keras dataset: {name!r}. Supported keras datasets are: {list(titles)}")
    try:
        import keras
    except ImportError as e:
        raise DatasetUnavailableError(f"{titles[name]} needs keras: pip install keras tensorflow") from e
    if name == "fashion_mnist":
        _seed_fashion_mnist_cache()
        names: tuple[str, ...] = FASHION_MNIST_CLASSES
    else:
        names = tuple(str(i) for i in range(10))
    try:
        (x_tr, y_tr), (x_te, y_te) = getattr(keras.datasets, name).load_data()
    except Exception as e:  # get_file raises bare Exception on URL errors
        hint = (" On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` provides it offline."
                if name == "fashion_mnist" else "")
        raise DatasetUnavailableError(
            f"{titles[name]} could not be downloaded (no network?). keras.datasets downloads it once "
            f"into {_keras_cache_dir() / 'datasets'}; use the bundled 8×8 digits or upload an .npz/IDX "
            f"file.{hint}") from e
    return from_arrays(x_tr, y_tr, name, class_names=names, x_test=x_te, y_test=y_te,
                       source=f"keras.datasets.{name}.load_data()")


def _keras_cache_dir() -> Path:
    """The directory keras.utils.get_file caches into (mirrors keras 3.15 config/file_utils)."""
    home = os.environ.get("KERAS_HOME")
    if home is None:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    home = os.path.expanduser(home)
    if not os.access(home, os.W_OK):  # get_file's own fallback
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return Path(home)


def _seed_fashion_mnist_cache() -> None:
    """Copies Debian's Fashion-MNIST files into the Keras cache where missing (atomically)."""
    target_dir = _keras_cache_dir() / "datasets" / "fashion-mnist"
    for fname in _FASHION_FILES:
        src, dst = DEBIAN_FASHION_MNIST_DIR / fname, target_dir / fname
        if dst.exists() or not src.is_file():
            continue
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=f".{fname}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                    shutil.copyfileobj(inp, out)
                os.replace(tmp, dst)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            return  # the loader will then try to download and report clearly


# ----------------------------------------------------------------------------- user files

def load_npz(source: Source, name: str | None = None) -> Dataset:
    """Loads a NumPy `.npz` archive (never unpickling).

    Accepted keys: `x_train, y_train` with optional `x_test, y_test`, or
    `x, y` (split stratified 80/20); optional `class_names` (array of str).
    Zip members are checked before inflating.

    Args:
        source: A path, raw bytes, or a binary file object (e.g. an upload).
        name: Dataset name; defaults to `"upload:<file stem>"`.
    """
    data, label = _read_bytes(source, "npz data")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DatasetError(f"{label} is not an .npz file (expected a NumPy .npz archive, got {_sniff(data)}). "
                           "Save arrays with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...).")
    wanted = ("x_train", "y_train", "x_test", "y_test", "x", "y", "class_names")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        bad = [i.filename for i in infos if not i.filename.endswith(".npy")]
        if bad or not infos:
            raise DatasetError(f"{label} is not an .npz file (expected a NumPy .npz archive of .npy members, "
                               f"got a zip with members {[i.filename for i in infos][:10]}).")
        _check_zip_sizes(infos, label)
        members = {i.filename[:-4]: i for i in infos}
        for key in wanted:
            if key in members:
                _check_npy_header(zf, members[key], key, label)
    keys = sorted(members)
    if {"x_train", "y_train"} <= members.keys():
        x_key, y_key = "x_train", "y_train"
    elif {"x", "y"} <= members.keys():
        x_key, y_key = "x", "y"
    else:
        raise DatasetError(f"{label} lacks the expected arrays. Expected keys: (x_train, y_train, x_test, y_test) "
                           f"or (x, y), optionally class_names. Keys found: {keys}.")
    has_test = [k for k in ("x_test", "y_test") if k in members]
    if x_key == "x_train" and len(has_test) == 1:
        raise DatasetError(f"{label} has {has_test[0]} but not its partner; expected both x_test and y_test "
                           f"or neither. Keys found: {keys}.")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: _npz_member(npz, k, label) for k in wanted if k in members}
    class_names = None
    if "class_names" in arrays:
        cn = arrays["class_names"]
        if cn.dtype.kind not in "US" or cn.ndim != 1:
            raise DatasetError(f"class_names in {label} must be a 1-D array of strings; got dtype {cn.dtype}, "
                               f"shape {cn.shape}. Save it as np.array(names, dtype=str).")
        class_names = [c.decode() if isinstance(c, bytes) else str(c) for c in cn.tolist()]
    if name is None:
        name = "upload:" + (Path(label).stem if label != "npz data" else "npz")
    return from_arrays(arrays[x_key], arrays[y_key], name, class_names=class_names,
                       x_test=arrays.get("x_test") if x_key == "x_train" else None,
                       y_test=arrays.get("y_test") if x_key == "x_train" else None,
                       source=f"npz file {label} (keys {keys})")


def _check_zip_sizes(infos: list[zipfile.ZipInfo], label: str) -> None:
    total, packed = archives.declared_sizes(infos)
    if archives.is_bomb(total, packed, MAX_INFLATED_BYTES):
        raise DatasetError(
            f"{label} looks like a zip bomb: its members declare {_fmt_bytes(total)} uncompressed from "
            f"{_fmt_bytes(packed)} compressed (ratio {total / packed:,.0f}x); the limits are "
            f"{_fmt_bytes(MAX_INFLATED_BYTES)} in total (MAX_INFLATED_BYTES) and {archives.BOMB_MAX_RATIO}x above "
            f"{_fmt_bytes(archives.BOMB_MIN_BYTES)}. Upload a smaller sample of the data.")


def _check_npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, label: str) -> None:
    """Reads a member's .npy header only: refuses pickled dtypes and shapes larger than the member."""
    fmt = np.lib.format
    try:
        with zf.open(info) as f:
            version = fmt.read_magic(f)
            reader = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = reader(f)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as e:
        raise DatasetError(f"array {key!r} in {label} is not a valid .npy member: {e}") from e
    if dtype.hasobject:
        raise DatasetError(_pickle_message(key, label, dtype))
    nbytes = int(np.prod(shape, dtype=object) or 0) * dtype.itemsize
    if nbytes > info.file_size:
        raise DatasetError(f"array {key!r} in {label} declares shape {shape} of {dtype} ({_fmt_bytes(nbytes)}) "
                           f"but its member holds only {_fmt_bytes(info.file_size)}; the file is corrupt.")


def _npz_member(npz: np.lib.npyio.NpzFile, key: str, label: str) -> np.ndarray:
    try:
        return npz[key]
    except ValueError as e:
        if "pickle" in str(e):
            raise DatasetError(_pickle_message(key, label, "object")) from e
        raise DatasetError(f"could not read array {key!r} from {label}: {e}") from e
    except (OSError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError) as e:
        raise DatasetError(f"could not read array {key!r} from {label}: {e}") from e


def _pickle_message(key: str, label: str, dtype: object) -> str:
    return (f"array {key!r} in {label} has dtype {dtype}, which can only be loaded by unpickling; pickle is "
            "refused for safety (allow_pickle=False). Save numeric arrays (e.g. x.astype('uint8')) and "
            "class names as np.array(names, dtype=str).")


def parse_idx(data: bytes) -> np.ndarray:
    """Parses an IDX file (the MNIST format), gzip-compressed or not.

    Header: two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then
    each dimension as a big-endian uint32.

    Returns:
        The array in native byte order.
    """
    data = bytes(data)
    if not data:
        raise DatasetError("IDX data is an empty file (0 bytes); expected an IDX header and payload.")
    if data[:2] == b"\x1f\x8b":
        data = _gunzip_bounded(data)
        if not data:
            raise DatasetError("IDX data is an empty file once decompressed (0 bytes).")
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES or data[3] == 0:
        raise DatasetError(f"not an IDX file: expected magic bytes 00 00 <type {{08,09,0B,0C,0D,0E}}> "
                           f"<ndim ≥ 1>, got {data[:4].hex(' ')} ({_sniff(data)}).")
    dtype, ndim = np.dtype(_IDX_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"IDX header declares {ndim} dimensions ({header} header bytes) but the file holds "
                           f"only {len(data)} bytes.")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize
    received = len(data) - header
    if expected != received:
        raise DatasetError(f"IDX header declares shape {dims} of {dtype.name}, i.e. {expected:,} bytes of data, "
                           f"but the file holds {received:,} bytes after the {header}-byte header; the file is "
                           "truncated or its header is wrong.")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def load_idx(train_images: Source, train_labels: Source, test_images: Source | None = None,
             test_labels: Source | None = None, name: str = "idx") -> Dataset:
    """Loads IDX image (3-D) and label (1-D) files, each optionally gzipped.

    Without test files, the training files are split stratified 80/20.
    """
    if (test_images is None) != (test_labels is None):
        raise DatasetError("give both test_images and test_labels, or neither (the train files are then split).")
    parts, labels = [], []
    for src, what, ndim in ((train_images, "train_images", 3), (train_labels, "train_labels", 1),
                            (test_images, "test_images", 3), (test_labels, "test_labels", 1)):
        if src is None:
            parts.append(None)
            continue
        data, label = _read_bytes(src, what)
        try:
            arr = parse_idx(data)
        except DatasetError as e:
            raise DatasetError(f"{what} ({label}): {e}") from None
        if arr.ndim != ndim:
            kind = "images (n, rows, cols)" if ndim == 3 else "labels (n,)"
            raise DatasetError(f"{what} ({label}) must be a {ndim}-D IDX file of {kind}; got a {arr.ndim}-D "
                               f"array of shape {arr.shape}. Are the images and labels files swapped?")
        parts.append(arr)
        labels.append(label)
    return from_arrays(parts[0], parts[1], name, x_test=parts[2], y_test=parts[3],
                       source=f"IDX files {', '.join(labels)}")


def _gunzip_bounded(data: bytes) -> bytes:
    """Decompresses (possibly multi-member) gzip, stopping beyond MAX_INFLATED_BYTES.

    Also stops, as zip members are, once the output breaks the ratio rule of
    :func:`featlib.archives.is_bomb`.
    """
    limit, out, buf = MAX_INFLATED_BYTES, bytearray(), data
    try:
        while buf[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not d.eof:
                chunk = d.decompress(buf, min(_GZIP_CHUNK, limit - len(out) + 1))
                out += chunk
                if len(out) > limit:
                    raise DatasetError(
                        f"gzip data inflates to more than {_fmt_bytes(limit)} (MAX_INFLATED_BYTES) from "
                        f"{_fmt_bytes(len(data))}; refused as a likely zip bomb. Upload a smaller file.")
                if archives.is_bomb(len(out), len(data), limit):
                    raise DatasetError(
                        f"gzip data inflates to more than {_fmt_bytes(len(out))} from {_fmt_bytes(len(data))} "
                        f"(ratio over {len(out) / len(data):,.0f}x); refused as a likely zip bomb: the limit is "
                        f"{archives.BOMB_MAX_RATIO}x above {_fmt_bytes(archives.BOMB_MIN_BYTES)}. Upload a smaller file.")
                buf = d.unconsumed_tail
                if not chunk and not buf:
                    raise DatasetError("gzip data is truncated (the stream ends early); re-create the file.")
            buf = d.unused_data
    except zlib.error as e:
        raise DatasetError(f"gzip data is corrupt: {e}") from e
    if buf.strip(b"\x00"):
        raise DatasetError(f"gzip data has {len(buf):,} unexpected trailing bytes after the compressed stream.")
    return bytes(out)


# ----------------------------------------------------------------------------- arrays & validation

def from_arrays(x: np.ndarray, y: np.ndarray, name: str, class_names: list[str] | tuple[str, ...] | None = None,
                x_test: np.ndarray | None = None, y_test: np.ndarray | None = None, source: str = "") -> Dataset:
    """Validates and converts arrays into a `Dataset`; every loader ends here.

    Args:
        x: Images `(n, h, w)`, `(n, h, w, 1)` or `(n, h*w)` with `h == w`;
            integers 0..255, or floats in [0, 1] (scaled ×255) or [0, 255].
        y: Integer labels `(n,)` / `(n, 1)`, whole-number floats, or one-hot `(n, k)`.
        name: Dataset name.
        class_names: One name per class; default `"0"..str(max label)`.
        x_test, y_test: Test split; when absent, `x, y` are split 80/20
            (stratified when every class has at least 2 members).
        source: One line saying where the data came from.
    """
    if (x_test is None) != (y_test is None):
        raise DatasetError("give both x_test and y_test, or neither (x, y are then split 80/20).")
    x = _as_images(x, "x" if x_test is None else "x_train")
    y, width = _as_labels(y, len(x), "y" if x_test is None else "y_train")
    if x_test is None:
        x, x_test, y, y_test = _split(x, y)
        width_test = 0
    else:
        x_test = _as_images(x_test, "x_test")
        y_test, width_test = _as_labels(y_test, len(x_test), "y_test")
        if x.shape[1:] != x_test.shape[1:]:
            raise DatasetError(f"train and test images must have the same size; got {_hw(x)} and {_hw(x_test)}.")
    top = int(max(y.max(), y_test.max()))
    if class_names is None:
        k = max(top + 1, width, width_test)
        if k > MAX_CLASSES:
            raise DatasetError(f"at most {MAX_CLASSES} classes are supported; got labels up to {top}.")
        class_names = tuple(str(i) for i in range(k))
    else:
        class_names = tuple(str(c) for c in class_names)
        if len(class_names) > MAX_CLASSES:
            raise DatasetError(f"at most {MAX_CLASSES} classes are supported; got {len(class_names)} class names.")
        if len(set(class_names)) != len(class_names):
            dup = sorted({c for c in class_names if class_names.count(c) > 1})
            raise DatasetError(f"class names must be unique; got duplicates {dup}.")
        if top >= len(class_names) or max(width, width_test) > len(class_names):
            raise DatasetError(f"labels must be in 0..{len(class_names) - 1} for {len(class_names)} class names "
                               f"{list(class_names)[:20]}; got label {max(top, max(width, width_test) - 1)}.")
    present = np.unique(y)
    if len(present) < 2:
        raise DatasetError(f"the training split needs at least 2 classes to colour and compare; got only "
                           f"class {int(present[0])}.")
    return Dataset(name, x, y, x_test, y_test, class_names, source)


def _as_images(x: object, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise DatasetError(f"{what} must hold numeric pixel values (integers 0..255 or floats); got dtype "
                           f"{x.dtype}. Convert it first, e.g. {what}.astype('uint8').")
    shape = x.shape
    if x.ndim == 4 and shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == 2:
        side = int(round(shape[1] ** 0.5))
        if side * side != shape[1]:
            raise DatasetError(f"{what} of shape {shape}: flat images need a square number of pixels (h*w with "
                               f"h == w); {shape[1]} is not a perfect square.")
        x = x.reshape(shape[0], side, side)
    elif x.ndim != 3:
        raise DatasetError(f"{what} must have shape (n, h, w), (n, h, w, 1) or (n, h*w); got shape {shape}.")
    if x.shape[0] == 0 or x.size == 0:
        raise DatasetError(f"{what} holds no images (shape {shape}); need at least one non-empty image.")
    if max(x.shape[1:]) > MAX_IMAGE_SIDE:
        raise DatasetError(f"images larger than {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} are not supported; {what} "
                           f"holds {_hw(x)} images. Downscale them first.")
    if x.dtype.kind == "f":
        bad = x.size - int(np.count_nonzero(np.isfinite(x)))
        if bad:
            raise DatasetError(f"{what} holds {bad:,} NaN/inf values; pixel values must be finite. "
                               "Replace them first, e.g. with np.nan_to_num.")
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0 and hi <= 1:
            x = x * 255.0
        elif lo < 0 or hi > 255:
            raise DatasetError(f"float pixel values must lie in [0, 1] or [0, 255]; {what} ranges over "
                               f"[{lo:g}, {hi:g}]. Rescale it first.")
        return np.ascontiguousarray(np.rint(x), dtype=np.uint8)
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi > 255:
        raise DatasetError(f"integer pixel values must lie in 0..255; {what} ranges over {lo}..{hi}. "
                           "Rescale it first.")
    return np.ascontiguousarray(x, dtype=np.uint8)


def _as_labels(y: object, n: int, what: str) -> tuple[np.ndarray, int]:
    """Returns int64 labels (n,) and the one-hot width (0 when not one-hot)."""
    y, width = np.asarray(y), 0
    if y.dtype.kind not in "uif":
        raise DatasetError(f"{what} must hold integer class indices 0..k-1; got dtype {y.dtype}. Map names to "
                           "indices and pass the names as class_names.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] >= 2:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DatasetError(f"2-D {what} of shape {y.shape} must be one-hot (one 1 per row, zeros elsewhere).")
        y, width = y.argmax(axis=1), y.shape[1]
    elif y.ndim != 1:
        raise DatasetError(f"{what} must have shape (n,), (n, 1) or one-hot (n, k); got shape {y.shape}.")
    if len(y) != n:
        raise DatasetError(f"images and labels must have the same count; got {n:,} images and {len(y):,} "
                           f"labels in {what}.")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise DatasetError(f"float {what} must hold whole numbers; got values such as "
                               f"{y[~np.isfinite(y) | (y != np.round(y))][:3].tolist()}.")
    if (y < 0).any():
        raise DatasetError(f"labels must be >= 0; {what} holds {int((y < 0).sum()):,} negative labels "
                           f"(smallest {y.min()}).")
    if y.max() >= MAX_CLASSES:
        raise DatasetError(f"at most {MAX_CLASSES} classes are supported; {what} holds label {y.max()}.")
    return y.astype(np.int64), width


def _split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic 80/20 split, stratified when every class has at least 2 members."""
    from sklearn.model_selection import train_test_split

    if len(x) < 2:
        raise DatasetError(f"need at least 2 images to split into train and test; got {len(x)}. "
                           "Provide x_test and y_test.")
    counts = np.bincount(y)
    counts = counts[counts > 0]
    n_test = int(np.ceil(_TEST_FRACTION * len(x)))
    stratify = y if counts.min() >= 2 and len(counts) <= min(n_test, len(x) - n_test) else None
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=_TEST_FRACTION, random_state=0, stratify=stratify)
    return x_tr, x_te, y_tr, y_te


def sample_indices_per_class(labels: np.ndarray, per_class: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Picks up to `per_class` indices of each class present, deterministically.

    Returns:
        `{class index: sorted indices into labels}`, for classes in ascending order.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1; got {per_class}.")
    labels = np.asarray(labels).ravel()
    rng = np.random.default_rng(seed)
    out = {}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        out[int(c)] = np.sort(rng.choice(idx, size=min(per_class, len(idx)), replace=False))
    return out


# ----------------------------------------------------------------------------- helpers

def _read_bytes(source: Source, what: str) -> tuple[bytes, str]:
    """Reads a path, bytes or binary file object after checking its size; returns (data, label)."""
    limit = MAX_UPLOAD_BYTES
    too_big = ("{label} is {size}; files are limited to {limit} (MAX_UPLOAD_BYTES). Use a smaller file or a "
               f"sample, or raise the limit with {UPLOAD_LIMIT_ENV}.")
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label, size = bytes(source), what, len(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = path.name
        try:
            size = path.stat().st_size
            if size > limit:
                raise DatasetError(too_big.format(label=label, size=_fmt_bytes(size), limit=_fmt_bytes(limit)))
            data = path.read_bytes()
        except FileNotFoundError:
            raise DatasetError(f"No such file: {str(path)!r}.") from None
        except OSError as e:
            raise DatasetError(f"could not read {str(path)!r}: {e}") from e
        size = len(data)
    elif hasattr(source, "read"):
        label = Path(str(getattr(source, "name", "") or what)).name
        size = _stream_size(source)
        if size is not None and size > limit:
            raise DatasetError(too_big.format(label=label, size=_fmt_bytes(size), limit=_fmt_bytes(limit)))
        data = source.read(limit + 1)
        if not isinstance(data, bytes):
            raise DatasetError(f"{label} must be opened in binary mode ('rb'); read() returned {type(data).__name__}.")
        size = len(data)
    else:
        raise DatasetError(f"{what} must be a path, bytes or a binary file object; got {type(source).__name__}.")
    if size > limit:
        raise DatasetError(too_big.format(label=label, size=_fmt_bytes(size), limit=_fmt_bytes(limit)))
    return data, label


def _stream_size(f: IO[bytes]) -> int | None:
    """Size of a file object without reading it; rewinds it to the start."""
    if hasattr(f, "getbuffer"):
        with f.getbuffer() as buf:
            size = buf.nbytes
    elif getattr(f, "seekable", lambda: False)():
        size = f.seek(0, io.SEEK_END)
    else:
        return None
    f.seek(0)
    return size


def _sniff(data: bytes) -> str:
    """Describes what some bytes look like, for error messages."""
    kinds = {b"PK\x03\x04": "a zip/.npz file", b"\x1f\x8b": "gzip data", b"\x93NUMPY": "a single .npy array "
             "(save with np.savez instead)", b"\x89PNG": "a PNG image", b"\x00\x00\x08": "an IDX file"}
    if not data:
        return "an empty file"
    for magic, kind in kinds.items():
        if data.startswith(magic):
            return kind
    return f"{len(data):,} bytes starting with {data[:8]!r}"


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


def _hw(x: np.ndarray) -> str:
    return f"{x.shape[1]}×{x.shape[2]}"
