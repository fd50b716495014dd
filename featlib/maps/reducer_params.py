"""Every reducer's parameters, once: one constraint table per reducer, and the sample sizes of the pages and the CLI.

Each parameter has a rule, in the style of scikit-learn's ``_param_validation``
(``Interval(int, 2, 200, closed="both")``, ``Options(("auto", ...))``), a
default, a widget step and a help line. From these tables come:

- the parameter objects' checks (:class:`featlib.maps.embed.UMAPParams` and
  ``TSNEParams``: their defaults and :meth:`Param.check`);
- the Explore page's widgets (min, max, step, default:
  :func:`featlib.app.links.widget_range`, :mod:`featlib.app.maps`);
- the link parser's bounds (:data:`featlib.share.views.LINK_RANGES`);
- the CLI's options (``featlib embed --n-neighbors ...``: :func:`cli_type`
  refuses a value past a bound, :meth:`Param.cli_help` says the range);
- the points one map job may take (:data:`Reducer.max_points`, the default of
  :mod:`featlib.jobs.limits`' ``reduce:<name>`` limits).

This module imports nothing from featlib.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass

from featlib.errors import ReducerError

MAP_SAMPLE = 10_000
"""Points (a label-stratified sample) of a UMAP or PCA map: the Explore page's default, ``featlib embed`` and
``featlib precompute --sample``, a link without ``sample``."""
TSNE_SAMPLE = 2_500
"""Points of a t-SNE map on the Explore page: what openTSNE maps in about the time of a default UMAP map
(:data:`MAP_SAMPLE` points) of the same data. On Fashion-MNIST, two cores, openTSNE mapped 2,534 and 3,378 points
in the time featlib's UMAP took for 10,000 (8.3 s and 16.3 s, two runs at two loads: ``python bench/tsne_study.py
--sizes 1000,1500,2000,3000 --sklearn-up-to 0``, docs/performance.md)."""
TSNE_MAX_POINTS = 50_000
"""The most points one t-SNE map job takes, inside the job's 600 s (:mod:`featlib.jobs.limits`) on a busy machine
too: on the 2-core machine openTSNE mapped 35,000 Fashion-MNIST images in 111 s and 70,000 in 145 s when it was
quiet, but 10,000 took 3 times as long when it was loaded, and an earlier measurement took 593 s for 70,000
(``python bench/tsne_study.py --sizes 35000,70000 --sklearn-up-to 0``, docs/performance.md)."""
LAYERS_SAMPLE = 2_000
"""Points of each layer's figure on the Layers page (one map per layer, so fewer than one map's)."""
SCORE_SAMPLE = 5_000
"""Points scored by the silhouette and the other sampled scores (:mod:`featlib.metrics`, ``featlib metrics
--sample``, a bundle's scores)."""
COMPARE_SAMPLE = 5_000
"""Points of each panel of the Compare page (two to four maps side by side)."""
MAP_METRICS_SAMPLE = 5_000
"""A map's figures on the Explore page (10-NN accuracy, trustworthiness, ...) are scored on at most this many of
its points, stratified."""

SEED_MAX = 2**31 - 1
"""Seeds are integers in ``[0, SEED_MAX]`` (NumPy refuses negative ones)."""
AUTO_METRIC = "auto"


@dataclass(frozen=True)
class Interval:
    """Numbers of ``kind`` (``int``: whole numbers) between ``low`` and ``high`` (``None``: unbounded).

    ``closed`` says which bounds belong to it: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def __contains__(self, value: object) -> bool:
        if not _is_number(value) or (self.kind is int and not float(value).is_integer()):
            return False
        left, right = self.closed in ("both", "left"), self.closed in ("both", "right")
        above = self.low is None or (value >= self.low if left else value > self.low)
        below = self.high is None or (value <= self.high if right else value < self.high)
        return bool(above and below)


@dataclass(frozen=True)
class Options:
    """One of ``choices`` (strings)."""

    choices: tuple[str, ...]

    def __contains__(self, value: object) -> bool:
        return value in self.choices


@dataclass(frozen=True)
class Param:
    """One reducer parameter: its rule, default and words.

    Attributes:
        name: the field of the parameter object and the link's query key (``"n_neighbors"``).
        rule: an :class:`Interval` or :class:`Options`.
        default: the parameter object's default (``None`` where ``none`` says what it means).
        help: one sentence for the CLI's ``--help`` and the pages.
        step: the Explore page's widget step (``None``: Streamlit's, 1 for whole numbers).
        none: where ``None`` is allowed, what it means (``"featlib's schedule"``); empty: not allowed.
        flag: the CLI's option (``"--seed"``); empty: the name with ``-`` for ``_``.
        wording: how a refusal says the range: ``"within"`` (``within [0, 1]``), ``"sides"`` (``at least 2`` or
            ``at most 200``, the side passed) or ``"between"`` (``at least 1 and at most 5,000``).
    """

    name: str
    rule: Interval | Options
    default: object
    help: str
    step: float | None = None
    none: str = ""
    flag: str = ""
    wording: str = "within"

    @property
    def low(self) -> float | None:
        """The least value (``None``: unbounded, or not a number)."""
        return self.rule.low if isinstance(self.rule, Interval) else None

    @property
    def high(self) -> float | None:
        """The greatest value (``None``: unbounded, or not a number)."""
        return self.rule.high if isinstance(self.rule, Interval) else None

    @property
    def whole(self) -> bool:
        """Whether the values are whole numbers."""
        return isinstance(self.rule, Interval) and self.rule.kind is int

    @property
    def option(self) -> str:
        """The CLI's option, e.g. ``--n-neighbors``."""
        return self.flag or "--" + self.name.replace("_", "-")

    def check(self, value: object) -> None:
        """Refuses ``value`` outside the rule.

        Raises:
            featlib.errors.ReducerError (a ValueError): naming the parameter, the rule and ``value`` ("n_neighbors must be at least 2; got 1").
        """
        if value is None and self.none:
            return
        if isinstance(self.rule, Options):
            if value not in self.rule:
                raise ReducerError(f"Unknown {self.name}: {value!r}. Choose one of {list(self.rule.choices)}.")
            return
        if self.whole and (isinstance(value, bool) or not _is_whole_type(value)):
            raise ReducerError(f"{self.name} must be a whole number; got {value!r} ({type(value).__name__})")
        if value not in self.rule:
            raise ReducerError(f"{self.name} must be {self.range_text(value)}; got {value}")

    def range_text(self, value: object = None) -> str:
        """The rule in words, as a refusal of ``value`` says it: ``within [0, 1]``, ``at least 2``."""
        none = f" (or None: {self.none})" if self.none else ""
        low, high = self.low, self.high
        if self.wording == "within" and low is not None and high is not None:
            return f"within [{_text(low)}, {_text(high)}]{none}"
        if self.wording == "between" and low is not None and high is not None:
            return f"at least {_text(low, ',')} and at most {_text(high, ',')}{none}"
        if high is None or (low is not None and _is_number(value) and value < low):
            return f"at least {_text(low)}{none}"
        return f"at most {_text(high)}{none}"

    def cli_help(self, more: str = "") -> str:
        """The CLI option's help: the help sentence, the range and the default (``more`` words after it)."""
        if isinstance(self.rule, Options):
            allowed = ""
        elif self.low is not None and self.high is not None:
            allowed = f"; {_text(self.low)} to {_text(self.high)}"
        else:
            allowed = f"; at least {_text(self.low)}"
        default = self.none if self.default is None else _text(self.default)
        return f"{self.help}{allowed} (default {default}{more})".replace("%", "%%")

    def parse(self, text: str) -> object:
        """``text`` (a CLI option's value) as a value of this parameter.

        Raises:
            featlib.errors.ReducerError (a ValueError): ``text`` is no such value, or lies outside the rule; the message names both.
        """
        if isinstance(self.rule, Options):
            value: object = text
        else:
            try:
                number = float(text)
            except ValueError:
                kind = "whole number" if self.whole else "number"
                raise ReducerError(f"{self.name} must be a {kind}; got {text!r}") from None
            if self.whole and number.is_integer():
                value = int(number)
            else:
                value = number
        self.check(value)
        return value


@dataclass(frozen=True)
class Reducer:
    """One reducer's constraint table and its bounds on points.

    Attributes:
        name: the short name in links and the CLI (``"umap"``).
        title: the name the pages show (``"UMAP"``).
        params: its parameters, in the parameter object's field order.
        sample: the Explore page's default sample size.
        min_points: the fewest points it maps with its smallest parameters.
        max_points: the most points one map job takes (:mod:`featlib.jobs.limits`;
            ``FEATLIB_LIMIT_REDUCE_<NAME>_POINTS`` overrides it).
    """

    name: str
    title: str
    params: tuple[Param, ...]
    sample: int
    min_points: int
    max_points: int

    def __getitem__(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(f"{self.title} has no parameter {name!r}; it has {[p.name for p in self.params]}.")

    def __iter__(self) -> Iterator[Param]:
        return iter(self.params)

    def check(self, params: object) -> None:
        """Refuses a parameter object with a field outside its rule (:meth:`Param.check`, in field order).

        Raises:
            ValueError: naming the first parameter refused, its rule and its value.
        """
        for param in self.params:
            param.check(getattr(params, param.name))


SEED = Param("random_state", Interval(int, 0, SEED_MAX), 42, "random seed", flag="--seed")
PCA_DIMS = Param(
    "pca_dims",
    Interval(int, 2, None),
    50,
    "representations wider than 100 units are first reduced to this many by PCA",
    none="never reduce first",
    wording="sides",
)

UMAP = Reducer(
    "umap",
    "UMAP",
    (
        Param(
            "n_neighbors",
            Interval(int, 2, 200),
            15,
            "UMAP's neighbours per point: more keeps more global structure",
            wording="sides",
        ),
        Param("min_dist", Interval(float, 0.0, 1.0), 0.1, "how tightly UMAP packs points together", step=0.05),
        Param(
            "metric",
            Options((AUTO_METRIC, "euclidean", "cosine", "manhattan", "correlation")),
            AUTO_METRIC,
            "UMAP's metric; auto: correlation for layers of 10 or more units, else euclidean",
        ),
        SEED,
        Param("n_epochs", Interval(int, 1, 5_000), None, "UMAP epochs", none="featlib's schedule", wording="between"),
        PCA_DIMS,
    ),
    sample=MAP_SAMPLE,
    min_points=4,
    max_points=100_000,
)
PCA = Reducer("pca", "PCA", (), sample=MAP_SAMPLE, min_points=2, max_points=100_000)
TSNE = Reducer(
    "tsne",
    "t-SNE",
    (
        Param("perplexity", Interval(float, 2.0, 100.0), 30.0, "t-SNE's effective number of neighbours", step=5.0),
        SEED,
        PCA_DIMS,
    ),
    sample=TSNE_SAMPLE,
    min_points=7,
    max_points=TSNE_MAX_POINTS,
)
TABLES: dict[str, Reducer] = {table.name: table for table in (UMAP, PCA, TSNE)}
"""Each reducer's table, by short name (the order of :data:`featlib.maps.embed.REDUCERS`)."""

DIMS = Param(
    "dims",
    Interval(int, 2, 3),
    2,
    "the map's dimensions: 2, or 3 for a map turned in 3-D (UMAP, PCA, t-SNE alike)",
)
"""A map's dimensions, shared by every reducer (a field of each parameter object, ``dims=3`` in links and keys only
when 3, so every 2-D key and link stays as it was)."""
DIMS_TEXT = tuple(str(d) for d in range(int(DIMS.low), int(DIMS.high) + 1))
"""A map's dimensions as a link writes them (``"2"``, ``"3"``): the only texts a link's ``dims`` may hold (``"3.0"``,
``" 3"`` or ``"3d"`` are none), on Explore's links and Compare's alike."""

SAMPLE = Param("sample", Interval(int, 1, None), MAP_SAMPLE, "label-stratified sample size", step=500, wording="sides")
"""The sample size a link or the CLI may ask for, whatever the data (the pages narrow it to the data)."""


def param(name: str) -> Param:
    """The parameter ``name`` of any reducer (``random_state`` and ``pca_dims`` are shared), :data:`SAMPLE` or
    :data:`DIMS`.

    Raises:
        KeyError: no reducer has such a parameter.
    """
    if name == SAMPLE.name:
        return SAMPLE
    if name == DIMS.name:
        return DIMS
    for table in TABLES.values():
        for candidate in table.params:
            if candidate.name == name:
                return candidate
    raise KeyError(f"No reducer parameter {name!r}.")


def cli_type(spec: Param):
    """An argparse ``type=`` for ``spec``: parses the option's text, refusing a value outside the table's rule.

    Raises (when argparse calls it):
        argparse.ArgumentTypeError: the value is no number, or lies outside the rule; argparse prints it.
    """

    def parse(text: str) -> object:
        try:
            return spec.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = spec.name
    return parse


def _is_number(value: object) -> bool:
    try:
        return not isinstance(value, (bool, str)) and math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _is_whole_type(value: object) -> bool:
    return isinstance(value, numbers.Integral)


def _text(value: object, sep: str = "") -> str:
    """``15``, ``0.1``, ``2147483647`` (``2,147,483,647`` with ``sep=","``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if sep else str(value)
    return f"{value:g}" if isinstance(value, float) else str(value)
