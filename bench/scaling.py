"""featlib's map against its peers on the same vectors, at several sizes: the bench's peer and scaling tables.

For each method (featlib's :func:`featlib.maps.embed.umap_embed` with its
defaults, featlib's t-SNE (:func:`featlib.maps.embed.tsne_embed`, openTSNE, its
defaults: the ``tsne_*`` figures, beside UMAP and not counted as a peer in
:func:`verdict`), then each of :data:`bench.peers.PEERS`) one fresh Python process
loads the machine's compiled code (:mod:`featlib.maps.compile_cache`), warms up
with two untimed fits (1,000 and 5,000 points, as far as the data go:
umap-learn's exact and approximate neighbour paths; for featlib, whose
5,000-point fit takes its exact path, also :func:`featlib.maps.embed.warm_up`, as
its job workers run when they start; t-SNE, compiled ahead, is not warmed up), then maps a stratified sample
of every size,
smallest first, timing each fit (wall seconds). The bench
process scores every map with the same 10-NN accuracy it reports for
featlib's map (:func:`featlib.metrics.knn_accuracy`: 5-fold, stratified,
seeded). A peer that is not installed is skipped, with the reason.

Samples are :func:`featlib.maps.sampling.stratified_sample` of the labels (seed 0 first, so the 10,000-point
sample is the one the bench's other UMAP figures use). Below :data:`REPEAT_POINTS` points a size is measured on
several samples (:func:`repeats_for`; seeds 0, 1, ...), the same ones for every method: its time is their
median, its accuracy their mean. One small map cannot decide the 0.5 point tolerance of :func:`verdict`: the
10-NN accuracy of 1,000 points has a binomial standard error of about 1.3 points (``sqrt(p (1 - p) / n)`` at
p = 0.8), and on the bench's Fashion-MNIST layer featlib's and Embedding Atlas's maps of three 1,000-point
samples differed by +0.2 to -1.6 points, of five by +0.4 on average.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from bench import peers
from featlib.errors import UsageError

DEFAULT_SIZES = (1_000, 5_000, 10_000, 35_000, 70_000)
"""The sizes of ``featlib bench``'s scaling table (``--sizes`` chooses others)."""
FEATLIB = "featlib"
FEATLIB_GPU = "featlib_gpu"
TSNE = "tsne"
"""featlib's t-SNE map (openTSNE): its row figures are ``tsne_s`` and ``tsne_knn_acc_2d``."""
TITLES = {FEATLIB_GPU: "featlib on the GPU (cuML)", TSNE: "featlib's t-SNE (openTSNE, its defaults, 1 thread)"}
"""What the peer table calls featlib's methods other than its UMAP map."""
WARM_UP_SIZES = (1_000, 5_000)
REPEAT_POINTS = 10_000
"""A size below this many points is measured on several samples, together about this many points
(:func:`repeats_for`)."""
MAX_REPEATS = 10
SPEEDUP = 1.5
"""The target of :func:`verdict` (issue 24, item 4): every peer takes at least this many times featlib's time."""

_CHILD = """
import json, sys, time
import numpy as np

method, folder, cache = sys.argv[1], sys.argv[2], sys.argv[3] or None
from featlib.maps import compile_cache
compile_cache.enable(cache)
from bench.scaling import fit_method
x = np.load(folder + "/x.npy")
labels = np.load(folder + "/labels.npy")
labels = None if (labels < 0).all() else labels
samples = np.load(folder + "/samples.npz")
runs = sorted((int(n), int(r)) for n, r in (name[1:].split("_r") for name in samples.files))
sizes = sorted({n for n, _ in runs})
largest = samples["n%d_r0" % sizes[-1]]
# warm-up: umap-learn's exact (< 4,096 points) and approximate neighbour paths, as far as the data go
for n in ([n for n in (1000, 5000) if n <= len(largest)] or [len(largest)]) if method != "tsne" else []:
    fit_method(method, x[largest[:n]], None if labels is None else labels[largest[:n]])
from featlib.maps.knn import EXACT_UP_TO
# As featlib's job workers do when they start: compile pynndescent's search (which no cache keeps), the path of
# featlib's maps above EXACT_UP_TO points; the fits above took the exact path. Smaller runs never search.
if method.startswith("featlib") and sizes[-1] > EXACT_UP_TO:
    from featlib.maps.embed import warm_up

    warm_up()
times = {}
for n, r in runs:
    rows = samples["n%d_r%d" % (n, r)]
    start = time.perf_counter()
    coords = fit_method(method, x[rows], None if labels is None else labels[rows])
    times["%d_%d" % (n, r)] = time.perf_counter() - start
    np.save(folder + "/%s-%d-%d.npy" % (method, n, r), coords)
print(json.dumps(times))
"""


def sizes_for(requested: Sequence[int], available: int) -> list[int]:
    """The sizes measured: each of ``requested`` capped at ``available`` points, without repeats, ascending.

    Raises:
        ValueError: a size below 16 (umap-learn's default 15 neighbours need more points).

    Example:
        >>> sizes_for([1000, 5000, 10000, 35000, 70000], 20000)
        [1000, 5000, 10000, 20000]
    """
    bad = [n for n in requested if n < 16]
    if bad:
        raise UsageError(f"sizes must be at least 16 points (the peers' 15 neighbours); got {bad}")
    return sorted({min(int(n), int(available)) for n in requested})


def repeats_for(n_points: int, repeat_points: int = REPEAT_POINTS) -> int:
    """How many samples of ``n_points`` points a size is measured on: enough for about ``repeat_points``
    points in all, from 1 (``repeat_points`` and more) to :data:`MAX_REPEATS`.

    Example:
        >>> [repeats_for(n) for n in (300, 1_000, 5_000, 10_000, 70_000)]
        [10, 10, 2, 1, 1]
    """
    return max(1, min(MAX_REPEATS, -(-int(repeat_points) // int(n_points))))


def methods(include_gpu: bool | None = None) -> list[str]:
    """featlib, its t-SNE, then every peer, then featlib on the GPU when :func:`featlib.maps.gpu.missing` finds
    nothing missing."""
    from featlib.maps import gpu

    names = [FEATLIB, TSNE, *peers.PEERS]
    if include_gpu if include_gpu is not None else gpu.missing() is None:
        names.append(FEATLIB_GPU)
    return names


def missing(method: str) -> str | None:
    """Why ``method`` cannot run here, or ``None``."""
    if method in (FEATLIB, TSNE):
        return None
    if method == FEATLIB_GPU:
        from featlib.maps import gpu

        return gpu.missing()
    return peers.missing(method)


def fit_method(method: str, x: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """One 2-D map of ``x`` by ``method`` (:data:`FEATLIB`, :data:`FEATLIB_GPU`, :data:`TSNE` or a peer): float32
    ``(n, 2)``.

    featlib's maps get the points' ``labels``, as the pages and the CLI give them: they decide its
    ``metric="auto"`` (:func:`featlib.maps.embed.resolve_metric`; the choice is part of the time measured).
    The peers map the points alone, as their users call them.
    """
    from featlib.maps import embed

    if method == FEATLIB:
        return embed.umap_embed(x, embed.UMAPParams(), backend="cpu", labels=labels)
    if method == FEATLIB_GPU:
        return embed.umap_embed(x, embed.UMAPParams(), backend="gpu", labels=labels)
    if method == TSNE:
        return embed.tsne_embed(x, embed.TSNEParams(), backend="cpu")
    return peers.fit(method, x)


def time_in_fresh_process(
    method: str,
    x: np.ndarray,
    samples: dict[int, list[np.ndarray]],
    cache: str | Path | None = None,
    labels: np.ndarray | None = None,
) -> tuple[dict[int, list[float]], dict[int, list[np.ndarray]]]:
    """Maps ``x[rows]`` for every sample ``rows`` of every size by ``method`` in one new process (after its
    warm-up), smallest size first.

    Args:
        method: :data:`FEATLIB`, :data:`FEATLIB_GPU`, :data:`TSNE` or a key of :data:`bench.peers.PEERS`.
        x: float32 ``(N, d)``: every vector.
        labels: int ``(N,)``: their classes, given to featlib's maps (:func:`fit_method`); ``None``: none.
        samples: size → its samples, each sorted row indices into ``x``.
        cache: the compile cache folder; ``None``: the machine's (:func:`featlib.maps.compile_cache.folder`).

    Returns:
        ``(seconds by size, maps by size)``, a list per size in the order of its samples.

    Raises:
        RuntimeError: the child failed (the end of its stderr is in the message).
    """
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "x.npy", np.asarray(x, dtype="float32"))
        np.save(Path(folder) / "labels.npy", np.asarray(labels) if labels is not None else np.full(len(x), -1))
        np.savez(
            Path(folder) / "samples.npz",
            **{f"n{n}_r{r}": rows for n, each in samples.items() for r, rows in enumerate(each)},
        )
        repo = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, method, folder, str(cache or "")], capture_output=True, text=True, env=env
        )
        if done.returncode:
            raise RuntimeError(f"the {method} child process failed:\n{done.stderr[-2000:]}")
        seconds = json.loads(done.stdout.strip().splitlines()[-1])
        times = {n: [seconds[f"{n}_{r}"] for r in range(len(each))] for n, each in samples.items()}
        coords = {
            n: [np.load(Path(folder) / f"{method}-{n}-{r}.npy") for r in range(len(each))]
            for n, each in samples.items()
        }
    return times, coords


def run(
    x: np.ndarray,
    labels: np.ndarray,
    sizes: Sequence[int] = DEFAULT_SIZES,
    peer_size: int = 10_000,
    names: Sequence[str] | None = None,
    cache: str | Path | None = None,
    log: Callable[[str], None] = lambda text: None,
    repeat_points: int = REPEAT_POINTS,
) -> dict:
    """The scaling table, the peers at ``peer_size`` points, and what was skipped.

    Args:
        x: float32 ``(N, d)``, the layer's vectors; labels: int ``(N,)``.
        sizes: the table's sizes (capped at ``N``: :func:`sizes_for`).
        peer_size: the size of the ``peers`` figures (capped at ``N``), measured even when not in ``sizes``.
        names: the methods (default :func:`methods`).
        cache: the compile cache (default the machine's).
        log: called with a line per method measured.
        repeat_points: sizes below it are measured on several samples (:func:`repeats_for`).

    Returns:
        ``{"scaling": [row, ...], "peers": {name: {"s", "knn_acc_2d"} or {"skipped": reason}},
        "featlib_at_peer_size": {"s", "knn_acc_2d"}, "skipped": {method: reason}}``; a row is
        ``{"n_points", "samples", "featlib_s", "featlib_knn_acc_2d", "<peer>_s", "<peer>_knn_acc_2d", ...}``
        (seconds: the median over the size's samples, :func:`repeats_for`; accuracy: their mean), ``None``
        for a skipped method.
    """
    from featlib import metrics
    from featlib.maps.sampling import stratified_sample

    labels = np.asarray(labels)
    table_sizes = sizes_for(sizes, len(x))
    peer_n = min(int(peer_size), len(x))
    samples = {
        n: [stratified_sample(labels, n, seed=r) for r in range(repeats_for(n, repeat_points))]
        for n in sorted({*table_sizes, peer_n})
    }
    names = list(names) if names is not None else methods()
    figures: dict[str, dict[int, tuple[float, float]]] = {}
    skipped: dict[str, str] = {}
    for name in names:
        reason = missing(name)
        if reason:
            skipped[name] = reason
            log(f"{name}: skipped, {reason}")
            continue
        times, coords = time_in_fresh_process(name, x, samples, cache, labels)
        figures[name] = {
            n: (
                float(np.median(times[n])),
                float(np.mean([metrics.knn_accuracy(c, labels[rows]) for c, rows in zip(coords[n], each)])),
            )
            for n, each in samples.items()
        }
        log(f"{name}: " + ", ".join(f"{n:,} points {s:.1f} s ({acc:.3f})" for n, (s, acc) in figures[name].items()))
    rows = []
    for n in table_sizes:
        row: dict = {"n_points": n, "samples": len(samples[n])}
        for name in names:
            s, acc = figures[name][n] if name in figures else (None, None)
            row[f"{name}_s"], row[f"{name}_knn_acc_2d"] = s, acc
        rows.append(row)
    peer_figures: dict[str, dict] = {}
    for name in names:
        if name == FEATLIB:
            continue
        if name in figures:
            s, acc = figures[name][peer_n]
            peer_figures[name] = {"s": s, "knn_acc_2d": acc}
        else:
            peer_figures[name] = {"s": None, "knn_acc_2d": None, "skipped": skipped[name]}
    own = figures.get(FEATLIB, {}).get(peer_n)
    return {
        "scaling": rows,
        "peers": peer_figures,
        "peer_points": peer_n,
        "skipped": skipped,
        "featlib_at_peer_size": {"s": own[0], "knn_acc_2d": own[1]} if own else None,
    }


def verdict(
    rows: Sequence[dict], names: Sequence[str], tolerance: float = 0.005, speedup: float = SPEEDUP
) -> list[str]:
    """Where issue 24's target is not met: featlib's map at least ``speedup`` (1.5) times faster than every peer
    at every size, at a 10-NN accuracy no more than ``tolerance`` (0.5 point) below the best peer's. One
    sentence per miss. featlib's t-SNE (:data:`TSNE`) is another kind of map, not a peer: it is left out."""
    misses = []
    for row in rows:
        mine_s, mine_acc = row.get(f"{FEATLIB}_s"), row.get(f"{FEATLIB}_knn_acc_2d")
        if mine_s is None:
            continue
        others = [n for n in names if n not in (FEATLIB, FEATLIB_GPU, TSNE) and row.get(f"{n}_s") is not None]
        for name in others:
            if row[f"{name}_s"] < speedup * mine_s:
                misses.append(
                    f"{row['n_points']:,} points: {name} took {row[f'{name}_s']:.2f} s, featlib {mine_s:.2f} s "
                    f"({row[f'{name}_s'] / mine_s:.2f}×; the target is {speedup:g}×)"
                )
        if others:
            best = max(others, key=lambda n: row[f"{n}_knn_acc_2d"])
            if row[f"{best}_knn_acc_2d"] - mine_acc > tolerance:
                misses.append(
                    f"{row['n_points']:,} points: featlib's 10-NN accuracy {mine_acc:.3f} is "
                    f"{100 * (row[f'{best}_knn_acc_2d'] - mine_acc):.1f} points below {best}'s "
                    f"{row[f'{best}_knn_acc_2d']:.3f}"
                )
    return misses


def format_scaling(rows: Sequence[dict], names: Sequence[str]) -> str:
    """The scaling table as text: a row per size, seconds and 10-NN accuracy per method, and each peer's time ÷ featlib's."""
    head = f"{'points':>11}" + "".join(f" | {name:>28}" for name in names)
    lines = [
        "scaling: seconds (10-NN accuracy of the map) [time ÷ featlib's]; points ×k: the median time and mean "
        "accuracy of k samples",
        head,
    ]
    for row in rows:
        cells = []
        for name in names:
            s, acc = row.get(f"{name}_s"), row.get(f"{name}_knn_acc_2d")
            ratio = row.get(f"{FEATLIB}_s")
            if s is None:
                cells.append(f"{'skipped':>28}")
            else:
                extra = f" [{s / ratio:.2f}×]" if ratio and name != FEATLIB else ""
                cells.append(f"{f'{s:.2f} s ({acc:.3f}){extra}':>28}")
        repeats = row.get("samples", 1)
        points = f"{row['n_points']:,}" + (f" ×{repeats}" if repeats > 1 else "")
        lines.append(f"{points:>11}" + "".join(f" | {c}" for c in cells))
    return "\n".join(lines)


def format_peers(result: dict) -> str:
    """The peer table as text: featlib, then each peer, at the peers' sample size."""
    lines = [f"peers on the same {result['peer_points']:,} vectors", f"{'method':<58} {'seconds':>8} {'10-NN acc':>9}"]
    own = result.get("featlib_at_peer_size")
    if own:
        lines.append(f"{'featlib (its defaults, seeded)':<58} {own['s']:>8.2f} {own['knn_acc_2d']:>9.3f}")
    for name, fig in result["peers"].items():
        title = peers.PEERS[name].title if name in peers.PEERS else TITLES.get(name, name)
        if fig.get("s") is None:
            lines.append(f"{title:<58} skipped: {fig.get('skipped', '')}")
        else:
            lines.append(f"{title:<58} {fig['s']:>8.2f} {fig['knn_acc_2d']:>9.3f}")
    return "\n".join(lines)


def write_plot(rows: Sequence[dict], names: Sequence[str], path: str | Path) -> str:
    """A log–log plot of seconds against points, one line per method, written as a PNG at ``path``.

    Uses matplotlib when it is installed, else plotly rendered by kaleido in
    Chromium (:func:`featlib.share.exports.figure_png`).

    Returns:
        ``"matplotlib"`` or ``"plotly"``: what drew it.

    Raises:
        featlib.share.exports.ExportError: neither can draw here (no matplotlib, and kaleido or Chromium missing).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    series = {name: [(r["n_points"], r[f"{name}_s"]) for r in rows if r.get(f"{name}_s") is not None] for name in names}
    series = {name: points for name, points in series.items() if points}
    title = "2-D map of a layer's vectors: time against points (log–log)"
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        import plotly.graph_objects as go

        from featlib.share.exports import figure_png

        figure = go.Figure(
            [
                go.Scatter(x=[n for n, _ in points], y=[s for _, s in points], mode="lines+markers", name=name)
                for name, points in series.items()
            ]
        )
        figure.update_layout(
            title=title,
            xaxis={"type": "log", "title": "points"},
            yaxis={"type": "log", "title": "seconds"},
            template="plotly_white",
        )
        path.write_bytes(figure_png(figure, (900, 600)))
        return "plotly"
    fig, ax = plt.subplots(figsize=(9, 6))
    for name, points in series.items():
        ax.loglog([n for n, _ in points], [s for _, s in points], marker="o", label=name)
    ax.set(xlabel="points", ylabel="seconds", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return "matplotlib"
