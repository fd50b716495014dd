"""Views in URL query form: what a shared link carries."""

import pytest

from featlib.embed import UMAPParams
from featlib.views import View, ViewError


def test_a_view_survives_the_round_trip_through_the_query():
    view = View("0123456789ab", "upload:ffee", "dense_1", "submodel", "test", None,
                UMAPParams(n_neighbors=30, min_dist=0.25, metric="cosine", random_state=7, n_epochs=None))  # fmt: skip
    query = view.to_query()
    assert all(isinstance(v, str) for v in query.values())
    assert View.from_query(query) == view


def test_missing_parameters_take_their_defaults():
    view = View.from_query({"model": "m", "dataset": "digits", "layer": "dense_1"})
    assert (view.method, view.split, view.umap) == ("function", "train", UMAPParams())


@pytest.mark.parametrize(
    "change, message",
    [
        ({"layer": ""}, "lacks layer"),
        ({"method": "eval"}, "Unknown method in the link: 'eval'"),
        ({"split": "valid"}, "Unknown split in the link"),
        ({"n_neighbors": "many"}, "n_neighbors='many' is not a number"),
        ({"metric": "os.system"}, "Unknown metric"),
        ({"min_dist": "7"}, "min_dist must be within"),
    ],
)
def test_malformed_links_are_refused_with_the_reason(change, message):
    query = View("m", "digits", "dense_1").to_query() | change
    with pytest.raises(ViewError, match=message):
        View.from_query(query)
