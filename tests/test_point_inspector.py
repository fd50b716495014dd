"""The Explore page's point inspector under AppTest: one click on a point shows its image, labels and neighbours.

The click is sent as the browser sends it: the chart's widget state holds
Streamlit's selection event (one point, no box, no lasso) as JSON. AppTest has
no plotly widget to set, so the event is added to the widget states of the
next run (``tests/e2e/test_newcomer_browser.py`` clicks in Chromium).
"""

from __future__ import annotations

import base64
import json

import numpy as np
from app_testing import no_exception, page_path
from scipy.spatial.distance import cdist
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest
from test_app import button, metric, train_small_model

from featlib.app import inspector
from featlib.store import Workspace


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly 6's typed array ``{"dtype", "bdata", "shape"}``."""
    if isinstance(value, dict):
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return data.reshape([int(s) for s in str(shape).split(",")]) if shape else data
    return np.asarray(value)


def map_chart(at: AppTest):
    charts = [e for e in at.get("plotly_chart") if "map" in e.proto.id]
    assert charts, "no map chart"
    return charts[0]


def map_points(at: AppTest) -> list[tuple[int, int, np.ndarray, float, float]]:
    """``(curve, point_index, customdata row, x, y)`` of every point of the map's chart."""
    spec = json.loads(map_chart(at).proto.spec)
    found = []
    for curve, trace in enumerate(spec["data"]):
        custom, xs, ys = _array(trace["customdata"]), _array(trace["x"]), _array(trace["y"])
        found += [(curve, i, custom[i], float(xs[i]), float(ys[i])) for i in range(len(custom))]
    return found


def send_selection(at: AppTest, points: list[tuple], box: bool = False) -> AppTest:
    """Runs ``at`` as after a click on ``points`` (or, with ``box``, a box around them) in the map."""
    event = {
        "selection": {
            "points": [
                {
                    "curve_number": c,
                    "point_number": i,
                    "point_index": i,
                    "x": x,
                    "y": y,
                    "customdata": [float(v) for v in custom],
                }
                for c, i, custom, x, y in points
            ],
            "point_indices": [i for _, i, *_ in points],
            "box": [{"xref": "x", "yref": "y", "x": [-1e9, 1e9], "y": [-1e9, 1e9]}] if box else [],
            "lasso": [],
        }
    }
    states = at._tree.get_widget_states()  # no public way to set a chart's selection in AppTest
    states.widgets.append(WidgetState(id=map_chart(at).proto.id, string_value=json.dumps(event)))
    return no_exception(at._run(states))


def neighbour_captions(at: AppTest) -> list[str]:
    """The neighbours' captions, ``#index · label · distance`` (escaped for markdown: read without backslashes)."""
    captions = [c.replace("\\", "") for e in at.get("image") for c in e.captions]
    return [c for c in captions if c.startswith("#") and c.count(" · ") == 2]


def test_a_click_on_a_point_shows_its_image_labels_confidence_and_neighbours(app, tmp_path):
    at = train_small_model(app.run())
    at.session_state["map_reducer"] = "pca"  # instant; the metric follows the map's (Euclidean for PCA)
    at = no_exception(at.switch_page(page_path("explore")).run())
    assert metric(at, "points") == "1,437"
    points = map_points(at)
    wrong = [p for p in points if p[2][1] != p[2][2]]
    clicked = (wrong or points)[0]
    index = int(clicked[2][0])

    at = send_selection(at, [clicked])
    assert any(s.value == f"Point #{index}" for s in at.subheader)
    assert metric(at, "true label") == str(int(clicked[2][1]))
    assert metric(at, "predicted label") == str(int(clicked[2][2]))
    assert abs(float(metric(at, "confidence")) - clicked[2][3]) < 1e-3
    if wrong:
        assert any("Misclassified" in e.value for e in at.error)
    # The click is no selection: nothing outlined, nothing in the link; the point is marked on the map.
    assert not any("selected points" in s.value for s in at.subheader) and "selection" not in at.query_params
    names = [t.get("name", "") for t in json.loads(map_chart(at).proto.spec)["data"]]
    assert names[-1] == f"{inspector.MARK_NAME} #{index}"

    # The neighbours are the layer's own (not the map's), by the PCA map's Euclidean distance, nearest first.
    captions = neighbour_captions(at)
    assert len(captions) == inspector.K_DEFAULT
    assert any("by euclidean distance: the metric of this PCA map" in c.value for c in at.caption)
    ws = Workspace(tmp_path / "ws")
    [rep_key] = [item.id for item in ws.items() if item.kind == "representation"]
    reps = ws.load_array("representation", rep_key)
    distances = cdist(reps[[index]].astype("float64"), reps.astype("float64"))[0]
    distances[index] = np.inf
    expected = np.lexsort((np.arange(len(reps)), distances))[: inspector.K_DEFAULT]
    assert [int(c.split(" · ")[0][1:]) for c in captions] == expected.tolist()
    shown = [float(c.split(" · ")[-1]) for c in captions]
    np.testing.assert_allclose(shown, distances[expected], rtol=5e-3)  # shown to 3 significant digits

    at.selectbox(key=inspector.K_PICKER).set_value(4)
    at = no_exception(at.run())
    assert len(neighbour_captions(at)) == 4

    # A box keeps working as before, and the inspected point stays.
    boxed = points[:3]
    at = send_selection(at, boxed, box=True)
    assert any("3 selected points" in s.value for s in at.subheader)
    assert at.query_params["selection"] in (
        ",".join(str(int(p[2][0])) for p in sorted(boxed, key=lambda p: p[2][0])),
        [",".join(str(int(p[2][0])) for p in sorted(boxed, key=lambda p: p[2][0]))],
    )
    assert any(s.value == f"Point #{index}" for s in at.subheader)

    button(at, "Close").click()
    at = no_exception(at.run())
    assert not any(s.value.startswith("Point #") for s in at.subheader)
    assert any("3 selected points" in s.value for s in at.subheader)


def test_coloured_by_neighbourhood_kept_the_map_outlines_its_tears_and_the_inspector_says_how_many(app, tmp_path):
    """Issue 27, item 1: each point's share of its 10 neighbours in the layer that are among its 10 on the map."""
    from featlib import plots
    from featlib.app import links
    from featlib.maps import neighbour_change

    at = train_small_model(app.run())
    at.session_state["map_reducer"] = "pca"  # a linear map of a 32-unit layer: it tears neighbourhoods somewhere
    at.session_state[links.COLOUR_PICKER] = "kept"
    at = no_exception(at.switch_page(page_path("explore")).run())
    traces = json.loads(map_chart(at).proto.spec)["data"]
    assert traces[0]["name"] == "neighbourhood kept"
    assert any("tears apart images that are neighbours in the layer" in c.value for c in at.caption)
    ws = Workspace(tmp_path / "ws")
    [rep_key] = [item.id for item in ws.items() if item.kind == "representation"]
    [emb_key] = [item.id for item in ws.items() if item.kind == "embedding"]
    reps, table = ws.load_array("representation", rep_key), ws.load_array("embedding", emb_key)
    indices, coords = table[:, 0].astype(int), table[:, 1:3]
    expected = neighbour_change.neighbour_change(reps[indices], coords, k=10)
    shaded = np.asarray(_array(traces[0]["marker"]["color"]), dtype=float)
    drawn = np.asarray(_array(traces[0]["customdata"]))[:, 0].astype(int)
    order = np.argsort(indices)
    np.testing.assert_allclose(shaded[np.argsort(drawn)], expected.kept_share[order], atol=1e-6)
    torn = [t for t in traces if t["name"] == plots.TORN_NAME]
    assert (expected.kept_share < plots.KEPT_TORN).any() == bool(torn)

    points = map_points(at)
    clicked = points[0]
    index = int(clicked[2][0])
    at = send_selection(at, [clicked])
    shared = int(expected.shared[int(np.flatnonzero(indices == index)[0])])
    assert any(
        c.value.startswith(f"{shared} of its 10 nearest neighbours in the layer are among its 10 nearest on the map")
        for c in at.caption
    ), [c.value for c in at.caption]
