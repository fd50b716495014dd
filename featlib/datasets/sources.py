"""Naming a dataset in one string, as the CLI's ``--dataset`` takes it.

:func:`resolve` accepts every source the pages accept:

- a built-in name (:data:`featlib.datasets.BUILTIN_DATASETS`): ``digits``, ``mnist``, ``fashion_mnist``;
- the path of an ``.npz`` file;
- IDX files (gzipped or raw) as ``IMAGES,LABELS`` (one pair: see ``single_split``) or
  ``TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS``;
- one IDX images file whose labels file lies next to it under the MNIST naming
  convention (``t10k-images-idx3-ubyte.gz`` ↔ ``t10k-labels-idx1-ubyte.gz``);
- a dataset uploaded to the workspace, by its name, its fingerprint (or a
  unique prefix of 6 hex digits or more) or the app's key ``upload:<fingerprint>``.

Everything here is plain Python on numpy: no Streamlit, no Keras (the built-ins
``mnist`` and ``fashion_mnist`` import Keras to load, as their loaders do).

Example:

    >>> from featlib.datasets.sources import resolve
    >>> resolve("/data/t10k-images-idx3-ubyte.gz").summary()  # doctest: +SKIP
    't10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz: 10,000 test images (no train split), 28×28, 10 classes'
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import TYPE_CHECKING

from featlib.datasets.builtin import BUILTIN_DATASETS, load_builtin
from featlib.datasets.dataset import Dataset, check_single_split, check_test_fraction, files_title, guess_single_split
from featlib.datasets.files import load_idx, load_npz
from featlib.errors import DatasetError, WorkspaceError

if TYPE_CHECKING:
    from featlib.store.saved_datasets import DatasetStore

FORMS: tuple[str, ...] = (
    f"a built-in name ({', '.join(BUILTIN_DATASETS)})",
    "the path of an .npz file",
    "IDX files (.gz or raw) as IMAGES,LABELS or TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS",
    "one IDX images file named like *-images-idx3-ubyte[.gz] whose *-labels-idx1-ubyte[.gz] file lies next to it",
    "the name or fingerprint of a dataset uploaded to the workspace",
)
"""The accepted forms of a dataset spec, in words (for help texts and messages)."""

_IMAGES_NAME = re.compile(
    r"^(?P<stem>.*?[-_.])(?P<word>images)(?P<s2>[-_.])(?P<idx>idx)3(?P<rest>[-_.]ubyte)"
    r"(?P<gz>\.gz)?$",
    re.IGNORECASE,
)
_LABELS_NAME = re.compile(r"[-_.]labels[-_.]idx1[-_.]ubyte(\.gz)?$", re.IGNORECASE)
_IDX_SUFFIXES = (".gz", ".idx", "-ubyte", ".ubyte", "idx3-ubyte", "idx1-ubyte")


def forms_text() -> str:
    """The accepted forms as one sentence fragment: ``"a built-in name (…); the path of an .npz file; …"``."""
    return "; ".join(FORMS)


def resolve(
    spec: str, *, workspace: DatasetStore | None = None, single_split: str | None = None, test_fraction: float = 0.2
) -> Dataset:
    """Loads the dataset a string names; checks every argument before reading any file.

    Forms are tried in this order: a built-in name; an existing file (``.npz``, or one IDX images file);
    a workspace upload (name, fingerprint or prefix, ``upload:<fingerprint>``); comma-separated IDX files.

    Args:
        spec: The dataset, in one of :data:`FORMS`.
        workspace: Where uploads are looked up (a :class:`featlib.store.Workspace`); ``None``: uploads cannot
            be named.
        single_split: How one IDX images/labels pair is used: ``"test"``, ``"train"`` or ``"split"`` (see
            :func:`featlib.datasets.load_idx`); ``None``: :func:`featlib.datasets.guess_single_split` of the
            images file's name. Ignored by the other forms.
        test_fraction: The test share when a single pair is split, strictly between 0 and 1.

    Returns:
        The dataset. Its ``source`` says what was read; for one IDX images file, which labels file was found.

    Raises:
        DatasetError: an argument is bad, nothing matches, a name is ambiguous in the workspace, or a file
            cannot be read; the message names what was expected and what was received.
    """
    if single_split is not None:
        check_single_split(single_split)
    check_test_fraction(test_fraction)
    if not isinstance(spec, str) or not spec.strip():
        raise DatasetError(f"A dataset must be named by a non-empty string, one of: {forms_text()}; got {spec!r}.")
    spec = spec.strip()
    if spec in BUILTIN_DATASETS:
        return load_builtin(spec)
    path = _expanded(spec)
    if _is_file(path):
        return _load_file(path, single_split, test_fraction)
    if _is_dir(path):
        raise DatasetError(f"{_shown(spec)} is a folder; expected a dataset as one of: {forms_text()}.")
    if workspace is not None:
        found = _from_workspace(spec, workspace)
        if found is not None:
            return found
    if "," in spec:
        return _load_idx_list(spec, single_split, test_fraction)
    if _looks_like_a_path(spec):
        raise DatasetError(f"No such file: {_shown(spec)}. Expected a dataset as one of: {forms_text()}.")
    held = f" (the workspace holds: {_upload_names(workspace)})" if workspace is not None else ""
    raise DatasetError(
        f"Unknown dataset: {_shown(spec)}. Use one of {list(BUILTIN_DATASETS)}, or give {'; '.join(FORMS[1:])}{held}."
    )


def load_dataset(spec: str | Dataset) -> Dataset:
    """A dataset named as the CLI takes it: a built-in name, an ``.npz`` path or IDX files.

    See :func:`resolve` for the accepted forms (without a workspace, so uploads cannot be
    named here); a `Dataset` is returned as it is, so callers taking a spec can also be
    handed a dataset already loaded.

    Raises:
        DatasetError: the spec names nothing that can be loaded, or the files are bad.
    """
    if isinstance(spec, Dataset):
        return spec
    return resolve(spec)


def labels_file_for(images: str | Path) -> tuple[Path | None, list[Path]]:
    """The labels file next to an IDX images file, by the MNIST naming convention.

    ``PREFIX-images-idx3-ubyte[.gz]`` pairs with ``PREFIX-labels-idx1-ubyte[.gz]`` in the same folder (the
    same compression first; ``-``, ``_`` or ``.`` between the words, as the name has them).

    Returns:
        ``(the labels file or None, the candidates looked for in order)``; no candidates when the name does
        not follow the convention.
    """
    images = Path(images)
    match = _IMAGES_NAME.match(images.name)
    if match is None:
        return None, []
    word = match["word"]
    labels = "LABELS" if word.isupper() else "Labels" if word[0].isupper() else "labels"
    base = f"{match['stem']}{labels}{match['s2']}{match['idx']}1{match['rest']}"
    gz = match["gz"] or ""
    candidates = [images.with_name(base + gz), images.with_name(base + (".gz" if not gz else ""))]
    return next((c for c in candidates if _is_file(c)), None), candidates


def _load_file(path: Path, single_split: str | None, test_fraction: float) -> Dataset:
    """An existing file: an ``.npz`` archive (by suffix or content), else one IDX images file."""
    if path.suffix.lower() == ".npz" or _starts_with(path, b"PK\x03\x04"):
        return load_npz(path, name=path.name)
    if _LABELS_NAME.search(path.name):
        partner = _LABELS_NAME.sub(
            lambda m: (
                m[0]
                .replace("labels", "images")
                .replace("idx1", "idx3")
                .replace("LABELS", "IMAGES")
                .replace("IDX1", "IDX3")
            ),
            path.name,
        )
        raise DatasetError(
            f"{path.name} is an IDX labels file; expected the images file ({partner}) or both "
            f"as IMAGES,LABELS. Accepted forms: {forms_text()}."
        )
    labels, looked_for = labels_file_for(path)
    if labels is None and not looked_for:
        raise DatasetError(
            f"{path.name} is neither an .npz file nor an IDX images file named like *-images-idx3-ubyte[.gz], so "
            f"its labels file cannot be found; give both files as IMAGES,LABELS. Accepted forms: {forms_text()}."
        )
    if labels is None:
        raise DatasetError(
            f"No labels file next to {path}: looked for {' and '.join(str(c.name) for c in looked_for)} in "
            f"{path.parent}. Put it there or give both files as IMAGES,LABELS."
        )
    dataset = _load_pair(path, labels, single_split, test_fraction)
    return _with_source(dataset, f"{dataset.source}; labels file {labels.name} found next to the images file")


def _load_pair(images: Path, labels: Path, single_split: str | None, test_fraction: float) -> Dataset:
    """One IDX images/labels pair, used as ``single_split`` says (or as its name suggests)."""
    how = single_split or guess_single_split(images.name)
    name = _names([images.name, labels.name])
    return load_idx(images, labels, name=name, single_split=how, test_fraction=test_fraction)


def _load_idx_list(spec: str, single_split: str | None, test_fraction: float) -> Dataset:
    """``IMAGES,LABELS`` or ``TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS``."""
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) not in (2, 4) or not all(parts):
        raise DatasetError(
            f"IDX files are given as IMAGES,LABELS or TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,"
            f"TEST_LABELS (2 or 4 non-empty paths); got {len(parts)} part(s) in {spec!r}."
        )
    paths = [_expanded(part) for part in parts]
    missing = [str(p) for p in paths if not _is_file(p)]
    if missing:
        raise DatasetError(
            f"No such file: {', '.join(repr(m) for m in missing)} (in the IDX files {spec!r}). "
            f"Expected a dataset as one of: {forms_text()}."
        )
    if len(paths) == 2:
        return _load_pair(paths[0], paths[1], single_split, test_fraction)
    return load_idx(*paths, name=_names([p.name for p in paths]))


def _from_workspace(spec: str, workspace: DatasetStore) -> Dataset | None:
    """The upload ``spec`` names in the workspace; ``None`` when none does."""
    rows = workspace.find_datasets(spec)
    if not rows:
        return None
    if len(rows) > 1:
        listed = "; ".join(
            f"{r['fingerprint']} ({r['summary']}, uploaded {r['created'][:19]}"
            f"{' by ' + r['creator'] if r.get('creator') else ''})"
            for r in rows
        )
        raise DatasetError(
            f"{spec!r} names {len(rows)} datasets in the workspace: {listed}. Expected one; give its "
            "fingerprint instead."
        )
    try:
        return workspace.load_dataset(rows[0]["fingerprint"])
    except WorkspaceError as error:
        raise DatasetError(f"The workspace dataset {spec!r} cannot be loaded: {error}") from error


def _upload_names(workspace: DatasetStore) -> str:
    """The uploads' names and fingerprints, for a message (at most 10)."""
    rows = workspace.list_datasets()
    if not rows:
        return "no uploads"
    shown = ", ".join(f"{r['name']!r} ({r['fingerprint']})" for r in rows[:10])
    return shown + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


def _names(filenames: list[str]) -> str:
    """A dataset name made of the files' names: ``"a.gz + b.gz"`` (at most 120 characters)."""
    return files_title(filenames)


def _with_source(dataset: Dataset, source: str) -> Dataset:
    return dataclasses.replace(dataset, source=source)


def _expanded(text: str) -> Path:
    """``text`` as a path with ``~`` expanded; as written when there is no such home (``~nosuchuser``)."""
    try:
        return Path(text).expanduser()
    except (RuntimeError, ValueError, KeyError):  # "Could not determine home directory", a NUL byte
        return Path(text)


def _shown(text: str, limit: int = 200) -> str:
    """``repr(text)`` for a message, cut to about ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f" … ({len(text):,} characters)"


def _is_file(path: Path) -> bool:
    """`path.is_file()`, False for names the system refuses (too long, NUL bytes)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _starts_with(path: Path, magic: bytes) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(magic)) == magic
    except OSError:
        return False


def _looks_like_a_path(spec: str) -> bool:
    lowered = spec.lower()
    return "/" in spec or "\\" in spec or lowered.endswith(".npz") or lowered.endswith(_IDX_SUFFIXES)
