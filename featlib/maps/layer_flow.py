"""Layer flow: how the sampled images move between clusters from the input pixels through every layer.

Each representation of a layer set (the Layers page's one-pass sample, :class:`~featlib.read.layers.LayerSet`:
the model-ready input pixels first, then every layer in order) is cut into ``k`` clusters by k-means
(scikit-learn's :class:`~sklearn.cluster.KMeans`, fixed seed, :data:`N_INIT` starts; :class:`MiniBatchKMeans`
above :data:`MINIBATCH_ABOVE` images), on its first :data:`DIMS` principal components when it is wider, on one
thread (k-means's OpenMP threads wait on each other on a busy machine: 6 to 10 times slower on two shared cores). ``k`` is :data:`PER_CLASS` times the classes, at most the images.
Each cluster is named by its **majority true class** and its **purity** (the share of its images of that
class); in each layer the clusters are ordered by majority class, then purity, then size, so that a class's
clusters sit at the same height in every column of the diagram.

The flows between consecutive representations are *links*: ``(source cluster, target cluster, count,
image rows)``, each split into the images the model classifies correctly and the misclassified ones (the
link's rows hold the correct ones first). A class that separates shows as a cluster whose images leave for
clusters of other classes (:func:`splits`), classes that merge as a cluster fed by clusters of several
classes (:func:`merges`), and the mistakes that leave their class as links whose misclassified images go
from a cluster of their own class to one of another (:func:`mistakes_leaving`).

Everything is in rows of the sample (positions ``0 .. n-1`` in the layer set's order, as ``ls.indices``).

Example:
    >>> import numpy as np
    >>> blobs = np.repeat(np.array([[0.0], [10.0]]), 5, axis=0)
    >>> labels = np.repeat([0, 1], 5)
    >>> flow = layer_flow({"input": blobs, "dense": blobs * 2}, labels, labels, k=2)
    >>> flow.link_count.tolist(), flow.link_wrong.tolist()
    ([5, 5], [0, 0])
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from featlib.errors import LayerError
from featlib.lazy import sklearn, threadpoolctl

PER_CLASS = 2
"""Clusters per class in each representation (``k = PER_CLASS × classes``, at most the images)."""
N_INIT = 3
"""k-means starts per representation (the best is kept); few, since the diagram needs a readable cut, not the
best of many."""
MAX_ITER = 100
"""k-means iterations per start (scikit-learn's default is 300; the sample's clusters settle long before)."""
SEED = 0
"""The k-means seed: the same sample gives the same clusters."""
DIMS = 50
"""A representation with more values per image is projected on its first :data:`DIMS` principal components
(scikit-learn's PCA, the same seed) before k-means: the Fashion-MNIST input pixels' k-means takes 1.3 s instead
of 8.7 s on 10,000 images, and the clusters follow the directions the images differ most in."""
MINIBATCH_ABOVE = 20_000
"""Above this many images each representation is cut by :class:`sklearn.cluster.MiniBatchKMeans` (batches of
:data:`MINIBATCH_BATCH`), in bounded time and memory."""
MINIBATCH_BATCH = 4_096
SHARE = 0.2
"""A part of a split or merge holds at least this share of the cluster split or merged into."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress("layers", representations done, representations in all)``."""


@dataclass(frozen=True)
class LayerFlow:
    """Each sampled image's cluster in each representation, the clusters' names and the flows between them.

    ``L`` representations, ``n`` images, ``C`` clusters in all (``C = cluster_offsets[-1]``), ``m`` links.
    A cluster is numbered in its own layer (its *rank*: 0 is the top of the diagram's column) and in all
    (``cluster_offsets[layer] + rank``, the diagram's node).
    """

    names: list[str]
    """The ``L`` representations' names, in order (the layer set's ``ls.names``)."""
    k: int
    """The clusters asked for in each representation (a representation may have fewer: fewer distinct rows)."""
    labels: np.ndarray
    """int64 ``(n,)``: each image's true class."""
    predicted: np.ndarray
    """int64 ``(n,)``: the model's predicted class."""
    assign: np.ndarray
    """int64 ``(L, n)``: each image's cluster (rank in its layer) in each representation."""
    cluster_offsets: np.ndarray
    """int64 ``(L + 1,)``: layer ``l``'s clusters are ``cluster_offsets[l] .. cluster_offsets[l + 1] - 1``."""
    cluster_label: np.ndarray
    """int64 ``(C,)``: the majority true class of each cluster."""
    cluster_purity: np.ndarray
    """float64 ``(C,)``: the share of the cluster's images whose true class is its majority class (0..1]."""
    cluster_size: np.ndarray
    """int64 ``(C,)``: images in the cluster."""
    cluster_wrong: np.ndarray
    """int64 ``(C,)``: misclassified images in the cluster."""
    link_layer: np.ndarray
    """int64 ``(m,)``: link ``i`` flows from representation ``link_layer[i]`` to the next one."""
    link_source: np.ndarray
    """int64 ``(m,)``: the source cluster's rank in its layer."""
    link_target: np.ndarray
    """int64 ``(m,)``: the target cluster's rank in the next layer."""
    link_count: np.ndarray
    """int64 ``(m,)``: images flowing (``>= 1``)."""
    link_wrong: np.ndarray
    """int64 ``(m,)``: of them, the misclassified ones."""
    link_label: np.ndarray
    """int64 ``(m,)``: the majority true class of the link's images."""
    link_rows: np.ndarray
    """int64 ``(n × (L - 1),)``: the links' images (rows of the sample), link after link, each link's correctly
    classified images first (see :meth:`rows`)."""
    link_offsets: np.ndarray
    """int64 ``(m + 1,)``: link ``i``'s images are ``link_rows[link_offsets[i]:link_offsets[i + 1]]``."""

    @property
    def n(self) -> int:
        """Images in the sample."""
        return int(len(self.labels))

    @property
    def n_links(self) -> int:
        """Links in all."""
        return int(len(self.link_count))

    def node(self, layer: int, rank: int) -> int:
        """The cluster ``rank`` of representation ``layer`` numbered among all clusters (the diagram's node)."""
        return int(self.cluster_offsets[layer] + rank)

    def clusters(self, layer: int) -> int:
        """How many clusters representation ``layer`` has."""
        return int(self.cluster_offsets[layer + 1] - self.cluster_offsets[layer])

    def rows(self, link: int, part: str = "all") -> np.ndarray:
        """int64 rows of the sample flowing along ``link``: ``part`` ``"all"``, ``"correct"`` or ``"wrong"``.

        Raises:
            LayerError: ``part`` is none of the three, or ``link`` is not a link.
        """
        if not 0 <= int(link) < self.n_links:
            raise LayerError(f"A layer flow's link is numbered 0 to {self.n_links - 1}; got {link}.")
        start, stop = int(self.link_offsets[link]), int(self.link_offsets[link + 1])
        split = stop - int(self.link_wrong[link])
        parts = {"all": (start, stop), "correct": (start, split), "wrong": (split, stop)}
        if part not in parts:
            raise LayerError(f"A link's images are 'all', 'correct' or 'wrong'; got {part!r}.")
        low, high = parts[part]
        return self.link_rows[low:high]

    def fields(self) -> dict:
        """The flow as arrays and plain values (a dict of its fields), to be stored; :meth:`of_fields` reads it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def of_fields(cls, found: Mapping) -> LayerFlow:
        """The flow :meth:`fields` gave.

        Raises:
            LayerError: ``found`` lacks a field (not a layer flow's).
        """
        names = [f.name for f in fields(cls)]
        missing = [name for name in names if name not in found]
        if missing:
            raise LayerError(f"A stored layer flow holds the fields {names}; this one lacks {missing}.")
        values = {name: found[name] for name in names}
        return cls(**{**values, "names": [str(n) for n in values["names"]], "k": int(values["k"])})


def cluster_count(points: int, classes: int, per_class: int = PER_CLASS) -> int:
    """The clusters each representation is cut into: ``per_class × classes``, at most ``points``, at least 1."""
    return max(1, min(int(per_class) * max(int(classes), 1), int(points)))


def cluster_rows(x: np.ndarray, k: int, seed: int = SEED, dims: int | None = DIMS) -> np.ndarray:
    """k-means of the rows of ``x``: int64 ``(n,)`` cluster numbers in ``[0, k)`` (some may be empty).

    Args:
        x: float ``(n, d)``, finite; k: clusters, ``1 <= k <= n``; seed: the k-means and PCA seed.
        dims: rows wider than this are projected on their first ``dims`` principal components first
            (``None``: never).
    """
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    if k == 1:
        return np.zeros(len(x), dtype=np.int64)
    with threadpoolctl.threadpool_limits(1):
        return _kmeans(x, k, seed, dims)


def _kmeans(x: np.ndarray, k: int, seed: int, dims: int | None) -> np.ndarray:
    if dims is not None and x.shape[1] > dims and len(x) > dims:
        x = sklearn.decomposition.PCA(dims, random_state=seed).fit_transform(x)
    if len(x) > MINIBATCH_ABOVE:
        method = sklearn.cluster.MiniBatchKMeans(
            n_clusters=k, n_init=N_INIT, random_state=seed, batch_size=MINIBATCH_BATCH, max_iter=MAX_ITER
        )
    else:
        method = sklearn.cluster.KMeans(n_clusters=k, n_init=N_INIT, random_state=seed, max_iter=MAX_ITER)
    with warnings.catch_warnings():  # fewer distinct rows than k: the extra clusters stay empty, and are dropped
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        return np.asarray(method.fit_predict(x), dtype=np.int64)


def order_clusters(raw: np.ndarray, labels: np.ndarray, wrong: np.ndarray, n_classes: int) -> tuple[np.ndarray, ...]:
    """Numbers the non-empty clusters of ``raw`` for a readable diagram: by majority class, then purity, then size.

    Args:
        raw: int ``(n,)`` cluster numbers (any, gaps allowed); labels: int ``(n,)`` true classes in
            ``[0, n_classes)``; wrong: bool ``(n,)`` misclassified.

    Returns:
        ``(assign, label, purity, size, wrong)``: int64 ``(n,)`` each image's cluster rank, then per cluster
        (``c`` of them, in rank order) int64 majority class, float64 purity, int64 size, int64 misclassified.
    """
    _, inverse = np.unique(raw, return_inverse=True)
    inverse = inverse.reshape(-1)
    c = int(inverse.max()) + 1 if len(inverse) else 0
    counts = np.zeros((c, n_classes), dtype=np.int64)
    np.add.at(counts, (inverse, labels), 1)
    size = counts.sum(axis=1)
    label = counts.argmax(axis=1)
    purity = counts.max(axis=1) / np.maximum(size, 1)
    order = np.lexsort((-size, -purity, label))  # the last key first: majority class
    rank = np.empty(c, dtype=np.int64)
    rank[order] = np.arange(c)
    bad = np.bincount(inverse, weights=wrong.astype(np.float64), minlength=c).astype(np.int64)
    return rank[inverse], label[order].astype(np.int64), purity[order].astype(np.float64), size[order], bad[order]


def _links(
    layer: int, a: np.ndarray, b: np.ndarray, width: int, labels: np.ndarray, wrong: np.ndarray, n_classes: int
) -> tuple[np.ndarray, ...]:
    """The links from clusters ``a`` to ``b`` (``width`` clusters): layer, source, target, count, wrong, label, rows."""
    code = a * width + b
    rows = np.lexsort((wrong, code))  # by link, then the correct images first; rows ascending within each
    codes, count = np.unique(code[rows], return_counts=True)
    link = np.repeat(np.arange(len(codes)), count)
    bad = np.bincount(link, weights=wrong[rows].astype(np.float64), minlength=len(codes)).astype(np.int64)
    by_class = np.zeros((len(codes), n_classes), dtype=np.int64)
    np.add.at(by_class, (link, labels[rows]), 1)
    return (
        np.full(len(codes), layer, dtype=np.int64),
        (codes // width).astype(np.int64),
        (codes % width).astype(np.int64),
        count.astype(np.int64),
        bad,
        by_class.argmax(axis=1).astype(np.int64),
        rows.astype(np.int64),
    )


def _check(reps: Mapping[str, np.ndarray], labels: np.ndarray, predicted: np.ndarray) -> None:
    if len(reps) < 2:
        raise LayerError(
            "A layer flow follows the images from one representation to the next: it needs at least two "
            f"(the input pixels and a layer); got {len(reps)}. Pick a model with a layer featlib can read."
        )
    n = len(labels)
    lengths = {name: len(x) for name, x in reps.items()}
    if len(predicted) != n or any(length != n for length in lengths.values()):
        raise LayerError(
            f"A layer flow follows the same images in every representation: expected {n} rows everywhere; got "
            f"{len(predicted)} predictions and representations of {lengths} rows. Read every layer of one sample."
        )
    if n < 2:
        raise LayerError(f"A layer flow needs at least two images to cluster; got {n}. Raise the sample size.")
    if min(labels.min(), predicted.min()) < 0:
        raise LayerError("A layer flow needs class labels of 0 or more; got a negative label.")
    for name, x in reps.items():
        if not np.isfinite(np.asarray(x)).all():
            raise LayerError(
                f"A layer flow clusters finite values; the representation {name!r} holds NaN or inf: leave that "
                "layer out."
            )


def layer_flow(
    reps: Mapping[str, np.ndarray],
    labels: np.ndarray,
    predicted: np.ndarray,
    *,
    classes: int | None = None,
    k: int | None = None,
    seed: int = SEED,
    progress: Progress | None = None,
) -> LayerFlow:
    """Clusters each representation and counts the images flowing between consecutive ones (see the module).

    Args:
        reps: ``{name: float (n, units)}`` in order, the same ``n`` images in each (a layer set's ``ls.reps``:
            the input pixels first).
        labels: int ``(n,)`` true classes; predicted: int ``(n,)`` the model's predicted classes.
        classes: the dataset's classes, for ``k`` (default: the classes among ``labels``).
        k: clusters per representation (default :func:`cluster_count`: :data:`PER_CLASS` × classes); capped
            by ``n``.
        seed: the k-means seed.
        progress: called as ``progress("layers", done, L)`` before each representation and after the last.

    Returns:
        A :class:`LayerFlow`: the links' counts add up to ``n`` between each pair of consecutive representations.

    Raises:
        LayerError: fewer than two representations, arrays of other lengths, fewer than two images, a
            negative label, or non-finite values.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    predicted = np.asarray(predicted).astype(np.int64).reshape(-1)
    _check(reps, labels, predicted)
    n = len(labels)
    n_classes = int(max(labels.max(), predicted.max())) + 1
    found_classes = len(np.unique(labels)) if classes is None else int(classes)
    k = cluster_count(n, found_classes) if k is None else max(1, min(int(k), n))
    wrong = predicted != labels
    total = len(reps)
    assign, label, purity, size, bad, offsets = [], [], [], [], [], [0]
    for done, x in enumerate(reps.values()):
        if progress is not None:
            progress("layers", done, total)
        ranks, *per_cluster = order_clusters(cluster_rows(x, k, seed), labels, wrong, n_classes)
        assign.append(ranks)
        for out, values in zip((label, purity, size, bad), per_cluster, strict=True):
            out.append(values)
        offsets.append(offsets[-1] + len(per_cluster[0]))
    if progress is not None:
        progress("layers", total, total)
    links = [
        _links(i, assign[i], assign[i + 1], offsets[i + 2] - offsets[i + 1], labels, wrong, n_classes)
        for i in range(total - 1)
    ]
    columns = [np.concatenate(parts) for parts in zip(*links, strict=True)]
    counts = columns[3]
    return LayerFlow(
        names=[str(name) for name in reps],
        k=int(k),
        labels=labels,
        predicted=predicted,
        assign=np.stack(assign),
        cluster_offsets=np.asarray(offsets, dtype=np.int64),
        cluster_label=np.concatenate(label),
        cluster_purity=np.concatenate(purity),
        cluster_size=np.concatenate(size),
        cluster_wrong=np.concatenate(bad),
        link_layer=columns[0],
        link_source=columns[1],
        link_target=columns[2],
        link_count=counts,
        link_wrong=columns[4],
        link_label=columns[5],
        link_rows=columns[6],
        link_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
    )


def cluster_names(flow: LayerFlow, class_names: Sequence[str]) -> list[str]:
    """Each cluster's name, in node order: its majority class and purity, ``"7 · 92%"``.

    A majority class past ``class_names`` (a model with more outputs than the data's classes) is named by
    its number.
    """
    return [
        f"{class_names[c] if 0 <= c < len(class_names) else c} · {p:.0%}"
        for c, p in zip(flow.cluster_label.tolist(), flow.cluster_purity.tolist(), strict=True)
    ]


@dataclass(frozen=True)
class Event:
    """A cluster that splits into several of the next layer, or several that merge into one."""

    kind: str
    """``"split"`` or ``"merge"``."""
    layer: int
    """The flow from representation ``layer`` to ``layer + 1``."""
    cluster: int
    """The cluster split (a rank in ``layer``) or merged into (a rank in ``layer + 1``)."""
    parts: tuple[int, ...]
    """The clusters it splits into (ranks in ``layer + 1``) or that merge (ranks in ``layer``), largest first."""
    shares: tuple[float, ...]
    """Each part's share of the cluster's images."""
    classes: tuple[int, ...]
    """Each part's majority class."""

    @property
    def mixed(self) -> bool:
        """Whether the parts are clusters of different classes: classes separate (split) or merge (merge)."""
        return len(set(self.classes)) > 1


def _events(flow: LayerFlow, kind: str, share: float) -> list[Event]:
    found = []
    mine, theirs = (flow.link_source, flow.link_target) if kind == "split" else (flow.link_target, flow.link_source)
    for layer in range(len(flow.names) - 1):
        here = layer if kind == "split" else layer + 1
        there = layer + 1 if kind == "split" else layer
        in_layer = flow.link_layer == layer
        for cluster in np.unique(mine[in_layer]).tolist():
            links = np.flatnonzero(in_layer & (mine == cluster))
            total = flow.cluster_size[flow.node(here, cluster)]
            shares = flow.link_count[links] / total
            kept = links[shares >= share]
            if len(kept) < 2:
                continue
            kept = kept[np.argsort(-flow.link_count[kept], kind="stable")]
            parts = theirs[kept].tolist()
            found.append(
                Event(
                    kind,
                    layer,
                    int(cluster),
                    tuple(int(p) for p in parts),
                    tuple(float(c / total) for c in flow.link_count[kept]),
                    tuple(int(flow.cluster_label[flow.node(there, p)]) for p in parts),
                )
            )
    return found


def splits(flow: LayerFlow, share: float = SHARE) -> list[Event]:
    """The clusters whose images go to two or more clusters of the next representation, each taking at least
    ``share`` of them; :attr:`Event.mixed` when those are of different classes (the classes separate)."""
    return _events(flow, "split", share)


def merges(flow: LayerFlow, share: float = SHARE) -> list[Event]:
    """The clusters fed by two or more clusters of the previous representation, each giving at least ``share``
    of its images; :attr:`Event.mixed` when those are of different classes (the classes merge)."""
    return _events(flow, "merge", share)


def largest(flow: LayerFlow, n: int | None = None) -> np.ndarray:
    """int64 link numbers, the most images first (the earlier layer first among equals); the first ``n``."""
    order = np.lexsort((flow.link_layer, -flow.link_count))
    return order[:n].astype(np.int64)


def leaving(flow: LayerFlow, part: str = "wrong") -> np.ndarray:
    """int64 ``(m,)``: per link, its images (``part``: ``"wrong"`` or ``"all"``) whose true class is the source
    cluster's majority class and not the target cluster's: the images that leave their class there."""
    out = np.zeros(flow.n_links, dtype=np.int64)
    source = flow.cluster_label[flow.cluster_offsets[flow.link_layer] + flow.link_source]
    target = flow.cluster_label[flow.cluster_offsets[flow.link_layer + 1] + flow.link_target]
    for i in np.flatnonzero(source != target).tolist():
        rows = flow.rows(i, part)
        out[i] = int(np.sum(flow.labels[rows] == source[i]))
    return out


def mistakes_leaving(flow: LayerFlow, n: int | None = None) -> np.ndarray:
    """int64 link numbers where misclassified images leave their class (:func:`leaving`), the most first; only
    links where some do; the first ``n``."""
    counts = leaving(flow, "wrong")
    order = np.lexsort((flow.link_layer, -flow.link_wrong, -counts))
    return order[counts[order] > 0][:n].astype(np.int64)
