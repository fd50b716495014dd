"""Is this picture an accident of the seed? (issue 29, item 5): the same map for several seeds, aligned onto the
first by Procrustes, each point's displacement in map widths, the stable core, and the figures kept with a saved
view and its link."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import keys, plots
from featlib.errors import AlignmentError, JobLimitError, ReducerError, ViewError
from featlib.jobs import specs, tasks
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed, placed_map, seed_stability
from featlib.maps.seed_stability import StabilityFigures
from featlib.service import Service
from featlib.share import view_queries
from featlib.share.views import View, read_link
from featlib.store import Workspace
from featlib.store.saved_views import view_summary


def blobs(classes: int = 4, per_class: int = 75, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10.0, size=(classes, 10))
    labels = np.repeat(np.arange(classes), per_class)
    return (centres[labels] + rng.normal(size=(len(labels), 10))).astype("float32"), labels


def test_a_rotated_scaled_shifted_or_mirrored_copy_has_zero_displacement():
    coords = np.random.default_rng(0).normal(size=(200, 2)) * [3.0, 1.0]
    turn = np.array([[np.cos(1.1), -np.sin(1.1)], [np.sin(1.1), np.cos(1.1)]])
    maps = [coords, 2.5 * coords @ turn + [7.0, -3.0], coords * [-1.0, 1.0]]
    found = seed_stability.stability(maps, seeds=[3, 4, 5])
    np.testing.assert_allclose(found.displacement, 0.0, atol=1e-5)
    np.testing.assert_allclose(found.maps[1], coords, atol=1e-4)  # aligned onto the first
    assert found.core.all()
    figures = found.figures
    assert figures.seeds == 3 and figures.median_displacement == pytest.approx(0.0, abs=1e-5)
    assert figures.core_share == 1.0


def test_a_moved_point_is_measured_in_map_widths_and_leaves_the_core():
    coords = np.random.default_rng(1).uniform(0, 10, size=(300, 2))
    width = seed_stability.map_width(coords)
    assert width == pytest.approx(np.percentile(coords, 99, axis=0).max() - np.percentile(coords, 1, axis=0).max(), 0.1)
    moved = coords.copy()
    moved[7] += [0.3 * width, 0.4 * width]  # half the width away, in one map of two
    found = seed_stability.stability([coords, moved])
    assert found.displacement[7] == pytest.approx(0.5, abs=0.02)
    assert np.delete(found.displacement, 7).max() < 0.01  # the fit is barely moved by one point
    assert not found.core[7] and found.core.sum() == len(coords) - 1


@pytest.mark.parametrize(
    "maps, error, message",
    [
        ([np.zeros((5, 2))], ReducerError, "2 to 10 seeds"),
        ([np.zeros((5, 2))] * 11, ReducerError, "2 to 10 seeds"),
        ([np.zeros((5, 2)), np.zeros((6, 2))], AlignmentError, "same points"),
        ([np.zeros((5, 2)), np.full((5, 2), np.nan)], AlignmentError, "NaN"),
    ],
)
def test_bad_maps_are_refused_naming_the_rule(maps, error, message):
    with pytest.raises(error, match=message):
        seed_stability.stability(maps)


def test_seeds_are_the_maps_own_then_the_next_and_pca_has_none():
    assert seed_stability.seeds_for(embed.UMAPParams(random_state=42), 3) == (42, 43, 44)
    assert seed_stability.seeds_for(embed.TSNEParams(random_state=embed.MAX_SEED), 2) == (embed.MAX_SEED, 0)
    with pytest.raises(ReducerError, match="PCA map has no seed"):
        seed_stability.seeds_for(embed.PCAParams())
    with pytest.raises(ReducerError, match="2 to 10 seeds"):
        specs.seed_stability_spec("emb/x", 100, embed.UMAPParams(), 11)


def test_umap_on_clear_blobs_is_stable_in_its_core():
    x, labels = blobs()
    params = embed.UMAPParams(n_neighbors=15, n_epochs=100)
    seen = []
    found = tasks.stability(points=x, params=params, n_seeds=3, labels=labels, progress=lambda *a, **k: seen.append(a))
    assert [s for s in seen if s[0] == "seeds"] == [("seeds", 0, 3), ("seeds", 1, 3), ("seeds", 2, 3), ("seeds", 3, 3)]
    np.testing.assert_array_equal(found.maps[0], embed.reduce(x, params, labels=labels))  # the page's own map first
    figures = found.figures
    assert 0.1 < figures.core_share < 1.0 and 0 < figures.median_displacement < 0.5
    assert figures.trust_low > 0.9 and figures.trust_high - figures.trust_low < 0.05  # every seed maps the blobs well
    # In its core the picture holds: where each seed puts a core point, the first map shows the point's own class.
    core = found.core
    for aligned in found.maps[1:]:
        votes = placed_map.land_votes(found.maps[0], labels, aligned[core])
        assert np.mean(votes == labels[core]) == 1.0
    assert found.displacement[core].max() < seed_stability.CORE_THRESHOLD <= found.displacement[~core].min()


def test_the_stable_core_is_outlined_by_a_contour_where_its_points_are():
    coords = np.random.default_rng(2).uniform(0, 10, size=(400, 2))
    core = coords[:, 0] < 5  # the left half is stable
    xs, ys, share = seed_stability.core_grid(coords, core, bins=20)
    assert share.shape == (20, 20) and len(xs) == len(ys) == 20
    assert np.nanmean(share[:, xs < 4]) > 0.8 and np.nanmean(share[:, xs > 6]) < 0.2
    figure = plots.add_stable_core(plots.scatter_map(coords, np.arange(400), np.zeros(400, int)), xs, ys, share)
    outline = figure.data[-1]
    assert outline.type == "contour" and outline.name == plots.CORE_NAME
    assert outline.contours.start == outline.contours.end == 0.5


def test_the_service_runs_the_job_under_its_key_and_keeps_the_result(tmp_path):
    x, labels = blobs(classes=3, per_class=40)
    runner = InlineRunner()
    service = Service(Workspace(tmp_path / "ws"), runner)
    params = embed.TSNEParams(perplexity=8)
    emb = service.embedding(x, "rep/m/d/train/dense/function/0-1", labels, sample_size=None, params=params)
    found = service.seed_stability(x, emb, labels, params, seeds=2)
    assert runner.ran[-1] == keys.seed_stability_key(emb.key, 2)
    np.testing.assert_allclose(found.maps[0], emb.coords, atol=1e-5)  # the map shown is the first seed's
    assert found.displacement.shape == (len(x),) and tuple(found.seeds) == (42, 43)
    again = Service(Workspace(tmp_path / "ws"), InlineRunner()).seed_stability(x, emb, labels, params, seeds=2)
    np.testing.assert_array_equal(again.displacement, found.displacement)  # stored: no job ran
    monkey_limit = specs.seed_stability_spec(emb.key, len(x), params, 2)
    assert monkey_limit.limit == "reduce:tsne" and monkey_limit.params["n_seeds"] == 2


def test_the_job_is_refused_past_the_maps_point_limit(monkeypatch):
    monkeypatch.setenv("FEATLIB_LIMIT_REDUCE_UMAP_POINTS", "100")
    with pytest.raises(JobLimitError):
        specs.seed_stability_spec("emb/x", 101, embed.UMAPParams(), 5)


FIGURES = StabilityFigures(5, 0.12, 0.91, 0.93, 0.64)


def test_the_figures_travel_in_a_link_and_read_as_a_sentence():
    assert FIGURES.sentence == (
        "median displacement 0.12 of the map's width over 5 seeds; trustworthiness 0.91–0.93; "
        "64% of the points in the stable core"
    )
    view = View("m1", "digits", "dense_1", stability=FIGURES)
    query = view.to_query()
    assert query["stability"] == "5,0.1200,0.9100,0.9300,0.6400"
    assert View.from_query(query) == view
    plain = View("m1", "digits", "dense_1")
    assert "stability" not in plain.to_query() and View.from_query(plain.to_query()).stability is None


@pytest.mark.parametrize("raw", ["5,0.1,0.9", "1,0.1,0.9,0.9,0.5", "5,0.1,0.95,0.9,0.5", "5,x,0.9,0.9,0.5"])
def test_a_link_with_figures_that_do_not_read_opens_without_them_saying_so(raw):
    query = dict(View("m1", "digits", "dense_1").to_query(), stability=raw)
    with pytest.raises(ViewError, match="stability"):
        View.from_query(query)
    view, replaced = read_link(query)
    assert view.stability is None and "stability" in replaced


def test_the_figures_are_stored_with_a_saved_view_and_shown_where_it_is_listed(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    view = View("m1", "digits", "dense_1", stability=FIGURES)
    saved, new = workspace.save_view("explore", view.to_query(), "stable digits", parse=view_queries.parse)
    assert new
    opened = View.from_query(workspace.get_view(saved.id).query)
    assert opened.stability == FIGURES
    summary = view_summary(workspace.get_view(saved.id))
    assert "median displacement 0.12 of the map's width over 5 seeds; trustworthiness 0.91–0.93" in summary
    plain, _ = workspace.save_view(
        "explore", View("m1", "digits", "dense_1").to_query(), "plain", parse=view_queries.parse
    )
    assert "displacement" not in view_summary(plain)


def test_explore_places_the_test_split_and_carries_the_seeds_figures_in_its_link(app, tmp_path):
    from app_testing import APP, TIMEOUT, no_exception, page_path
    from streamlit.testing.v1 import AppTest

    from featlib import models

    models.save_model(
        Workspace(tmp_path / "ws"), models.build_mlp((64,), hidden=(16, 8), seed=0), "mlp", dataset="digits"
    )
    app.session_state["map_reducer"] = "pca"  # as if chosen before: no UMAP of the 1,437 digits in this test
    at = no_exception(no_exception(app.run()).switch_page(page_path("explore")).run())
    assert at.toggle(key="explore_seed_stability").disabled  # PCA has no seed
    at.selectbox(key="explore_place").set_value("split")
    at = no_exception(at.run())
    placed = next(c.value for c in at.caption if "hollow diamonds" in c.value)
    assert "360 images of the test split placed on it" in placed and "1,437 train images" in placed
    assert at.query_params["placed"] in ("split", ["split"])  # what is placed travels in the link

    at.session_state["tsne_sample"] = 150
    at.radio(key="map_reducer").set_value("tsne")
    at.selectbox(key="explore_place").set_value("")
    at = no_exception(at.run())
    assert "stability" not in at.query_params  # none computed: the link carries none
    at.toggle(key="explore_seed_stability").set_value(True)
    at = no_exception(at.run())
    at.number_input(key="explore_stability_seeds").set_value(2)
    at = no_exception(at.run())
    query = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    figures = StabilityFigures.from_text(query["stability"])
    assert figures.seeds == 2 and query["seeds"] == "2" and "placed" not in query
    assert any(figures.sentence.capitalize() in c.value.replace("\\", "") for c in at.caption)

    shared = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        shared.query_params[key] = value
    shared = no_exception(no_exception(shared.run()).switch_page(page_path("explore")).run())
    said = f"shared with its seed stability: {figures.sentence}"
    assert any(said in c.value.replace("\\", "") for c in shared.caption)
    assert shared.toggle(key="explore_seed_stability").value  # the link turns the comparison on, with its seeds
    assert shared.number_input(key="explore_stability_seeds").value == 2


def test_every_seeds_map_uses_the_metric_the_maps_own_seed_resolves():
    """``metric="auto"`` resolved once, by the map's seed: a seed resolving another metric would get a kNN graph it
    disconnects whole (the example: seeds 43 and 44 resolved correlation on the graph of seed 42's euclidean)."""
    rng = np.random.default_rng(0)
    x = np.maximum(rng.normal(size=(300, 40)), 0).astype("float32")
    labels = np.arange(300) % 3
    auto = embed.UMAPParams()
    settled = seed_stability.settled_metric(auto, x, labels)
    assert settled.metric != "auto" and settled.metric == embed.resolve_metric(auto, x, labels)
    assert settled.random_state == auto.random_state
    tsne = embed.TSNEParams()
    assert seed_stability.settled_metric(tsne, x, labels) is tsne
