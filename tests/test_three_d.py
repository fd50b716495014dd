"""3-D maps (issue 25, item 4): the reducers in three dimensions, their keys, their links, their figures, and the
Explore page with its "3-D map" toggle on. The browser's part (the map turned in Chromium) is a step of
``tests/e2e/test_explore_layout.py``; how smoothly it turns is measured by ``bench/rotate_3d.py``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from app_testing import no_exception, page_path

from featlib import cli, keys, models, plots
from featlib.errors import CompareError, ViewError
from featlib.maps import align, embed
from featlib.share.compare import CompareView, Panel
from featlib.share.exports import embedding_table
from featlib.share.thumbnails import MapPoints, render_png
from featlib.share.views import View, read_link
from featlib.store import Workspace


@pytest.fixture(scope="module")
def points(digits):
    """300 of the bundled digits' pixels, float32."""
    return digits.x_train[:300].reshape(300, -1).astype("float32")


@pytest.mark.parametrize(
    "params",
    [embed.PCAParams(dims=3), embed.TSNEParams(perplexity=10, dims=3)],
    ids=["pca", "tsne"],
)
def test_pca_and_tsne_map_to_three_dimensions_reproducibly(points, params):
    """UMAP's 3-D map is tested in tests/test_embed.py, whose process has compiled Numba's code already."""
    coords = embed.reduce(points, params)
    assert coords.shape == (300, 3) and coords.dtype == np.float32 and np.isfinite(coords).all()
    assert np.ptp(coords[:, 2]) > 0  # a third dimension of its own, not a padding of zeros
    np.testing.assert_array_equal(coords, embed.reduce(points, params))  # the same seed, the same map


def test_a_3d_map_has_a_key_of_its_own_and_every_2d_key_stays_as_it_was():
    rep = "rep/m/d/train/dense/function/flatten"
    for cls, before in (
        (
            embed.UMAPParams,
            "umap-n_neighbors=15-min_dist=0.1-metric=auto:trial-maps-random_state=42-n_epochs=None-pca_dims=50",
        ),
        (embed.PCAParams, "pca"),
        (embed.TSNEParams, "tsne-perplexity=30.0-random_state=42-pca_dims=50"),
    ):
        assert cls().key == cls(dims=2).key == before  # what stored 2-D maps were kept under
        assert cls(dims=3).key == before + "-dims=3"
        key = keys.embedding_key(rep, 100, 0, cls(dims=3))
        assert key != keys.embedding_key(rep, 100, 0, cls()) and keys.read_key(key).parameters["dims"] == "3"
    with pytest.raises(ValueError, match=r"dims must be within \[2, 3\]; got 4"):
        embed.PCAParams(dims=4)


def test_a_3d_views_link_says_dims_3_and_a_malformed_dims_is_refused_or_replaced_naming_it():
    view = View("m", "digits", "dense", params=embed.TSNEParams(perplexity=12.0, dims=3), selection=(4, 9))
    query = view.to_query()
    assert query["dims"] == "3" and View.from_query(query) == view
    assert "dims" not in View("m", "digits", "dense").to_query()  # a 2-D link as it always was
    for bad in ("4", "3.0", "three", ""):
        with pytest.raises(ViewError, match="dims must be 2 or 3"):
            View.from_query({**query, "dims": bad})
        opened, replaced = read_link({**query, "dims": bad})
        assert opened.params.dims == 2
        assert replaced["dims"].message.startswith(f"The link asked for dims={bad}; expected 2 or 3")

    compared = CompareView("digits", (Panel("m", "dense"), Panel("m", "dense_1", reducer="pca")), dims=3)
    assert compared.to_query()["dims"] == "3" and CompareView.from_query(compared.to_query()) == compared
    assert "dims" not in CompareView("digits", compared.panels).to_query()
    with pytest.raises(CompareError, match="The link's dims is 2 or 3"):
        CompareView.from_query({**compared.to_query(), "dims": "5"})
    assert compared.panels[1].params(3) == embed.PCAParams(dims=3)


def test_a_3d_figure_is_webgl_scatter3d_in_the_2d_maps_colours_hover_and_customdata():
    rng = np.random.default_rng(0)
    coords, labels = rng.normal(size=(60, 3)).astype("float32"), np.arange(60) % 10
    flat = plots.scatter_map(coords[:, :2], np.arange(60), labels, labels, highlight=[3])
    deep = plots.scatter_map(coords, np.arange(60), labels, labels, highlight=[3])
    assert {type(t).__name__ for t in deep.data} == {"Scatter3d"}
    assert [t.name for t in deep.data] == [t.name for t in flat.data]
    for three, two in zip(deep.data, flat.data):
        assert three.marker.color == two.marker.color and three.hovertemplate == two.hovertemplate
        np.testing.assert_array_equal(three.customdata, two.customdata)
    assert deep.layout.scene.xaxis.title.text == "UMAP 1" and deep.layout.scene.zaxis.title.text == "UMAP 3"
    # the other 3-D parts: a panel's marks, the table export, alignment in space
    panel = plots.compare_panel(coords, np.arange(60), labels, followed=5, neighbours=[6, 7])
    assert [t.marker.symbol for t in panel.data[-2:]] == ["circle-open", "diamond"]
    assert list(embedding_table(np.arange(60), coords, np.zeros(60, int)).columns[-3:]) == ["x", "y", "z"]
    top = render_png([MapPoints(coords[:, :2], np.arange(60), labels)])  # a saved 3-D view's thumbnail: from above
    assert render_png([MapPoints(coords, np.arange(60), labels)]) == top
    turned = coords @ np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], dtype="float32")
    (_, back), (_, fit) = align.align_maps([(np.arange(60), coords), (np.arange(60), turned)], scale=False)
    np.testing.assert_allclose(back, coords, atol=1e-4)
    assert fit.rotation.shape == (3, 3)


def test_explore_with_the_3d_toggle_draws_the_map_in_3d_and_refuses_an_index_not_on_it(app, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, models.build_mlp((64,), hidden=(16, 8), seed=0), "mlp", dataset="digits")
    app.session_state["map_reducer"] = "pca"  # PCA: instant, so the test stays cheap
    app.session_state["map_3d"] = True
    at = no_exception(no_exception(app.run()).switch_page(page_path("explore")).run())
    [chart] = [c for c in at.get("plotly_chart") if "scatter3d" in c.proto.spec]
    spec = json.loads(chart.proto.spec)
    traces = [t for t in spec["data"] if t["type"] == "scatter3d"]
    assert len(traces) == 10 and {t["marker"]["color"] for t in traces} == {plots.colour_of(i) for i in range(10)}
    assert not [t for t in spec["data"] if t["type"] != "scatter3d"]
    assert not [t for t in at.toggle if t.key == "map_contours"]  # contours: 2-D only, and said so
    captions = [c.value.replace("\\", "") for c in at.caption]  # as written, without markdown's escapes
    assert "Contours and class labels are drawn on 2-D maps only." in captions
    assert any("Inspect point" in c and "Box and lasso selection" in c and "2-D only" in c for c in captions)
    assert at.query_params["dims"] == "3" and at.query_params["reducer"] == "pca"  # the link: dims=3
    at.number_input(key="inspector_point").set_value(5_000)  # past the 1,437 train digits: refused, saying so
    at = no_exception(at.button(key="FormSubmitter:inspect-point-Inspect").click().run())
    assert any("Point #5000 is not among this map's 1,437 points" in w.value.replace("\\", "") for w in at.warning)
    # An index on the map opens the inspector: tests/e2e/test_explore_layout.py, in the browser (its jobs cost seconds).


def test_featlib_embed_takes_dims_3_from_the_table_and_refuses_4(capsys):
    def parse(*options: str):
        return cli.build_parser().parse_args(["embed", "m", "--layer", "dense_1", "--out", "x.csv", *options])

    assert parse().dims == 2 and parse("--dims", "3").dims == 3
    with pytest.raises(SystemExit):
        parse("--dims", "4")
    assert "dims must be within [2, 3]; got 4" in capsys.readouterr().err
