"""The declared schema of a bundle's ``manifest.json``: every value's type, range and length.

A bundle (:mod:`featlib.share.bundle`) is an untrusted upload, and so is every value
its manifest states. :func:`parse` checks the whole manifest against the
pydantic models below before anything is loaded or stored, and
:func:`describe_errors` turns pydantic's ``ValidationError`` into one sentence
naming each field, what was expected and what was received, for
:class:`featlib.share.bundle.BundleError`.

The rules, in short:

- numbers are numbers (``strict``: ``"0.9"`` or ``true`` is not an accuracy),
  finite, and within their range (accuracies in [0, 1], counts >= 0);
- names (model, dataset) and user names pass :func:`featlib.names.check_name`
  (printable, at most :data:`featlib.names.MAX_NAME_LENGTH` characters, one script per word) and
  model and dataset names are not shaped like ids (:func:`featlib.names.check_not_id`); other
  texts are printable and length-limited (notes may hold line breaks);
- fingerprints are 16 to 64 lower-case hex digits, SHA-256s 64;
- no field the format does not define, except in a model's ``meta`` and a
  provenance record, whose other values must be bounded JSON
  (:data:`MAX_JSON_DEPTH`, :data:`MAX_JSON_TEXT`, :data:`MAX_JSON_ITEMS`).

The figures a manifest states (a model's test accuracy, a map's 10-NN accuracy,
training curves) pass the schema only to be kept as claims: the import
recomputes the figures it shows from the imported model and arrays.

Example:
    >>> manifest = parse(json.loads(raw))  # doctest: +SKIP
    >>> manifest.embedding.knn_accuracy  # doctest: +SKIP
    0.93
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from featlib.names import check_name, check_not_id

FORMAT = "featlib-bundle"
VERSION = 1
MEMBER_FILES = ("README.md", "model.keras", "embedding.npy", "embedding.csv", "figure.html", "dataset.npz")
"""The members a manifest's ``files`` may list (``manifest.json`` itself is not listed)."""
INPUT_SCALES = ("0-1", "0-255")
MAX_TEXT = 1_000
"""Characters of a one-line text field (an architecture summary, a dataset summary, a key)."""
MAX_NOTE = 2_000
"""Characters of a note (line breaks allowed), as the Workspace page allows (``featlib.app.catalog.NOTE_MAX``)."""
MAX_KEY = 2_000
"""Characters of a workspace key or a view's query value."""
MAX_VIEW_VALUE = 20_000
"""Characters of one view parameter (a selection of up to 1,000 indices)."""
MAX_JSON_DEPTH = 8
MAX_JSON_TEXT = 10_000
MAX_JSON_ITEMS = 100_000
MAX_POINTS = 10_000_000
"""The most points a map may declare (the largest split featlib reads has 70,000)."""


# Field types ---------------------------------------------------------------------


def _printable(text: str) -> str:
    bad = sorted({c for c in text if not c.isprintable()})
    if bad:
        raise ValueError(f"printable characters only (no control characters, tabs or line breaks), not {bad[0]!r}")
    return text


def _note_text(text: str) -> str:
    bad = sorted({c for c in text if not c.isprintable() and c not in "\n\t"})
    if bad:
        raise ValueError(f"printable characters and line breaks only, not {bad[0]!r}")
    return text


def _name(text: str) -> str:
    """A model's or dataset's name: :func:`featlib.names.check_name`'s rule, and not shaped like an id."""
    return check_not_id(check_name(text, "name"), "model", "name")


def _user(text: str) -> str:
    """A user name: empty (nobody named), or a name as :func:`featlib.names.check_name` allows."""
    return check_name(text, "user name") if text.strip() else ""


def _iso_time(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("an ISO 8601 date and time such as '2026-11-30T12:00:00+00:00'") from None
    return text


Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_printable)]
Short = Annotated[str, Field(max_length=64), AfterValidator(_printable)]
Key = Annotated[str, Field(max_length=MAX_KEY), AfterValidator(_printable)]
Name = Annotated[str, AfterValidator(_name)]
User = Annotated[str, AfterValidator(_user)]
Note = Annotated[str, Field(max_length=MAX_NOTE), AfterValidator(_note_text)]
Time = Annotated[str, Field(max_length=64), AfterValidator(_iso_time)]
Fingerprint = Annotated[str, Field(pattern=r"^[0-9a-f]{16,64}$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Accuracy = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0, le=2**53)]
Seed = Annotated[int, Field(ge=-(2**63), le=2**64 - 1)]
Scale = Literal["0-1", "0-255"]


def _check_json(value: Any, where: str = "", depth: int = 0) -> None:
    """Raises ValueError unless ``value`` is bounded JSON: finite numbers, short texts, shallow, not huge."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested at most {MAX_JSON_DEPTH} levels deep (deeper at {where or 'the top'})")
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"finite numbers only (got {value} at {where or 'the top'})")
        return
    if isinstance(value, str):
        if len(value) > MAX_JSON_TEXT:
            raise ValueError(
                f"texts of at most {MAX_JSON_TEXT:,} characters (got {len(value):,} at {where or 'the top'})"
            )
        return
    if isinstance(value, (list, dict)):
        if len(value) > MAX_JSON_ITEMS:
            raise ValueError(f"at most {MAX_JSON_ITEMS:,} items (got {len(value):,} at {where or 'the top'})")
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            if isinstance(key, str) and len(key) > 200:
                raise ValueError(f"keys of at most 200 characters (got {len(key):,} at {where or 'the top'})")
            _check_json(item, f"{where}.{key}" if where else str(key), depth + 1)
        return
    raise ValueError(f"JSON values only (got {type(value).__name__} at {where or 'the top'})")


def _bounded_json(value: Any) -> Any:
    _check_json(value)
    return value


Json = Annotated[Any, AfterValidator(_bounded_json)]


class _Strict(BaseModel):
    """Strict types, finite numbers, no field the format does not define."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid", frozen=True)


class _WithExtras(BaseModel):
    """Strict declared fields; other fields allowed when they are bounded JSON (kept as claims only)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow", frozen=True)

    @model_validator(mode="after")
    def _extras_are_bounded_json(self):
        for key, value in (self.model_extra or {}).items():
            if len(key) > 200:
                raise ValueError(f"field names of at most 200 characters (got {len(key):,})")
            try:
                _check_json(value, key)
            except ValueError as error:
                raise ValueError(f"field {key!r} to hold {error}") from None
        return self


# The manifest ----------------------------------------------------------------------


class Provenance(_WithExtras):
    """What a result was made from (:func:`featlib.provenance.describe`)."""

    model_fingerprint: Fingerprint | None = None
    dataset_fingerprint: Fingerprint | None = None
    parameters: Annotated[dict[Annotated[str, Field(max_length=200)], Json], Field(max_length=1_000)] = {}
    seed: Seed | Short | None = None
    versions: Annotated[dict[Short, Short], Field(max_length=64)] = {}
    made_at: Time | None = None


class OutputEntry(_Strict):
    """One output of a model with several (``meta["outputs"]``)."""

    name: Text
    width: Count | None = None


class ModelMeta(_WithExtras):
    """A model record's ``meta``: how it was made and what was measured (the latter recomputed on import)."""

    dataset_fingerprint: Fingerprint | None = None
    seed: Seed | None = None
    optimizer: Short | None = None
    learning_rate: Annotated[float, Field(gt=0, le=1_000)] | None = None
    batch_size: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    hidden: Annotated[list[Annotated[int, Field(ge=1, le=10_000_000)]], Field(max_length=1_000)] | None = None
    epochs: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    epoch: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    checkpoint_of: Short | None = None
    checkpoint_epochs: Annotated[list[Annotated[int, Field(ge=0, le=10_000_000)]], Field(max_length=10_000)] | None = (
        None
    )
    history: Annotated[dict[Short, Annotated[list[float], Field(max_length=100_000)]], Field(max_length=64)] | None = (
        None
    )
    seconds: Annotated[float, Field(ge=0)] | None = None
    test_loss: float | None = None
    uploaded_file: Text | None = None
    split: Literal["train", "test"] | None = None
    n_images: Count | None = None
    output: Text | None = None
    outputs: Annotated[list[OutputEntry], Field(max_length=1_000)] | None = None
    implied_scale: Scale | None = None
    other_scale_accuracy: Accuracy | None = None
    hints: Annotated[list[Annotated[str, Field(max_length=MAX_TEXT)]], Field(max_length=100)] | None = None
    provenance: Provenance | None = None


class ModelSection(_Strict):
    """The model's record as the exporting workspace listed it (``id`` and ``path`` left out)."""

    name: Name
    dataset: Name
    architecture: Text
    test_accuracy: Accuracy | None = None
    input_scale: Scale = "0-1"
    fingerprint: Fingerprint
    created: Time
    meta: ModelMeta = ModelMeta()
    creator: User = ""
    note: Note = ""


class DatasetSection(_Strict):
    """The view's dataset: a built-in name, or an upload included as ``dataset.npz``."""

    key: Key
    name: Name
    fingerprint: Fingerprint
    summary: Text
    included: bool


class EmbeddingSection(_Strict):
    """The map: its workspace key, its number of points, its maker and 10-NN accuracy as stated."""

    key: Key
    representation_key: Key
    points: Annotated[int, Field(ge=1, le=MAX_POINTS)]
    creator: User = ""
    knn_accuracy: Accuracy | None = None


class FileEntry(_Strict):
    """One member's size and SHA-256."""

    bytes: Count
    sha256: Sha256


class Manifest(_Strict):
    """A bundle's ``manifest.json``, as :func:`featlib.share.bundle.export_bundle` writes it."""

    format: Literal["featlib-bundle"]
    version: Literal[1]
    exported_at: Time
    exported_by: User = ""
    view: Annotated[
        dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=MAX_VIEW_VALUE)]],
        Field(max_length=64),
    ]
    model: ModelSection
    dataset: DatasetSection
    embedding: EmbeddingSection
    provenance: Provenance = Provenance()
    files: Annotated[dict[Literal[MEMBER_FILES], FileEntry], Field(min_length=1)]  # type: ignore[valid-type]


def parse(manifest: object) -> Manifest:
    """``manifest`` (parsed JSON) checked against :class:`Manifest`.

    Raises:
        pydantic.ValidationError: a value of the wrong type, out of range or too long, a
            field missing or one the format does not define; :func:`describe_errors` words it.
    """
    return Manifest.model_validate(manifest)


_EXPECTATIONS = (
    ("Input should be ", "expected "),
    ("String should have ", "expected a text with "),
    ("List should have ", "expected a list with "),
    ("Dictionary should have ", "expected a dict with "),
    ("String should match pattern ", "expected a text matching "),
    ("Value should have ", "expected "),
)


def describe_errors(error: ValidationError, most: int = 3) -> str:
    """One sentence per failed field (at most ``most``): ``field 'model.test_accuracy': expected a valid
    number; received 'high' (str)``, joined by ``"; "``, and how many more there are."""
    parts = []
    errors = error.errors(include_url=False)
    for item in errors[:most]:
        where = ".".join(str(p) for p in item["loc"]) or "the manifest"
        message = str(item["msg"])
        if item["type"] == "missing":
            expectation = "expected this field; it is missing"
        elif item["type"] == "extra_forbidden":
            expectation = "expected no such field (it is not part of a featlib bundle)"
        elif item["type"] == "value_error":  # our own rules: "printable characters only", check_name's sentences
            message = message.removeprefix("Value error, ").rstrip(".")
            expectation = message if message[:1].isupper() else f"expected {message}"
        else:
            for pydantic_words, ours in _EXPECTATIONS:
                if message.startswith(pydantic_words):
                    message = ours + message[len(pydantic_words) :]
                    break
            expectation = message
        received = "" if item["type"] == "missing" else f"; received {_shown(item.get('input'))}"
        parts.append(f"field {where!r}: {expectation}{received}")
    more = len(errors) - most
    return "; ".join(parts) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else "")


def _shown(value: object) -> str:
    """A short ``repr`` of a received value with its type: ``'high' (str)``."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{text} ({type(value).__name__})"
