"""The built-in datasets: scikit-learn's bundled 8×8 digits (offline), MNIST and Fashion-MNIST through
`keras.datasets` (Fashion-MNIST from Debian's `dataset-fashion-mnist` package when it is installed).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from featlib.datasets.dataset import _TEST_FRACTION, Dataset, from_arrays
from featlib.errors import DatasetError, DatasetUnavailableError
from featlib.lazy import keras, sklearn

BUILTIN_DATASETS: dict[str, str] = {
    "digits": "Digits 8×8 (scikit-learn, offline)",
    "mnist": "MNIST 28×28 (keras.datasets)",
    "fashion_mnist": "Fashion-MNIST 28×28 (keras.datasets)",
}
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# Debian's package `dataset-fashion-mnist` installs the files keras downloads.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)


def load_builtin(name: str) -> Dataset:
    """Loads one of `BUILTIN_DATASETS` by key."""
    if name == "digits":
        return load_digits()
    if name in ("mnist", "fashion_mnist"):
        return load_keras_dataset(name)
    raise DatasetError(f"No such built-in dataset: {name!r}. Built-in datasets are: {list(BUILTIN_DATASETS)}")


def load_digits() -> Dataset:
    """scikit-learn's bundled 1,797 handwritten 8×8 digits, offline.

    Pixel values 0..16 are scaled to 0..255 (rounded); the split is a
    deterministic stratified 80/20 (`random_state=0`): 1,437 train + 360 test.
    """
    bunch = sklearn.datasets.load_digits()
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = sklearn.model_selection.train_test_split(
        x, y, test_size=_TEST_FRACTION, random_state=0, stratify=y
    )
    return from_arrays(
        x_tr,
        y_tr,
        "digits",
        class_names=[str(i) for i in range(10)],
        x_test=x_te,
        y_test=y_te,
        source="scikit-learn load_digits (bundled, offline), 0..16 scaled to 0..255",
    )


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
        keras.load()
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
        hint = (
            " On Debian/Ubuntu, `apt-get install dataset-fashion-mnist` provides it offline."
            if name == "fashion_mnist"
            else ""
        )
        raise DatasetUnavailableError(
            f"{titles[name]} could not be downloaded (no network?). keras.datasets downloads it once "
            f"into {_keras_cache_dir() / 'datasets'}; use the bundled 8×8 digits or upload an .npz/IDX "
            f"file.{hint}"
        ) from e
    return from_arrays(
        x_tr, y_tr, name, class_names=names, x_test=x_te, y_test=y_te, source=f"keras.datasets.{name}.load_data()"
    )


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
