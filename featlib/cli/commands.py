"""The commands of ``python -m featlib`` (``cmd_*``), each running on the workspace the options name."""

from __future__ import annotations

import argparse
import contextlib
import csv
import getpass
import hashlib
import importlib
import importlib.util
import json
import os
import shlex
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np

from featlib import csv_cells, datasets, first_look, jobs, models, names, precompute, settings
from featlib.cli.runner import INLINE, LOCAL, Runner
from featlib.datasets import SPLITS, Dataset, DatasetError
from featlib.datasets import sources as dataset_sources
from featlib.errors import BenchError, FeatlibError, OutputError, UsageError
from featlib.jobs import stored
from featlib.jobs.stored import store_trained
from featlib.lazy import LazyModule
from featlib.maps import compile_cache, embed
from featlib.maps.embed import UMAPParams
from featlib.maps.sampling import stratified_sample
from featlib.models import (
    ModelError,
    OutputInfo,
    default_layer,
    describe_outputs,
    keras_config,
    layer_table,
    model_outputs,
)
from featlib.models import presets as training_presets
from featlib.read import reductions
from featlib.read.extract import METHODS
from featlib.service import ModelRef, Service
from featlib.share import projector
from featlib.store import Workspace, WorkspaceError, default_root
from featlib.store.quotas import size_text

if TYPE_CHECKING:
    import keras

# Modules that one command or two need and that take long to import, reached through proxies so that
# `featlib --help`, `ls` and a refusal of bad input never import them: the bundle's pydantic models and the
# views' Plotly (export, import), the server's HTTP client (bench).
bundle = LazyModule("featlib.share.bundle")
serve = LazyModule("featlib.serve")
views = LazyModule("featlib.share.views")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _writing(path: str):
    """Turns an ``OSError`` while writing ``path`` (an ``--out`` file) into an :class:`~featlib.errors.OutputError`.

    The message is the ``OSError``'s own (``[Errno 2] No such file or directory: 'out/x.npy'``).
    """
    try:
        yield
    except OSError as error:
        if error.errno is None:
            raise OutputError(str(error)) from error
        raise OutputError(error.errno, error.strerror, error.filename) from error


@dataclass(frozen=True)
class Column:
    """A column of a CLI table: its header, alignment (``"<"`` left, ``">"`` right), least width and the gap before it."""

    header: str
    align: str = "<"
    width: int = 0
    gap: str = " "


def table_lines(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a text table whose columns keep their places whatever the cells hold.

    Each column is as wide as its widest cell, header included (at least ``Column.width``), counted in
    terminal cells: a wide character (CJK, most emoji) counts two, a combining mark none. A character that
    does not print (a control character in a layer's name) is shown escaped, ``\\x1b``, so that it can
    neither move the cursor nor shift the columns. A row may have fewer cells than columns (the rest are
    empty); trailing spaces are cut.

    Args:
        columns: the table's columns, in order.
        rows: one sequence of cells per row; each cell is shown with ``str()``.

    Returns:
        The header line, then one line per row.
    """
    texts = [[_printable(str(cell)) for cell in row] for row in rows]
    widths = [
        max([column.width, _cells(column.header)] + [_cells(row[i]) for row in texts if i < len(row)])
        for i, column in enumerate(columns)
    ]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, column in enumerate(columns):
            cell = cells[i] if i < len(cells) else ""
            pad = " " * (widths[i] - _cells(cell))
            parts.append(("" if i == 0 else column.gap) + (pad + cell if column.align == ">" else cell + pad))
        return "".join(parts).rstrip()

    return [line([column.header for column in columns])] + [line(row) for row in texts]


def _cells(text: str) -> int:
    """The terminal cells ``text`` takes: two for a wide character, none for a combining mark, else one."""
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text
    )


def _printable(text: str) -> str:
    """``text`` with each character that does not print replaced by its escape (``\\x1b``, ``\\n``)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _runner(args: argparse.Namespace, workspace: Workspace, default: str = INLINE) -> Runner:
    return Runner(
        workspace, getattr(args, "scheduler", None), creator=getattr(args, "by", "") or _user(), default=default
    )


def _service(workspace: Workspace, runner: Runner) -> Service:
    """The get-or-make service of ``workspace``, running its jobs through ``runner`` (:mod:`featlib.service`)."""
    return Service(workspace, runner)


def _dataset(args: argparse.Namespace, workspace: Workspace | None) -> Dataset:
    """Resolves ``--dataset`` (with ``--idx-split``, ``--test-fraction``) and settles ``--split``; nothing heavy runs.

    Called first by every command that takes ``--dataset``, so that a bad dataset or split fails in a
    second, before Keras is imported or a model is loaded.

    Raises:
        DatasetError: the dataset cannot be resolved or read, or it lacks the split asked for.
    """
    dataset = dataset_sources.resolve(
        args.dataset, workspace=workspace, single_split=args.idx_split, test_fraction=args.test_fraction
    )
    _log(f"dataset {dataset.summary()}" + (f" ({dataset.source})" if dataset.source else ""))
    if hasattr(args, "split"):
        args.split = _split_of(dataset, args.split)
    return dataset


def _split_of(dataset: Dataset, split: str | None) -> str:
    """``split`` when the dataset has it; unset: ``train``, else the dataset's only split.

    Raises:
        DatasetError: the dataset has no such split; the message names the splits it has.
    """
    if split is None:
        split = "train" if "train" in dataset.splits else dataset.splits[0]
        if split != "train":
            _log(f"note: {dataset.name} has no train split; using its {split} split")
        return split
    if split not in dataset.splits:
        raise DatasetError(
            f"--split {split}: the dataset {dataset.name!r} has no {split} split; expected one of "
            f"its splits {list(dataset.splits)}, got {split!r}."
        )
    return split


def _lookup_workspace(args: argparse.Namespace) -> Workspace | None:
    """The workspace to look uploads up in, without creating one (for commands that do not use it otherwise)."""
    root = Path(args.workspace) if args.workspace else default_root()
    return Workspace(root) if (root / "index.sqlite").is_file() else None


def cmd_train(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    if dataset.splits != SPLITS:
        [has] = dataset.splits
        raise DatasetError(
            f"train needs a train and a test split (it trains on one and reports accuracy on the other); the "
            f"dataset {dataset.name!r} has only a {has} split. For one IDX images/labels pair, pass --idx-split "
            f"split (with --test-fraction, default 0.2) to split it, or give all four files as "
            f"TRAIN_IMAGES,TRAIN_LABELS,TEST_IMAGES,TEST_LABELS."
        )
    return _train(args, workspace, dataset)


def _train(args: argparse.Namespace, workspace: Workspace, dataset: Dataset) -> int:
    chosen = training_presets.preset(args.preset)
    epochs, batch_size = chosen.for_size(len(dataset.y_train))
    for option, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("optimizer", chosen.optimizer),
        ("learning_rate", chosen.learning_rate),
    ):
        if getattr(args, option) is None:
            setattr(args, option, value)
    _log(
        f"training: {args.optimizer} lr {args.learning_rate:g}, {args.epochs} epochs at batch {args.batch_size} "
        f"on {len(dataset.y_train):,} train images of {dataset.name}"
    )
    checkpoint_epochs = models.parse_epochs(args.checkpoints, args.epochs)
    spec = jobs.specs.train_spec(
        dataset.fingerprint,
        len(dataset.y_train),
        hidden=args.hidden,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        batch_size=args.batch_size,
        checkpoint_epochs=checkpoint_epochs,
        name=args.name,
        token=uuid.uuid4().hex,
        seed=args.seed,
    )
    meta = {
        "optimizer": args.optimizer,
        "learning_rate": args.learning_rate,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "hidden": list(args.hidden),
        "dataset_fingerprint": dataset.fingerprint,
    }
    runner = _runner(args, workspace)
    try:
        record, checkpoints = runner.run(
            spec,
            {"dataset": jobs.dataset_input(dataset)},
            store=lambda output: store_trained(
                workspace, output, name=args.name, dataset=dataset.name, meta=meta, creator=runner.creator
            ),
        )
    finally:
        runner.close()
    if record.name != args.name:
        _log(f"note: a model named {args.name!r} exists already; saved as {record.name!r}")
    for line in _epoch_lines(record.meta.get("history", {})):
        _log(line)
    for saved in checkpoints:
        print(f"saved checkpoint {saved.name}: test accuracy {saved.test_accuracy:.4f}")
    print(
        f"saved {record.name} ({record.architecture}): test accuracy {record.test_accuracy:.4f}, "
        f"test loss {record.meta['test_loss']:.4f}, trained in {record.meta['seconds']:.1f} s"
    )
    return 0


def _epoch_lines(history: dict[str, list[float]]) -> list[str]:
    epochs = len(next(iter(history.values()), []))
    return [
        f"epoch {e + 1}/{epochs}  " + "  ".join(f"{k} {v[e]:.4f}" for k, v in history.items()) for e in range(epochs)
    ]


def cmd_layers(args: argparse.Namespace) -> int:
    model = _model_for_layers(Workspace(args.workspace), args.model)
    rows = layer_table(model)
    default = default_layer(model)
    cells = [
        (
            row.index,
            row.name,
            row.type,
            row.output_shape,
            f"{row.params:,}",
            (row.activation or "-") + ("  <- default" if row.name == default else ""),
        )
        for row in rows
    ]
    for line in table_lines(LAYERS_COLUMNS, cells):
        print(line)
    outputs = model_outputs(model)
    if len(outputs) > 1:
        print(f"outputs: {describe_outputs(outputs)}")
    return 0


LAYERS_COLUMNS = (
    Column("#", ">", 2),
    Column("name", "<", 16, "  "),
    Column("type", "<", 14),
    Column("output shape", "<", 18),
    Column("params", ">", 8),
    Column("activation", "<", 0, "  "),
)
"""``featlib layers``'s table: each column grows to its longest cell (``batch_normalization_1``, ``BatchNormalization``)."""

MODEL_FILE_SUFFIXES = (".keras", ".h5", ".hdf5")
"""The model files ``add`` takes (and ``layers`` reads directly): Keras 3 ``.keras`` and legacy HDF5."""


def _names_model_file(text: str) -> bool:
    """Whether a command's MODEL argument looks like a path to a model file rather than a workspace name."""
    return Path(text).suffix.lower() in MODEL_FILE_SUFFIXES or Path(text).is_file()


def _add_hint(error: WorkspaceError, text: str) -> WorkspaceError:
    """``error`` ("No such model: ...") with how to add ``text`` when it names a model file; else ``error`` itself."""
    if not str(error).startswith("No such model") or not _names_model_file(text):
        return error
    if not Path(text).exists():
        return WorkspaceError(f"{error} {text!r} is not a model file either: no such file.")
    return WorkspaceError(
        f"{error} {text!r} is a model file, not a model in the workspace: add it first (it is checked and "
        f"scored as on the Model page) with `python -m featlib add {shlex.quote(text)} --name NAME --dataset "
        "DATASET`, then give NAME here."
    )


def _workspace_record(workspace: Workspace, name_or_id: str):
    """The workspace's record of a model by name or id.

    Raises:
        WorkspaceError: no such model; when ``name_or_id`` is a model file's path, the message says how to add it.
    """
    try:
        return workspace.get_model(name_or_id)
    except WorkspaceError as error:
        raise _add_hint(error, name_or_id) from None


def _model_for_layers(workspace: Workspace, name_or_path: str) -> keras.Model:
    """A workspace model by name or id; else, for a model file's path, the file loaded after the Model page's checks.

    The file is not added to the workspace (a note on stderr says how to add it).

    Raises:
        WorkspaceError: no such model, and no such model file.
        ModelError: the file is refused (see :func:`_checked_model_file` and :func:`featlib.models.load_model`).
    """
    try:
        record = workspace.get_model(name_or_path)
    except WorkspaceError as error:
        if not _names_model_file(name_or_path) or not Path(name_or_path).exists():
            raise _add_hint(error, name_or_path) from None
        path = _checked_model_file(name_or_path)
        _log(
            f"note: {name_or_path} is a model file, not a model in the workspace; showing its layers after the "
            f"upload checks, without adding it (add it with `python -m featlib add {shlex.quote(name_or_path)} "
            "--name NAME --dataset DATASET`)"
        )
        return models.load_model(path)
    return workspace.load_model(record)


def _checked_model_file(text: str) -> Path:
    """The path of a model file that passes the checks that need no Keras: it exists, its kind, size and archive.

    SavedModel folders and zips are refused with the reason (:func:`featlib.models.check_savedmodel`); a
    ``.keras`` file's zip is checked for bombs, code layers and foreign objects
    (:func:`featlib.models.check_model_archive`), an ``.h5`` file's stored config likewise
    (:func:`featlib.models.check_h5`), each with its size against ``MAX_MODEL_BYTES``.

    Raises:
        ModelError: no such file, another kind of file, an empty or too big one, or a refused one.
    """
    path = Path(text)
    models.check_savedmodel(path)
    if not path.is_file():
        raise ModelError(f"No such model file: {text!r}; expected the path of a .keras or .h5 file.")
    suffix = path.suffix.lower()
    if suffix not in MODEL_FILE_SUFFIXES:
        raise ModelError(
            f"Unsupported model file {path.name!r}: expected a Keras 3 .keras file or a legacy .h5 "
            f"file (one of {list(MODEL_FILE_SUFFIXES)}), got a {suffix or 'suffix-less'} file."
        )
    if suffix == ".keras":
        models.check_model_archive(path)
    else:
        models.check_h5(path)
    return path


def cmd_add(args: argparse.Namespace) -> int:
    """Adds a model file to the workspace as the Model page's upload does: checked, scored on ``--dataset``, saved."""
    name = names.check_name(args.name, "model name")
    path = _checked_model_file(args.path)  # before the dataset and Keras: a bad file fails in a second
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    record, output = _add_model(args, workspace, dataset, path, name)
    for line in _added_lines(record, output, args.name):
        print(line)
    return 0


def _add_model(args: argparse.Namespace, workspace: Workspace, dataset: Dataset, path: Path, name: str):
    """Runs the page's ``upload`` job on the file and stores its result as the page does; ``(record, job output)``."""
    data = path.read_bytes()
    spec = jobs.specs.upload_spec(
        path.name,
        hashlib.sha256(data).hexdigest()[:16],
        dataset.fingerprint,
        args.scale,
        token=uuid.uuid4().hex,
        output=args.output,
    )
    runner = _runner(args, workspace)

    def store(output: dict):
        record = stored.store_upload(
            workspace,
            output,
            name=name,
            filename=path.name,
            dataset=dataset.name,
            dataset_fp=dataset.fingerprint,
            input_scale=output.get("input_scale", args.scale),  # "own" resolved by the job to the model's own
            creator=runner.creator,
        )
        return record, {k: v for k, v in output.items() if k != "model"}

    try:
        return runner.run(spec, {"data": data, "dataset": jobs.dataset_input(dataset)}, store=store)
    finally:
        runner.close()


def _added_lines(record, output: dict, wanted: str) -> list[str]:
    """What ``add`` prints: the name, the accuracy with where it was measured, the output scored, the hints."""
    lines = (
        [f"note: a model named {wanted.strip()!r} exists already; saved as {record.name!r}"]
        if record.name != wanted.strip()
        else []
    )
    lines.append(
        f"added {record.name} ({record.architecture}): accuracy {record.test_accuracy:.4f} on {record.measured_on}"
    )
    if output.get("scale_note"):  # where the scaling it was scored with (and is read with from now on) comes from
        lines.append(f"input scaling: {output['scale_note']} (choose another with --scale)")
    outputs = output.get("outputs") or []
    if record.scored_output:
        lines.append(f"scored from {record.scored_output}")
    elif outputs:
        lines.append(
            f"scored from the model's only output {OutputInfo(0, outputs[0]['name'], outputs[0]['width']).label}"
        )
    hints = record.meta.get("hints") or []
    if hints:
        lines.append("this accuracy is near chance. What featlib checked:")
        lines.extend(f"  - {hint}" for hint in hints)
    return lines


def _representation(args: argparse.Namespace, service: Service, dataset: Dataset):
    """Extracts (or reads from the workspace) ``args.layer``'s representation (``args.reduction``) of ``dataset``'s ``args.split``.

    Returns ``(record, outputs, key, input scale)``.

    Raises:
        WorkspaceError: no such model, or it was deleted before its outputs were stored.
    """
    workspace = service.workspace

    record = _workspace_record(workspace, args.model)
    keras_config.check_layer(workspace.model_bytes(record), args.layer)  # from the file: before TensorFlow loads
    _log(f"loading the model {record.name} (TensorFlow starts: a few seconds)")
    model = workspace.load_model(record)
    rep = reductions.for_layer(model, args.layer, args.reduction)  # pooling a layer without spatial axes is refused
    scale = args.scale or record.input_scale
    models.adapt_images(dataset.split(args.split)[0][:1], model, scale)  # the model reads these images
    start = time.perf_counter()
    outputs, key = service.representation(
        ModelRef.of_record(workspace, record, model), dataset, args.split, rep, args.method, input_scale=scale
    )
    if outputs is None:
        raise WorkspaceError(f"The model {record.name} was deleted while its outputs were read; nothing was stored.")
    _log(f"{rep.title} by {METHODS[args.method]}: {outputs.shape} in {time.perf_counter() - start:.2f} s")
    return record, outputs, key, scale


def cmd_extract(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    runner = _runner(args, workspace)
    try:
        _, outputs, _, _ = _representation(args, _service(workspace, runner), dataset)
    finally:
        runner.close()
    with _writing(args.out):
        np.save(args.out, outputs, allow_pickle=False)
    print(f"wrote {args.out}: {outputs.shape[0]} rows × {outputs.shape[1]} columns")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    params = UMAPParams(args.n_neighbors, args.min_dist, args.metric, args.seed, args.n_epochs, dims=args.dims)
    if args.sample < 1:
        raise UsageError(f"--sample must be at least 1; got {args.sample}")
    embed.check_points(params, min(args.sample, len(dataset.split(args.split)[1])))  # before any model loads
    runner = _runner(args, workspace)
    service = _service(workspace, runner)
    try:
        record, outputs, key, scale = _representation(args, service, dataset)
        if runner.manager is None:  # in this process: the machine's compiled code (featlib.maps.compile_cache)
            compile_cache.enable()
        _, labels = dataset.split(args.split)
        start = time.perf_counter()
        emb = service.embedding(outputs, key, labels, sample_size=args.sample, params=params, model_id=record.id)
        _log(f"{params.dims}-D UMAP of {len(emb.indices):,} points in {time.perf_counter() - start:.1f} s")
        predicted, _ = service.predictions(record, dataset, args.split, input_scale=scale)
    finally:
        runner.close()
    with _writing(args.out), open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", *"xyz"[: params.dims], "label", "predicted"])
        for i, point in zip(emb.indices, emb.coords):
            values = [f"{v:.6f}" for v in point]
            writer.writerow(csv_cells.safe_row([int(i), *values, int(labels[i]), int(predicted[i])]))
    print(f"wrote {args.out}: {len(emb.indices)} points")
    return 0


def cmd_projector(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    if not 1 <= args.sample <= projector.MAX_POINTS:
        raise UsageError(
            f"--sample must be 1 to {projector.MAX_POINTS:,} (the projector maps in the browser); got {args.sample}"
        )
    runner = _runner(args, workspace)
    service = _service(workspace, runner)
    try:
        record, outputs, _, scale = _representation(args, service, dataset)
        predicted, _ = service.predictions(record, dataset, args.split, input_scale=scale)
    finally:
        runner.close()
    images, labels = dataset.split(args.split)
    indices = stratified_sample(labels, None if args.sample >= len(labels) else args.sample)
    files = projector.projector_files(
        outputs[indices],
        images[indices],
        labels[indices],
        predicted[indices],
        dataset.class_names,
        f"{record.name} · {args.layer} · {dataset.name} {args.split}",
        indices,
    )
    with _writing(args.out):
        projector.write_folder(args.out, files)
    print(
        f"wrote {args.out}: {len(indices):,} images × {outputs.shape[1]:,} units for TensorBoard's projector "
        f"(tensorboard --logdir {shlex.quote(args.out)})"
    )
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    dataset = _dataset(args, workspace)
    runner = _runner(args, workspace, default=LOCAL)
    try:
        summary = precompute.run(
            _service(workspace, runner),
            args.model,
            dataset,
            split=args.split,
            layers=args.layers,
            methods=args.methods,
            reducers=args.reducers,
            sample_size=args.sample,
            reduction=args.reduction,
        )
    except WorkspaceError as error:
        raise _add_hint(error, args.model) from None
    finally:
        runner.close()
    print(summary.text())
    return 0 if not summary.failed else 1


def cmd_prepare(args: argparse.Namespace) -> int:
    """``featlib prepare``: the server's first look (:func:`featlib.first_look.prepare`) made before it starts."""
    if not settings.get(first_look.SETTING):
        _log(f"{first_look.SETTING} is off: nothing prepared")
        return 0
    workspace = Workspace(args.workspace)
    dataset = datasets.load_builtin(first_look.DATASET)
    runner = Runner(workspace, getattr(args, "scheduler", None), creator=first_look.CREATOR, default=INLINE)
    try:
        service = Service(workspace, runner, creator=first_look.CREATOR)
        found = first_look.find(service, dataset)
        made = found or first_look.prepare(service, dataset)
    finally:
        runner.close()
    if made is None:
        _log(f"the latest model of {workspace.root} was measured on other data than {dataset.name}: nothing prepared")
    else:
        what = "found stored" if found else ("trained and mapped" if made.trained else "mapped")
        _log(f"first look {what}: {made.model.name}, layer {made.layer}, in {workspace.root}")
    return 0


BENCH_HINT = (
    "featlib bench runs the benchmark harness in the bench/ folder of featlib's repository, which is not "
    "installed with the package: run it in a checkout, with `make bench` (options in BENCH_ARGS)"
)
"""The start of the error when the bench's harness is not there (featlib installed from a wheel, not a checkout)."""
LS_NAME_WIDTH = 28
"""``featlib ls``'s name column is at least this wide, wider when a name is longer (names are never cut)."""
LS_BY_WIDTH = 12
"""``featlib ls``'s "by" column is at least this wide, wider when a creator's name is longer."""
LS_COLUMNS = (
    Column("kind", "<", 14),
    Column("name", "<", LS_NAME_WIDTH),
    Column("by", "<", LS_BY_WIDTH),
    Column("created", "<", 25),
    Column("size", ">", 10),
    Column("test acc", ">", 8),
    Column("kNN acc", ">", 8),
    Column("from", "<", 0, "  "),
)
"""``featlib ls``'s table: every column at least as wide as before, wider when a cell is longer."""
BENCH_SIZES = "1000 5000 10000 35000 70000"
"""The bench's default ``--sizes`` (``bench.scaling.DEFAULT_SIZES``), for the help, which never imports the harness."""


def _bench_harness():
    """The bench's modules :mod:`bench.harness` and :mod:`bench.scaling`, from the repository's ``bench/`` folder.

    The bench is no part of the installed package: it runs in a checkout of featlib's repository (featlib
    installed editable, as ``make`` does), whose ``bench/`` lies next to ``featlib/``.

    Raises:
        BenchError: there is no such folder (featlib installed from a wheel), or another ``bench`` is imported.
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "bench" / "harness.py").is_file():
        raise BenchError(f"{BENCH_HINT}; there is no {root / 'bench' / 'harness.py'}.")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        harness, scaling = importlib.import_module("bench.harness"), importlib.import_module("bench.scaling")
    except ModuleNotFoundError as error:
        raise BenchError(f"{BENCH_HINT}; importing it failed: {error}.") from error
    if Path(harness.__file__).resolve().parent != root / "bench":
        raise BenchError(f"{BENCH_HINT}; the bench.harness imported is another one: {harness.__file__}.")
    return harness, scaling


def _bench_unmeasurable(scaling, browser: bool, peers: bool) -> list[str]:
    """What the bench cannot measure here, each with how to install what it needs; empty when it can measure all."""
    reasons = []
    if browser and importlib.util.find_spec("playwright") is None:
        reasons.append(
            "the browser figures (first_page_s, first_plot_s, ...) need Playwright: pip install -r "
            "requirements-test.txt (make bench does)"
        )
    if browser and not os.path.exists(serve.CHROMIUM):
        reasons.append(f"the browser figures need {serve.CHROMIUM}: Debian's package 'chromium' (make system-deps)")
    if peers:
        reasons += [reason for name in scaling.methods() if (reason := scaling.missing(name))]
    return reasons


def _bench_failures(figures: dict) -> list[str]:
    """The figures a finished bench run could not measure (``None``, with the reason the harness gives)."""
    failed = [
        f"{key.removesuffix('_error')}: {value}" for key, value in figures.items() if key.endswith("_error") and value
    ]
    peers = figures.get("peers") or {}
    failed += [f"peer {name}: {fig['skipped']}" for name, fig in peers.items() if fig.get("skipped")]
    return failed


def cmd_bench(args: argparse.Namespace) -> int:
    harness, scaling = _bench_harness()
    dataset = _dataset(args, _lookup_workspace(args))
    if args.points < 1:
        raise UsageError(f"--points must be at least 1; got {args.points}")
    points = min(args.points, dataset.num_images)
    if points < embed.min_points("umap"):  # bench maps its points with UMAP's defaults
        raise embed.ReducerError(
            f"bench maps its points with UMAP's defaults, which need at least "
            f"{embed.min_points('umap')} points; got {points} ({dataset.summary()}). Use a "
            "larger dataset or --points."
        )
    sizes = scaling.DEFAULT_SIZES if args.sizes is None else args.sizes
    scaling.sizes_for(sizes, points)  # a size below 16 fails here, before training
    missing = _bench_unmeasurable(scaling, browser=not args.no_browser, peers=not args.no_scaling)
    if missing:
        raise BenchError(
            "the bench cannot measure every figure here: "
            + "; ".join(missing)
            + ". Install what is missing, or leave those figures out with --no-browser or --no-scaling."
        )
    out = Path(args.out) if args.out else None
    if out is not None:
        with _writing(args.out):
            out.mkdir(parents=True, exist_ok=True)
    # harness.run hands its dataset argument to dataset_sources.load_dataset, which returns a Dataset as it is.
    figures = harness.run(
        dataset,
        args.points,
        args.layer,
        args.epochs,
        browser=not args.no_browser,
        sizes=None if args.no_scaling else sizes,
        dataset_spec=args.dataset,
        plot=None if out is None else out / "scaling.png",
    )
    print(json.dumps(figures) if args.json else harness.format_table(figures))
    if out is not None:
        with _writing(str(out / "bench.json")):
            (out / "bench.json").write_text(json.dumps(figures, indent=1) + "\n")
        _log(f"wrote {out / 'bench.json'}" + (f" and {out / 'scaling.png'}" if figures.get("scaling_plot") else ""))
    failed = _bench_failures(figures)
    if failed:
        raise BenchError(
            "the bench could not measure every figure: "
            + "; ".join(failed)
            + ". Install what is missing, or leave those figures out with --no-browser or --no-scaling."
        )
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        return ""


def cmd_export(args: argparse.Namespace) -> int:
    query = dict(parse_qsl(urlsplit(args.link).query if "://" in args.link else args.link.lstrip("?")))
    view = views.View.from_query(query)
    data = bundle.export_bundle(Workspace(args.workspace), view, exported_by=args.by)
    with _writing(args.out):
        Path(args.out).write_bytes(data)
    print(
        f"wrote {args.out}: {len(data):,} bytes (model {view.model}, layer {view.layer}, {view.dataset} {view.split})"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    try:
        result = bundle.import_bundle(Workspace(args.workspace), args.bundle, creator=args.by)
    except bundle.AlreadyImportedError as already:
        print(f"already there: {already}")
        return 0
    for difference in result.differences:
        _log(f"note: {difference}")
    print(
        f"imported {result.model.name} (id {result.model.id}) with a map of {result.points:,} points; "
        f"open it at <server>/explore?{urlencode(result.view.to_query())}"
    )
    if bundle.measured_text(result):
        print(bundle.measured_text(result))
    return 0


APP_SCRIPT = Path(__file__).resolve().parents[1] / "app" / "launch.py"
"""The dashboard's launcher in the installed package (:mod:`featlib.app.launch`), the script ``featlib app`` hands to
``streamlit run``."""
APP_OPTIONS = {
    "server.maxUploadSize": "200",
    "server.enableXsrfProtection": "true",
    "server.headless": "true",
    "server.fileWatcherType": "none",
    "runner.postScriptGC": "false",
    "browser.gatherUsageStats": "false",
    "client.toolbarMode": "minimal",
}
"""Streamlit's options as the repository's ``.streamlit/config.toml`` sets them, which an installed featlib run from
another folder would not read; ``featlib app``'s ``--port``, ``--address`` and the options after ``--`` come after."""


def cmd_app(args: argparse.Namespace) -> int:
    """Becomes ``streamlit run`` on the package's dashboard (:data:`APP_SCRIPT`) after :func:`cmd_prepare`: this
    process is replaced by the server, so Ctrl-C and a service manager's signals reach it directly. Returns only
    when it cannot start."""
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be a TCP port, 1 to 65535; got {args.port}")
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    for name, value in {**APP_OPTIONS, "server.port": str(args.port), "server.address": args.address}.items():
        command += [f"--{name}", value]
    env = dict(os.environ, **({"FEATLIB_WORKSPACE": str(args.workspace)} if args.workspace else {}))
    with contextlib.suppress(FeatlibError):  # the server prepares it itself when this fails
        cmd_prepare(args)  # what the first visitor sees, before the server answers (as make run does)
    _log(f"featlib's dashboard at http://{args.address}:{args.port} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execve(sys.executable, [*command, *args.streamlit_options], env)
    return 1  # not reached: execve returns only by raising


def cmd_ls(args: argparse.Namespace) -> int:
    workspace = Workspace(args.workspace)
    items = [item for item in workspace.items() if args.kind in (None, item.kind)]
    if args.json:
        print(json.dumps({"items": [asdict(item) for item in items], "bytes": workspace.usage()["bytes"]}, default=str))
        return 0
    # Whole names: every column grows to its longest cell (two names that differ only at the end stay apart).
    cells = []
    for item in items:
        acc = "" if item.test_accuracy is None else f"{item.test_accuracy:.3f}"
        knn = "" if item.knn_accuracy is None else f"{item.knn_accuracy:.3f}"
        claim = f" ({item.maker})" if item.imported or item.claimed_by else ""  # imported by X; bundle says made by Y
        cells.append(
            (
                item.kind,
                item.name,
                item.creator or "-",
                item.created,
                size_text(item.bytes),
                acc,
                knn,
                item.made_from + claim,
            )
        )
    for line in table_lines(LS_COLUMNS, cells):
        print(line)
    views = [item for item in items if item.kind == "view"]
    if views:
        print("saved views (open <server>/<link>):")
        for item in views:
            print(f"  {item.parameters.get('link')}  {item.name}")
    uploads = [item for item in items if item.kind == "dataset"]
    if uploads:
        print("dataset uploads (give --dataset the full name or the fingerprint):")
        for item in uploads:
            print(f"  {item.id}  {item.name}")
    print(f"{len(items)} item(s); the workspace {workspace.root} uses {size_text(workspace.usage()['bytes'])} on disk")
    return 0
