"""The argument parser of ``python -m featlib`` (:func:`build_parser`) and :func:`main`, which runs a command.

:func:`main` reports featlib's own refusals as ``error: MESSAGE`` (exit 2) and anything else as a bug, with its
traceback and :data:`BUG_LINE` (exit 1).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from featlib import quiet
from featlib.cli.commands import (
    BENCH_SIZES,
    _user,
    cmd_add,
    cmd_app,
    cmd_bench,
    cmd_embed,
    cmd_export,
    cmd_extract,
    cmd_import,
    cmd_layers,
    cmd_ls,
    cmd_precompute,
    cmd_prepare,
    cmd_projector,
    cmd_train,
)
from featlib.cli.runner import INLINE, LOCAL
from featlib.cli.scoring import cmd_depth, cmd_metrics
from featlib.datasets import SINGLE_SPLIT_CHOICES, SPLITS
from featlib.datasets import sources as dataset_sources
from featlib.errors import FeatlibError
from featlib.maps import reducer_params
from featlib.maps.embed import LARGE_MAP_EPOCHS, SMALL_MAP_EPOCHS, SMALL_MAP_POINTS
from featlib.maps.prediction_depth import DEFAULT_K as DEPTH_K
from featlib.maps.reducer_params import MAP_SAMPLE, SCORE_SAMPLE
from featlib.models import INPUT_SCALES, OPTIMIZERS
from featlib.models import presets as training_presets
from featlib.models.inputs import OWN_SCALE, SCALE_CHOICES
from featlib.read.extract import METHODS
from featlib.read.reductions import AUTO, CHOICES, FLATTEN_MAX
from featlib.share.projector import MAX_POINTS as PROJECTOR_POINTS

BUG_LINE = "This is a bug in featlib, not a problem with your input or data: please report it with the traceback above."
"""Said on stderr under the traceback of an exception that is not featlib's own (:class:`featlib.errors.FeatlibError`)."""


def _scheduler_option(parser: argparse.ArgumentParser, default: str = INLINE) -> None:
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help=f"where the jobs run: {INLINE} (this process), {LOCAL} (a local Dask cluster) or a Dask "
        f"scheduler's address tls://HOST:8786 (default: $FEATLIB_SCHEDULER, else {default})",
    )


def _reduction_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--reduction {auto,flatten,grid,gap,gmp}``, applied to ``what`` (words for the help)."""
    parser.add_argument(
        "--reduction",
        choices=list(CHOICES),
        default=AUTO,
        help=f"how {what} becomes one row per image: flatten (every value), grid (average pooling "
        f"to at most 8×8 cells, 2,048 values), gap (global average pooling: one value per channel), gmp "
        f"(global max pooling), or auto (default: flatten up to {FLATTEN_MAX:,} values per image, else grid)",
    )


def _param_option(parser: argparse.ArgumentParser, spec: reducer_params.Param, more: str = "") -> None:
    """``spec``'s option (``--n-neighbors``): its type, range, choices, default and help from the reducer's table
    (:mod:`featlib.maps.reducer_params`); argparse refuses a value past a bound, naming the rule (``more``: words after
    the default in the help)."""
    if isinstance(spec.rule, reducer_params.Options):
        parser.add_argument(spec.option, choices=spec.rule.choices, default=spec.default, help=spec.cli_help(more))
    else:
        parser.add_argument(
            spec.option,
            type=reducer_params.cli_type(spec),
            default=spec.default,
            metavar="N" if spec.whole else "X",
            help=spec.cli_help(more),
        )


def _dataset_options(parser: argparse.ArgumentParser, forms: str, split: bool = False) -> None:
    """``--dataset``, ``--idx-split``, ``--test-fraction`` and (with ``split``) ``--split``."""
    parser.add_argument("--dataset", default="digits", help=f"the dataset, one of: {forms} (default digits)")
    parser.add_argument(
        "--idx-split",
        choices=SINGLE_SPLIT_CHOICES,
        default=None,
        help="how one IDX images/labels pair is used: as the test split, as the train split, or "
        "split in two (see --test-fraction); default: test when the images file's name holds "
        "'t10k' or 'test', else split",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        metavar="F",
        help="with --idx-split split: the share of images in the test split, between 0 and 1 (default 0.2)",
    )
    if split:
        parser.add_argument(
            "--split",
            choices=SPLITS,
            default=None,
            help="the images used (default: train, or the dataset's only split)",
        )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m featlib``."""
    parser = argparse.ArgumentParser(prog=_prog(), description=f"{_prog()}: the dashboard's work without a browser.")
    parser.add_argument(
        "--workspace", default=None, help="workspace folder (default: $FEATLIB_WORKSPACE or ./workspace)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    datasets_help = "; ".join(dataset_sources.FORMS)

    train = sub.add_parser("train", help="train the seed MLP and save it in the workspace")
    _dataset_options(train, datasets_help)
    train.add_argument("--name", required=True, help="name to save the model under")
    train.add_argument(
        "--preset",
        choices=list(training_presets.PRESETS),
        default=training_presets.DEFAULT_PRESET,
        help="optimiser settings: "
        + "; ".join(
            f"{p.name}: {p.optimizer} lr {p.learning_rate:g}, {p.epochs} epochs at batch {p.batch_size} "
            f"({p.epochs_large} at {p.batch_size_large} from {training_presets.LARGE_TRAIN_SET:,} "
            "train images)"
            for p in training_presets.PRESETS.values()
        )
        + "; the options below override it",
    )
    train.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    train.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    train.add_argument("--optimizer", choices=OPTIMIZERS, default=None, help="default: the preset's")
    train.add_argument("--learning-rate", type=float, default=None, help="default: the preset's")
    train.add_argument("--hidden", type=int, nargs="+", default=[128, 64], help="hidden layer sizes (default 128 64)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--checkpoints",
        default="",
        metavar="EPOCHS",
        help="also save the weights after these epochs, e.g. 1,5 (each as NAME@epochN)",
    )
    _scheduler_option(train)
    train.set_defaults(run=cmd_train)

    layers = sub.add_parser("layers", help="list a saved model's layers (or a model file's, without adding it)")
    layers.add_argument(
        "model",
        help="model name or id in the workspace, or the path of a .keras or .h5 file (checked as an upload, not added)",
    )
    layers.set_defaults(run=cmd_layers)

    add = sub.add_parser(
        "add", help="add a .keras or .h5 model file to the workspace, checked and scored as the Model page's upload"
    )
    add.add_argument("path", help="the model file: a Keras 3 .keras file or a legacy .h5 file")
    add.add_argument("--name", required=True, help="name to save the model under")
    _dataset_options(add, datasets_help)
    add.add_argument(
        "--scale",
        choices=list(SCALE_CHOICES),
        default=OWN_SCALE,
        help=f"the input scaling the model expects: {OWN_SCALE} (default: the scaling its Rescaling or "
        "Normalization layer at the input states, nested blocks before it included; pixels / 255 when it states "
        "none), 0-1 (pixels / 255, as the seed) or 0-255 (raw pixels)",
    )
    add.add_argument(
        "--output",
        default=None,
        metavar="NAME",
        help="for a model with several outputs, the output scored and predicted from (default: the "
        "first with one value per class of the dataset)",
    )
    add.add_argument("--by", default=_user(), help="who adds it, recorded with the model (default: $USER)")
    _scheduler_option(add)
    add.set_defaults(run=cmd_add)

    for name, run, help_text, out_help in (
        ("extract", cmd_extract, "write a layer's outputs to a .npy file", "output .npy path"),
        (
            "embed",
            cmd_embed,
            "write a UMAP map of a layer to a CSV file",
            "output .csv path (index,x,y,label,predicted)",
        ),
        (
            "projector",
            cmd_projector,
            "write a layer's outputs, labels and images for TensorBoard's Embedding Projector",
            "output folder (give it to tensorboard --logdir)",
        ),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("model", help="model name or id in the workspace")
        cmd.add_argument("--layer", required=True, help="layer name (see the layers command)")
        cmd.add_argument(
            "--method",
            choices=list(METHODS),
            default="function",
            help="function: keras.Function (K.function); submodel: Model(inputs, layer.output).predict",
        )
        _dataset_options(cmd, datasets_help, split=True)
        cmd.add_argument(
            "--scale", choices=list(INPUT_SCALES), default=None, help="input scaling (default: the model's)"
        )
        _reduction_option(
            cmd,
            "the layer, when its output has spatial axes (a convolution's height × width × "
            "channels); gap or gmp of a layer without is refused",
        )
        cmd.add_argument("--out", required=True, help=out_help)
        _scheduler_option(cmd)
        cmd.set_defaults(run=run)
    sub.choices["projector"].add_argument(
        "--sample",
        type=int,
        default=MAP_SAMPLE,
        help=f"stratified sample of images exported (default {MAP_SAMPLE}, at most {PROJECTOR_POINTS:,})",
    )
    embed = sub.choices["embed"]
    embed.add_argument("--sample", type=int, default=MAP_SAMPLE, help=f"stratified sample size (default {MAP_SAMPLE})")
    schedule = (
        f": {SMALL_MAP_EPOCHS} up to {SMALL_MAP_POINTS:,} points, {LARGE_MAP_EPOCHS} above"
        if SMALL_MAP_EPOCHS != LARGE_MAP_EPOCHS
        else f": {SMALL_MAP_EPOCHS}"
    )
    for name in ("n_neighbors", "min_dist", "metric", "random_state", "n_epochs"):
        _param_option(embed, reducer_params.UMAP[name], more=schedule if name == "n_epochs" else "")
    _param_option(embed, reducer_params.DIMS, more="; 3 adds a z column")

    bench = sub.add_parser(
        "bench",
        help="measure training, extraction and UMAP on the same data (in a checkout of "
        "the repository: its bench/ folder)",
    )
    _dataset_options(bench, datasets_help)
    bench.add_argument("--points", type=int, default=10_000, help="number of training images used (default 10000)")
    bench.add_argument("--layer", default="dense_1", help="layer of the seed MLP to read (default dense_1)")
    bench.add_argument("--epochs", type=int, default=2, help="training epochs before measuring (default 2)")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    bench.add_argument("--no-browser", action="store_true", help="skip first_plot_s (needs /usr/bin/chromium)")
    bench.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help=f"points of the scaling table against the peers, each capped at --points (default {BENCH_SIZES})",
    )
    bench.add_argument(
        "--no-scaling", action="store_true", help="skip the peers (umap-learn, Embedding Atlas) and the scaling table"
    )
    bench.add_argument(
        "--out",
        default=None,
        metavar="FOLDER",
        help="also write the figures (bench.json) and the scaling plot (scaling.png) into FOLDER, "
        "created if missing (default: print them only)",
    )
    bench.set_defaults(run=cmd_bench)

    metrics = sub.add_parser("metrics", help="score every layer: kNN and linear-probe accuracy, silhouette, CKA")
    metrics.add_argument("model", help="model name or id in the workspace")
    _dataset_options(metrics, datasets_help, split=True)
    metrics.add_argument(
        "--sample", type=int, default=SCORE_SAMPLE, help=f"stratified sample size scored (default {SCORE_SAMPLE})"
    )
    metrics.add_argument("--json", action="store_true", help='print one JSON object {"layers": [...], "cka": [[...]]}')
    metrics.add_argument(
        "--umap",
        action="store_true",
        help="also map each layer with UMAP (default parameters) and score the map: knn_acc_2d, trustworthiness",
    )
    _reduction_option(metrics, "every layer with spatial axes (the others are flattened)")
    _scheduler_option(metrics)
    metrics.set_defaults(run=cmd_metrics)

    depth = sub.add_parser(
        "depth", help="each image's prediction depth: the first layer from which every k-NN vote is the prediction"
    )
    depth.add_argument("model", help="model name or id in the workspace")
    _dataset_options(depth, datasets_help, split=True)
    depth.add_argument(
        "--sample", type=int, default=SCORE_SAMPLE, help=f"stratified sample size (default {SCORE_SAMPLE})"
    )
    depth.add_argument(
        "--k",
        type=int,
        default=DEPTH_K,
        help=f"neighbours voting per image, the image itself left out (default {DEPTH_K}; the paper: 30)",
    )
    depth.add_argument("--out", default=None, help="write one CSV row per image: index, label, predicted, depth ...")
    _reduction_option(depth, "every layer with spatial axes (the others are flattened)")
    _scheduler_option(depth)
    depth.set_defaults(run=cmd_depth)

    pre = sub.add_parser(
        "precompute", help="compute every layer x method x reducer of a model as jobs, filling the workspace"
    )
    pre.add_argument("model", help="model name or id in the workspace")
    _dataset_options(pre, datasets_help, split=True)
    pre.add_argument("--layers", default="all", help="'all' (default) or comma-separated layer names")
    pre.add_argument(
        "--methods", default="function,submodel", help=f"comma-separated, of {', '.join(METHODS)} (default both)"
    )
    pre.add_argument("--reducers", default="umap,pca", help="comma-separated, of umap, pca, tsne (default umap,pca)")
    pre.add_argument(
        "--sample", type=int, default=MAP_SAMPLE, help=f"stratified sample size of each map (default {MAP_SAMPLE})"
    )
    _reduction_option(pre, "every layer with spatial axes (the others are flattened)")
    _scheduler_option(pre, default="local")
    pre.set_defaults(run=cmd_precompute)

    prepare = sub.add_parser(
        "prepare",
        help="what the dashboard shows first: train the seed MLP on the digits when the workspace has no model, then "
        "map the latest model's default layer (make run does it before the server starts; nothing when stored)",
    )
    _scheduler_option(prepare)
    prepare.set_defaults(run=cmd_prepare)

    export = sub.add_parser("export", help="write a view (a link from the Explore page) as a bundle .zip")
    export.add_argument("link", help="the view's link (http://…/explore?model=…) or its query string")
    export.add_argument("--out", required=True, help="output .zip path")
    export.add_argument("--by", default=_user(), help="who exports it, recorded in the bundle (default: $USER)")
    export.set_defaults(run=cmd_export)

    imp = sub.add_parser("import", help="check a bundle .zip and add its model and map to the workspace")
    imp.add_argument("bundle", help="a bundle .zip made by export or the dashboard")
    imp.add_argument("--by", default=_user(), help="who imports it (default: $USER)")
    imp.set_defaults(run=cmd_import)

    app = sub.add_parser("app", help="start the dashboard (streamlit run on the installed package's entry point)")
    app.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    app.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every interface)",
    )
    app.add_argument(
        "streamlit_options",
        nargs="*",
        metavar="-- STREAMLIT_OPTION",
        help="more options for streamlit run, after --, e.g. -- --server.maxUploadSize 500",
    )
    app.set_defaults(run=cmd_app)

    ls = sub.add_parser("ls", help="list the workspace: models, dataset uploads, representations, maps and saved views")
    ls.add_argument("--kind", choices=["model", "dataset", "representation", "embedding", "view"], default=None)
    ls.add_argument("--json", action="store_true", help='print one JSON object {"items": [...], "bytes": N}')
    ls.set_defaults(run=cmd_ls)
    return parser


def _prog() -> str:
    """How the command was called, for its usage lines: ``featlib`` (the console script) or ``python -m featlib``."""
    return "featlib" if Path(sys.argv[0]).name == "featlib" else "python -m featlib"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI; returns the exit status.

    2 for featlib's own refusals (:class:`featlib.errors.FeatlibError`: bad arguments, data, models, a missing
    item), said as ``error: MESSAGE`` on stderr; 1 for any other exception, which is a bug in featlib: its
    traceback and :data:`BUG_LINE` on stderr. ``KeyboardInterrupt`` (and argparse's ``SystemExit``) go through.
    """
    quiet.setup()  # before anything imports TensorFlow: its start-up lines are dropped
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except FeatlibError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception:  # not featlib's refusal: a bug, reported with its traceback
        traceback.print_exc(file=sys.stderr)
        print(BUG_LINE, file=sys.stderr, flush=True)
        return 1
