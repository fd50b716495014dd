"""Comparisons as plain data: panels side by side, their link, their presets.

A :class:`Panel` names one map: (model, layer, method, reducer). A
:class:`CompareView` holds two to four panels drawn on the same points (same
dataset, split, sample), the point followed and how many neighbours to show.
``to_query`` / ``from_query`` turn a view into URL query parameters and back,
so a comparison is shared by link. The presets build the usual comparisons:
every layer of a model, one layer across a training's checkpoints, the two
extraction methods. :func:`linked_selection` decides which panel's selection
is highlighted in all of them.

Nothing here imports Streamlit; the page's glue is :mod:`featlib.app.comparing`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from featlib import models
from featlib.datasets import SPLITS
from featlib.errors import CompareError, ReducerError
from featlib.maps.embed import REDUCERS
from featlib.maps.reducer_params import DIMS, DIMS_TEXT
from featlib.read.extract import METHODS
from featlib.read.reductions import AUTO, CHOICES

if TYPE_CHECKING:
    import keras

MIN_PANELS, MAX_PANELS = 2, 4
DEFAULT_K = 8
MAX_K = 50
PANEL_KEYS = tuple(f"p{i}" for i in range(1, MAX_PANELS + 1))
"""URL query keys of the panels, in order."""


@dataclass(frozen=True)
class Panel:
    """One map of a comparison: which model's layer, read how, reduced how.

    ``model`` is a workspace model id (or name); ``reducer`` a key of
    :data:`featlib.maps.embed.REDUCERS` (``"umap"``, ``"pca"``, ``"tsne"``), with
    that reducer's default parameters.
    """

    model: str
    layer: str
    method: str = "function"
    reducer: str = "umap"

    def __post_init__(self) -> None:
        if not self.model or not self.layer:
            raise CompareError(f"A panel needs a model and a layer; got model={self.model!r}, layer={self.layer!r}.")
        if self.method not in METHODS:
            raise CompareError(f"Unknown method: {self.method!r}. Expected one of {list(METHODS)}.")
        if self.reducer not in REDUCERS:
            raise CompareError(f"Unknown reducer: {self.reducer!r}. Expected one of {list(REDUCERS)}.")

    def to_text(self) -> str:
        """``model:layer:method:reducer``, the panel's form in a link."""
        return f"{self.model}:{self.layer}:{self.method}:{self.reducer}"

    @classmethod
    def from_text(cls, text: str) -> Panel:
        """Reads :meth:`to_text`'s form (a layer name may itself hold ``:``)."""
        model, _, rest = text.partition(":")
        parts = rest.rsplit(":", 2)
        if len(parts) != 3:
            raise CompareError(f"A panel in a link reads model:layer:method:reducer; got {text!r}.")
        return cls(model, *parts)

    def params(self, dims: int = DIMS.default):
        """The reducer's parameters (its defaults), for a map of ``dims`` dimensions (2 or 3)."""
        return REDUCERS[self.reducer](dims=dims)


@dataclass(frozen=True)
class CompareView:
    """What the Compare page shows: panels on one sample, the point followed.

    ``reduction`` (a key of :data:`featlib.read.reductions.CHOICES`) applies to every
    panel whose layer has spatial axes; ``auto`` is each layer's default. ``dims``: every panel's map is 2-D (2) or
    3-D (3; ``dims=3`` in the link, only then).
    """

    dataset: str
    panels: tuple[Panel, ...]
    split: str = "train"
    sample: int | None = 10_000
    follow: int | None = None
    k: int = DEFAULT_K
    reduction: str = AUTO
    dims: int = DIMS.default

    def __post_init__(self) -> None:
        if not MIN_PANELS <= len(self.panels) <= MAX_PANELS:
            raise CompareError(f"A comparison has {MIN_PANELS} to {MAX_PANELS} panels; got {len(self.panels)}.")
        if self.split not in SPLITS:
            raise CompareError(f"Unknown split: {self.split!r}. Expected one of {list(SPLITS)}.")
        if self.sample is not None and self.sample < 10:
            raise CompareError(f"The sample must hold at least 10 points; got {self.sample}.")
        if self.follow is not None and self.follow < 0:
            raise CompareError(f"The followed point is an index in the split, 0 or more; got {self.follow}.")
        if not 1 <= self.k <= MAX_K:
            raise CompareError(f"Neighbours shown must be within 1..{MAX_K}; got {self.k}.")
        if self.reduction not in CHOICES:
            raise CompareError(f"Unknown reduction: {self.reduction!r}. Expected one of {list(CHOICES)}.")
        try:
            DIMS.check(self.dims)
        except ReducerError as error:
            raise CompareError(f"A comparison's maps are 2-D or 3-D: {error}.") from None

    def to_query(self) -> dict[str, str]:
        """The view as URL query parameters (strings)."""
        query = {
            "dataset": self.dataset,
            "split": self.split,
            "sample": "all" if self.sample is None else str(self.sample),
        }
        for key, panel in zip(PANEL_KEYS, self.panels):
            query[key] = panel.to_text()
        if self.follow is not None:
            query["follow"] = str(self.follow)
        query["k"] = str(self.k)
        if self.reduction != AUTO:
            query["reduction"] = self.reduction
        if self.dims != DIMS.default:
            query["dims"] = str(self.dims)
        return query

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CompareView:
        """Reads a view from URL query parameters.

        Raises:
            CompareError: naming the parameter that is missing or malformed.
        """
        if not query.get("dataset"):
            raise CompareError("The link lacks dataset; it does not name a comparison.")
        panels = tuple(Panel.from_text(query[key]) for key in PANEL_KEYS if query.get(key))
        try:
            sample = None if query.get("sample", "all") == "all" else int(query["sample"])
            follow = int(query["follow"]) if query.get("follow") not in (None, "") else None
            k = int(query.get("k", DEFAULT_K))
        except ValueError as error:
            raise CompareError(f"The link's sample, follow and k must be whole numbers: {error}") from None
        dims = query.get("dims", str(DIMS.default))
        if dims not in DIMS_TEXT:
            raise CompareError(f"The link's dims is 2 or 3 (2-D or 3-D maps); got {dims[:40]!r}.")
        return cls(
            query["dataset"],
            panels,
            query.get("split", "train"),
            sample,
            follow,
            k,
            query.get("reduction") or AUTO,
            int(dims),
        )

    def with_panels(self, panels: Iterable[Panel]) -> CompareView:
        """The same view with other panels."""
        return replace(self, panels=tuple(panels))


def is_compare_query(query: Mapping[str, str]) -> bool:
    """Whether URL query parameters describe a comparison (they name a panel)."""
    return bool(query.get(PANEL_KEYS[0]))


# Presets ----------------------------------------------------------------------


def all_layers(model: str, layers: Sequence[str], method: str = "function", reducer: str = "umap") -> list[Panel]:
    """Panels for a model's layers, input side first: the last :data:`MAX_PANELS` of ``layers``.

    Pass the layers worth a look (e.g. the weighted ones); fewer than two give one panel per layer
    and the caller adds another.
    """
    chosen = list(layers)[-MAX_PANELS:]
    return [Panel(model, layer, method, reducer) for layer in chosen]


def layer_series(model: keras.Model) -> list[str]:
    """The layers a comparison of one model opens on: its hidden layers, then its output, input side first.

    Read as the model's default layer is (:func:`featlib.models.choose_default_layer`): before the
    activation for a model laid out as the seed (``dense``, ``dense_1``, ``dense_2``), after it
    otherwise (``conv2d``, ``leaky_re_lu``, ``dense_1``).
    """
    before = models.hidden_layers(model, after_activation=False, output=True)
    if models.default_layer(model) in before:
        return before
    return models.hidden_layers(model, output=True)


def opening_panels(
    model_id: str, series: Sequence[str], n: int, method: str = "function", reducer: str = "umap"
) -> list[Panel]:
    """``n`` panels of one model for an empty editor: its last ``n`` hidden layers (:func:`layer_series`
    without the output), filled up with the output when it has fewer; never two identical panels
    unless the model has a single layer."""
    hidden, output = list(series[:-1]), list(series[-1:])
    chosen = (hidden[-n:] if len(hidden) >= n else hidden + output)[:n] or output
    chosen += [chosen[-1]] * (n - len(chosen))
    return [Panel(model_id, layer, method, reducer) for layer in chosen]


def checkpoints_of(records: Iterable, model_id: str) -> list:
    """The checkpoints saved while training ``model_id`` (records whose meta says so), by epoch."""
    found = [r for r in records if r.meta.get("checkpoint_of") == model_id and isinstance(r.meta.get("epoch"), int)]
    return sorted(found, key=lambda r: r.meta["epoch"])


def final_model_of(records: Iterable, model_id: str) -> str:
    """The trained model a checkpoint belongs to, or ``model_id`` itself when it is no checkpoint."""
    for r in records:
        if r.id == model_id:
            return r.meta.get("checkpoint_of") or model_id
    return model_id


def across_checkpoints(
    records: Sequence, model_id: str, layer: str, method: str = "function", reducer: str = "umap"
) -> list[Panel]:
    """One layer across a training: its checkpoints by epoch, then the trained model.

    With more than :data:`MAX_PANELS` - 1 checkpoints the first ones are kept
    (epoch 1 against the end is the usual question).

    Raises:
        CompareError: when the model has no checkpoint, naming how to get some.
    """
    final = final_model_of(records, model_id)
    checkpoints = checkpoints_of(records, final)
    if not checkpoints:
        names = {r.id: r.name for r in records}
        raise CompareError(
            f"{names.get(final, final)} has no checkpoints; train it with 'Save checkpoints after epoch' "
            "(e.g. '1, 5') to compare its layers across epochs."
        )
    ids = [r.id for r in checkpoints[: MAX_PANELS - 1]] + [final]
    return [Panel(i, layer, method, reducer) for i in ids]


def both_methods(model: str, layer: str, reducer: str = "umap") -> list[Panel]:
    """The backend function against the functional sub-model, on one layer."""
    return [Panel(model, layer, method, reducer) for method in METHODS]


# Linked selection ------------------------------------------------------------


@dataclass
class SelectionState:
    """What :func:`linked_selection` remembers between reruns."""

    selected: tuple[int, ...] = ()
    seen: dict[str, tuple[int, ...]] = field(default_factory=dict)


def linked_selection(state: SelectionState, current: Mapping[str, Iterable[int]]) -> SelectionState:
    """The selection shown in every panel after a rerun.

    ``current`` holds each panel's own selection (dataset indices) as its chart
    reports it now. A panel whose selection is new and not empty since the last
    call takes over; a panel that merely lost its selection (a chart redrawn
    with new highlights forgets it) changes nothing. Clearing is done by the
    caller, with ``SelectionState()``.
    """
    current = {key: tuple(sorted({int(i) for i in points})) for key, points in current.items()}
    selected = state.selected
    for key, points in current.items():
        if points and points != state.seen.get(key):
            selected = points
    return SelectionState(selected, current)


def indices_from_points(points: Iterable[Mapping], traces: Sequence[Sequence[int]] | None = None) -> list[int]:
    """Dataset indices of the points of a chart selection, as Streamlit reports them.

    Args:
        points: each with ``curve_number`` and ``point_index`` and, from
            plotly, ``customdata`` (a list, or for typed arrays an object keyed
            ``"0"``, ``"1"``, ...) whose first value is the dataset index.
        traces: the dataset index of every point of each trace of the figure
            the selection was made on; preferred when given.
    """
    chosen = []
    for p in points:
        curve, point = p.get("curve_number"), p.get("point_index")
        if traces is not None and curve is not None and point is not None:
            if 0 <= curve < len(traces) and 0 <= point < len(traces[curve]):
                chosen.append(int(traces[curve][point]))
            continue
        custom = p.get("customdata")
        first = custom.get("0") if isinstance(custom, dict) else (custom[0] if custom else None)
        if first is not None:
            chosen.append(int(first))
    return chosen
