"""Issue 27 item 5: the Explore map's search box finds points by index, true or predicted label, confidence and
mistakes (:mod:`featlib.maps.point_query`), refuses anything else with featlib's own error, and selects what it finds
on the page (the selection travels in the link)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest
from test_point_inspector import _array, map_chart

from featlib import models
from featlib.app import links, map_search
from featlib.errors import FeatlibError, PointQueryError
from featlib.maps.embed import PCAParams
from featlib.maps.point_query import MAX_ITEMS, MAX_QUERY_CHARS, find_points, parse_query
from featlib.share.views import View
from featlib.store import Workspace

N = 60
RNG = np.random.default_rng(7)
LABELS = RNG.integers(0, 10, N)
PREDICTED = np.where(RNG.random(N) < 0.3, RNG.integers(0, 10, N), LABELS)
CONFIDENCE = RNG.random(N)
DIGITS = [str(i) for i in range(10)]
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def found(query: str, names=DIGITS, among=None) -> list[int]:
    result = find_points(query, LABELS, PREDICTED, CONFIDENCE, names, among=among)
    assert result.dtype == np.int64 and np.all(np.diff(result) > 0)
    return result.tolist()


def where(mask) -> list[int]:
    return np.flatnonzero(mask).tolist()


@pytest.mark.parametrize(
    "query, expected",
    [
        ("12", [12]),
        ("12, 40-45", [12, 40, 41, 42, 43, 44, 45]),
        ("#12 40 - 42", [12, 40, 41, 42]),
        ("index:3-5", [3, 4, 5]),
        ("index<3", [0, 1, 2]),
        ("label:7", where(LABELS == 7)),
        ("LABEL : 7", where(LABELS == 7)),
        ("predicted:3", where(PREDICTED == 3)),
        ("label:4 predicted:9", where((LABELS == 4) & (PREDICTED == 9))),
        ("label:3,5", where(np.isin(LABELS, [3, 5]))),
        ("label:3 label:5", where(np.isin(LABELS, [3, 5]))),
        ("confidence<0.6", where(CONFIDENCE < 0.6)),
        ("confidence <= 60%", where(CONFIDENCE <= 0.6)),
        ("conf>.9", where(CONFIDENCE > 0.9)),
        ("confidence:0.2-0.5", where((CONFIDENCE >= 0.2) & (CONFIDENCE <= 0.5))),
        ("confidence:<0.3", where(CONFIDENCE < 0.3)),
        ("wrong", where(PREDICTED != LABELS)),
        ("misclassified", where(PREDICTED != LABELS)),
        ("Correct", where(PREDICTED == LABELS)),
        ("wrong confidence>0.5", where((PREDICTED != LABELS) & (CONFIDENCE > 0.5))),
        ("0-30 label:2", where((np.arange(N) <= 30) & (LABELS == 2))),
        ("0-999999999999999999999999", list(range(N))),
    ],
)
def test_each_kind_of_term_finds_what_it_says(query, expected):
    assert found(query) == expected


def test_class_names_as_well_as_numbers():
    assert found("label:sandal", FASHION) == where(LABELS == 5)
    assert found('label:"Ankle boot"', FASHION) == where(LABELS == 9)
    assert found("predicted:'ankle boot', bag", FASHION) == where(np.isin(PREDICTED, [8, 9]))
    assert found("label:5", FASHION) == found("label:Sandal", FASHION)
    with pytest.raises(PointQueryError, match="For the class, type label:Trouser"):  # a bare name: the fix
        found("Trouser", FASHION)
    with pytest.raises(PointQueryError, match='type label:"Ankle boot"'):
        found('"Ankle boot"', FASHION)


def test_the_search_finds_only_the_maps_points():
    on_map = np.arange(0, N, 2)
    assert found("label:7", among=on_map) == [i for i in where(LABELS == 7) if i % 2 == 0]
    assert found("13", among=on_map) == []


@pytest.mark.parametrize(
    "query, named",
    [
        ("", "empty"),
        (" , ", "empty"),
        ("cat", "'cat' is no point index"),
        ("label:cat", "got 'cat'"),
        ("label:10", "the classes are 0 to 9"),
        ("label<3", "label is compared with ':'"),
        ("colour:3", "Unknown search term 'colour:'"),
        ("confidence:0.5", "expects a range such as confidence:0.2-0.5"),
        ("confidence<1.5", "from 0 to 1"),
        ("confidence<nan", "got 'nan'"),
        ("confidence:0.6-0.2", "ends before it starts"),
        ("45-40", "write the lower index first (40-45)"),
        ("60", "indices 0 to 59; the search asks for index 60"),
        ('label:"seven', "never closed"),
        ("<0.6", "needs a name before it"),
        ("label:", "needs a value after it; got nothing"),
        ("x" * (MAX_QUERY_CHARS + 1), f"at most {MAX_QUERY_CHARS} characters"),
        (",".join(["1"] * (MAX_ITEMS + 1)), f"at most {MAX_ITEMS} values"),
    ],
)
def test_anything_else_is_refused_naming_what_was_expected_and_received(query, named):
    with pytest.raises(PointQueryError) as caught:
        found(query)
    assert named in str(caught.value)
    assert "A search reads like: 12, 40-45 · label:7" in str(caught.value)  # what is expected, every time
    assert isinstance(caught.value, (FeatlibError, ValueError))


def test_a_search_about_predictions_needs_them():
    with pytest.raises(PointQueryError, match="predictions"):
        find_points("wrong", LABELS)
    with pytest.raises(PointQueryError, match="confidence"):
        find_points("confidence<0.5", LABELS, PREDICTED)
    assert find_points("label:1", LABELS).tolist() == where(LABELS == 1)


def test_the_parsed_query_keeps_each_kind():
    query = parse_query("12, 40-45 label:7 predicted:cat wrong confidence<0.6", ["cat", "dog", *"abcdefgh"])
    assert query.indices == ((12, 12), (40, 45))
    assert query.labels == {7} and query.predicted == {0} and query.wrong == {True}
    assert query.confidence == ((0.0, 0.6, True, False),)


PIECES = st.sampled_from(
    [
        "label", "predicted", "confidence", "index", "wrong", "correct", ":", "<", ">=", "=", ",", " ", "-", "#",
        '"', "'", "%", "0", "7", "12", "0.5", "1e9", "99999999999999999999", "cat", "Ankle boot", "<b>", "[x](y)",
        "\x00", "\n", "é", "٣", "½",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=80), st.lists(PIECES, max_size=14).map("".join)))
def test_no_text_raises_anything_but_featlibs_error(typed):
    """Arbitrary text, and text made of the grammar's own pieces: a sorted int64 subset of the map, or the error."""
    on_map = np.arange(0, N, 3)
    try:
        result = find_points(typed, LABELS, PREDICTED, CONFIDENCE, FASHION, among=on_map)
    except PointQueryError as error:
        assert str(error)
    else:
        assert result.dtype == np.int64 and np.all(np.diff(result) > 0) and np.isin(result, on_map).all()


def _query_value(at: AppTest, name: str) -> str:
    value = at.query_params[name]
    return value[0] if isinstance(value, list) else value


def _search(at: AppTest, typed: str) -> AppTest:
    at.text_input(key=map_search.SEARCH_KEY).input(typed)
    next(b for b in at.get("form_submit_button") if b.label == "Select").click()
    return no_exception(at.run())


def test_typing_label_3_on_the_explore_page_selects_exactly_the_3s_on_the_map(tmp_path, monkeypatch):
    """Under AppTest, from a link with the contours on: the search's selection travels in the link; a bad search
    is refused with its text shown as written, the selection kept."""
    root = tmp_path / "ws"
    record = models.save_model(Workspace(root), models.build_mlp((64,), seed=0), "mlp", dataset="digits")
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    view = View(record.id, "digits", "dense_1", sample=300, params=PCAParams(), contours=True)
    for key, value in view.to_query().items():
        at.query_params[key] = value
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    assert at.toggle(key=links.CONTOURS_TOGGLE).value is True  # the link's switch
    traces = json.loads(map_chart(at).proto.spec)["data"]
    assert len([t for t in traces if t["type"] == "contour"]) == 10
    rows = np.concatenate([_array(t["customdata"]) for t in traces if "customdata" in t])
    threes = sorted({int(row[0]) for row in rows if int(row[1]) == 3})
    assert 0 < len(threes) < 300

    at = _search(at, "label:3")
    assert at.session_state[links.SELECTION]["indices"] == threes
    assert _query_value(at, "selection") == ",".join(map(str, threes)) and _query_value(at, "contours") == "on"
    assert any(f"selects **{len(threes)}** of the map's points" in c.value for c in at.caption)
    assert any(f"{len(threes)} selected points" in s.value for s in at.subheader)

    at = _search(at, "[x](y)**b**")
    [error] = at.error
    assert "'\\[x\\](y)\\*\\*b\\*\\*' is no point index" in error.value  # shown as typed, not as a link
    assert at.session_state[links.SELECTION]["indices"] == threes  # a refused search changes nothing
