"""Property tests (Hypothesis) over featlib's parsers of untrusted input: ``.npz``, IDX (raw and gzip), view links.

The property, for any input: either a valid object within featlib's limits, or featlib's own error
(:class:`~featlib.datasets.DatasetError`, :class:`~featlib.share.views.ViewError`) whose message names
what was expected and what was received; never another exception, and never more memory than the
limits allow (the limits are lowered to 1 MiB here, and the peak of what Python and NumPy allocate
while parsing is measured with ``tracemalloc``).

Runs are reproducible: a fixed seed (``derandomize=True``), a bounded number of examples, and no
example database in the repository (``database=None``).
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from featlib import datasets as D
from featlib.datasets import DatasetError

LIMIT = 1024 * 1024  # MAX_UPLOAD_BYTES and MAX_INFLATED_BYTES while fuzzing
PEAK = 24 * LIMIT
"""The most the parse of one input may allocate: the input, its inflated copy, the arrays and their validated copies."""
EXAMPLES = int(os.environ.get("FEATLIB_FUZZ_EXAMPLES", "300"))
"""Examples per property (set ``FEATLIB_FUZZ_EXAMPLES`` higher for a longer hunt; the seed stays fixed)."""
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = ("x_train", "y_train", "x_test", "y_test", "x", "y", "class_names")


@pytest.fixture(autouse=True)
def small_limits(monkeypatch):
    monkeypatch.setenv("FEATLIB_MAX_UPLOAD_MB", str(LIMIT / 2**20))  # MAX_UPLOAD_BYTES, read at each upload
    monkeypatch.setattr(D.files, "MAX_INFLATED_BYTES", LIMIT)


def says_what(error: Exception) -> None:
    """featlib's message: a sentence, not a bare repr or a library's one-word error."""
    message = str(error)
    assert len(message) >= 30 and " " in message, repr(message)


def parsed(parse, data: bytes):
    """``parse(data)`` under tracemalloc: its result or DatasetError; asserts the allocation peak."""
    tracemalloc.start()
    try:
        return parse(data)
    except DatasetError as error:
        says_what(error)
        return error
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak <= PEAK, f"parsing {len(data):,} bytes allocated {peak:,} bytes"


def valid_dataset(dataset: D.Dataset) -> None:
    """What :class:`featlib.datasets.Dataset` promises, within the limits."""
    assert dataset.num_images >= 1 and dataset.image_shape[0] <= D.MAX_IMAGE_SIDE >= dataset.image_shape[1]
    for x, y in (dataset.split(s) for s in dataset.splits):
        assert x.dtype == np.uint8 and x.ndim == 3 and y.ndim == 1 and len(x) == len(y)
        assert y.min() >= 0 and y.max() < dataset.num_classes <= D.MAX_CLASSES
        assert x.nbytes <= D.files.MAX_INFLATED_BYTES


# ----------------------------------------------------------------------------- .npz


def npz_bytes(arrays: dict[str, np.ndarray], compressed: bool = False, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    save(buffer, allow_pickle=allow_pickle, **arrays)
    return buffer.getvalue()


def good_arrays(n: int = 12, side: int = 4, classes: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(n)
    return {
        "x_train": rng.integers(0, 256, (n, side, side), dtype=np.uint8),
        "y_train": np.arange(n) % classes,
        "x_test": rng.integers(0, 256, (n, side, side), dtype=np.uint8),
        "y_test": np.arange(n) % classes,
    }


GOOD = npz_bytes(good_arrays())
GOOD_COMPRESSED = npz_bytes(good_arrays(), compressed=True)

dtypes = st.one_of(
    hnp.boolean_dtypes(),
    hnp.integer_dtypes(),
    hnp.unsigned_integer_dtypes(),
    hnp.floating_dtypes(),
    hnp.complex_number_dtypes(),
    hnp.datetime64_dtypes(),
    hnp.timedelta64_dtypes(),
    hnp.unicode_string_dtypes(max_len=4),
    hnp.byte_string_dtypes(max_len=4),
    st.just(np.dtype([("a", "u1"), ("b", "f4")])),  # structured
)
odd_arrays = hnp.arrays(dtypes, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))


@st.composite
def mutated(draw, base: bytes) -> bytes:
    """``base`` with bytes flipped, cut, inserted or duplicated."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at:]
    return bytes(data)


@st.composite
def npy_with_header(draw) -> bytes:
    """An ``.npz`` whose ``x_train.npy`` header declares any shape and type, over a short body."""
    shape = tuple(draw(st.lists(st.one_of(st.integers(0, 8), st.integers(0, 2**40)), max_size=4)))
    descr = draw(st.sampled_from(["|u1", "<f4", "<i8", "|b1", "|O", "<U3", "|V0", "|S0", "<c16", "<M8[s]", ">f8"]))
    header = repr({"descr": descr, "fortran_order": draw(st.booleans()), "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + draw(st.binary(max_size=64))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x_train.npy", member)
        archive.writestr("y_train.npy", GOOD_MEMBER)
    return buffer.getvalue()


with zipfile.ZipFile(io.BytesIO(GOOD)) as _archive:
    GOOD_MEMBER = _archive.read("y_train.npy")


@FUZZ
@given(st.one_of(mutated(GOOD), mutated(GOOD_COMPRESSED)))
def test_mutated_npz_files_load_or_are_refused(data):
    result = parsed(D.load_npz, data)
    if isinstance(result, D.Dataset):
        valid_dataset(result)


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS + ("other",)), odd_arrays, min_size=1, max_size=5), st.booleans())
def test_npz_files_of_odd_arrays_load_or_are_refused(arrays, compressed):
    result = parsed(D.load_npz, npz_bytes(arrays, compressed))
    if isinstance(result, D.Dataset):
        valid_dataset(result)


@FUZZ
@given(npy_with_header())
def test_npy_headers_declaring_any_shape_are_checked_before_reading(data):
    result = parsed(D.load_npz, data)
    if isinstance(result, D.Dataset):
        valid_dataset(result)


@FUZZ
@given(st.sampled_from(KEYS), st.one_of(st.lists(st.integers()), st.dictionaries(st.text(max_size=3), st.integers())))
def test_object_arrays_and_pickles_are_refused(key, value):
    arrays = good_arrays() | {key: np.array([value, None], dtype=object)}
    error = parsed(D.load_npz, npz_bytes(arrays, allow_pickle=True))
    assert isinstance(error, DatasetError) and "pickle" in str(error), error
    error = parsed(D.load_npz, pickle.dumps(arrays))  # a pickle named .npz
    assert isinstance(error, DatasetError) and "not an .npz file" in str(error), error


# ----------------------------------------------------------------------------- IDX, raw and gzip


@st.composite
def idx_files(draw) -> bytes:
    """IDX bytes with any magic, type, ndim and dims (mostly plausible), a body cut or padded, maybe gzipped."""
    magic = draw(st.one_of(st.just(b"\x00\x00"), st.binary(min_size=2, max_size=2)))
    code = draw(st.one_of(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]), st.integers(0, 255)))
    ndim = draw(st.one_of(st.sampled_from([1, 3]), st.integers(0, 255)))
    dims = [draw(st.one_of(st.integers(0, 6), st.integers(0, 2**32 - 1))) for _ in range(min(ndim, 8))]
    dtype = np.dtype(D._IDX_DTYPES.get(code, ">u1"))
    declared = int(np.prod(dims[:ndim], dtype=object)) * dtype.itemsize if len(dims) == ndim else 0
    body_size = draw(st.one_of(st.just(min(declared, 4096)), st.integers(0, 512)))
    data = (
        magic
        + bytes([code, ndim])
        + struct.pack(f">{len(dims)}I", *dims)
        + draw(st.binary(min_size=min(body_size, 4096), max_size=min(body_size, 4096)))
    )
    if draw(st.booleans()):
        data = gzip.compress(data)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return data


@FUZZ
@given(idx_files())
def test_idx_files_parse_or_are_refused(data):
    result = parsed(D.parse_idx, data)
    if isinstance(result, np.ndarray):
        assert 1 <= result.ndim <= D.IDX_MAX_DIMS and result.nbytes <= D.MAX_INFLATED_BYTES
        assert result.dtype.byteorder in "=|"


@FUZZ
@given(idx_files(), idx_files())
def test_idx_pairs_load_or_are_refused(images, labels):
    result = parsed(lambda _: D.load_idx(images, labels, single_split="test"), b"")
    if isinstance(result, D.Dataset):
        valid_dataset(result)


def test_the_255_dimension_header_of_the_issue_is_refused_by_its_rule():
    data = struct.pack(">BBBB", 0, 0, 0x08, 255) + struct.pack(">255I", *[1] * 255) + b"\x07"
    for form in (data, gzip.compress(data)):
        with pytest.raises(DatasetError, match=r"IDX header declares 255 dimensions; expected at most 4"):
            D.parse_idx(form)
        with pytest.raises(DatasetError, match=r"^images \(images.idx\): IDX header declares 255 dimensions"):
            D.load_idx(_named(form, "images.idx"), struct.pack(">BBBBI", 0, 0, 0x08, 1, 1) + b"\x00")


def _named(data: bytes, name: str) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def test_a_declared_size_above_the_limit_is_refused_before_inflating():
    data = gzip.compress(struct.pack(">BBBB3I", 0, 0, 0x08, 3, 60_000, 28, 28) + bytes(8 * 28 * 28))
    tracemalloc.start()
    with pytest.raises(
        DatasetError,
        match=r"declares shape \(60000, 28, 28\) of uint8, i.e. 44.9 MiB .* the limit "
        r"is 1.0 MiB",
    ):
        D.parse_idx(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024  # the header was read, nothing else


@FUZZ
@given(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "~nosuchuser/x.npz",
                "~nosuchuser",
                "a,b",
                ",,,",
                " , ",
                "x.npz,y",
                "/",
                ".",
                "..",
                "/dev/null",
                "upload:",
                "t10k",
            ]
        ),
        st.lists(
            st.sampled_from(["~", "/", ",", ".npz", ".gz", "-images-idx3-ubyte", "..", "\x00", "é"]), max_size=6
        ).map("".join),
    )
)
def test_dataset_specs_resolve_or_are_refused(spec):
    """``--dataset`` strings: featlib's error for anything that names nothing (never RuntimeError, OSError, ...)."""
    from featlib.datasets.sources import resolve

    if spec.strip() in D.BUILTIN_DATASETS:
        return
    result = parsed(resolve, spec)
    assert isinstance(result, (D.Dataset, DatasetError)), result


# ----------------------------------------------------------------------------- view links

LINK_KEYS = (
    "model",
    "dataset",
    "layer",
    "method",
    "split",
    "sample",
    "reducer",
    "n_neighbors",
    "min_dist",
    "metric",
    "random_state",
    "n_epochs",
    "pca_dims",
    "perplexity",
    "colour",
    "selection",
    "reduction",
)
link_values = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "none",
            "all",
            "nan",
            "inf",
            "-inf",
            "1e400",
            "-1",
            "0",
            "2",
            "15",
            "0.5",
            "1_000",
            "٣",
            "9" * 5000,
            "umap",
            "pca",
            "tsne",
            "function",
            "submodel",
            "test",
            "gap",
            "cosine",
            "label",
            "1,2,3",
            "3,-1",
            ",".join(map(str, range(1200))),
        ]
    ),
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
)
links = st.dictionaries(st.one_of(st.sampled_from(LINK_KEYS), st.text(max_size=8)), link_values, max_size=12)


def valid_view(view) -> None:
    from featlib.maps import embed
    from featlib.share.views import MAX_LINK_SELECTION

    params = view.params
    if isinstance(params, embed.UMAPParams):
        assert 2 <= params.n_neighbors <= embed.MAX_N_NEIGHBORS and 0 <= params.random_state <= embed.MAX_SEED
        assert params.n_epochs is None or 1 <= params.n_epochs <= embed.MAX_EPOCHS
    if isinstance(params, embed.TSNEParams):
        assert embed.TSNE_MIN_PERPLEXITY <= params.perplexity <= embed.MAX_PERPLEXITY
    assert view.sample is None or view.sample >= 1
    assert len(view.selection) <= MAX_LINK_SELECTION and all(i >= 0 for i in view.selection)
    assert view.model and view.dataset and view.layer


@FUZZ
@given(links)
def test_view_links_open_or_are_refused(query):
    from featlib.share.views import View, ViewError

    try:
        view = View.from_query(query)
    except ViewError as error:
        says_what(error)
        return
    valid_view(view)
    assert View.from_query(view.to_query()) == view  # what a link says, it says again


@FUZZ
@given(links)
def test_lenient_link_reading_opens_or_refuses(query):
    from featlib.share import views

    read_link = getattr(views, "read_link", None)
    if read_link is None:
        pytest.skip("featlib.share.views.read_link is not there")
    try:
        view, replaced = read_link(query)
    except views.ViewError as error:
        says_what(error)
        return
    valid_view(view)
    assert all(r.message.startswith(f"The link asked for {name}=") for name, r in replaced.items())
