"""A view of the Explore page as plain data, and its URL query form.

A :class:`View` names everything that makes a map and what is shown on it:
model, dataset, split, layer, method, the reduction of a layer with spatial
axes, sample, the reducer and its parameters, the colouring and the selected
points. ``to_query`` and ``from_query`` turn it into URL query parameters and
back, so a link reopens the same view. Links made before the reducer,
colouring, selection and reduction were carried still open (as UMAP, coloured
by label, nothing selected, the layer's default reduction ``auto``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from featlib.embed import REDUCERS, ReducerParams, UMAPParams, reducer_name
from featlib.extract import METHODS
from featlib.plots import COLOUR_MODES
from featlib.reductions import AUTO, CHOICES

SPLITS = ("train", "test")
MAX_LINK_SELECTION = 1_000
"""At most this many selected points travel in a link (the first, by index)."""
_PARSERS = {"metric": str, "min_dist": float, "perplexity": float}


class ViewError(ValueError):
    """A link whose query parameters do not describe a view."""


@dataclass(frozen=True)
class View:
    """What the Explore page shows.

    ``params`` is the reducer's parameter object (``UMAPParams``,
    ``PCAParams`` or ``TSNEParams``); ``selection`` holds dataset indices;
    ``reduction`` a key of :data:`featlib.reductions.CHOICES` (``auto``: the
    layer's default, see :func:`featlib.reductions.default_reduction`).
    """

    model: str
    dataset: str
    layer: str
    method: str = "function"
    split: str = "train"
    sample: int | None = 10_000
    params: ReducerParams = UMAPParams()
    colour: str = "label"
    selection: tuple[int, ...] = ()
    reduction: str = AUTO

    def __post_init__(self) -> None:
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
        ``perplexity``, ...); colour, selection and reduction only when not
        the defaults.
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
            query[name] = "none" if value is None else str(value)
        if self.colour != "label":
            query["colour"] = self.colour
        if self.selection:
            query["selection"] = ",".join(map(str, self.selection))
        if self.reduction != AUTO:
            query["reduction"] = self.reduction
        return query

    @classmethod
    def from_query(cls, query: dict[str, str]) -> "View":
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
        try:
            params = _params_from_query(REDUCERS[reducer], query)
            sample = None if query.get("sample", "all") == "all" else int(query["sample"])
            if sample is not None and sample < 1:
                raise ValueError(f"sample must be at least 1 or 'all'; got {sample}")
        except ValueError as error:
            raise ViewError(f"The link's parameters are invalid: {error}") from None
        selection = _selection_from_query(query.get("selection", ""))
        return cls(query["model"], query["dataset"], query["layer"], method, split, sample, params, colour, selection,
                   reduction)  # fmt: skip


def _params_from_query(cls: type, query: dict[str, str]) -> ReducerParams:
    values: dict = {}
    for f in fields(cls):
        raw = query.get(f.name)
        if raw is None:
            continue
        parse = _PARSERS.get(f.name, int)
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

