"""A :class:`Dataset` of small grey images with integer labels, its splits, and :func:`from_arrays`.

A `Dataset` holds uint8 images `(n, h, w)` and int64 labels for a train and a test split (one of which may be
empty, e.g. MNIST's `t10k` files on their own), plus class names and a content fingerprint. Every loader funnels
through `from_arrays`, the one place where inputs are validated; bad input raises `DatasetError` with the rule,
what was expected and what was received.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featlib.errors import DatasetError
from featlib.lazy import sklearn
from featlib.names import MAX_NAME_LENGTH

MAX_IMAGE_SIDE = 512
MAX_CLASSES = 1000

_TEST_FRACTION = 0.2
SPLITS: tuple[str, ...] = ("train", "test")
SINGLE_SPLIT_CHOICES: tuple[str, ...] = ("test", "train", "split")
"""How `load_idx` uses one images/labels pair: as the test split, as the train split, or split in two."""


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
                    f"{x.dtype} {x.shape} and {y.dtype} {y.shape}. Build datasets with from_arrays()."
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(
                f"train and test images must have the same size; got {_hw(self.x_train)} and {_hw(self.x_test)}."
            )
        if not self.splits:
            raise DatasetError(
                f"Dataset {self.name!r} has no images: both its train and test splits are empty; "
                "expected at least one non-empty split."
            )

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
            raise DatasetError(
                f"The dataset {self.name!r} has no {split} split; expected one of its splits "
                f"{list(self.splits)}, got {split!r}."
            )
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
    return (
        f"{like}{kinds[str(kind).lower()]}, {dataset.num_classes} classes, {dataset.num_images:,} images, "
        f"{_hw(dataset.x_train)}"
    )


def default_upload_name(filenames: Sequence[str], dataset: Dataset, kind: str) -> str:
    """The name an upload is kept under: the files' names, then what they hold.

    E.g. `"t10k-images-idx3-ubyte.gz + labels (MNIST-like IDX, 10 classes, 10,000 images, 28×28)"` (an IDX pair
    whose labels file is named after its images file names it once). Only the base names of the files are used, with unprintable characters replaced by `"?"`; the
    result is printable and at most `MAX_NAME_LENGTH` (120, featlib.names) characters: when the names do not fit, the later
    files are counted (`"a.gz + 3 more files"`) and a long name is shortened in its middle (`"abc…xyz.npz"`).

    Args:
        filenames: The uploaded files' names, as the user chose them (paths are reduced to base names).
        dataset: The dataset loaded from them.
        kind: `"IDX"` or `"npz"` (see `content_summary`).
    """
    suffix = f" ({content_summary(dataset, kind)})"
    files = _idx_pair_title(filenames) or files_title(filenames, MAX_NAME_LENGTH - len(suffix))
    return files + suffix if files else _shorten(content_summary(dataset, kind), MAX_NAME_LENGTH)


def _idx_pair_title(filenames: Sequence[str]) -> str:
    """An IDX images/labels pair whose labels file is named after its images file, shortly:
    ``"t10k-images-idx3-ubyte.gz + labels"``; ``""`` for other files."""
    names = [_printable(Path(str(f).replace("\\", "/")).name) for f in filenames]
    if len(names) != 2 or "images" not in names[0]:
        return ""
    mirrored = names[0].replace("images", "labels").replace("idx3", "idx1")
    return f"{names[0]} + labels" if names[1] == mirrored and len(names[0]) <= 60 else ""


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
    return text[: limit - 1 - tail] + "…" + text[len(text) - tail :]


def _printable(text: str) -> str:
    """`text` with whitespace runs as one space and other unprintable characters as "?"."""
    text = " ".join(text.split())
    return "".join(c if c.isprintable() else "?" for c in text)


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
        raise DatasetError(
            f"single_split must be one of {list(SINGLE_SPLIT_CHOICES)} (use one images/labels pair "
            f"as the test split, as the train split, or split it in two); got {single_split!r}."
        )
    return single_split


def check_test_fraction(test_fraction: float) -> float:
    """Returns `test_fraction` as a float when it is a number strictly between 0 and 1.

    Raises:
        DatasetError: anything else (0, 1, negative, NaN, not a number).
    """
    ok = isinstance(test_fraction, (int, float, np.integer, np.floating)) and not isinstance(test_fraction, bool)
    if not (ok and 0 < float(test_fraction) < 1):
        raise DatasetError(
            f"test_fraction must be a number strictly between 0 and 1 (the share of images kept "
            f"for the test split), like 0.2; got {test_fraction!r}."
        )
    return float(test_fraction)


def from_arrays(
    x: np.ndarray,
    y: np.ndarray,
    name: str,
    class_names: list[str] | tuple[str, ...] | None = None,
    x_test: np.ndarray | None = None,
    y_test: np.ndarray | None = None,
    source: str = "",
    *,
    test_fraction: float = _TEST_FRACTION,
) -> Dataset:
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
        bad = [(i, c) for i, c in enumerate(class_names) if not c.isprintable()]
        if bad:  # a tab, line break or escape code would shift a CSV's cells or reach a terminal
            i, c = bad[0]
            shown = ", ".join(repr(ch) for ch in sorted({ch for ch in c if not ch.isprintable()})[:5])
            raise DatasetError(
                f"class names must hold printable characters only (no control characters, tabs or line breaks); "
                f"class {i} is {c[:40]!r}, holding {shown} ({len(bad)} class name(s) in all)."
            )
        if len(set(class_names)) != len(class_names):
            dup = sorted({c for c in class_names if class_names.count(c) > 1})
            raise DatasetError(f"class names must be unique; got duplicates {dup}.")
        if top >= len(class_names) or max(width, width_test) > len(class_names):
            raise DatasetError(
                f"labels must be in 0..{len(class_names) - 1} for {len(class_names)} class names "
                f"{list(class_names)[:20]}; got label {max(top, max(width, width_test) - 1)}."
            )
    present = np.unique(labels[0])
    if len(present) < 2:
        which = "training split" if len(y) else "test split (the only split)"
        raise DatasetError(
            f"the {which} needs at least 2 classes to colour and compare; got only class {int(present[0])}."
        )
    return Dataset(name, x, y, x_test, y_test, class_names, source)


def _two_splits(x: object, y: object, x_test: object, y_test: object) -> tuple[tuple, tuple]:
    """Validates explicit train and test splits, one of which may be empty; returns `(x, y, width)` of each.

    An empty split (0 images, 0 labels) becomes uint8 `(0, h, w)` images and int64 `(0,)` labels, `h, w` those
    of the other split, so that the fingerprint does not depend on the shape the empty arrays came in.
    """
    empty_train, empty_test = _is_empty(x), _is_empty(x_test)
    if empty_train and empty_test:
        raise DatasetError(
            f"x_train and x_test hold no images (shapes {np.shape(x)} and {np.shape(x_test)}); "
            "need at least one non-empty image in one of the splits."
        )
    out = []
    for images, labels, empty, (what_x, what_y) in (
        (x, y, empty_train, ("x_train", "y_train")),
        (x_test, y_test, empty_test, ("x_test", "y_test")),
    ):
        if empty:
            out.append(None)
            n_labels = np.shape(labels)[0] if np.ndim(labels) else 1
            if n_labels:
                raise DatasetError(
                    f"images and labels must have the same count; got 0 images and {n_labels:,} labels in {what_y}."
                )
            continue
        images = _as_images(images, what_x)
        labels, width = _as_labels(labels, len(images), what_y)
        out.append((images, labels, width))
    full = next(part for part in out if part is not None)
    hw = full[0].shape[1:]
    filled = [part or (np.empty((0, *hw), np.uint8), np.empty((0,), np.int64), 0) for part in out]
    if filled[0][0].shape[1:] != filled[1][0].shape[1:]:
        raise DatasetError(
            f"train and test images must have the same size; got {_hw(filled[0][0])} and {_hw(filled[1][0])}."
        )
    return filled[0], filled[1]


def _is_empty(images: object) -> bool:
    """Whether an images array holds no images (a first dimension of 0)."""
    shape = np.shape(images)
    return len(shape) > 0 and shape[0] == 0


def _as_images(x: object, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise DatasetError(
            f"{what} must hold numeric pixel values (integers 0..255 or floats); got dtype "
            f"{x.dtype}. Convert it first, e.g. {what}.astype('uint8')."
        )
    shape = x.shape
    if x.ndim == 4 and shape[-1] == 1:
        x = x[..., 0]
    elif x.ndim == 2:
        side = int(round(shape[1] ** 0.5))
        if side * side != shape[1]:
            raise DatasetError(
                f"{what} of shape {shape}: flat images need a square number of pixels (h*w with "
                f"h == w); {shape[1]} is not a perfect square."
            )
        x = x.reshape(shape[0], side, side)
    elif x.ndim != 3:
        raise DatasetError(f"{what} must have shape (n, h, w), (n, h, w, 1) or (n, h*w); got shape {shape}.")
    if x.shape[0] == 0 or x.size == 0:
        raise DatasetError(f"{what} holds no images (shape {shape}); need at least one non-empty image.")
    if max(x.shape[1:]) > MAX_IMAGE_SIDE:
        raise DatasetError(
            f"images larger than {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} are not supported; {what} "
            f"holds {_hw(x)} images. Downscale them first."
        )
    if x.dtype.kind == "f":
        bad = x.size - int(np.count_nonzero(np.isfinite(x)))
        if bad:
            raise DatasetError(
                f"{what} holds {bad:,} NaN/inf values; pixel values must be finite. "
                "Replace them first, e.g. with np.nan_to_num."
            )
        lo, hi = float(x.min()), float(x.max())
        if lo >= 0 and hi <= 1:
            x = x * 255.0
        elif lo < 0 or hi > 255:
            raise DatasetError(
                f"float pixel values must lie in [0, 1] or [0, 255]; {what} ranges over "
                f"[{lo:g}, {hi:g}]. Rescale it first."
            )
        return np.ascontiguousarray(np.rint(x), dtype=np.uint8)
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi > 255:
        raise DatasetError(f"integer pixel values must lie in 0..255; {what} ranges over {lo}..{hi}. Rescale it first.")
    return np.ascontiguousarray(x, dtype=np.uint8)


def _as_labels(y: object, n: int, what: str) -> tuple[np.ndarray, int]:
    """Returns int64 labels (n,) and the one-hot width (0 when not one-hot)."""
    y, width = np.asarray(y), 0
    if y.dtype.kind not in "uif":
        raise DatasetError(
            f"{what} must hold integer class indices 0..k-1; got dtype {y.dtype}. Map names to "
            "indices and pass the names as class_names."
        )
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2 and y.shape[1] >= 2:
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
            raise DatasetError(f"2-D {what} of shape {y.shape} must be one-hot (one 1 per row, zeros elsewhere).")
        y, width = y.argmax(axis=1), y.shape[1]
    elif y.ndim != 1:
        raise DatasetError(f"{what} must have shape (n,), (n, 1) or one-hot (n, k); got shape {y.shape}.")
    if len(y) != n:
        raise DatasetError(
            f"images and labels must have the same count; got {n:,} images and {len(y):,} labels in {what}."
        )
    if y.dtype.kind == "f":
        if not np.isfinite(y).all() or (y != np.round(y)).any():
            raise DatasetError(
                f"float {what} must hold whole numbers; got values such as "
                f"{y[~np.isfinite(y) | (y != np.round(y))][:3].tolist()}."
            )
    if (y < 0).any():
        raise DatasetError(
            f"labels must be >= 0; {what} holds {int((y < 0).sum()):,} negative labels (smallest {y.min()})."
        )
    if y.max() >= MAX_CLASSES:
        raise DatasetError(f"at most {MAX_CLASSES} classes are supported; {what} holds label {y.max()}.")
    return y.astype(np.int64), width


def _split(
    x: np.ndarray, y: np.ndarray, test_fraction: float = _TEST_FRACTION
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic split (seed 0) with `test_fraction` of the images in the test split.

    Stratified when every class has at least 2 members and there are enough images on each side.

    Raises:
        DatasetError: fewer than 2 images, or a fraction that leaves one side empty.
    """
    if len(x) < 2:
        raise DatasetError(
            f"need at least 2 images to split into train and test; got {len(x)}. Provide x_test and y_test."
        )
    n_test = int(np.ceil(test_fraction * len(x)))
    if n_test >= len(x):
        raise DatasetError(
            f"test_fraction {test_fraction:g} of {len(x):,} images leaves no image for the train "
            f"split; expected a fraction that keeps at least one image on each side, like 0.2."
        )
    stratify = y if _stratifiable(y, n_test, len(x) - n_test) else None
    x_tr, x_te, y_tr, y_te = sklearn.model_selection.train_test_split(
        x, y, test_size=test_fraction, random_state=0, stratify=stratify
    )
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


def _hw(x: np.ndarray) -> str:
    return f"{x.shape[1]}×{x.shape[2]}"
