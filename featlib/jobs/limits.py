"""One rule for how big and how long each kind of job may be: pages, links and the CLI all ask here.

Every limit is a setting: ``FEATLIB_LIMIT_<NAME>_POINTS`` and
``FEATLIB_LIMIT_<NAME>_SECONDS`` (``NAME`` upper-cased, ``:`` as ``_``, so
``FEATLIB_LIMIT_REDUCE_TSNE_POINTS``), and ``FEATLIB_LIMIT_EXTRACT_MB`` for
the size of a layer's outputs, each a row of :data:`featlib.settings.SETTINGS`
read when the limit is asked for. The points of one map come from the
reducer's table (:attr:`featlib.maps.reducer_params.Reducer.max_points`). Sizes are checked before a job is submitted
(:func:`check_size`); times by the :class:`~featlib.jobs.JobManager`, which
stops a job past its time (the worker running it is restarted).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from featlib import settings
from featlib.errors import SettingError
from featlib.jobs.spec import JobLimitError
from featlib.maps import reducer_params


@dataclass(frozen=True)
class Limit:
    """The most a job of one kind may ask for.

    Attributes:
        what: the work in words, for messages ("a t-SNE map").
        max_points: the most points (images, rows) it may take; ``None``: no bound.
        max_seconds: wall-clock seconds from its start on a worker.
        max_mb: the most MiB its result may hold; ``None``: no bound.
        hint: what to do instead, for the refusal message.
        lost: the message when the worker running it dies (``{memory}``: a
            worker's memory limit); empty: the general one.
    """

    what: str
    max_points: int | None
    max_seconds: float
    max_mb: float | None = None
    hint: str = ""
    lost: str = ""


_DEFAULTS: dict[str, Limit] = {
    "train": Limit("training", 100_000, 1_800, hint="Train on fewer images."),
    "upload": Limit(
        "checking an uploaded model",
        None,
        300,
        lost="loading it needs more memory than a worker's limit ({memory}), so it is refused. "
        "Nothing was stored; the server and every other session carry on.",
    ),
    "bundle": Limit("checking a bundle", None, 300),
    "extract": Limit(
        "reading a layer's outputs",
        100_000,
        600,
        max_mb=4_096,
        hint="Pick a smaller layer (a pooled or dense one), read a convolutional layer by global average "
        "or max pooling (reduction gap or gmp), or use the test split.",
    ),
    "extract_all": Limit("reading every layer", 10_000, 600, max_mb=4_096, hint="Use a smaller sample."),
    "compare_methods": Limit("comparing the two methods", 100_000, 600),
    "predict": Limit("predicting labels", 100_000, 600),
    "reduce:umap": Limit("a UMAP map", reducer_params.UMAP.max_points, 900, hint="Use a smaller sample."),
    "reduce:pca": Limit("a PCA map", reducer_params.PCA.max_points, 120, hint="Use a smaller sample."),
    "reduce:tsne": Limit(
        "a t-SNE map",
        reducer_params.TSNE.max_points,
        600,
        hint="t-SNE (openTSNE, one core) takes minutes past 35,000 points: use UMAP, or a sample of at most the limit.",
    ),
    "metrics": Limit("scoring a map", 100_000, 300),
    "warm_up": Limit("warming up umap-learn", None, 600),
}


def _setting(name: str, what: str) -> float | None:
    """Setting ``FEATLIB_LIMIT_<NAME>_<WHAT>`` (:func:`featlib.settings.get`); ``None`` when unset.

    Raises:
        JobLimitError: it holds no positive number (the message names it, the rule and the value).
    """
    try:
        return settings.get(settings.limit_setting(name, what))
    except SettingError as error:
        raise JobLimitError(str(error)) from None


def limit(name: str) -> Limit:
    """The limit called ``name`` (a key of :data:`LIMITS`), with its settings from the environment applied.

    Raises:
        KeyError: ``name`` is not a known limit (the message lists them).
    """
    if name not in _DEFAULTS:
        raise KeyError(f"No such job limit: {name!r}. Known limits are: {sorted(_DEFAULTS)}")
    base = _DEFAULTS[name]
    points, seconds, mb = _setting(name, "POINTS"), _setting(name, "SECONDS"), _setting(name, "MB")
    return replace(
        base,
        max_points=int(points) if points is not None else base.max_points,
        max_seconds=seconds if seconds is not None else base.max_seconds,
        max_mb=mb if mb is not None else base.max_mb,
    )


LIMITS = tuple(_DEFAULTS)
"""The names of the limits, one per kind of job (``reduce`` per reducer)."""


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def check_size(name: str, points: int, result_bytes: int | None = None) -> None:
    """Refuses a job that asks for more than its limit, before anything runs.

    Args:
        name: the limit's name, e.g. ``"reduce:tsne"``.
        points: how many points (images, rows) the job would take.
        result_bytes: how many bytes its result would hold, when known.

    Raises:
        JobLimitError: naming the limit, what was asked, and what to do instead.
    """
    rule = limit(name)
    if rule.max_points is not None and points > rule.max_points:
        raise JobLimitError(
            f"{_sentence(rule.what)} is limited to {rule.max_points:,} points on this server; "
            f"this one asks for {points:,}. {rule.hint}".strip()
        )
    if rule.max_mb is not None and result_bytes is not None and result_bytes > rule.max_mb * 2**20:
        raise JobLimitError(
            f"{_sentence(rule.what)} is limited to results of {rule.max_mb:,.0f} MiB on this server; "
            f"this one would hold {result_bytes / 2**20:,.0f} MiB. {rule.hint}".strip()
        )
