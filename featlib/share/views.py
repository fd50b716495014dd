"""A view of the Explore page as plain data, and its URL query form.

A :class:`View` names everything that makes a map and what is shown on it:
model, dataset, split, layer, method, the reduction of a layer with spatial
axes, sample, the reducer and its parameters, the colouring, the class contours
(on or off), the map's dimensions (``dims=3`` for a 3-D map, only then) and the selected points. ``to_query`` and ``from_query`` turn it into URL query parameters and
back, so a link reopens the same view. Links made before the reducer,
colouring, selection and reduction were carried still open (as UMAP, coloured
by label, nothing selected, the layer's default reduction ``auto``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from featlib.datasets import SPLITS
from featlib.errors import ReducerError, ViewError
from featlib.maps import reducer_params
from featlib.maps.embed import METRICS, REDUCERS, ReducerParams, UMAPParams, reducer_name
from featlib.maps.seed_stability import MAX_SEEDS, MIN_SEEDS, StabilityFigures
from featlib.plots import COLOUR_MODES
from featlib.read.extract import METHODS
from featlib.read.reductions import AUTO, CHOICES

MAX_LINK_SELECTION = 1_000
"""At most this many selected points travel in a link (the first, by index)."""
FINGERPRINT = re.compile(r"[0-9a-f]{16}")
"""A model's fingerprint as a link pins it (``model_fp``, :func:`featlib.models.fingerprint`)."""
LINK_RANGES: dict[str, tuple[float | None, float | None]] = {
    spec.name: (spec.low, spec.high)
    for spec in (*(p for table in reducer_params.TABLES.values() for p in table), reducer_params.SAMPLE)
    if isinstance(spec.rule, reducer_params.Interval)
}
"""The values a link may ask for, whatever the data (the pages narrow them to the data: see :func:`read_link`);
from the reducers' tables, :mod:`featlib.maps.reducer_params`."""
LINK_RANGES["seeds"] = (MIN_SEEDS, MAX_SEEDS)
DIMS, DIMS_TEXT = reducer_params.DIMS, reducer_params.DIMS_TEXT
SWITCH = ("off", "on")
"""The values of a link's on/off display option (``contours``)."""
PLACED = re.compile(r"split|dataset:[a-z0-9_]{1,40}|dataset:upload:[0-9a-f]{8,64}")
"""What a link may ask to place on the map (``placed=``): the other split, or a dataset by its key (a built-in
name, or ``upload:<fingerprint>``), as the Explore page's "Place on this map" offers them."""


@dataclass(frozen=True)
class View:
    """What the Explore page shows.

    ``params`` is the reducer's parameter object (``UMAPParams``,
    ``PCAParams`` or ``TSNEParams``); ``selection`` holds dataset indices;
    ``reduction`` a key of :data:`featlib.read.reductions.CHOICES` (``auto``: the
    layer's default, see :func:`featlib.read.reductions.default_reduction`).
    ``model`` is the model's workspace id (ids are looked up before names);
    ``fingerprint``, when set, pins the model the view was made with
    (``model_fp`` in the link): opening it with another model under that id
    is refused (:meth:`featlib.store.Workspace.get_model`). ``contours``: each class's density contour and a
    label at its centre with its purity drawn on the map (:func:`featlib.plots.class_contours`; ``contours=on``).
    """

    model: str
    dataset: str
    layer: str
    method: str = "function"
    split: str = "train"
    sample: int | None = reducer_params.MAP_SAMPLE
    params: ReducerParams = UMAPParams()
    colour: str = "label"
    selection: tuple[int, ...] = ()
    reduction: str = AUTO
    fingerprint: str = ""
    contours: bool = False
    placed: str = ""
    """What is placed on the map (:mod:`featlib.app.placed_map`): ``""`` nothing, ``"split"`` the other split,
    ``"dataset:<key>"`` another dataset (``placed=…`` in the link, only when set)."""
    seeds: int = 0
    """How many seeds the map is compared over (:mod:`featlib.maps.seed_stability`); 0: not compared
    (``seeds=…`` in the link, only when set)."""
    stability: StabilityFigures | None = None
    """The map's seed stability figures as computed when the view was shared (``stability=5,0.1200,…`` in the
    link, :meth:`featlib.maps.seed_stability.StabilityFigures.to_text`); ``None``: not computed. Links without
    it open as before."""

    def __post_init__(self) -> None:
        if self.fingerprint and not FINGERPRINT.fullmatch(self.fingerprint):
            raise ViewError(
                f"A link's model_fp is a model fingerprint of 16 hexadecimal digits; got {self.fingerprint[:40]!r}."
            )
        if self.colour not in COLOUR_MODES:
            raise ViewError(f"Unknown colouring: {self.colour!r}. Expected one of {list(COLOUR_MODES)}.")
        if self.reduction not in CHOICES:
            raise ViewError(f"Unknown reduction: {self.reduction!r}. Expected one of {list(CHOICES)}.")
        object.__setattr__(self, "selection", tuple(sorted({int(i) for i in self.selection}))[:MAX_LINK_SELECTION])

    @property
    def reducer(self) -> str:
        """The reducer's short name: ``"umap"``, ``"pca"`` or ``"tsne"``."""
        return reducer_name(self.params)

    def to_query(self) -> dict[str, str]:
        """The view as URL query parameters (strings).

        The reducer's own parameters go under their names (``n_neighbors``,
        ``perplexity``, ...); colour, selection, reduction and ``dims`` (``3``
        for a 3-D map) only when not the defaults.
        """
        query = {
            "model": self.model,
            "dataset": self.dataset,
            "layer": self.layer,
            "method": self.method,
            "split": self.split,
            "sample": "all" if self.sample is None else str(self.sample),
            "reducer": self.reducer,
        }
        for name, value in asdict(self.params).items():
            if name == DIMS.name and value == DIMS.default:  # a 2-D map's link as it always was
                continue
            query[name] = "none" if value is None else str(value)
        if self.colour != "label":
            query["colour"] = self.colour
        if self.selection:
            query["selection"] = ",".join(map(str, self.selection))
        if self.reduction != AUTO:
            query["reduction"] = self.reduction
        if self.fingerprint:
            query["model_fp"] = self.fingerprint
        if self.stability is not None:
            query["stability"] = self.stability.to_text()
        if self.contours:
            query["contours"] = "on"
        if self.placed:
            query["placed"] = self.placed
        if self.seeds:
            query["seeds"] = str(self.seeds)
        return query

    @classmethod
    def from_query(cls, query: dict[str, str]) -> View:
        """Reads a view from URL query parameters; missing ones take their defaults.

        Raises:
            ViewError: naming the parameter that is missing or malformed.
        """
        missing = [k for k in ("model", "dataset", "layer") if not query.get(k)]
        if missing:
            raise ViewError(f"The link lacks {', '.join(missing)}; it does not name a view.")
        method = query.get("method", "function")
        split = query.get("split", "train")
        reducer = query.get("reducer", "umap")
        if method not in METHODS:
            raise ViewError(f"Unknown method in the link: {method!r}. Expected one of {list(METHODS)}.")
        if split not in SPLITS:
            raise ViewError(f"Unknown split in the link: {split!r}. Expected one of {list(SPLITS)}.")
        if reducer not in REDUCERS:
            raise ViewError(f"Unknown reducer in the link: {reducer!r}. Expected one of {list(REDUCERS)}.")
        colour = query.get("colour", "label")
        if colour not in COLOUR_MODES:
            raise ViewError(f"Unknown colouring in the link: {colour!r}. Expected one of {list(COLOUR_MODES)}.")
        reduction = query.get("reduction") or AUTO
        if reduction not in CHOICES:
            raise ViewError(f"Unknown reduction in the link: {reduction!r}. Expected one of {list(CHOICES)}.")
        contours = query.get("contours", "off")
        if contours not in SWITCH:
            raise ViewError(f"The link's contours is on or off; got {contours[:40]!r}.")
        try:
            params = _params_from_query(REDUCERS[reducer], query)
            sample = None if query.get("sample", "all") == "all" else int(query["sample"])
            if sample is not None and sample < 1:
                raise ValueError(f"sample must be at least 1 or 'all'; got {sample}")
        except ValueError as error:
            raise ViewError(f"The link's parameters are invalid: {error}") from None
        selection = _selection_from_query(query.get("selection", ""))
        placed = query.get("placed", "")
        if placed and not PLACED.fullmatch(placed):
            raise ViewError(
                "The link's placed is split or dataset:<a dataset's key> (what the Explore page places on the map); "
                f"got {placed[:60]!r}."
            )
        seeds = query.get("seeds", "0")
        if not seeds.isdigit() or (int(seeds) and not MIN_SEEDS <= int(seeds) <= MAX_SEEDS):
            raise ViewError(
                f"The link's seeds is a number of seeds from {MIN_SEEDS} to {MAX_SEEDS}; got {seeds[:40]!r}."
            )
        stability = None
        if query.get("stability"):
            try:
                stability = StabilityFigures.from_text(query["stability"])
            except ValueError as error:
                raise ViewError(f"The link's stability is invalid: {error}") from None
        return cls(
            query["model"],
            query["dataset"],
            query["layer"],
            method,
            split,
            sample,
            params,
            colour,
            selection,
            reduction,
            query.get("model_fp", ""),
            contours=contours == "on",
            placed=placed,
            seeds=int(seeds),
            stability=stability,
        )


def _params_from_query(cls: type, query: dict[str, str]) -> ReducerParams:
    values: dict = {}
    for f in fields(cls):
        raw = query.get(f.name)
        if raw is None:
            continue
        if f.name == DIMS.name and raw not in DIMS_TEXT:  # strict: "3.0", " 3" or "3d" are no dims
            raise ReducerError(f"dims must be 2 or 3 (a 2-D or a 3-D map); got {raw[:40]!r}")
        spec = reducer_params.param(f.name)
        parse = str if isinstance(spec.rule, reducer_params.Options) else int if spec.whole else float
        try:
            values[f.name] = None if raw == "none" else parse(raw)
        except ValueError:
            raise ViewError(f"The link's {f.name}={raw!r} is not a number.") from None
    return cls(**values)


def _selection_from_query(raw: str) -> tuple[int, ...]:
    parts = [part for part in raw.split(",") if part.strip()]
    if len(parts) > MAX_LINK_SELECTION:
        raise ViewError(f"The link selects {len(parts):,} points; a link carries at most {MAX_LINK_SELECTION:,}.")
    try:
        selection = tuple(int(part) for part in parts)
    except ValueError:
        raise ViewError(f"The link's selection must be point indices like '3,17,42'; got {raw[:60]!r}.") from None
    if any(i < 0 for i in selection):
        raise ViewError(f"The link's selection must be non-negative point indices; got {raw[:60]!r}.")
    return selection


@dataclass(frozen=True)
class Replaced:
    """A value a link asked for that could not be used, and the value used instead.

    ``message`` says both: ``"The link asked for n_neighbors=100000;
    n_neighbors is at most 200 — using 200."`` (the Explore page words it
    for the data: "at most 200 are allowed for 1,797 points").
    """

    name: str
    asked: str
    used: str
    reason: str

    @property
    def message(self) -> str:
        """One sentence naming the parameter, the value asked for, why it cannot be used, and the value used."""
        asked = self.asked if len(self.asked) <= 60 else self.asked[:57] + "..."
        return f"The link asked for {self.name}={asked}; {self.reason} — using {self.used}."


def number_text(value: float) -> str:
    """``value`` as a link writes it: ``15``, ``0.25``, ``2147483647``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _number(raw: str, whole: bool) -> float | None:
    """``raw`` as a finite number (whole when ``whole``); ``None`` when it is not one."""
    try:
        value = float(raw)
    except ValueError:
        return None
    if not math.isfinite(value) or (whole and not value.is_integer()):
        return None
    return value


def read_link(query: Mapping[str, str]) -> tuple[View, dict[str, Replaced]]:
    """A link's view with every value it cannot have replaced, and what was replaced, by parameter.

    :meth:`View.from_query` is strict (bundles and ``featlib export`` refuse
    a bad value); a link opens what it can instead, and the page names each
    value it did not use: an unknown method, split, reducer, colouring,
    reduction, metric or dims takes its default; a number out of
    :data:`LINK_RANGES` takes the nearest bound; a number that is no number,
    its default; selection indices that are no indices are dropped. The pages
    narrow the ranges further to the data (``n_neighbors`` below the number
    of points, the layer among the model's) and say so the same way.

    Args:
        query: the URL's query parameters.

    Returns:
        ``(view, replaced)``: ``replaced`` maps a parameter's name to its
        :class:`Replaced` (empty when the link was used as written).

    Raises:
        ViewError: a link without model, dataset or layer (nothing to open).
    """
    query = {str(k): str(v) for k, v in query.items()}
    replaced: dict[str, Replaced] = {}

    def use(name: str, value: object, reason: str) -> None:
        replaced[name] = Replaced(name, query.get(name, ""), str(value), reason)
        query[name] = str(value)

    choices = (
        ("method", list(METHODS), "function"),
        ("split", list(SPLITS), "train"),
        ("reducer", list(REDUCERS), "umap"),
        ("colour", list(COLOUR_MODES), "label"),
        ("reduction", list(CHOICES), AUTO),
        ("contours", list(SWITCH), "off"),
    )
    for name, allowed, default in choices:
        if name in query and query[name] not in allowed:  # an empty value too (reducer= left REDUCERS[''])
            use(name, default, f"expected one of {', '.join(allowed)}")
    cls = REDUCERS[query.get("reducer", "umap")]
    defaults = asdict(cls())
    for f in fields(cls):
        raw, default = query.get(f.name), defaults[f.name]
        if raw is None:
            continue
        if f.name == DIMS.name:
            if raw not in DIMS_TEXT:
                use(f.name, default, "expected 2 or 3 (a 2-D or a 3-D map)")
            continue
        if f.name == "metric":
            if raw not in METRICS:
                use(f.name, default, f"expected one of {', '.join(METRICS)}")
            continue
        spec = reducer_params.param(f.name)
        if raw == "none" and spec.none:
            continue
        whole = spec.whole
        value = _number(raw, whole)
        if value is None:
            use(
                f.name,
                "none" if default is None else default,
                "expected a whole number" if whole else "expected a number",
            )
            continue
        query[f.name] = number_text(value) if whole else raw  # 15.0 is 15
        _fit(f.name, value, use)
    raw_sample = query.get("sample", "all")
    if raw_sample != "all":
        value = _number(raw_sample, whole=True)
        if value is None:
            use("sample", View.sample, "expected a number of points or 'all'")
        else:
            query["sample"] = number_text(value)
            _fit("sample", value, use)
    parts = [part.strip() for part in query.get("selection", "").split(",") if part.strip()]
    kept = [part for part in parts if part.isdigit()]
    if len(kept) < len(parts):
        dropped = [part for part in parts if not part.isdigit()]
        replaced["selection"] = Replaced(
            "selection",
            ",".join(parts[:10]) + ("..." if len(parts) > 10 else ""),
            f"the {len(kept):,} point indices among them",
            f"{', '.join(repr(d) for d in dropped[:5])} are no point indices",
        )
    if len(kept) > MAX_LINK_SELECTION:
        replaced["selection"] = Replaced(
            "selection",
            f"{len(kept):,} points",
            f"the first {MAX_LINK_SELECTION:,}",
            f"a link carries at most {MAX_LINK_SELECTION:,}",
        )
        kept = sorted(set(kept), key=int)[:MAX_LINK_SELECTION]
    if parts:
        query["selection"] = ",".join(kept)
    if query.get("placed") and not PLACED.fullmatch(query["placed"]):  # nothing placed: the map itself opens
        replaced["placed"] = Replaced("placed", query.pop("placed")[:60], "nothing", "expected split or dataset:<key>")
    if "seeds" in query:
        value = _number(query["seeds"], whole=True)
        if value is None:
            replaced["seeds"] = Replaced("seeds", query.pop("seeds")[:40], "no comparison", "expected a whole number")
        elif value == 0:
            query["seeds"] = "0"
        else:
            query["seeds"] = number_text(value)
            _fit("seeds", value, use)
    if "stability" in query:
        try:
            StabilityFigures.from_text(query["stability"])
        except ValueError as error:  # figures that do not read are left out, saying so: the map itself opens
            replaced["stability"] = Replaced("stability", query.pop("stability"), "no figures", str(error))
    return View.from_query(query), replaced


def _fit(name: str, value: float, use) -> None:
    """Replaces ``value`` of parameter ``name`` by the nearest bound of :data:`LINK_RANGES` when it lies outside."""
    low, high = LINK_RANGES.get(name, (None, None))
    if low is not None and value < low:
        use(name, number_text(low), f"{name} is at least {number_text(low)}")
    elif high is not None and value > high:
        use(name, number_text(high), f"{name} is at most {number_text(high)}")
