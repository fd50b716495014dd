"""Datasets of small grey images with integer class labels.

The façade: every name below is importable from ``featlib.datasets`` (``from featlib import datasets;
datasets.load_builtin("digits")``), as before the package was split.

Modules:
    dataset: :class:`Dataset` and its splits, :func:`from_arrays` (the one place inputs are validated), names.
    files: untrusted user files, ``.npz`` and IDX (optionally gzipped), read within size limits.
    builtin: the built-ins: scikit-learn's 8×8 digits, MNIST and Fashion-MNIST (``keras.datasets``, Debian's files).
    limits: the size limit of one uploaded file (``$FEATLIB_MAX_UPLOAD_MB``), read at each use.
    sources: a dataset named in one string (the CLI's ``--dataset``) -> :class:`Dataset` (:func:`sources.resolve`).

Example:

    >>> from featlib import datasets
    >>> ds = datasets.load_builtin("digits")
    >>> ds.summary()
    'digits: 1,437 train + 360 test images, 8×8, 10 classes'
"""

from __future__ import annotations

from featlib.datasets.builtin import (  # noqa: F401  (tests)
    _FASHION_FILES,
    BUILTIN_DATASETS,
    DEBIAN_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    _keras_cache_dir,
    _seed_fashion_mnist_cache,
    load_builtin,
    load_digits,
    load_keras_dataset,
)
from featlib.datasets.dataset import (
    MAX_CLASSES,
    MAX_IMAGE_SIDE,
    SINGLE_SPLIT_CHOICES,
    SPLITS,
    Dataset,
    check_single_split,
    check_test_fraction,
    content_summary,
    default_upload_name,
    files_title,
    from_arrays,
    guess_single_split,
    sample_indices_per_class,
)
from featlib.datasets.files import (
    _IDX_DTYPES,  # noqa: F401  (the tests read it)
    IDX_MAX_DIMS,
    MAX_INFLATED_BYTES,
    Source,
    load_idx,
    load_npz,
    parse_idx,
)
from featlib.datasets.limits import UPLOAD_LIMIT_ENV, upload_limit_bytes
from featlib.datasets.limits import __getattr__ as _limits_getattr
from featlib.errors import DatasetError, DatasetUnavailableError

__all__ = [
    "BUILTIN_DATASETS",
    "DEBIAN_FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "IDX_MAX_DIMS",
    "MAX_CLASSES",
    "MAX_IMAGE_SIDE",
    "MAX_INFLATED_BYTES",
    "SINGLE_SPLIT_CHOICES",
    "SPLITS",
    "UPLOAD_LIMIT_ENV",
    "Dataset",
    "DatasetError",
    "DatasetUnavailableError",
    "Source",
    "check_single_split",
    "check_test_fraction",
    "content_summary",
    "default_upload_name",
    "files_title",
    "from_arrays",
    "guess_single_split",
    "load_builtin",
    "load_digits",
    "load_idx",
    "load_keras_dataset",
    "load_npz",
    "parse_idx",
    "sample_indices_per_class",
    "upload_limit_bytes",
]


def __getattr__(name: str) -> int:
    """``MAX_UPLOAD_BYTES``: :func:`upload_limit_bytes`, read now (the setting is never read at import)."""
    if name == "MAX_UPLOAD_BYTES":
        return _limits_getattr(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
