"""One constraint table per reducer (featlib.maps.reducer_params): the parameter objects, the Explore page's widgets, the
link parser, the CLI's options and the job limits all take their bounds and defaults from it."""

from __future__ import annotations

import pytest

from featlib import cli
from featlib.app import links
from featlib.jobs import limits
from featlib.maps import embed, reducer_params
from featlib.maps.reducer_params import TABLES, Interval, Options
from featlib.share.views import LINK_RANGES, View, read_link

BOUNDED = [(table.name, spec) for table in TABLES.values() for spec in table if isinstance(spec.rule, Interval)]
IDS = [f"{reducer}-{spec.name}" for reducer, spec in BOUNDED]
CLI_PARAMS = ("n_neighbors", "min_dist", "metric", "random_state", "n_epochs")


def past(spec, side: str) -> float:
    """A value just past the ``side`` bound of ``spec``."""
    step = 1 if spec.whole else 0.01
    return spec.low - step if side == "low" else spec.high + step


def text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def test_the_parameter_objects_take_the_tables_defaults():
    for name, table in TABLES.items():
        made = embed.REDUCERS[name]()
        assert {spec.name: getattr(made, spec.name) for spec in table} == {spec.name: spec.default for spec in table}
        assert embed.MIN_POINTS[name] == table.min_points and embed.REDUCER_TITLES[name] == table.title
    assert embed.METRICS == reducer_params.UMAP["metric"].rule.choices
    assert links.DEFAULT_SAMPLES == {name: table.sample for name, table in TABLES.items()}


@pytest.mark.parametrize("reducer, spec", BOUNDED, ids=IDS)
def test_the_parameter_objects_refuse_past_the_tables_bounds(reducer, spec):
    cls = embed.REDUCERS[reducer]
    for side in ("low", "high"):
        bound = getattr(spec, side)
        if bound is None:
            continue
        cls(**{spec.name: spec.rule.kind(bound)})
        with pytest.raises(ValueError, match=spec.name):
            cls(**{spec.name: spec.rule.kind(past(spec, side))})


@pytest.mark.parametrize("reducer, spec", BOUNDED, ids=IDS)
def test_a_link_value_past_the_tables_bound_is_replaced_and_one_at_it_is_used(reducer, spec):
    assert LINK_RANGES[spec.name] == (spec.low, spec.high)
    query = View("m", "digits", "dense_1", params=embed.REDUCERS[reducer]()).to_query()
    for side in ("low", "high"):
        bound = getattr(spec, side)
        if bound is None:
            continue
        view, replaced = read_link(query | {spec.name: text(bound)})
        assert replaced == {} and getattr(view.params, spec.name) == bound
        view, replaced = read_link(query | {spec.name: text(past(spec, side))})
        assert set(replaced) == {spec.name} and getattr(view.params, spec.name) == bound


@pytest.mark.parametrize("name", ("n_neighbors", "perplexity", "min_dist", "random_state"))
def test_the_widgets_ranges_are_the_tables_where_the_data_allow(name):
    spec = reducer_params.param(name)
    assert links.widget_range(name, 100_000) == (spec.low, spec.high)
    low, high = links.widget_range(name, 12)  # few points narrow the data-bound ranges, never widen them
    assert low == spec.low and high <= spec.high
    assert reducer_params.UMAP["min_dist"].step == 0.05 and reducer_params.TSNE["perplexity"].step == 5.0


def parse(*options: str):
    return cli.build_parser().parse_args(["embed", "m", "--layer", "dense_1", "--out", "x.csv", *options])


def test_the_cli_options_take_the_tables_defaults_and_help(capsys):
    args = parse()
    for name in CLI_PARAMS:
        spec = reducer_params.UMAP[name]
        assert getattr(args, spec.option[2:].replace("-", "_")) == spec.default
    assert args.sample == reducer_params.MAP_SAMPLE
    with pytest.raises(SystemExit):
        parse("--help")
    shown = " ".join(capsys.readouterr().out.split())
    spec = reducer_params.UMAP["n_neighbors"]
    assert f"{spec.help}; {spec.low} to {spec.high} (default {spec.default})" in shown


@pytest.mark.parametrize("name", CLI_PARAMS)
def test_argparse_refuses_past_the_tables_bound_and_takes_the_bound(name, capsys):
    spec = reducer_params.UMAP[name]
    if isinstance(spec.rule, Options):
        assert parse(spec.option, spec.rule.choices[-1]).metric == spec.rule.choices[-1]
        with pytest.raises(SystemExit):
            parse(spec.option, "hamming")
        return
    dest = spec.option[2:].replace("-", "_")
    for side in ("low", "high"):
        assert getattr(parse(spec.option, text(getattr(spec, side))), dest) == getattr(spec, side)
        with pytest.raises(SystemExit):
            parse(spec.option, text(past(spec, side)))
        assert f"{spec.name} must be" in capsys.readouterr().err


def test_the_map_jobs_points_are_the_tables(monkeypatch):
    for name, table in TABLES.items():
        monkeypatch.delenv(f"FEATLIB_LIMIT_REDUCE_{name.upper()}_POINTS", raising=False)
        assert limits.limit(f"reduce:{name}").max_points == table.max_points
