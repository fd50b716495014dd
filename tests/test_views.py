"""Views in URL query form: what a shared link carries."""

import pytest

from featlib.maps.embed import PCAParams, TSNEParams, UMAPParams
from featlib.share.views import MAX_LINK_SELECTION, View, ViewError


def test_a_view_survives_the_round_trip_through_the_query():
    view = View(
        "0123456789ab",
        "upload:ffee",
        "dense_1",
        "submodel",
        "test",
        None,
        UMAPParams(n_neighbors=30, min_dist=0.25, metric="cosine", random_state=7, n_epochs=None),
    )
    query = view.to_query()
    assert all(isinstance(v, str) for v in query.values())
    assert View.from_query(query) == view


def test_missing_parameters_take_their_defaults():
    view = View.from_query({"model": "m", "dataset": "digits", "layer": "dense_1"})
    assert (view.method, view.split, view.params) == ("function", "train", UMAPParams())
    assert (view.reducer, view.colour, view.selection) == ("umap", "label", ())


def test_a_link_made_before_reducers_colour_and_selection_still_opens():
    old = {
        "model": "m",
        "dataset": "digits",
        "layer": "dense_1",
        "method": "submodel",
        "split": "train",
        "sample": "500",
        "n_neighbors": "30",
        "min_dist": "0.25",
        "metric": "cosine",
        "random_state": "7",
        "n_epochs": "200",
        "pca_dims": "50",
    }
    view = View.from_query(old)
    assert view.params == UMAPParams(30, 0.25, "cosine", 7, n_epochs=200) and view.sample == 500
    assert (view.colour, view.selection) == ("label", ())


@pytest.mark.parametrize(
    "params", [PCAParams(), TSNEParams(perplexity=12.5, random_state=3, pca_dims=None), UMAPParams()]
)
def test_every_reducer_colouring_and_selection_survive_the_round_trip(params):
    view = View("m", "digits", "dense_1", sample=2000, params=params, colour="correct", selection=(42, 3, 17, 3))
    query = view.to_query()
    assert query["reducer"] == view.reducer and query["selection"] == "3,17,42"
    assert View.from_query(query) == view
    assert View.from_query(query).selection == (3, 17, 42)


def test_defaults_stay_out_of_the_link():
    query = View("m", "digits", "dense_1", params=PCAParams()).to_query()
    assert "colour" not in query and "selection" not in query and "n_neighbors" not in query
    assert "reduction" not in query


@pytest.mark.parametrize("reduction", ["flatten", "grid", "gap", "gmp"])
def test_a_chosen_reduction_travels_in_the_link(reduction):
    view = View("m", "digits", "conv2d", params=PCAParams(), reduction=reduction)
    query = view.to_query()
    assert query["reduction"] == reduction
    assert View.from_query(query) == view


def test_a_link_made_before_reductions_opens_with_the_layers_default():
    old = View("m", "digits", "conv2d").to_query()
    assert "reduction" not in old and View.from_query(old).reduction == "auto"
    assert View.from_query(old | {"reduction": ""}).reduction == "auto"


def test_a_large_selection_is_cut_to_what_a_link_carries():
    view = View("m", "digits", "dense_1", selection=range(MAX_LINK_SELECTION + 500))
    assert len(view.selection) == MAX_LINK_SELECTION
    assert View.from_query(view.to_query()) == view


@pytest.mark.parametrize(
    "change, message",
    [
        ({"layer": ""}, "lacks layer"),
        ({"method": "eval"}, "Unknown method in the link: 'eval'"),
        ({"split": "valid"}, "Unknown split in the link"),
        ({"n_neighbors": "many"}, "n_neighbors='many' is not a number"),
        ({"metric": "os.system"}, "Unknown metric"),
        ({"min_dist": "7"}, "min_dist must be within"),
        ({"reducer": "lle"}, "Unknown reducer in the link: 'lle'"),
        ({"reducer": "tsne", "perplexity": "500"}, "perplexity must be within"),
        ({"colour": "rainbow"}, "Unknown colouring in the link: 'rainbow'"),
        ({"selection": "3,x"}, "selection must be point indices"),
        ({"selection": "-4"}, "non-negative"),
        ({"selection": ",".join(["1"] * 1001)}, "at most 1,000"),
        ({"sample": "0"}, "sample must be at least 1"),
        (
            {"reduction": "mean"},
            r"Unknown reduction in the link: 'mean'\. Expected one of \['auto', 'flatten', 'grid', 'gap', 'gmp'\]",
        ),
        ({"placed": "dataset:../../etc"}, "placed is split or dataset:<a dataset's key>"),
        ({"placed": "<b>x</b>"}, "placed is split or dataset"),
        ({"seeds": "11"}, "seeds is a number of seeds from 2 to 10; got '11'"),
        ({"seeds": "many"}, "seeds is a number of seeds from 2 to 10"),
    ],
)
def test_malformed_links_are_refused_with_the_reason(change, message):
    query = View("m", "digits", "dense_1").to_query() | change
    with pytest.raises(ViewError, match=message):
        View.from_query(query)


@pytest.mark.parametrize(
    "change, used, message",
    [
        (
            {"n_neighbors": "100000"},
            ("params", "n_neighbors", 200),
            "n_neighbors=100000; n_neighbors is at most 200 — using 200.",
        ),
        (
            {"random_state": "-1"},
            ("params", "random_state", 0),
            "random_state=-1; random_state is at least 0 — using 0.",
        ),
        (
            {"n_neighbors": "many"},
            ("params", "n_neighbors", 15),
            "n_neighbors=many; expected a whole number — using 15.",
        ),
        ({"min_dist": "nan"}, ("params", "min_dist", 0.1), "min_dist=nan; expected a number — using 0.1."),
        ({"n_epochs": "0"}, ("params", "n_epochs", 1), "n_epochs=0; n_epochs is at least 1 — using 1."),
        ({"reducer": "tsne", "perplexity": "500"}, ("params", "perplexity", 100.0), "perplexity is at most 100"),
        ({"metric": "os.system"}, ("params", "metric", "auto"), "metric=os.system; expected one of auto, euclidean"),
        ({"method": "eval"}, ("method", None, "function"), "method=eval; expected one of function, submodel"),
        ({"split": "valid"}, ("split", None, "train"), "split=valid; expected one of train, test — using train."),
        ({"colour": "rainbow"}, ("colour", None, "label"), "colour=rainbow; expected one of label"),
        (
            {"reduction": "mean"},
            ("reduction", None, "auto"),
            "reduction=mean; expected one of auto, flatten, grid, gap, gmp",
        ),
        ({"sample": "0"}, ("sample", None, 1), "sample=0; sample is at least 1 — using 1."),
        ({"sample": "lots"}, ("sample", None, 10_000), "sample=lots; expected a number of points or 'all'"),
        ({"selection": "3,x,-4"}, ("selection", None, (3,)), "'x', '-4' are no point indices"),
        ({"placed": "dataset:../x"}, ("placed", None, ""), "placed=dataset:../x; expected split or dataset:<key>"),
        ({"seeds": "50"}, ("seeds", None, 10), "seeds=50; seeds is at most 10 — using 10."),
        ({"seeds": "1"}, ("seeds", None, 2), "seeds=1; seeds is at least 2 — using 2."),
        ({"seeds": "x"}, ("seeds", None, 0), "seeds=x; expected a whole number — using no comparison."),
    ],
)
def test_a_link_opens_with_each_value_it_cannot_have_replaced_and_named(change, used, message):
    from featlib.share.views import read_link

    view, replaced = read_link(View("m", "digits", "dense_1").to_query() | change)
    where, field, value = used
    assert (getattr(view.params, field) if where == "params" else getattr(view, where)) == value
    assert len(replaced) == 1 and message in next(iter(replaced.values())).message


def test_a_link_read_as_written_replaces_nothing_and_whole_numbers_may_be_written_as_floats():
    from featlib.share.views import read_link

    view = View("m", "digits", "dense_1", sample=2000, params=UMAPParams(n_neighbors=30, random_state=7))
    assert read_link(view.to_query()) == (view, {})
    assert read_link(view.to_query() | {"n_neighbors": "30.0", "sample": "2e3"}) == (view, {})
    with pytest.raises(ViewError, match="lacks layer"):
        read_link({"model": "m", "dataset": "digits"})


@pytest.mark.parametrize("placed", ["split", "dataset:mnist", "dataset:upload:0123456789abcdef"])
def test_what_is_placed_and_the_seeds_compared_travel_in_the_link_only_when_set(placed):
    view = View("m", "digits", "dense_1", placed=placed, seeds=5)
    query = view.to_query()
    assert query["placed"] == placed and query["seeds"] == "5"
    assert View.from_query(query) == view
    plain = View("m", "digits", "dense_1").to_query()
    assert "placed" not in plain and "seeds" not in plain  # links made before open as they did
