"""Datasets of small grey images with integer class labels.

A `Dataset` holds uint8 images `(n, h, w)` and int64 labels for a train and a
test split (one of which may be empty, e.g. MNIST's `t10k` files on their own),
plus class names and a content fingerprint. Loaders cover
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

import contextlib
import dataclasses
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
from typing import IO, Sequence, Union

import numpy as np

from featlib import archives, settings
from featlib.errors import DatasetError, DatasetUnavailableError
from featlib.names import MAX_NAME_LENGTH

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]


UPLOAD_LIMIT_ENV = "FEATLIB_MAX_UPLOAD_MB"


def upload_limit_bytes(environ: dict | None = None) -> int:
    """The size limit of one uploaded file in bytes: `$FEATLIB_MAX_UPLOAD_MB` MiB, 200 when unset.

    Read at each use (:func:`featlib.settings.get`): `MAX_UPLOAD_BYTES` (and `models.MAX_MODEL_BYTES`,
    `bundle.MAX_BUNDLE_BYTES`) is this value, read when the attribute is read, not at import.

    Raises:
        featlib.errors.SettingError: (a ``ValueError``) the variable is set to something other than a positive number.
    """
    return settings.mebibytes(UPLOAD_LIMIT_ENV, environ=environ)


def __getattr__(name: str) -> int:
    """`MAX_UPLOAD_BYTES`: :func:`upload_limit_bytes`, read now (the setting is never read at import)."""
    if name == "MAX_UPLOAD_BYTES":
        return upload_limit_bytes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_INFLATED_BYTES: int = 1024 * 1024 * 1024
MAX_IMAGE_SIDE = 512
MAX_CLASSES = 1000
_GZIP_CHUNK = 8 * 1024 * 1024
_TEST_FRACTION = 0.2
SPLITS: tuple[str, ...] = ("train", "test")
SINGLE_SPLIT_CHOICES: tuple[str, ...] = ("test", "train", "split")
"""How `load_idx` uses one images/labels pair: as the test split, as the train split, or split in two."""

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
IDX_MAX_DIMS = 4
"""The most dimensions an IDX header may declare: featlib reads images (3) and labels (1); more is refused
before any data is read (NumPy itself stops at 64, with a bare ValueError)."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels for a train and a test split; one split (never both) may be empty.

    Arrays are stored as read-only views: uint8 images `(n, h, w)` with values
    0..255 and int64 labels `(n,)` with values `0..num_classes-1`. An empty
    split holds `(0, h, w)` images and `(0,)` labels. Build one with
    `from_arrays` (which validates and converts) or a loader.

    Attributes:
        name: Short identifier, e.g. `"digits"` or `"t10k-images-idx3-ubyte.gz + …"`.
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
        if not self.splits:
            raise DatasetError(f"Dataset {self.name!r} has no images: both its train and test splits are empty; "
                               "expected at least one non-empty split.")

    @property
    def splits(self) -> tuple[str, ...]:
        """The non-empty splits, in order: `("train", "test")`, `("train",)` or `("test",)`."""
        return tuple(name for name, y in (("train", self.y_train), ("test", self.y_test)) if len(y))

    @property
    def image_shape(self) -> tuple[int, int]:
        """Image height and width (the same in both splits, empty or not)."""
        return (int(self.x_train.shape[1]), int(self.x_train.shape[2]))

    @property
    def num_classes(self) -> int:
        """Number of classes (`len(class_names)`)."""
        return len(self.class_names)

    @property
    def num_images(self) -> int:
        """Number of images in both splits together."""
        return len(self.y_train) + len(self.y_test)

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
        """Returns `(images, labels)` of `"train"` or `"test"`.

        Raises:
            DatasetError: no such split name, or that split is empty (the message names the splits there are).
        """
        if split not in SPLITS:
            raise DatasetError(f"No such split: {split!r}. Valid splits are: {list(SPLITS)}")
        if split not in self.splits:
            raise DatasetError(f"The dataset {self.name!r} has no {split} split; expected one of its splits "
                               f"{list(self.splits)}, got {split!r}.")
        return (self.x_train, self.y_train) if split == "train" else (self.x_test, self.y_test)

    def summary(self) -> str:
        """One line, e.g. `"digits: 1,437 train + 360 test images, 8×8, 10 classes"`.

        With one split empty: `"MNIST t10k: 10,000 test images (no train split), 28×28, 10 classes"`.
        """
        if len(self.splits) == 2:
            counts = f"{len(self.y_train):,} train + {len(self.y_test):,} test images"
        else:
            [split], missing = self.splits, "test" if self.splits == ("train",) else "train"
            counts = f"{len(self.split(split)[1]):,} {split} images (no {missing} split)"
        return f"{self.name}: {counts}, {_hw(self.x_train)}, {self.num_classes} classes"


def content_summary(dataset: Dataset, kind: str) -> str:
    """What a dataset file holds, in words, e.g. `"MNIST-like IDX, 10 classes, 10,000 images, 28×28"`.

    "MNIST-like" is said of 28×28 images in 10 classes. Images are counted over both splits.

    Args:
        dataset: The loaded dataset.
        kind: The file format, `"IDX"` or `"npz"` (case-insensitive).

    Raises:
        ValueError: another kind.
    """
    kinds = {"idx": "IDX", "npz": "npz"}
    if str(kind).lower() not in kinds:
        raise DatasetError(f"kind must be one of {list(kinds.values())}; got {kind!r}.")
    like = "MNIST-like " if dataset.image_shape == (28, 28) and dataset.num_classes == 10 else ""
    return (f"{like}{kinds[str(kind).lower()]}, {dataset.num_classes} classes, {dataset.num_images:,} images, "
            f"{_hw(dataset.x_train)}")


def default_upload_name(filenames: Sequence[str], dataset: Dataset, kind: str) -> str:
    """The name an upload is kept under: the files' names, then what they hold.

    E.g. `"t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (MNIST-like IDX, 10 classes, 10,000 images,
    28×28)"`. Only the base names of the files are used, with unprintable characters replaced by `"?"`; the
    result is printable and at most `MAX_NAME_LENGTH` (120, featlib.names) characters: when the names do not fit, the later
    files are counted (`"a.gz + 3 more files"`) and a long name is shortened in its middle (`"abc…xyz.npz"`).

    Args:
        filenames: The uploaded files' names, as the user chose them (paths are reduced to base names).
        dataset: The dataset loaded from them.
        kind: `"IDX"` or `"npz"` (see `content_summary`).
    """
    suffix = f" ({content_summary(dataset, kind)})"
    files = files_title(filenames, MAX_NAME_LENGTH - len(suffix))
    return files + suffix if files else _shorten(content_summary(dataset, kind), MAX_NAME_LENGTH)


def files_title(filenames: Sequence[str], budget: int = MAX_NAME_LENGTH) -> str:
    """The files' base names joined, printable, in at most ``budget`` characters.

    E.g. ``"a.gz + b.gz"``, or ``"a.gz + 3 more files"`` when they do not fit.
    Unprintable characters become ``"?"``; a long name is shortened in its middle. ``""`` when no name is left.
    """
    names = [_printable(Path(str(f).replace("\\", "/")).name) for f in filenames]
    names = [n for n in names if n]
    return _join_names(names, budget) if names else ""


def _join_names(names: Sequence[str], budget: int) -> str:
    """`"a + b"`, or `"a + 2 more files"`, or a shortened `"a…"`, in at most `budget` (≥ 8) characters."""
    budget = max(budget, 8)
    joined = " + ".join(names)
    if len(joined) <= budget:
        return joined
    more = f" + {len(names) - 1} more file{'s' if len(names) > 2 else ''}" if len(names) > 1 else ""
    return _shorten(names[0], max(budget - len(more), 8)) + more


def _shorten(text: str, limit: int) -> str:
    """`text` cut in its middle with "…" to at most `limit` characters, keeping the end (e.g. the extension)."""
    if len(text) <= limit:
        return text
    tail = min(len(text) // 3, (limit - 1) // 2)
    return text[: limit - 1 - tail] + "…" + text[len(text) - tail:]


def _printable(text: str) -> str:
    """`text` with whitespace runs as one space and other unprintable characters as "?"."""
    text = " ".join(text.split())
    return "".join(c if c.isprintable() else "?" for c in text)


# ----------------------------------------------------------------------------- built-ins

def load_builtin(name: str) -> Dataset:
    """Loads one of `BUILTIN_DATASETS` by key."""
    if name == "digits":
        return load_digits()
    if name in ("mnist", "fashion_mnist"):
        return load_keras_dataset(name)
    raise DatasetError(f"No such built-in dataset: {name!r}. Built-in datasets are: {list(BUILTIN_DATASETS)}")


def load_dataset(spec: "str | Dataset") -> Dataset:
    """A dataset named as the CLI takes it: a built-in name, an ``.npz`` path or IDX files.

    See :func:`featlib.dataset_sources.resolve` for the accepted forms (without a
    workspace, so uploads cannot be named here); a `Dataset` is returned as it is,
    so callers taking a spec can also be handed a dataset already loaded.

    Raises:
        DatasetError: the spec names nothing that can be loaded, or the files are bad.
    """
    if isinstance(spec, Dataset):
        return spec
    from featlib import dataset_sources

    return dataset_sources.resolve(spec)


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
    With all four, one split (not both) may hold 0 images, as a dataset with
    one empty split is saved (`np.savez` of its arrays); it loads as such.
    Zip members are checked before inflating.

    Args:
        source: A path, raw bytes, or a binary file object (e.g. an upload).
        name: Dataset name; defaults to `"upload:<file stem>"`.

    Raises:
        DatasetError: the only error for any content: not a zip, a damaged zip, members that are not
            `.npy` arrays or declare more than they hold, pickled (object) arrays, missing keys, or arrays
            that break a rule of `from_arrays`; the message names what was expected and what was received.
    """
    data, label = _read_bytes(source, "npz data")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise DatasetError(f"{label} is not an .npz file (expected a NumPy .npz archive, got {_sniff(data)}). "
                           "Save arrays with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...).")
    wanted = ("x_train", "y_train", "x_test", "y_test", "x", "y", "class_names")
    with _zip_errors(label):
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
    with _zip_errors(label), np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: _npz_member(npz, k, label) for k in wanted if k in members}
    class_names = None
    if "class_names" in arrays:
        cn = arrays["class_names"]
        if cn.dtype.kind not in "US" or cn.ndim != 1:
            raise DatasetError(f"class_names in {label} must be a 1-D array of strings; got dtype {cn.dtype}, "
                               f"shape {cn.shape}. Save it as np.array(names, dtype=str).")
        try:
            class_names = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in cn.tolist()]
        except UnicodeDecodeError as e:
            raise DatasetError(f"class_names in {label} must be text: expected UTF-8 strings, got bytes that are not "
                               f"UTF-8 ({_short(str(e))}). Save them as np.array(names, dtype=str).") from None
    if name is None:
        name = "upload:" + (Path(label).stem if label != "npz data" else "npz")
    return from_arrays(arrays[x_key], arrays[y_key], name, class_names=class_names,
                       x_test=arrays.get("x_test") if x_key == "x_train" else None,
                       y_test=arrays.get("y_test") if x_key == "x_train" else None,
                       source=f"npz file {label} (keys {keys})")


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, NotImplementedError,
               zlib.error, struct.error, KeyError, IndexError, UnicodeDecodeError, ValueError, OverflowError)
"""What the zipfile module and NumPy's .npz reader raise for damaged archives (beyond BadZipFile)."""


@contextlib.contextmanager
def _zip_errors(label: str):
    """Turns any error of reading a damaged zip into a DatasetError naming the file (DatasetError passes)."""
    try:
        yield
    except DatasetError:
        raise
    except _ZIP_ERRORS as e:
        raise DatasetError(f"{label} is not a readable .npz file: expected a NumPy .npz archive (a zip of .npy "
                           f"arrays), but reading it failed ({type(e).__name__}: {_short(str(e))}). The file is "
                           "damaged or was not written by np.savez; save it again.") from e


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions (1 to
    :data:`IDX_MAX_DIMS`), then each dimension as a big-endian uint32.

    The header is read first (of gzip data, only the first bytes are
    inflated): the size it declares is checked against
    :data:`MAX_INFLATED_BYTES` before anything is allocated, and gzip data is
    then inflated no further than that size.

    Args:
        data: the file's bytes, shape ``(size,)``.

    Returns:
        The array in native byte order, of the declared shape and type (uint8,
        int8, int16, int32, float32 or float64).

    Raises:
        DatasetError: an empty file, a wrong magic number or type code, more
            than :data:`IDX_MAX_DIMS` dimensions, a declared size above the
            limit or other than the data's, corrupt or truncated gzip data;
            the message names what was expected and what was received.
    """
    data = bytes(data)
    if not data:
        raise DatasetError("IDX data is an empty file (0 bytes); expected an IDX header and payload.")
    gzipped = data[:2] == b"\x1f\x8b"
    head = _gunzip_bounded(data, prefix=4 + 4 * IDX_MAX_DIMS) if gzipped else data
    if gzipped and not head:
        raise DatasetError("IDX data is an empty file once decompressed (0 bytes).")
    dtype, dims, header, expected = _idx_header(head, gzipped)
    if gzipped:
        data = _gunzip_bounded(data, limit=header + expected, declared=True)
    received = len(data) - header
    if expected != received:
        raise DatasetError(f"IDX header declares shape {dims} of {dtype.name}, i.e. {expected:,} bytes of data, "
                           f"but the file holds {received:,} bytes after the {header}-byte header; the file is "
                           "truncated or its header is wrong.")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def _idx_header(head: bytes, gzipped: bool) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """``(dtype, dims, header bytes, declared data bytes)`` of an IDX header, checked against the limits.

    Raises:
        DatasetError: see :func:`parse_idx`.
    """
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in _IDX_DTYPES or head[3] == 0:
        raise DatasetError(f"not an IDX file: expected magic bytes 00 00 <type {{08,09,0B,0C,0D,0E}}> "
                           f"<ndim ≥ 1>, got {head[:4].hex(' ')} ({_sniff(head)}).")
    dtype, ndim = np.dtype(_IDX_DTYPES[head[2]]), head[3]
    if ndim > IDX_MAX_DIMS:
        raise DatasetError(f"IDX header declares {ndim} dimensions; expected at most {IDX_MAX_DIMS} (images have 3: "
                           "count, rows, columns; labels 1). The file is not an IDX images or labels file, or its "
                           "header is damaged.")
    header = 4 + 4 * ndim
    if len(head) < header:
        raise DatasetError(f"IDX header declares {ndim} dimensions ({header} header bytes) but the file holds "
                           f"only {len(head)} bytes{' once decompressed' if gzipped else ''}.")
    dims = struct.unpack(f">{ndim}I", head[4:header])
    expected = math.prod(dims) * dtype.itemsize
    if expected > MAX_INFLATED_BYTES:
        raise DatasetError(f"IDX header declares shape {dims} of {dtype.name}, i.e. {_fmt_bytes(expected)} of data; "
                           f"the limit is {_fmt_bytes(MAX_INFLATED_BYTES)} (MAX_INFLATED_BYTES). Upload a smaller "
                           "sample of the data.")
    return dtype, dims, header, expected


def load_idx(images: Source, labels: Source, test_images: Source | None = None, test_labels: Source | None = None,
             *, name: str = "idx", single_split: str = "split", test_fraction: float = _TEST_FRACTION) -> Dataset:
    """Loads IDX image (3-D) and label (1-D) files, each optionally gzipped.

    With four files, `images, labels` form the train split and `test_images,
    test_labels` the test split. With one pair, `single_split` says how it is used:

    - `"split"` (the default, as before this option existed): split at random
      (seed 0, stratified by class where every class has 2 images or more),
      `test_fraction` of the images forming the test split;
    - `"test"`: all images form the test split; the train split is empty
      (e.g. MNIST's `t10k-*` files on their own);
    - `"train"`: all images form the train split; the test split is empty.

    `guess_single_split(filename)` gives the usual choice for a file name.
    The dataset's `source` names the files and how they were used, e.g.
    `"IDX files t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (one pair, used as the test split)"`.

    Args:
        images, labels: Images `(n, rows, cols)` and labels `(n,)`: a path, bytes or a binary file object.
        test_images, test_labels: The test pair, both or neither.
        name: Dataset name.
        single_split: One of `SINGLE_SPLIT_CHOICES`; ignored with four files.
        test_fraction: With `single_split="split"`: the test share, strictly between 0 and 1.

    Raises:
        DatasetError: bad files (the message names which), a bad `single_split` or `test_fraction`.
    """
    if (test_images is None) != (test_labels is None):
        raise DatasetError("give both test_images and test_labels, or neither (the images and labels then form "
                           f"one split, as single_split says: one of {list(SINGLE_SPLIT_CHOICES)}).")
    pair = test_images is None
    if pair:
        check_single_split(single_split)
        if single_split == "split":
            check_test_fraction(test_fraction)
    whats = ("images", "labels") if pair else ("train_images", "train_labels", "test_images", "test_labels")
    sources = (images, labels) if pair else (images, labels, test_images, test_labels)
    arrays, file_labels = [], []
    for src, what in zip(sources, whats):
        arr, label = _read_idx(src, what, 3 if what.endswith("images") else 1)
        arrays.append(arr)
        file_labels.append(label)
    files = f"IDX files {', '.join(file_labels)}"
    if not pair:
        return from_arrays(arrays[0], arrays[1], name, x_test=arrays[2], y_test=arrays[3], source=files)
    x, y = arrays
    if single_split == "split":
        ds = from_arrays(x, y, name, test_fraction=test_fraction, source=files)
        how = (f"split into {len(ds.y_train):,} train + {len(ds.y_test):,} test images: test_fraction "
               f"{test_fraction:g}, seed 0{', stratified by class' if _stratifies(ds.y_train, ds.y_test) else ''}")
        return dataclasses.replace(ds, source=f"{files} (one pair, {how})")
    source = f"{files} (one pair, used as the {single_split} split)"
    empty_x, empty_y = np.empty((0,) + x.shape[1:], x.dtype), np.empty((0,), y.dtype)
    if single_split == "train":
        return from_arrays(x, y, name, x_test=empty_x, y_test=empty_y, source=source)
    return from_arrays(empty_x, empty_y, name, x_test=x, y_test=y, source=source)


def _read_idx(source: Source, what: str, ndim: int) -> tuple[np.ndarray, str]:
    """Reads and parses one IDX file that must have `ndim` dimensions; returns `(array, file label)`."""
    data, label = _read_bytes(source, what)
    where = what if label == what else f"{what} ({label})"
    try:
        arr = parse_idx(data)
    except DatasetError as e:
        raise DatasetError(f"{where}: {e}") from None
    if arr.ndim != ndim:
        kind = "images (n, rows, cols)" if ndim == 3 else "labels (n,)"
        raise DatasetError(f"{where} must be a {ndim}-D IDX file of {kind}; got a {arr.ndim}-D array of shape "
                           f"{arr.shape}. Are the images and labels files swapped?")
    return arr, label


def guess_single_split(filename: str) -> str:
    """How to use one IDX images/labels pair, judged by the images file's name: `"test"` or `"split"`.

    `"test"` when the base name (not the folders) contains "t10k" or "test", case-insensitive, as
    MNIST's `t10k-images-idx3-ubyte.gz` does; `"split"` otherwise. See `load_idx`.
    """
    base = Path(str(filename).replace("\\", "/")).name.lower()
    return "test" if "t10k" in base or "test" in base else "split"


def check_single_split(single_split: str) -> str:
    """Returns `single_split` when it is one of `SINGLE_SPLIT_CHOICES`.

    Raises:
        DatasetError: another value; the message names the valid choices.
    """
    if single_split not in SINGLE_SPLIT_CHOICES:
        raise DatasetError(f"single_split must be one of {list(SINGLE_SPLIT_CHOICES)} (use one images/labels pair "
                           f"as the test split, as the train split, or split it in two); got {single_split!r}.")
    return single_split


def check_test_fraction(test_fraction: float) -> float:
    """Returns `test_fraction` as a float when it is a number strictly between 0 and 1.

    Raises:
        DatasetError: anything else (0, 1, negative, NaN, not a number).
    """
    ok = isinstance(test_fraction, (int, float, np.integer, np.floating)) and not isinstance(test_fraction, bool)
    if not (ok and 0 < float(test_fraction) < 1):
        raise DatasetError(f"test_fraction must be a number strictly between 0 and 1 (the share of images kept "
                           f"for the test split), like 0.2; got {test_fraction!r}.")
    return float(test_fraction)


def _gunzip_bounded(data: bytes, limit: int | None = None, *, prefix: int | None = None,
                    declared: bool = False) -> bytes:  # fmt: skip
    """Decompresses (possibly multi-member) gzip, stopping beyond ``limit`` bytes (default MAX_INFLATED_BYTES).

    Also stops, as zip members are, once the output breaks the ratio rule of
    :func:`featlib.archives.is_bomb`.

    Args:
        data: the gzip bytes.
        limit: the most bytes inflated; more is refused.
        prefix: only inflate the first ``prefix`` bytes (or fewer, when the data holds fewer), e.g. a header;
            the rest of the stream is neither inflated nor checked.
        declared: ``limit`` is the size the data's own header declares (the message says so).

    Raises:
        DatasetError: more than ``limit``, a likely bomb, corrupt, truncated or trailing data.
    """
    limit = MAX_INFLATED_BYTES if limit is None else limit
    out, buf = bytearray(), data
    try:
        while buf[:2] == b"\x1f\x8b":
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not d.eof:
                want = prefix - len(out) if prefix is not None else min(_GZIP_CHUNK, limit - len(out) + 1)
                chunk = d.decompress(buf, want)
                out += chunk
                if prefix is not None and len(out) >= prefix:
                    return bytes(out[:prefix])
                if len(out) > limit and declared:
                    raise DatasetError(
                        f"gzip data inflates to more than the {limit:,} bytes its IDX header declares; expected "
                        "exactly that many. The file's header is wrong, or data was appended.")
                if len(out) > limit:
                    raise DatasetError(
                        f"gzip data inflates to more than {_fmt_bytes(limit)} (MAX_INFLATED_BYTES) from "
                        f"{_fmt_bytes(len(data))}; refused as a likely zip bomb. Upload a smaller file.")
                if archives.is_bomb(len(out), len(data), MAX_INFLATED_BYTES):
                    raise DatasetError(
                        f"gzip data inflates to more than {_fmt_bytes(len(out))} from {_fmt_bytes(len(data))} "
                        f"(ratio over {len(out) / len(data):,.0f}x); refused as a likely zip bomb: the limit is "
                        f"{archives.BOMB_MAX_RATIO}x above {_fmt_bytes(archives.BOMB_MIN_BYTES)}. Upload a smaller file.")
                buf = d.unconsumed_tail
                if not chunk and not buf:
                    if prefix is not None:
                        return bytes(out)
                    raise DatasetError("gzip data is truncated (the stream ends early); re-create the file.")
            buf = d.unused_data
    except zlib.error as e:
        raise DatasetError(f"gzip data is corrupt: {e}") from e
    if prefix is not None:
        return bytes(out)
    if buf.strip(b"\x00"):
        raise DatasetError(f"gzip data has {len(buf):,} unexpected trailing bytes after the compressed stream.")
    return bytes(out)


# ----------------------------------------------------------------------------- arrays & validation

def from_arrays(x: np.ndarray, y: np.ndarray, name: str, class_names: list[str] | tuple[str, ...] | None = None,
                x_test: np.ndarray | None = None, y_test: np.ndarray | None = None, source: str = "", *,
                test_fraction: float = _TEST_FRACTION) -> Dataset:
    """Validates and converts arrays into a `Dataset`; every loader ends here.

    Args:
        x: Images `(n, h, w)`, `(n, h, w, 1)` or `(n, h*w)` with `h == w`;
            integers 0..255, or floats in [0, 1] (scaled ×255) or [0, 255].
        y: Integer labels `(n,)` / `(n, 1)`, whole-number floats, or one-hot `(n, k)`.
        name: Dataset name.
        class_names: One name per class; default `"0"..str(max label)`.
        x_test, y_test: Test split; when absent, `x, y` are split at random
            (seed 0), `test_fraction` of them (default 0.2) forming the test
            split (stratified when every class has at least 2 members).
            Given, one of the two splits may be empty (0 images and 0 labels,
            of any shape): the dataset then has only the other split.
        source: One line saying where the data came from.
        test_fraction: The test share when `x, y` are split, strictly between 0 and 1.

    Raises:
        DatasetError: the arrays break a rule; the message names it, what was expected and what was received.
    """
    if (x_test is None) != (y_test is None):
        raise DatasetError("give both x_test and y_test, or neither (x, y are then split 80/20).")
    if x_test is None:
        x = _as_images(x, "x")
        y, width = _as_labels(y, len(x), "y")
        x, x_test, y, y_test = _split(x, y, check_test_fraction(test_fraction))
        width_test = 0
    else:
        (x, y, width), (x_test, y_test, width_test) = _two_splits(x, y, x_test, y_test)
    labels = [part for part in (y, y_test) if len(part)]
    top = int(max(part.max() for part in labels))
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
    present = np.unique(labels[0])
    if len(present) < 2:
        which = "training split" if len(y) else "test split (the only split)"
        raise DatasetError(f"the {which} needs at least 2 classes to colour and compare; got only "
                           f"class {int(present[0])}.")
    return Dataset(name, x, y, x_test, y_test, class_names, source)


def _two_splits(x: object, y: object, x_test: object, y_test: object) -> tuple[tuple, tuple]:
    """Validates explicit train and test splits, one of which may be empty; returns `(x, y, width)` of each.

    An empty split (0 images, 0 labels) becomes uint8 `(0, h, w)` images and int64 `(0,)` labels, `h, w` those
    of the other split, so that the fingerprint does not depend on the shape the empty arrays came in.
    """
    empty_train, empty_test = _is_empty(x), _is_empty(x_test)
    if empty_train and empty_test:
        raise DatasetError(f"x_train and x_test hold no images (shapes {np.shape(x)} and {np.shape(x_test)}); "
                           "need at least one non-empty image in one of the splits.")
    out = []
    for images, labels, empty, (what_x, what_y) in ((x, y, empty_train, ("x_train", "y_train")),
                                                    (x_test, y_test, empty_test, ("x_test", "y_test"))):
        if empty:
            out.append(None)
            n_labels = np.shape(labels)[0] if np.ndim(labels) else 1
            if n_labels:
                raise DatasetError(f"images and labels must have the same count; got 0 images and "
                                   f"{n_labels:,} labels in {what_y}.")
            continue
        images = _as_images(images, what_x)
        labels, width = _as_labels(labels, len(images), what_y)
        out.append((images, labels, width))
    full = next(part for part in out if part is not None)
    hw = full[0].shape[1:]
    filled = [part or (np.empty((0, *hw), np.uint8), np.empty((0,), np.int64), 0) for part in out]
    if filled[0][0].shape[1:] != filled[1][0].shape[1:]:
        raise DatasetError(f"train and test images must have the same size; got {_hw(filled[0][0])} and "
                           f"{_hw(filled[1][0])}.")
    return filled[0], filled[1]


def _is_empty(images: object) -> bool:
    """Whether an images array holds no images (a first dimension of 0)."""
    shape = np.shape(images)
    return len(shape) > 0 and shape[0] == 0


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


def _split(x: np.ndarray, y: np.ndarray, test_fraction: float = _TEST_FRACTION
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic split (seed 0) with `test_fraction` of the images in the test split.

    Stratified when every class has at least 2 members and there are enough images on each side.

    Raises:
        DatasetError: fewer than 2 images, or a fraction that leaves one side empty.
    """
    from sklearn.model_selection import train_test_split

    if len(x) < 2:
        raise DatasetError(f"need at least 2 images to split into train and test; got {len(x)}. "
                           "Provide x_test and y_test.")
    n_test = int(np.ceil(test_fraction * len(x)))
    if n_test >= len(x):
        raise DatasetError(f"test_fraction {test_fraction:g} of {len(x):,} images leaves no image for the train "
                           f"split; expected a fraction that keeps at least one image on each side, like 0.2.")
    stratify = y if _stratifiable(y, n_test, len(x) - n_test) else None
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=test_fraction, random_state=0, stratify=stratify)
    return x_tr, x_te, y_tr, y_te


def _stratifiable(y: np.ndarray, n_test: int, n_train: int) -> bool:
    """Whether a split of `y` into `n_train` + `n_test` can be stratified by class."""
    counts = np.bincount(y)
    counts = counts[counts > 0]
    return bool(counts.min() >= 2 and len(counts) <= min(n_test, n_train))


def _stratifies(y_train: np.ndarray, y_test: np.ndarray) -> bool:
    """Whether `_split` stratified the split that gave `y_train` and `y_test`."""
    y = np.concatenate([y_train, y_test])
    return _stratifiable(y, len(y_test), len(y_train))


def sample_indices_per_class(labels: np.ndarray, per_class: int, seed: int = 0) -> dict[int, np.ndarray]:
    """Picks up to `per_class` indices of each class present, deterministically.

    Returns:
        `{class index: sorted indices into labels}`, for classes in ascending order.
    """
    if per_class < 1:
        raise DatasetError(f"per_class must be >= 1; got {per_class}.")
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
    limit = upload_limit_bytes()
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
