"""A view of the Explore page as plain data, and its URL query form.

A :class:`View` names everything that makes a map: model, dataset, split,
layer, method, sample and UMAP parameters. ``to_query`` and ``from_query``
turn it into URL query parameters and back, so a link reopens the same map.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from featlib.embed import UMAPParams
from featlib.extract import METHODS

SPLITS = ("train", "test")


class ViewError(ValueError):
    """A link whose query parameters do not describe a view."""


@dataclass(frozen=True)
class View:
    """What the Explore page shows."""

    model: str
    dataset: str
    layer: str
    method: str = "function"
    split: str = "train"
    sample: int | None = 10_000
    umap: UMAPParams = field(default_factory=UMAPParams)

    def to_query(self) -> dict[str, str]:
        """The view as URL query parameters (strings)."""
        query = {
            "model": self.model,
            "dataset": self.dataset,
            "layer": self.layer,
            "method": self.method,
            "split": self.split,
            "sample": "all" if self.sample is None else str(self.sample),
        }
        for name, value in asdict(self.umap).items():
            query[name] = "none" if value is None else str(value)
        return query

    @classmethod
    def from_query(cls, query: dict[str, str]) -> "View":
        """Reads a view from URL query parameters.

        Raises:
            ViewError: naming the parameter that is missing or malformed.
        """
        missing = [k for k in ("model", "dataset", "layer") if not query.get(k)]
        if missing:
            raise ViewError(f"The link lacks {', '.join(missing)}; it does not name a view.")
        method = query.get("method", "function")
        split = query.get("split", "train")
        if method not in METHODS:
            raise ViewError(f"Unknown method in the link: {method!r}. Expected one of {list(METHODS)}.")
        if split not in SPLITS:
            raise ViewError(f"Unknown split in the link: {split!r}. Expected one of {list(SPLITS)}.")
        umap_values: dict = {}
        for f in fields(UMAPParams):
            raw = query.get(f.name)
            if raw is None:
                continue
            parse = {"metric": str, "min_dist": float}.get(f.name, int)
            try:
                umap_values[f.name] = None if raw == "none" else parse(raw)
            except ValueError:
                raise ViewError(f"The link's {f.name}={raw!r} is not a number.") from None
        try:
            umap = UMAPParams(**umap_values)
            sample = None if query.get("sample", "all") == "all" else int(query["sample"])
        except ValueError as error:
            raise ViewError(f"The link's parameters are invalid: {error}") from None
        return cls(query["model"], query["dataset"], query["layer"], method, split, sample, umap)
