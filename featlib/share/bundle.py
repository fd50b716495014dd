"""A view as one ZIP file that another featlib server imports and shows as it was.

A bundle holds::

    manifest.json   format, view (the link's query), model record, dataset, map key,
                    provenance, and every other member's size and SHA-256
    README.md       how the view was made, in words
    model.keras     the model, as saved in the workspace
    embedding.npy   the map as stored: float64 rows [index, x, y]
    embedding.csv   the same map with labels and predictions (for people)
    figure.html     the plot, interactive and self-contained
    dataset.npz     only when the view's dataset is an upload (built-ins are named)

A bundle is an untrusted upload. :func:`import_bundle` refuses, naming the
reason and storing nothing: a file that is not a zip or is too big, a zip
bomb, any member not listed above (paths such as ``../x`` or ``/etc/x``
included), a member whose size or hash differs from the manifest, a model the
upload checks refuse (``Lambda`` layers, foreign code, a declared size over
the model budget of :mod:`featlib.models.budget`, ...), a manifest value of the
wrong type, range or length (the schema of :mod:`featlib.share.bundle_manifest`), a
model or dataset whose fingerprint differs from the manifest, a map key other
than the one its model, data and view give, and a map that does not fit its data.
Library versions that differ are reported, not refused.

Nothing a bundle states is trusted as fact. An import never overwrites what is
stored: a map already stored under the bundle's key is named and kept (and a
byte-identical one reported as already there). The model's test accuracy and
the map's 10-NN accuracy are measured again on import (in the ``bundle`` job);
the importing user is recorded as the one who added the model and map, and the
bundle's stated makers and figures are kept as claims under ``meta["imported"]``
(shown as "imported by X; bundle says made by Y").
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pydantic

from featlib import archives, datasets, keys, metrics, models, pipeline, plots, provenance
from featlib.errors import AlreadyImportedError, BundleError
from featlib.maps import embed
from featlib.models import diagnosis
from featlib.read import reductions
from featlib.share import bundle_manifest, exports
from featlib.share.views import View, ViewError
from featlib.store import AlreadyStoredError, ModelRecord, Workspace, WorkspaceError
from featlib.store.saved_datasets import UPLOAD_PREFIX

if TYPE_CHECKING:
    import keras
    import plotly.graph_objects as go

FORMAT = "featlib-bundle"
VERSION = 1
MEMBERS = ("manifest.json", "README.md", "model.keras", "embedding.npy", "embedding.csv", "figure.html", "dataset.npz")
MAX_INFLATED_BYTES = 1024 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_bundle` stored."""

    model: ModelRecord
    view: View  # with this workspace's model id and dataset key
    dataset_key: str
    points: int
    differences: list[str]  # library versions that differ from the exporter's
    figures: dict = dataclasses.field(default_factory=dict)  # measured on import: see CheckedBundle.figures
    claims: dict = dataclasses.field(default_factory=dict)  # what the bundle stated: test_accuracy, knn_accuracy


def dataset_for(workspace: Workspace, key: str) -> datasets.Dataset:
    """The dataset a view names: a built-in name, or ``upload:<fingerprint>`` in the workspace."""
    if key.startswith(UPLOAD_PREFIX):
        return workspace.load_dataset(key[len(UPLOAD_PREFIX) :])
    return datasets.load_builtin(key)


def view_keys(
    record: ModelRecord, dataset: datasets.Dataset, view: View, model: keras.Model | None = None
) -> tuple[str, str]:
    """The workspace keys of a view's representation and map, as the Explore page builds them.

    With ``model`` (the record's), the reduction ``auto`` is resolved from the layer's output shape
    (:func:`featlib.read.reductions.default_reduction`); without it, ``auto`` reads as ``flatten``, which
    is right for every layer without spatial axes and for spatial ones of at most
    :data:`featlib.read.reductions.FLATTEN_MAX` values per image.

    Raises:
        ReductionError: the view pools a layer without spatial axes (checked with ``model``).
    """
    if model is not None:
        reduction = reductions.for_layer(model, view.layer, view.reduction).reduction
    else:
        reduction = "flatten" if view.reduction == reductions.AUTO else view.reduction
    rep_key = keys.representation_key(
        record.fingerprint, dataset.fingerprint, view.split, view.layer, view.method, record.input_scale, reduction
    )
    return rep_key, keys.embedding_key(rep_key, view.sample, 0, view.params)


# Export ------------------------------------------------------------------------


def _predicted(model: keras.Model, record: ModelRecord, dataset: datasets.Dataset, split: str) -> np.ndarray:
    """The model's predicted class (int64) for every image of a split, from the output its record names.

    Raises:
        featlib.models.ModelError: the recorded output is gone or none fits the dataset's classes.
    """
    images, _ = dataset.split(split)
    output = models.recorded_output(model, record.meta.get("output"), dataset.num_classes)
    return models.predict_labels(model, models.adapt_images(images, model, record.input_scale), output=output)


def export_bundle(
    workspace: Workspace,
    view: View,
    *,
    dataset: datasets.Dataset | None = None,
    model: keras.Model | None = None,
    emb_key: str | None = None,
    predicted: np.ndarray | None = None,
    figure: go.Figure | None = None,
    exported_by: str = "",
) -> bytes:
    """The bundle ZIP of a view whose map is in the workspace.

    Args:
        workspace: where the model and map are.
        view: the view (as in its link).
        dataset, model, predicted: already loaded ones, to save the work.
        figure: the figure as the page draws it (default: the plain map coloured by label).
        emb_key: the map's key when the caller knows it (the Explore page does).
        exported_by: who exports it, recorded in the manifest.

    Raises:
        BundleError: the model or map is not in the workspace.
    """
    try:
        record = workspace.get_model(view.model, fingerprint=view.fingerprint or None)  # by id first, pinned
        dataset = dataset or dataset_for(workspace, view.dataset)
    except (WorkspaceError, datasets.DatasetError, datasets.DatasetUnavailableError) as error:
        raise BundleError(f"Cannot export this view: {error}") from error
    if emb_key is not None:  # the Explore page knows its map's key, and so its representation's
        rep_key = keys.read_key(emb_key).rep_key
    else:
        model = model or workspace.load_model(record)
        rep_key, emb_key = view_keys(record, dataset, view, model)
    table = workspace.load_array("embedding", emb_key)
    if table is None:
        raise BundleError(
            f"Cannot export this view: its map is not in the workspace (key {emb_key}); open the view on the "
            "Explore page (or run `python -m featlib embed`) to compute it first."
        )
    emb = pipeline.load_embedding(workspace, emb_key)
    if predicted is None:
        predicted = _predicted(model or workspace.load_model(record), record, dataset, view.split)
    _, labels = dataset.split(view.split)
    figure = figure or plots.scatter_map(
        emb.coords,
        emb.indices,
        labels[emb.indices],
        predicted[emb.indices],
        dataset.class_names,
        title=f"{record.name} · {view.layer} · {dataset.name} {view.split}",
    )
    files = {
        "model.keras": exports.model_bytes(workspace, record),
        "embedding.npy": _npy_bytes(table),
        "embedding.csv": exports.table_bytes(
            exports.embedding_table(emb.indices, emb.coords, labels, predicted, dataset.class_names), "csv"
        ),
        "figure.html": exports.figure_html(figure),
    }
    included = view.dataset.startswith(UPLOAD_PREFIX)
    if included:
        row = next(r for r in workspace.list_datasets() if r["fingerprint"] == dataset.fingerprint)
        files["dataset.npz"] = (workspace.root / row["path"]).read_bytes()
    stored = workspace.get_item("embedding", emb_key) if emb_key else None
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exported_by": exported_by,
        "view": view.to_query(),
        "model": {k: v for k, v in asdict(record).items() if k not in ("id", "path")},
        "dataset": {
            "key": view.dataset,
            "name": dataset.name,
            "fingerprint": dataset.fingerprint,
            "summary": dataset.summary(),
            "included": included,
        },
        "embedding": {
            "key": emb_key,
            "representation_key": rep_key,
            "points": int(len(table)),
            "creator": stored.creator if stored else "",
            "knn_accuracy": stored.knn_accuracy if stored else None,
        },
        "provenance": provenance.describe(
            model_fingerprint=record.fingerprint,
            dataset_fingerprint=dataset.fingerprint,
            parameters=view.to_query(),
            seed=getattr(view.params, "random_state", None),
            base=stored.provenance if stored else None,
        ),
        "files": {name: {"bytes": len(data), "sha256": provenance.bytes_sha256(data)} for name, data in files.items()},
    }
    files["README.md"] = _readme(manifest).encode()
    manifest["files"]["README.md"] = {
        "bytes": len(files["README.md"]),
        "sha256": provenance.bytes_sha256(files["README.md"]),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _readme(manifest: dict) -> str:
    view, model, data, emb = manifest["view"], manifest["model"], manifest["dataset"], manifest["embedding"]
    prov = manifest["provenance"]
    params = ", ".join(f"{k}={v}" for k, v in view.items() if k not in ("model", "dataset", "layer", "method", "split"))
    versions = ", ".join(f"{k} {v}" for k, v in prov.get("versions", {}).items())
    accuracy = "unknown" if model.get("test_accuracy") is None else f"{model['test_accuracy']:.4f}"
    return f"""# featlib view: {model["name"]} · {view["layer"]} · {data["name"]} {view["split"]}

Exported {manifest["exported_at"]} by {manifest["exported_by"] or "an anonymous user"}.

- **Model** `{model["name"]}` ({model["architecture"]}), made by {model.get("creator") or "unknown"} on
  {model["created"]}, trained on {model["dataset"]}; test accuracy {accuracy}; fingerprint `{model["fingerprint"]}`.
- **Data** {data["summary"]}; fingerprint `{data["fingerprint"]}`
  ({"included as dataset.npz" if data["included"] else "a built-in dataset, loaded by name on import"}).
- **Map** layer `{view["layer"]}` read by `{view["method"]}` on the {view["split"]} split, {emb["points"]:,} points;
  {params}.
- **Libraries** {versions}.

Files: `model.keras` (the model), `embedding.npy` (rows index, x, y as stored), `embedding.csv`
(index, label, predicted, x, y), `figure.html` (the interactive plot, opens offline),
`manifest.json` (all of the above as data, with each file's SHA-256).

Import on another featlib server: `python -m featlib import bundle.zip`, or the Workspace page's
"Import a bundle". The import checks every file's hash and the model's and data's fingerprints.
"""


# Import ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CheckedBundle:
    """What :func:`check_bundle` found in a bundle: plain data, ready for :func:`store_bundle`.

    Attributes:
        manifest: the manifest, checked against :mod:`featlib.share.bundle_manifest` (only the fields it
            holds; every value of the declared type, range and length).
        view: the view it shows.
        model: the model, checked and re-saved, as ``.keras`` bytes; ``model_fp`` and
            ``architecture`` are computed from it, not copied from the manifest.
        record_meta: the model's ``meta`` as the manifest states it (checked; kept as parameters
            and claims, see :func:`store_bundle`).
        dataset: the included dataset (``None`` for a built-in one); ``dataset_key``,
            ``dataset_fp`` and ``dataset_name`` name the dataset either way.
        table: the map, float64 rows ``[index, x, y]``.
        differences: library versions that differ from this server's.
        rep_key, emb_key: the workspace keys of the view's representation and map, computed from the
            model, dataset and view (the manifest's map key must equal ``emb_key``).
        figures: what was measured here, not copied: ``test_accuracy`` (float in [0, 1]), ``split``
            (``"test"``, or ``"train"`` for a dataset without test images), ``n_images``, ``output``
            (the output scored), ``outputs`` (``[{"name", "width"}]``), ``implied_scale``,
            ``other_scale_accuracy`` and ``hints`` (near chance only), ``knn_accuracy`` (the map's 10-NN
            accuracy, ``None`` when the map has too few points or classes to score) and
            ``knn_accuracy_points`` (the points it was scored on).
    """

    manifest: dict
    view: View
    model: bytes
    model_fp: str
    architecture: str
    record_meta: dict
    dataset: datasets.Dataset | None
    dataset_key: str
    dataset_fp: str
    dataset_name: str
    table: np.ndarray
    differences: list
    rep_key: str = ""
    emb_key: str = ""
    figures: dict = dataclasses.field(default_factory=dict)


PARAMETER_KEYS = ("seed", "optimizer", "learning_rate", "batch_size", "hidden", "epochs", "uploaded_file")
"""Keys of a model's manifest ``meta`` kept as its parameters (how it was made); every other value
is kept under ``meta["imported"]["claimed"]``, and what can be measured is measured again."""


def import_bundle(workspace: Workspace, source: bytes | str | Path | IO[bytes], *, creator: str = "") -> ImportResult:
    """Checks a bundle (:func:`check_bundle`, in this process) and stores it (:func:`store_bundle`).

    Args:
        workspace: where to store it.
        source: the ZIP's bytes, a path, or a binary file object (an upload).
        creator: who imports it: recorded as the maker of what is stored; the bundle's stated
            makers are kept as claims (``meta["imported"]["claimed_by"]``).

    Raises:
        BundleError: the reason the bundle is refused; nothing is stored then.
        AlreadyImportedError: the same map is in the workspace already; nothing is stored.
    """
    data, label = read_source(source)
    return store_bundle(workspace, check_bundle(data, label), creator=creator)


def check_bundle(data: bytes, label: str = "the bundle") -> CheckedBundle:
    """Checks a bundle's bytes as an untrusted upload and measures what it claims.

    Checks members, sizes and hashes, every manifest value against its declared schema
    (:mod:`featlib.share.bundle_manifest`), the model (the upload checks and size budget of
    :func:`featlib.models.load_model`), the fingerprints, and the map's key and points; then
    scores the model on the dataset (as an upload is scored) and the map's 10-NN accuracy.

    Loads the model with Keras and scores it, so run it where a memory limit bounds it and off
    a page's thread: the ``bundle`` job of :mod:`featlib.jobs`.

    Raises:
        BundleError: the reason the bundle is refused.
    """
    files, manifest = _read_members(data, label)
    view, model, record_meta, dataset, dataset_key = _check_contents(files, manifest, label)
    table = _check_embedding(files["embedding.npy"], dataset, view, manifest, label)
    model_fp = models.fingerprint(model)
    rep_key, emb_key = _check_map_key(model, model_fp, dataset, view, manifest, label)
    figures = {**_score_model(model, dataset, manifest, label), **_score_map(table, dataset, view)}
    _, differences = provenance.compare(manifest.get("provenance", {}), provenance.describe())
    return CheckedBundle(
        manifest,
        view,
        models.model_to_bytes(model),
        model_fp,
        models.architecture_summary(model),
        record_meta,
        dataset if dataset_key.startswith(UPLOAD_PREFIX) else None,
        dataset_key,
        dataset.fingerprint,
        dataset.name,
        table,
        list(differences),
        rep_key,
        emb_key,
        figures,
    )


def __getattr__(name: str) -> int:
    """``MAX_BUNDLE_BYTES``: the largest bundle in bytes, ``$FEATLIB_MAX_UPLOAD_MB`` MiB, read now (not at import)."""
    if name == "MAX_BUNDLE_BYTES":
        return datasets.upload_limit_bytes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def read_source(source: bytes | str | Path | IO[bytes]) -> tuple[bytes, str]:
    limit = datasets.upload_limit_bytes()  # MAX_BUNDLE_BYTES
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise BundleError(f"Cannot read the bundle {str(path)!r}: {error.strerror or error}.") from error
        if size > limit:
            raise BundleError(_too_big(path.name, size, limit))
        return path.read_bytes(), path.name
    if isinstance(source, bytes):
        data, label = source, "the bundle"
    else:
        label = getattr(source, "name", "the bundle")
        if source.seekable():
            source.seek(0)  # an upload read before (a second click) is read again from its start
        data = source.read(limit + 1)
    if len(data) > limit:
        raise BundleError(_too_big(label, len(data), limit))
    return data, label


def _too_big(label: str, size: int, limit: int) -> str:
    return (
        f"{label} is {size:,} bytes; bundles are limited to {limit:,} bytes "
        f"(raise it with {datasets.UPLOAD_LIMIT_ENV})."
    )


def _read_members(data: bytes, label: str) -> tuple[dict[str, bytes], dict]:
    """Every member's bytes, after checking names, sizes and hashes against the manifest."""
    if not data:
        raise BundleError(f"{label} is empty (0 bytes); expected a featlib bundle (.zip).")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise BundleError(f"{label} is not a zip archive; expected a featlib bundle (.zip) made by Export → Bundle.")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            unknown = [n for n in names if n not in MEMBERS]
            if unknown:
                raise BundleError(
                    f"{label} holds unexpected members {unknown[:5]}; a bundle holds only {list(MEMBERS)} "
                    "at its top level. Refused (paths into other folders are never extracted)."
                )
            if len(set(names)) != len(names):
                raise BundleError(f"{label} holds the same member twice; refused.")
            inflated, packed = archives.declared_sizes(infos)
            if archives.is_bomb(inflated, packed, MAX_INFLATED_BYTES):
                raise BundleError(
                    f"{label} would inflate to {inflated:,} bytes from {packed:,} (ratio {inflated / packed:,.0f}x); "
                    f"the limits are {MAX_INFLATED_BYTES:,} bytes and {archives.BOMB_MAX_RATIO}x above {archives.BOMB_MIN_BYTES:,} "
                    "bytes: refusing a possible zip bomb."
                )
            if "manifest.json" not in names:
                raise BundleError(f"{label} has no manifest.json; it is not a featlib bundle (members: {names[:10]}).")
            manifest = _parse_manifest(
                _read_member(archive, archive.getinfo("manifest.json"), MAX_MANIFEST_BYTES, label), label
            )
            listed = manifest["files"]
            missing = sorted(set(listed) - set(names))
            extra = sorted(set(names) - set(listed) - {"manifest.json"})
            if missing or extra:
                raise BundleError(
                    f"{label}'s members do not match its manifest: missing {missing}, not listed {extra}."
                )
            files = {}
            for name, expected in listed.items():
                info = archive.getinfo(name)
                declared = expected.get("bytes") if isinstance(expected, dict) else None
                if not isinstance(declared, int) or declared != info.file_size:
                    raise BundleError(
                        f"{label}: {name} is declared as {declared!r} bytes in the manifest and "
                        f"{info.file_size:,} in the zip; refused."
                    )
                content = _read_member(archive, info, declared, label)
                if provenance.bytes_sha256(content) != expected.get("sha256"):
                    raise BundleError(
                        f"{label}: {name}'s SHA-256 does not match the manifest (expected {expected.get('sha256')}, "
                        f"got {provenance.bytes_sha256(content)}); the bundle was altered or damaged."
                    )
                files[name] = content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, KeyError) as error:
        raise BundleError(f"{label} is a damaged zip archive: {error}") from error
    for needed in ("model.keras", "embedding.npy"):
        if needed not in files:
            raise BundleError(f"{label} lacks {needed}; a bundle holds a model and its map.")
    return files, manifest


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, label: str) -> bytes:
    """A member's bytes, reading no more than ``limit + 1`` whatever its header says."""
    if info.file_size > limit:
        raise BundleError(f"{label}: {info.filename} is {info.file_size:,} bytes; at most {limit:,} expected.")
    with archive.open(info) as handle:
        content = handle.read(limit + 1)
    if len(content) != info.file_size:
        raise BundleError(
            f"{label}: {info.filename} inflates to {len(content):,} bytes but its header says "
            f"{info.file_size:,}; refusing a zip that lies about its sizes."
        )
    return content


def _parse_manifest(raw: bytes, label: str) -> dict:
    """The manifest as plain data, every value checked against :class:`featlib.share.bundle_manifest.Manifest`.

    Raises:
        BundleError: not JSON, not a featlib bundle, another version, or a value of the wrong type, range
            or length (naming the field, what was expected and what was received).
    """
    try:
        manifest = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise BundleError(f"{label}'s manifest.json is not readable JSON: {str(error)[:200]}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{label}'s manifest.json does not describe a featlib bundle (format {FORMAT!r} expected).")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"{label} is a featlib bundle of version {manifest.get('version')!r}; this server reads version {VERSION}."
        )
    try:
        checked = bundle_manifest.parse(manifest)
    except pydantic.ValidationError as error:
        raise BundleError(
            f"{label}'s manifest.json breaks the bundle format: {bundle_manifest.describe_errors(error)}. "
            "Nothing was imported; export the view again from its featlib server."
        ) from None
    return checked.model_dump(mode="json", exclude_unset=True)


def _check_contents(files: dict[str, bytes], manifest: dict, label: str):
    """The model and dataset, loaded through the upload checks and matched to their fingerprints."""
    expected_model = manifest["model"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(files["model.keras"])
        try:
            model = models.load_model(path)
        except models.ModelError as error:
            raise BundleError(f"{label}'s model cannot be used: {error}") from error
    mismatches = []
    model_fp = models.fingerprint(model)
    if model_fp != expected_model.get("fingerprint"):
        mismatches.append(
            f"the model's fingerprint is {model_fp}, the manifest says {expected_model.get('fingerprint')}"
        )
    pinned = str(manifest["view"].get("model_fp", ""))
    if pinned and pinned != model_fp:
        mismatches.append(f"the view pins the model with fingerprint {pinned[:40]}, the bundle's model has {model_fp}")
    about = manifest["dataset"]
    try:
        if about.get("included"):
            if "dataset.npz" not in files:
                raise BundleError(f"{label}'s manifest says the dataset is included, but dataset.npz is missing.")
            dataset = datasets.load_npz(files["dataset.npz"], name=about["name"])
            dataset_key = UPLOAD_PREFIX + dataset.fingerprint
        else:
            dataset_key = about["key"]
            if dataset_key not in datasets.BUILTIN_DATASETS:
                raise BundleError(
                    f"{label} names the dataset {dataset_key!r}, which is neither built in "
                    f"({list(datasets.BUILTIN_DATASETS)}) nor included in the bundle."
                )
            dataset = datasets.load_builtin(dataset_key)
    except (datasets.DatasetError, datasets.DatasetUnavailableError) as error:
        raise BundleError(f"{label}'s dataset cannot be used here: {error}") from error
    if dataset.fingerprint != about.get("fingerprint"):
        mismatches.append(
            f"the dataset {dataset.name}'s fingerprint here is {dataset.fingerprint}, the manifest says "
            f"{about.get('fingerprint')} (the data differ)"
        )
    if mismatches:
        raise BundleError(
            f"{label} does not match what it claims to hold: {'; '.join(mismatches)}. Nothing was imported."
        )
    try:
        view = View.from_query({k: str(v) for k, v in manifest["view"].items()})
        models.check_layer(model, view.layer)
    except (ViewError, models.ModelError) as error:
        raise BundleError(f"{label}'s view cannot be shown: {error}") from error
    return view, model, dict(expected_model.get("meta") or {}), dataset, dataset_key


def _check_embedding(raw: bytes, dataset: datasets.Dataset, view: View, manifest: dict, label: str) -> np.ndarray:
    try:
        table = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise BundleError(f"{label}'s embedding.npy is not a NumPy array file: {str(error)[:200]}") from None
    _, labels = dataset.split(view.split)
    if table.dtype != np.float64 or table.ndim != 2 or table.shape[1] != 3 or not len(table):
        raise BundleError(f"{label}'s map must be float64 rows [index, x, y]; got {table.dtype} {table.shape}.")
    if not np.isfinite(table).all():
        raise BundleError(f"{label}'s map holds NaN or infinite values.")
    indices = table[:, 0]
    if (
        (indices != np.round(indices)).any()
        or indices.min() < 0
        or indices.max() >= len(labels)
        or len(np.unique(indices)) != len(indices)
    ):
        raise BundleError(
            f"{label}'s map indices must be distinct whole numbers from 0 to {len(labels) - 1} "
            f"(the {view.split} split of {dataset.name}); they are not."
        )
    if manifest["embedding"].get("points") != len(table):
        raise BundleError(
            f"{label}'s manifest says {manifest['embedding'].get('points')} points; the map has {len(table)}."
        )
    return table


def _check_map_key(
    model: keras.Model, model_fp: str, dataset: datasets.Dataset, view: View, manifest: dict, label: str
) -> tuple[str, str]:
    """The keys of the view's representation and map here; the manifest's map key must be the same.

    Raises:
        BundleError: the manifest's key is another one (a map stored under it would be shown for
            another model, data or view), or the view's reduction does not fit its layer.
    """
    scale = manifest["model"].get("input_scale", "0-1")
    try:
        reduction = reductions.for_layer(model, view.layer, view.reduction).reduction
        rep_key = keys.representation_key(
            model_fp, dataset.fingerprint, view.split, view.layer, view.method, scale, reduction
        )
    except (reductions.ReductionError, models.ModelError) as error:
        raise BundleError(f"{label}'s view cannot be shown: {error}") from error
    emb_key = keys.embedding_key(rep_key, view.sample, 0, view.params)
    stated = manifest["embedding"]["key"]
    if stated != emb_key:
        raise BundleError(
            f"{label}'s map key must be the one its model, data and view give, {emb_key!r}; the manifest says "
            f"{stated[:300]!r}. Nothing was imported."
        )
    return rep_key, emb_key


def _score_model(model: keras.Model, dataset: datasets.Dataset, manifest: dict, label: str) -> dict:
    """The model's accuracy measured here, as an upload's is (:func:`featlib.jobs.tasks.check_upload`).

    Scored on the dataset's test split (its train split when it has no test images), from the output
    the manifest names (``meta["output"]``) or the first that fits the classes; near chance, once more
    with the other input scaling, with the likely causes.

    Raises:
        BundleError: no output fits the classes, the images do not fit the model, no image to score on.
    """
    about = manifest["model"]
    try:
        scored = diagnosis.score(
            model, dataset, about.get("input_scale", "0-1"), (about.get("meta") or {}).get("output"), f"{label}'s model"
        )
    except models.ModelError as error:
        raise BundleError(f"{label}'s model cannot be scored on {dataset.name}: {error}") from error
    outputs = scored.pop("outputs")
    output = scored.pop("output")
    scored["test_accuracy"] = float(scored.pop("accuracy"))
    return {**scored, **({"output": output, "outputs": outputs} if len(outputs) > 1 else {})}


def _score_map(table: np.ndarray, dataset: datasets.Dataset, view: View) -> dict:
    """The map's 10-NN accuracy measured here, as the Explore page records it.

    5-fold 10-NN accuracy (:func:`featlib.metrics.knn_accuracy`) of the map's 2-D points, on a
    label-stratified sample of at most :data:`featlib.metrics.DEFAULT_SAMPLE` of them (seed 0).

    Returns:
        ``{"knn_accuracy": float in [0, 1], or None when the map has too few points or classes to be
        scored, "knn_accuracy_points": the points scored}``.
    """
    _, labels = dataset.split(view.split)
    map_labels = np.asarray(labels)[table[:, 0].astype(np.int64)]
    try:
        chosen = embed.stratified_sample(map_labels, metrics.DEFAULT_SAMPLE, seed=0)
        knn = metrics.knn_accuracy(table[chosen, 1:3], map_labels[chosen])
    except ValueError:  # one class, or fewer points than neighbours or folds
        return {"knn_accuracy": None, "knn_accuracy_points": int(len(table))}
    return {"knn_accuracy": metrics.as_float(knn), "knn_accuracy_points": int(len(chosen))}


def store_bundle(workspace: Workspace, checked: CheckedBundle, *, creator: str = "") -> ImportResult:
    """Stores a checked bundle's dataset (when included and new), model and map; never overwrites anything.

    What is stored is recorded as added by ``creator`` (the importing user). The figures stored are
    those :func:`check_bundle` measured (the model's test accuracy, the map's 10-NN accuracy); what the
    bundle states (its makers, its figures, its training history) is kept under
    ``meta["imported"]`` as claims: ``{"by": importer, "claimed_by": the stated maker, "exported_by",
    "exported_at", "claimed": {...}}``.

    Before anything is stored, the map's key is looked up: a map there already is never replaced
    (the store refuses it too, under its lock: :meth:`featlib.store.Workspace.save_array` with
    ``overwrite=False``). When a later step fails, what was stored is removed.

    Raises:
        AlreadyImportedError: the same map (byte for byte) is stored already; nothing is stored.
        BundleError: another map is stored under the same key (naming it); nothing is stored.
    """
    manifest, view, table, figures = checked.manifest, checked.view, checked.table, checked.figures
    about, emb_about = manifest["model"], manifest["embedding"]
    if not checked.emb_key:
        raise BundleError("This bundle was checked by another featlib version (no map key measured); import it again.")
    _refuse_existing(workspace, checked)
    meta = {k: checked.record_meta[k] for k in PARAMETER_KEYS if checked.record_meta.get(k) is not None}
    meta.update(
        {
            k: figures[k]
            for k in ("split", "n_images", "implied_scale", "other_scale_accuracy", "hints", "output", "outputs")
            if k in figures
        }
    )
    meta["dataset_fingerprint"] = checked.dataset_fp
    meta["imported"] = _imported(
        manifest,
        creator,
        about.get("creator", ""),
        {
            "test_accuracy": about.get("test_accuracy"),
            "dataset": about.get("dataset"),
            "created": about.get("created"),
            "meta": {k: v for k, v in checked.record_meta.items() if k not in PARAMETER_KEYS},
        },
    )
    emb_meta = {
        "rep": checked.rep_key,
        "imported": _imported(
            manifest, creator, emb_about.get("creator", ""), {"knn_accuracy": emb_about.get("knn_accuracy")}
        ),
        "provenance": {
            **(manifest.get("provenance") or {}),
            "model_fingerprint": checked.model_fp,
            "dataset_fingerprint": checked.dataset_fp,
        },
    }
    if figures.get("knn_accuracy") is not None:
        emb_meta.update(knn_accuracy=figures["knn_accuracy"], knn_accuracy_points=figures["knn_accuracy_points"])
    new_dataset, record = False, None
    try:
        if checked.dataset is not None:
            new_dataset = workspace.add_dataset(checked.dataset, creator=creator)
        record = workspace.save_model_file(
            checked.model,
            about["name"],
            fingerprint=checked.model_fp,
            architecture=checked.architecture,
            dataset=checked.dataset_name,
            test_accuracy=figures.get("test_accuracy"),
            input_scale=about.get("input_scale", "0-1"),
            meta=meta,
            creator=creator,
        )
        if about.get("note"):
            workspace.set_note("model", record.id, about["note"])
        try:
            workspace.save_array(
                "embedding", checked.emb_key, table, model_id=record.id, meta=emb_meta, creator=creator, overwrite=False
            )
        except AlreadyStoredError as error:  # stored meanwhile by another session
            raise BundleError(f"This bundle's map cannot be stored: {error} Nothing was imported.") from error
    except BaseException:
        if record is not None:
            workspace.delete("model", record.id, trash=False)
        if new_dataset:
            with contextlib.suppress(WorkspaceError, ValueError):
                workspace.delete("dataset", checked.dataset_fp, trash=False)
        raise
    local_view = dataclasses.replace(
        view, model=record.id, dataset=checked.dataset_key, fingerprint=view.fingerprint and record.fingerprint
    )
    claims = {"test_accuracy": about.get("test_accuracy"), "knn_accuracy": emb_about.get("knn_accuracy")}
    return ImportResult(record, local_view, checked.dataset_key, len(table), checked.differences, dict(figures), claims)


def measured_text(result: ImportResult) -> str:
    """One sentence: the figures an import measured, beside what the bundle said.

    ``"Measured here, not copied from the bundle: the model's test accuracy 0.934 (digits, test split,
    360 images; the bundle said 0.900); the map's 10-NN accuracy 0.712 (1,437 points; the bundle said 1.000)."``
    """
    figures, claims = result.figures, result.claims

    def said(key: str) -> str:
        value = claims.get(key)
        return f"; the bundle said {value:.3f}" if isinstance(value, (int, float)) else ""

    parts = []
    if result.model.test_accuracy is not None:
        parts.append(
            f"the model's test accuracy {result.model.test_accuracy:.3f} ({result.model.measured_on}"
            f"{said('test_accuracy')})"
        )
    knn = figures.get("knn_accuracy")
    if knn is not None:
        parts.append(
            f"the map's 10-NN accuracy {knn:.3f} ({figures.get('knn_accuracy_points', 0):,} points"
            f"{said('knn_accuracy')})"
        )
    elif figures:
        parts.append("no 10-NN accuracy for the map (too few points or classes to score)")
    return ("Measured here, not copied from the bundle: " + "; ".join(parts) + ".") if parts else ""


def _imported(manifest: dict, importer: str, claimed_by: str, claimed: dict) -> dict:
    """``meta["imported"]``: who imported it, and what the bundle claims (never shown as fact)."""
    return {
        "by": importer.strip(),
        "claimed_by": claimed_by,
        "exported_by": manifest.get("exported_by", ""),
        "exported_at": manifest.get("exported_at"),
        "claimed": {k: v for k, v in claimed.items() if v not in (None, "", {})},
    }


def _refuse_existing(workspace: Workspace, checked: CheckedBundle) -> None:
    """Refuses a bundle whose map key is taken, naming the map stored under it.

    Raises:
        AlreadyImportedError: the map stored is the bundle's, byte for byte.
        BundleError: it is another one.
    """
    try:
        item = workspace.get_item("embedding", checked.emb_key)
    except WorkspaceError:
        return
    stored = workspace.load_array("embedding", checked.emb_key)
    try:
        model = workspace.get_model(item.model_id).name if item.model_id else "unknown"
    except WorkspaceError:
        model = "unknown"
    where = (
        f"the map {item.name!r} of model {model!r} ({item.maker}, {item.created.replace('T', ' ')[:16]} UTC), "
        f"key {checked.emb_key!r}"
    )
    same = (
        stored is not None
        and stored.dtype == checked.table.dtype
        and stored.shape == checked.table.shape
        and stored.tobytes() == checked.table.tobytes()
    )
    if same:
        raise AlreadyImportedError(
            f"This bundle's map is already in the workspace: {where}. Nothing was stored; "
            "open it from the Workspace page."
        )
    raise BundleError(
        f"This bundle's map would replace another map stored under the same key: {where}. An import never "
        "overwrites what is stored, so nothing was imported. Delete that map first (Workspace page) if the "
        "bundle's should take its place."
    )
