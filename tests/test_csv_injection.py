"""Issue 26, item 7: spreadsheet formulas in exports.

Class names such as ``=HYPERLINK(…)``, ``=cmd|' /C calc'!A0``, ``@SUM(1,1)``, ``+1+1`` were written verbatim into
the map CSV and the bundle's CSV, where a spreadsheet runs them. Every CSV featlib writes now neutralises such
text cells (a single quote in front, OWASP's advice), and class names holding control characters (a tab, a
carriage return) are refused at upload. The tests read the real CSV files back.
"""

from __future__ import annotations

import csv
import io
import zipfile

import numpy as np
import pytest
from test_bundle import _view_in

from featlib import csv_cells
from featlib.datasets import DatasetError, from_arrays, load_npz
from featlib.share import bundle, exports
from featlib.store import Workspace

EVIL = [
    '=HYPERLINK("http://127.0.0.1:9/leak?"&A1,"click")',
    "=cmd|' /C calc'!A0",
    "@SUM(1,1)",
    "+1+1",
    "-1+1",
    "\uff1d1+1",  # a full-width "="
    "plain name",
    "-2",  # a plain number: a spreadsheet reads a number, which runs nothing
    "three",
    "=1+1",
]
RUNS = ("=", "+", "-", "@", "\t", "\r", "\uff1d")


def _read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _assert_inert(rows: list[dict[str, str]]) -> None:
    names = {row["label_name"] for row in rows}
    assert names, "no rows"
    for name in names:
        runs = name.startswith(RUNS) and name != "-2"
        assert not runs, f"a spreadsheet would run {name!r}"
    assert "'=cmd|' /C calc'!A0" in names or not any("cmd|" in n for n in names)


def test_the_map_csv_neutralises_formula_class_names(tmp_path):
    indices = np.arange(10)
    coords = np.column_stack([np.linspace(-1, 1, 10), np.linspace(-5, 5, 10)])
    table = exports.embedding_table(indices, coords, np.arange(10), np.arange(10)[::-1], EVIL)
    path = tmp_path / "map.csv"
    path.write_bytes(exports.table_bytes(table, "csv"))  # what the Explore page's CSV button downloads
    rows = _read_csv(path)
    _assert_inert(rows)
    by_label = {int(row["label"]): row["label_name"] for row in rows}
    assert by_label[0] == "'" + EVIL[0] and by_label[2] == "'@SUM(1,1)" and by_label[3] == "'+1+1"
    assert by_label[6] == "plain name" and by_label[7] == "-2"  # text and numbers that run nothing: unchanged
    assert float(rows[0]["x"]) == -1.0 and rows[0]["x"] == "-1.0"  # numbers stay numbers, negative ones too


def test_the_bundles_csv_neutralises_formula_class_names(tmp_path, model, digits):
    evil = from_arrays(digits.x_train, digits.y_train, "evil digits", EVIL, digits.x_test, digits.y_test, source="test")
    ws = Workspace(tmp_path / "ws")
    ws.save_dataset(evil)
    view = _view_in(ws, model, evil, "upload:" + evil.fingerprint)
    data = bundle.export_bundle(ws, view, exported_by="alice")
    path = tmp_path / "embedding.csv"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        path.write_bytes(archive.read("embedding.csv"))
    rows = _read_csv(path)
    _assert_inert(rows)
    assert {row["label_name"] for row in rows} >= {"'=cmd|' /C calc'!A0", "'-1+1", "'\uff1d1+1"}


@pytest.mark.parametrize("name", ["\tTab", "\rReturn", "line\nbreak", "esc\x1b[31m", "nul\x00x"])
def test_class_names_with_control_characters_are_refused_at_upload(tmp_path, digits, name):
    path = tmp_path / "upload.npz"
    names = [str(i) for i in range(9)] + [name]
    np.savez(path, x=digits.x_train, y=digits.y_train, class_names=np.array(names))
    with pytest.raises(DatasetError, match="printable characters only") as caught:
        load_npz(path)
    assert "class 9" in str(caught.value) and repr(name[:40]) in str(caught.value)


def test_one_helper_neutralises_every_kind_of_cell():
    assert csv_cells.safe_row(["\tx", "\r=1", "@a", "-1.5e3", "+3", 4, -1.5, None]) == [
        "'\tx",
        "'\r=1",
        "'@a",
        "-1.5e3",
        "+3",
        4,
        -1.5,
        None,
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerow(csv_cells.safe_row(["=1+1", "ok"]))
    assert buffer.getvalue().startswith("'=1+1,ok")
