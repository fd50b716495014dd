"""Untrusted dataset files: `.npz` and IDX (optionally gzipped), read within limits.

Uploaded files are untrusted: sizes are bounded before reading (`MAX_UPLOAD_BYTES`), zip members and gzip payloads
before inflating (`MAX_INFLATED_BYTES`), and `.npz` files are read with `allow_pickle=False`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO, Union

import numpy as np

from featlib import archives
from featlib.datasets.dataset import (
    _TEST_FRACTION,
    SINGLE_SPLIT_CHOICES,
    Dataset,
    _stratifies,
    check_single_split,
    check_test_fraction,
    from_arrays,
)
from featlib.datasets.limits import UPLOAD_LIMIT_ENV, upload_limit_bytes
from featlib.errors import DatasetError

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

MAX_INFLATED_BYTES: int = 1024 * 1024 * 1024

_GZIP_CHUNK = 8 * 1024 * 1024

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_MAX_DIMS = 4
"""The most dimensions an IDX header may declare: featlib reads images (3) and labels (1); more is refused
before any data is read (NumPy itself stops at 64, with a bare ValueError)."""


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
        raise DatasetError(
            f"{label} is not an .npz file (expected a NumPy .npz archive, got {_sniff(data)}). "
            "Save arrays with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)."
        )
    wanted = ("x_train", "y_train", "x_test", "y_test", "x", "y", "class_names")
    with _zip_errors(label):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            bad = [i.filename for i in infos if not i.filename.endswith(".npy")]
            if bad or not infos:
                raise DatasetError(
                    f"{label} is not an .npz file (expected a NumPy .npz archive of .npy members, "
                    f"got a zip with members {[i.filename for i in infos][:10]})."
                )
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
        raise DatasetError(
            f"{label} lacks the expected arrays. Expected keys: (x_train, y_train, x_test, y_test) "
            f"or (x, y), optionally class_names. Keys found: {keys}."
        )
    has_test = [k for k in ("x_test", "y_test") if k in members]
    if x_key == "x_train" and len(has_test) == 1:
        raise DatasetError(
            f"{label} has {has_test[0]} but not its partner; expected both x_test and y_test "
            f"or neither. Keys found: {keys}."
        )
    with _zip_errors(label), np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: _npz_member(npz, k, label) for k in wanted if k in members}
    class_names = None
    if "class_names" in arrays:
        cn = arrays["class_names"]
        if cn.dtype.kind not in "US" or cn.ndim != 1:
            raise DatasetError(
                f"class_names in {label} must be a 1-D array of strings; got dtype {cn.dtype}, "
                f"shape {cn.shape}. Save it as np.array(names, dtype=str)."
            )
        try:
            class_names = [c.decode("utf-8") if isinstance(c, bytes) else str(c) for c in cn.tolist()]
        except UnicodeDecodeError as e:
            raise DatasetError(
                f"class_names in {label} must be text: expected UTF-8 strings, got bytes that are not "
                f"UTF-8 ({_short(str(e))}). Save them as np.array(names, dtype=str)."
            ) from None
    if name is None:
        name = "upload:" + (Path(label).stem if label != "npz data" else "npz")
    return from_arrays(
        arrays[x_key],
        arrays[y_key],
        name,
        class_names=class_names,
        x_test=arrays.get("x_test") if x_key == "x_train" else None,
        y_test=arrays.get("y_test") if x_key == "x_train" else None,
        source=f"npz file {label} (keys {keys})",
    )


_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    struct.error,
    KeyError,
    IndexError,
    UnicodeDecodeError,
    ValueError,
    OverflowError,
)
"""What the zipfile module and NumPy's .npz reader raise for damaged archives (beyond BadZipFile)."""


@contextlib.contextmanager
def _zip_errors(label: str):
    """Turns any error of reading a damaged zip into a DatasetError naming the file (DatasetError passes)."""
    try:
        yield
    except DatasetError:
        raise
    except _ZIP_ERRORS as e:
        raise DatasetError(
            f"{label} is not a readable .npz file: expected a NumPy .npz archive (a zip of .npy "
            f"arrays), but reading it failed ({type(e).__name__}: {_short(str(e))}). The file is "
            "damaged or was not written by np.savez; save it again."
        ) from e


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_zip_sizes(infos: list[zipfile.ZipInfo], label: str) -> None:
    total, packed = archives.declared_sizes(infos)
    if archives.is_bomb(total, packed, MAX_INFLATED_BYTES):
        raise DatasetError(
            f"{label} looks like a zip bomb: its members declare {_fmt_bytes(total)} uncompressed from "
            f"{_fmt_bytes(packed)} compressed (ratio {total / packed:,.0f}x); the limits are "
            f"{_fmt_bytes(MAX_INFLATED_BYTES)} in total (MAX_INFLATED_BYTES) and {archives.BOMB_MAX_RATIO}x above "
            f"{_fmt_bytes(archives.BOMB_MIN_BYTES)}. Upload a smaller sample of the data."
        )


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
        raise DatasetError(
            f"array {key!r} in {label} declares shape {shape} of {dtype} ({_fmt_bytes(nbytes)}) "
            f"but its member holds only {_fmt_bytes(info.file_size)}; the file is corrupt."
        )


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
    return (
        f"array {key!r} in {label} has dtype {dtype}, which can only be loaded by unpickling; pickle is "
        "refused for safety (allow_pickle=False). Save numeric arrays (e.g. x.astype('uint8')) and "
        "class names as np.array(names, dtype=str)."
    )


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
        raise DatasetError(
            f"IDX header declares shape {dims} of {dtype.name}, i.e. {expected:,} bytes of data, "
            f"but the file holds {received:,} bytes after the {header}-byte header; the file is "
            "truncated or its header is wrong."
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr if dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def _idx_header(head: bytes, gzipped: bool) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """``(dtype, dims, header bytes, declared data bytes)`` of an IDX header, checked against the limits.

    Raises:
        DatasetError: see :func:`parse_idx`.
    """
    if len(head) < 4 or head[:2] != b"\x00\x00" or head[2] not in _IDX_DTYPES or head[3] == 0:
        raise DatasetError(
            f"not an IDX file: expected magic bytes 00 00 <type {{08,09,0B,0C,0D,0E}}> "
            f"<ndim ≥ 1>, got {head[:4].hex(' ')} ({_sniff(head)})."
        )
    dtype, ndim = np.dtype(_IDX_DTYPES[head[2]]), head[3]
    if ndim > IDX_MAX_DIMS:
        raise DatasetError(
            f"IDX header declares {ndim} dimensions; expected at most {IDX_MAX_DIMS} (images have 3: "
            "count, rows, columns; labels 1). The file is not an IDX images or labels file, or its "
            "header is damaged."
        )
    header = 4 + 4 * ndim
    if len(head) < header:
        raise DatasetError(
            f"IDX header declares {ndim} dimensions ({header} header bytes) but the file holds "
            f"only {len(head)} bytes{' once decompressed' if gzipped else ''}."
        )
    dims = struct.unpack(f">{ndim}I", head[4:header])
    expected = math.prod(dims) * dtype.itemsize
    if expected > MAX_INFLATED_BYTES:
        raise DatasetError(
            f"IDX header declares shape {dims} of {dtype.name}, i.e. {_fmt_bytes(expected)} of data; "
            f"the limit is {_fmt_bytes(MAX_INFLATED_BYTES)} (MAX_INFLATED_BYTES). Upload a smaller "
            "sample of the data."
        )
    return dtype, dims, header, expected


def load_idx(
    images: Source,
    labels: Source,
    test_images: Source | None = None,
    test_labels: Source | None = None,
    *,
    name: str = "idx",
    single_split: str = "split",
    test_fraction: float = _TEST_FRACTION,
) -> Dataset:
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
        raise DatasetError(
            "give both test_images and test_labels, or neither (the images and labels then form "
            f"one split, as single_split says: one of {list(SINGLE_SPLIT_CHOICES)})."
        )
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
        how = (
            f"split into {len(ds.y_train):,} train + {len(ds.y_test):,} test images: test_fraction "
            f"{test_fraction:g}, seed 0{', stratified by class' if _stratifies(ds.y_train, ds.y_test) else ''}"
        )
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
        raise DatasetError(
            f"{where} must be a {ndim}-D IDX file of {kind}; got a {arr.ndim}-D array of shape "
            f"{arr.shape}. Are the images and labels files swapped?"
        )
    return arr, label


def _gunzip_bounded(
    data: bytes, limit: int | None = None, *, prefix: int | None = None, declared: bool = False
) -> bytes:
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
                        "exactly that many. The file's header is wrong, or data was appended."
                    )
                if len(out) > limit:
                    raise DatasetError(
                        f"gzip data inflates to more than {_fmt_bytes(limit)} (MAX_INFLATED_BYTES) from "
                        f"{_fmt_bytes(len(data))}; refused as a likely zip bomb. Upload a smaller file."
                    )
                if archives.is_bomb(len(out), len(data), MAX_INFLATED_BYTES):
                    raise DatasetError(
                        f"gzip data inflates to more than {_fmt_bytes(len(out))} from {_fmt_bytes(len(data))} "
                        f"(ratio over {len(out) / len(data):,.0f}x); refused as a likely zip bomb: the limit is "
                        f"{archives.BOMB_MAX_RATIO}x above {_fmt_bytes(archives.BOMB_MIN_BYTES)}. Upload a smaller file."
                    )
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


def _read_bytes(source: Source, what: str) -> tuple[bytes, str]:
    """Reads a path, bytes or binary file object after checking its size; returns (data, label)."""
    limit = upload_limit_bytes()
    too_big = (
        "{label} is {size}; files are limited to {limit} (MAX_UPLOAD_BYTES). Use a smaller file or a "
        f"sample, or raise the limit with {UPLOAD_LIMIT_ENV}."
    )
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
    kinds = {
        b"PK\x03\x04": "a zip/.npz file",
        b"\x1f\x8b": "gzip data",
        b"\x93NUMPY": "a single .npy array (save with np.savez instead)",
        b"\x89PNG": "a PNG image",
        b"\x00\x00\x08": "an IDX file",
    }
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
