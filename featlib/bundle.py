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
upload checks refuse (``Lambda`` layers, foreign code, ...), a model or
dataset whose fingerprint differs from the manifest, and a map that does not
fit its data. Library versions that differ are reported, not refused.
"""

from __future__ import annotations

import dataclasses
import io
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from featlib import archives, datasets, models, provenance
from featlib.store import ModelRecord, Workspace, WorkspaceError
from featlib.views import View, ViewError

if TYPE_CHECKING:
    import keras
    import plotly.graph_objects as go

FORMAT = "featlib-bundle"
VERSION = 1
UPLOAD_PREFIX = "upload:"
MEMBERS = ("manifest.json", "README.md", "model.keras", "embedding.npy", "embedding.csv", "figure.html", "dataset.npz")
MAX_BUNDLE_BYTES = datasets.upload_limit_bytes()
MAX_INFLATED_BYTES = 1024 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024


class BundleError(ValueError):
    """A bundle that cannot be imported or exported; the message says why."""


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_bundle` stored."""

    model: ModelRecord
    view: View  # with this workspace's model id and dataset key
    dataset_key: str
    points: int
    differences: list[str]  # library versions that differ from the exporter's


def dataset_for(workspace: Workspace, key: str) -> datasets.Dataset:
    """The dataset a view names: a built-in name, or ``upload:<fingerprint>`` in the workspace."""
    if key.startswith(UPLOAD_PREFIX):
        return workspace.load_dataset(key[len(UPLOAD_PREFIX) :])
    return datasets.load_builtin(key)


def view_keys(record: ModelRecord, dataset: datasets.Dataset, view: View,
              model: "keras.Model | None" = None) -> tuple[str, str]:  # fmt: skip
    """The workspace keys of a view's representation and map, as the Explore page builds them.

    With ``model`` (the record's), the reduction ``auto`` is resolved from the layer's output shape
    (:func:`featlib.reductions.default_reduction`); without it, ``auto`` reads as ``flatten``, which
    is right for every layer without spatial axes and for spatial ones of at most
    :data:`featlib.reductions.FLATTEN_MAX` values per image.

    Raises:
        ReductionError: the view pools a layer without spatial axes (checked with ``model``).
    """
    from featlib import pipeline, reductions

    if model is not None:
        reduction = reductions.for_layer(model, view.layer, view.reduction).reduction
    else:
        reduction = "flatten" if view.reduction == reductions.AUTO else view.reduction
    rep_key = pipeline.representation_key(
        record.fingerprint, dataset.fingerprint, view.split, view.layer, view.method, record.input_scale, reduction
    )
    return rep_key, pipeline.embedding_key(rep_key, view.sample, 0, view.params)


# Export ------------------------------------------------------------------------


def _predicted(model: "keras.Model", record: ModelRecord, dataset: datasets.Dataset, split: str) -> np.ndarray:
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
    model: "keras.Model | None" = None,
    emb_key: str | None = None,
    predicted: np.ndarray | None = None,
    figure: "go.Figure | None" = None,
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
    from featlib import exports, pipeline, plots

    try:
        record = workspace.get_model(view.model)
        dataset = dataset or dataset_for(workspace, view.dataset)
    except (WorkspaceError, datasets.DatasetError, datasets.DatasetUnavailableError) as error:
        raise BundleError(f"Cannot export this view: {error}") from error
    if emb_key is not None:  # the Explore page knows its map's key, and so its representation's
        rep_key = emb_key[len("emb/") :].split("/sample=")[0]
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
    figure = figure or plots.scatter_map(emb.coords, emb.indices, labels[emb.indices], predicted[emb.indices],
                               dataset.class_names, title=f"{record.name} · {view.layer} · {dataset.name} {view.split}")  # fmt: skip
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
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "exported_by": exported_by,
        "view": view.to_query(),
        "model": {k: v for k, v in asdict(record).items() if k not in ("id", "path")},
        "dataset": {"key": view.dataset, "name": dataset.name, "fingerprint": dataset.fingerprint,
                    "summary": dataset.summary(), "included": included},  # fmt: skip
        "embedding": {"key": emb_key, "representation_key": rep_key, "points": int(len(table)),
                      "creator": stored.creator if stored else "", "knn_accuracy": stored.knn_accuracy if stored else None},  # fmt: skip
        "provenance": provenance.describe(
            model_fingerprint=record.fingerprint, dataset_fingerprint=dataset.fingerprint,
            parameters=view.to_query(), seed=getattr(view.params, "random_state", None),
            base=stored.provenance if stored else None,
        ),  # fmt: skip
        "files": {name: {"bytes": len(data), "sha256": provenance.bytes_sha256(data)} for name, data in files.items()},
    }
    files["README.md"] = _readme(manifest).encode()
    manifest["files"]["README.md"] = {"bytes": len(files["README.md"]), "sha256": provenance.bytes_sha256(files["README.md"])}
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
    return f"""# featlib view: {model['name']} · {view['layer']} · {data['name']} {view['split']}

Exported {manifest['exported_at']} by {manifest['exported_by'] or 'an anonymous user'}.

- **Model** `{model['name']}` ({model['architecture']}), made by {model.get('creator') or 'unknown'} on
  {model['created']}, trained on {model['dataset']}; test accuracy {accuracy}; fingerprint `{model['fingerprint']}`.
- **Data** {data['summary']}; fingerprint `{data['fingerprint']}`
  ({'included as dataset.npz' if data['included'] else 'a built-in dataset, loaded by name on import'}).
- **Map** layer `{view['layer']}` read by `{view['method']}` on the {view['split']} split, {emb['points']:,} points;
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
        manifest: the parsed manifest.
        view: the view it shows.
        model: the model, checked and re-saved, as ``.keras`` bytes; ``model_fp`` and
            ``architecture`` are computed from it, not copied from the manifest.
        record_meta: the model's recorded ``meta``.
        dataset: the included dataset (``None`` for a built-in one); ``dataset_key``,
            ``dataset_fp`` and ``dataset_name`` name the dataset either way.
        table: the map, float64 rows ``[index, x, y]``.
        differences: library versions that differ from this server's.
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


def import_bundle(workspace: Workspace, source: bytes | str | Path | IO[bytes], *, creator: str = "") -> ImportResult:
    """Checks a bundle (:func:`check_bundle`, in this process) and stores it (:func:`store_bundle`).

    Args:
        workspace: where to store it.
        source: the ZIP's bytes, a path, or a binary file object (an upload).
        creator: who imports it; the model keeps its original maker in ``meta``.

    Raises:
        BundleError: the reason the bundle is refused; nothing is stored then.
    """
    data, label = read_source(source)
    return store_bundle(workspace, check_bundle(data, label), creator=creator)


def check_bundle(data: bytes, label: str = "the bundle") -> CheckedBundle:
    """Checks a bundle's bytes as an untrusted upload: members, sizes, hashes, the model's code checks, fingerprints.

    Loads the model with Keras (as an uploaded model), so run it where a
    memory limit bounds it: the ``bundle`` job of :mod:`featlib.jobs`.

    Raises:
        BundleError: the reason the bundle is refused.
    """
    files, manifest = _read_members(data, label)
    view, model, record_meta, dataset, dataset_key = _check_contents(files, manifest, label)
    table = _check_embedding(files["embedding.npy"], dataset, view, manifest, label)
    _, differences = provenance.compare(manifest.get("provenance", {}), provenance.describe())
    return CheckedBundle(
        manifest, view, models.model_to_bytes(model), models.fingerprint(model), models.architecture_summary(model), record_meta,
        dataset if dataset_key.startswith(UPLOAD_PREFIX) else None, dataset_key, dataset.fingerprint, dataset.name,
        table, list(differences),
    )  # fmt: skip


def read_source(source: bytes | str | Path | IO[bytes]) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError as error:
            raise BundleError(f"Cannot read the bundle {str(path)!r}: {error.strerror or error}.") from error
        if size > MAX_BUNDLE_BYTES:
            raise BundleError(_too_big(path.name, size))
        return path.read_bytes(), path.name
    if isinstance(source, bytes):
        data, label = source, "the bundle"
    else:
        label = getattr(source, "name", "the bundle")
        if source.seekable():
            source.seek(0)  # an upload read before (a second click) is read again from its start
        data = source.read(MAX_BUNDLE_BYTES + 1)
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(_too_big(label, len(data)))
    return data, label


def _too_big(label: str, size: int) -> str:
    return (f"{label} is {size:,} bytes; bundles are limited to {MAX_BUNDLE_BYTES:,} bytes "
            f"(raise it with {datasets.UPLOAD_LIMIT_ENV}).")  # fmt: skip


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
            manifest = _parse_manifest(_read_member(archive, archive.getinfo("manifest.json"), MAX_MANIFEST_BYTES, label), label)
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
    for key, kind in (("view", dict), ("model", dict), ("dataset", dict), ("embedding", dict), ("files", dict)):
        if not isinstance(manifest.get(key), kind):
            raise BundleError(f"{label}'s manifest.json lacks its {key!r} section; it is damaged.")
    return manifest


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
        mismatches.append(f"the model's fingerprint is {model_fp}, the manifest says {expected_model.get('fingerprint')}")
    about = manifest["dataset"]
    try:
        if about.get("included"):
            if "dataset.npz" not in files:
                raise BundleError(f"{label}'s manifest says the dataset is included, but dataset.npz is missing.")
            dataset = datasets.load_npz(files["dataset.npz"], name=str(about.get("name") or "upload:bundle"))
            dataset_key = UPLOAD_PREFIX + dataset.fingerprint
        else:
            dataset_key = str(about.get("key"))
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
        raise BundleError(f"{label} does not match what it claims to hold: {'; '.join(mismatches)}. Nothing was imported.")
    try:
        view = View.from_query({k: str(v) for k, v in manifest["view"].items()})
        models.check_layer(model, view.layer)
    except (ViewError, models.ModelError) as error:
        raise BundleError(f"{label}'s view cannot be shown: {error}") from error
    accuracy, scale = expected_model.get("test_accuracy"), expected_model.get("input_scale", "0-1")
    if not (accuracy is None or (isinstance(accuracy, (int, float)) and 0 <= accuracy <= 1)) or scale not in models.INPUT_SCALES:
        raise BundleError(
            f"{label}'s model record is malformed: test_accuracy must be empty or within [0, 1] and input_scale "
            f"one of {list(models.INPUT_SCALES)}; got {accuracy!r} and {scale!r}."
        )
    meta = expected_model.get("meta") if isinstance(expected_model.get("meta"), dict) else {}
    return view, model, meta, dataset, dataset_key


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
    if (indices != np.round(indices)).any() or indices.min() < 0 or indices.max() >= len(labels) or len(np.unique(indices)) != len(indices):
        raise BundleError(
            f"{label}'s map indices must be distinct whole numbers from 0 to {len(labels) - 1} "
            f"(the {view.split} split of {dataset.name}); they are not."
        )
    if manifest["embedding"].get("points") != len(table):
        raise BundleError(f"{label}'s manifest says {manifest['embedding'].get('points')} points; the map has {len(table)}.")
    return table


def store_bundle(workspace: Workspace, checked: CheckedBundle, *, creator: str = "") -> ImportResult:
    """Stores a checked bundle's dataset (when included), model and map; removes what it stored when a later step fails.

    Raises:
        BundleError: the map's key does not belong to the bundle's model and data; nothing is left stored.
    """
    from featlib import pipeline

    manifest, view, meta, dataset, dataset_key, table = (checked.manifest, checked.view, checked.record_meta,
                                                         checked.dataset, checked.dataset_key, checked.table)  # fmt: skip
    differences = checked.differences
    about = manifest["model"]
    new_dataset = dataset is not None and dataset.fingerprint not in {
        row["fingerprint"] for row in workspace.list_datasets()
    }
    record = None
    try:
        if new_dataset:
            workspace.save_dataset(dataset, creator=creator)
        meta = dict(meta, imported={"by": creator, "from_bundle_by": manifest.get("exported_by", ""),
                                    "original_creator": about.get("creator", ""), "exported_at": manifest.get("exported_at")})  # fmt: skip
        record = workspace.save_model_file(
            checked.model, str(about.get("name") or "imported"), fingerprint=checked.model_fp,
            architecture=checked.architecture, dataset=str(about.get("dataset") or checked.dataset_name),
            test_accuracy=about.get("test_accuracy"), input_scale=str(about.get("input_scale") or "0-1"),
            meta=meta, creator=str(about.get("creator") or creator),
        )  # fmt: skip
        if about.get("note"):
            workspace.set_note("model", record.id, str(about["note"]))
        local_view = dataclasses.replace(view, model=record.id, dataset=dataset_key)
        rep_key = pipeline.representation_key(record.fingerprint, checked.dataset_fp, view.split, view.layer,
                                              view.method, record.input_scale)  # fmt: skip
        emb_key = str(manifest["embedding"].get("key") or "")
        if not emb_key.startswith(f"emb/{rep_key}/"):
            raise BundleError(f"The bundle's map key {emb_key!r} does not belong to its model and data ({rep_key}).")
        emb_meta = {"rep": rep_key, "imported": True, "provenance": manifest.get("provenance", {})}
        if manifest["embedding"].get("knn_accuracy") is not None:
            emb_meta["knn_accuracy"] = manifest["embedding"]["knn_accuracy"]
        workspace.save_array("embedding", emb_key, table, model_id=record.id, meta=emb_meta,
                             creator=str(manifest["embedding"].get("creator") or creator))  # fmt: skip
    except BaseException:
        if record is not None:
            workspace.delete("model", record.id)
        if new_dataset:
            try:
                workspace.delete("dataset", dataset.fingerprint)
            except (WorkspaceError, ValueError):
                pass
        raise
    return ImportResult(record, local_view, dataset_key, len(table), differences)
