"""Saved views in the workspace: save, find, list, delete, ids, tampered rows, concurrent saves, thumbnails.

Real SQLite indexes under tmp_path, real PNG files read back with Pillow, real
processes for the concurrent saves; nothing is mocked.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from featlib.share import thumbnails
from featlib.share.compare import CompareView, Panel
from featlib.share.thumbnails import MapPoints
from featlib.share.view_queries import parse
from featlib.share.views import View
from featlib.store import SavedViewError, Workspace
from featlib.store.saved_views import ID_PATTERN, MAX_TITLE, view_id, view_summary

ROOT = Path(__file__).resolve().parents[1]


def explore(**changes) -> View:
    values = dict(model="m1", dataset="digits", layer="dense_1", selection=(17, 3, 400))
    return View(**(values | changes))


def comparison() -> CompareView:
    return CompareView("digits", (Panel("m1", "dense"), Panel("m1", "dense_1", reducer="pca")), sample=500)


def png_of(n: int = 300, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return thumbnails.render_png([MapPoints(rng.normal(size=(n, 2)), np.arange(n), rng.integers(0, 10, n))])


def test_save_get_list_and_delete(workspace):
    png = png_of()
    saved, new = workspace.save_view("explore", explore().to_query(), "Digits 3 and 8", "alice", png)
    assert new and ID_PATTERN.fullmatch(saved.id) and saved.path == f"explore?view={saved.id}"
    assert (saved.kind, saved.title, saved.creator, saved.thumbnail) == ("explore", "Digits 3 and 8", "alice", png)
    got = workspace.get_view(saved.id)
    assert got == saved and View.from_query(got.query) == explore()  # the selection, sorted, is kept
    other, _ = workspace.save_view("compare", comparison().to_query(), "Two layers", "bob")
    assert {v.id for v in workspace.list_views()} == {saved.id, other.id}
    assert CompareView.from_query(workspace.get_view(other.id).query) == comparison()
    items = {i.id: i for i in workspace.items() if i.kind == "view"}
    assert items[saved.id].name == "Digits 3 and 8" and items[saved.id].bytes == len(png)
    assert items[saved.id].made_from == (
        "Explore map · m1 · dense_1 · function · UMAP · digits train · 10,000 points · 3 selected"
    )
    assert items[other.id].made_from == "Comparison of 2 panels · m1 dense, m1 dense_1 · digits train · 500 points"
    assert workspace.usage()["views"] == 2
    workspace.delete("view", saved.id)
    assert [v.id for v in workspace.list_views()] == [other.id]
    with pytest.raises(SavedViewError, match=f"No saved view '{saved.id}' in this workspace"):
        workspace.get_view(saved.id)
    with pytest.raises(SavedViewError, match="may have been deleted by another user"):
        workspace.delete("view", saved.id)


def test_the_id_is_short_url_safe_and_the_same_for_the_same_view(tmp_path):
    query = explore().to_query()
    first = Workspace(tmp_path / "a").save_view("explore", query, "one")[0]
    second = Workspace(tmp_path / "b").save_view("explore", dict(reversed(list(query.items()))), "two")[0]
    assert first.id == second.id == view_id("explore", View.from_query(query).to_query())  # stable across servers
    assert len(first.id) == 8 and first.id.isalnum() and first.id == first.id.lower()
    assert view_id("compare", query) != first.id  # the kind is part of it
    ids = {view_id("explore", explore(selection=(i,)).to_query()) for i in range(2_000)}
    assert len(ids) == 2_000 and all(ID_PATTERN.fullmatch(i) for i in ids)


def test_the_same_view_saved_twice_is_one_row_with_the_first_title(workspace):
    first, new = workspace.save_view("explore", explore().to_query(), "Alice's title", "alice")
    again, new_again = workspace.save_view("explore", explore(selection=(3, 17, 400, 400)).to_query(), "Bob's", "bob")
    assert new and not new_again and again == first  # the same view: alice's row, unchanged
    assert [v.title for v in workspace.list_views()] == ["Alice's title"]
    assert workspace.find_view("explore", explore().to_query()) == first
    assert workspace.find_view("explore", explore(selection=(3,)).to_query()) is None
    workspace.delete("view", first.id)
    revived, new = workspace.save_view("explore", explore().to_query(), "Again", "carol")
    assert new and revived.id == first.id  # the old short link works again


def test_titles_are_checked_and_kept_as_typed(workspace):
    markup = "<img src=x onerror=alert(1)> **bold** [link](http://evil)"
    saved, _ = workspace.save_view("explore", explore().to_query(), f"  {markup}  ")
    assert workspace.get_view(saved.id).title == markup  # stored as typed; the pages show it as plain text
    for title, message in (
        ("", "cannot be empty"),
        ("x" * (MAX_TITLE + 1), f"at most {MAX_TITLE} characters"),
        ("line\nbreak", "printable characters only"),
    ):
        with pytest.raises(ValueError, match=message):
            workspace.save_view("explore", explore(layer="dense").to_query(), title)
    assert len(workspace.list_views()) == 1


def test_a_query_that_is_no_view_is_refused(workspace):
    with pytest.raises(ValueError, match="Unknown kind of view: 'layers'"):
        workspace.save_view("layers", explore().to_query(), "t", parse=parse)
    with pytest.raises(ValueError, match="lacks model"):
        workspace.save_view("explore", {"dataset": "digits"}, "t", parse=parse)
    with pytest.raises(ValueError, match="query names its panels"):
        workspace.save_view("compare", explore().to_query(), "t", parse=parse)
    with pytest.raises(ValueError, match="a PNG of at most"):
        workspace.save_view("explore", explore().to_query(), "t", thumbnail=b"GIF89a")
    assert workspace.list_views() == []


@pytest.mark.parametrize(
    "ident", ["abc", "ABCDEFGH", "abcd-efg", "abcdefghi", "../../etc", "<b>x</b>xx", "", "a" * 500]
)
def test_a_malformed_id_is_named_with_the_rule(workspace, ident):
    with pytest.raises(
        SavedViewError, match="is not a saved view id: saved views have ids of 8 lowercase letters and digits"
    ):
        workspace.get_view(ident)


def test_an_unknown_id_says_where_it_may_come_from(workspace):
    with pytest.raises(
        SavedViewError,
        match="No saved view 'zzzzzzzz' in this workspace: it was deleted, or the link comes from another server",
    ):
        workspace.get_view("zzzzzzzz")


def tamper(workspace: Workspace, ident: str, **columns) -> None:
    with sqlite3.connect(workspace.index_path) as db:
        for column, value in columns.items():
            db.execute(f"UPDATE saved_views SET {column} = ? WHERE id = ?", (value, ident))


def test_tampered_rows_are_refused_when_opened_and_left_out_of_listings(workspace):
    a = workspace.save_view("explore", explore().to_query(), "a")[0]
    b = workspace.save_view("explore", explore(layer="dense").to_query(), "b")[0]
    c = workspace.save_view("explore", explore(layer="output").to_query(), "c", thumbnail=png_of())[0]
    tamper(workspace, a.id, kind="<script>")
    tamper(workspace, b.id, query='["not", "a", "query"]')
    tamper(workspace, c.id, title="evil\x1b[31m title", thumbnail=b"<svg onload=alert(1)>")
    with pytest.raises(SavedViewError, match=f"The saved view '{a.id}' is of kind '<script>', not one of"):
        workspace.get_view(a.id)
    with pytest.raises(SavedViewError, match=f"The saved view '{b.id}' holds no readable query"):
        workspace.get_view(b.id)
    shown = workspace.get_view(c.id)
    assert shown.title == "evil?[31m title" and shown.thumbnail == b""  # printable, and no picture that is no PNG
    assert [v.id for v in workspace.list_views()] == [c.id]
    tamper(workspace, c.id, query=json.dumps(explore().to_query() | {"method": "telepathy"}))
    with pytest.raises(ValueError, match="Unknown method in the link: 'telepathy'"):
        parse("explore", workspace.get_view(c.id).query)  # re-validated when opened


SAVER = """
import sys
from featlib.store import Workspace
from featlib.share.views import View
ws = Workspace(sys.argv[1])
for i in range(int(sys.argv[3])):
    ws.save_view("explore", View("m1", "digits", "dense_1", selection=(int(sys.argv[2]) * 1000 + i,)).to_query(),
                 f"view {sys.argv[2]}-{i}", f"process {sys.argv[2]}")
"""


def test_concurrent_saves_from_two_processes_lose_no_row(tmp_path):
    root = tmp_path / "ws"
    Workspace(root)
    n = 25
    procs = [subprocess.Popen([sys.executable, "-c", SAVER, str(root), str(p), str(n)], cwd=ROOT) for p in (1, 2)]
    assert [proc.wait(timeout=120) for proc in procs] == [0, 0]
    views = Workspace(root).list_views()
    assert len(views) == 2 * n and len({v.id for v in views}) == 2 * n
    assert {v.creator for v in views} == {"process 1", "process 2"}


def test_the_thumbnail_is_a_small_png_in_the_maps_colours_drawn_fast():
    rng = np.random.default_rng(0)
    n = 10_000
    coords = np.concatenate([rng.normal(size=(n // 2, 2)), rng.normal(size=(n // 2, 2)) + 8])
    labels = np.repeat([0, 3], n // 2)
    points = MapPoints(coords, np.arange(n), labels, selected=[0])
    thumbnails.render_png([points])  # Pillow's first import
    started = time.perf_counter()
    data = thumbnails.render_png([points])
    took = time.perf_counter() - started
    assert took < 0.25, f"a 10,000-point thumbnail took {took * 1000:.0f} ms"
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (160, 160)) and len(data) < 40_000
    colours = {c for _, c in image.convert("RGB").getcolors(160 * 160)}
    assert {(31, 119, 180), (214, 39, 40), (0, 0, 0), (255, 255, 255)} <= colours  # label 0, label 3, selected, paper
    wrong = MapPoints(coords, np.arange(n), labels, predicted=np.zeros(n, int), colour="correct")
    colours = {c for _, c in Image.open(io.BytesIO(thumbnails.render_png([wrong] * 3))).convert("RGB").getcolors(25600)}
    assert {(176, 183, 191), (214, 39, 40)} <= colours
    with pytest.raises(ValueError, match="coords must be \\(n, 2\\)"):
        thumbnails.render_png([MapPoints(coords[:5], np.arange(4), labels[:4])])
    with pytest.raises(ValueError, match="1 to 4 maps; got 5"):
        thumbnails.render_png([points] * 5)


def test_ls_lists_saved_views_without_tensorflow(tmp_path):
    ws = Workspace(tmp_path / "ws")
    saved = ws.save_view("explore", explore().to_query(), "<b>Threes</b>", "alice")[0]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from featlib.cli import main; rc = main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules; sys.exit(rc)",
            "--workspace",
            str(ws.root),
            "ls",
            "--kind",
            "view",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "<b>Threes</b>" in out.stdout and f"explore?view={saved.id}" in out.stdout and "alice" in out.stdout
    assert view_summary(saved, {"m1": "mlp"}).startswith("Explore map · mlp · dense_1")
