"""One compile cache per user and machine (featlib.maps.compile_cache), used by the workers, the CLI and the bench."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from featlib.maps import compile_cache

ROOT = Path(__file__).resolve().parents[1]


def test_the_setting_names_the_folder_else_the_platforms_cache_folder():
    assert compile_cache.folder({"FEATLIB_NUMBA_CACHE": "/srv/numba"}) == Path("/srv/numba")
    assert compile_cache.folder({"FEATLIB_NUMBA_CACHE": "  ", "HOME": "/home/ann"}) == Path(
        "/home/ann/.cache/featlib/numba"
    )
    assert compile_cache.folder({"XDG_CACHE_HOME": "/var/cache/ann", "HOME": "/home/ann"}) == Path(
        "/var/cache/ann/featlib/numba"
    )
    assert compile_cache.default_folder({"HOME": "/Users/ann"}, "darwin") == Path(
        "/Users/ann/Library/Caches/featlib/numba"
    )
    assert compile_cache.default_folder(
        {"LOCALAPPDATA": "C:/Users/ann/AppData/Local", "HOME": "C:/Users/ann"}, "win32"
    ) == Path("C:/Users/ann/AppData/Local/featlib/numba")
    assert str(compile_cache.folder({"FEATLIB_NUMBA_CACHE": "~/numba", "HOME": "/home/ann"})).endswith("numba")


def test_workers_use_the_machines_cache(monkeypatch, tmp_path):
    from featlib.jobs import worker

    monkeypatch.setenv("FEATLIB_NUMBA_CACHE", str(tmp_path / "numba"))
    assert worker.numba_cache_folder() == str(tmp_path / "numba")


def test_the_cli_embeds_with_the_machines_cache_not_the_workspaces(monkeypatch, tmp_path):
    from featlib import cli, models
    from featlib.store import Workspace

    used = []
    monkeypatch.setattr(compile_cache, "enable", lambda where=None: used.append(where) or compile_cache.folder())
    monkeypatch.setattr("featlib.maps.embed.umap_embed", lambda x, params, **kw: x[:, :2].astype("float32"))
    workspace = Workspace(tmp_path / "ws")
    model = models.build_mlp((64,), hidden=(8,), num_classes=10)
    models.save_model(workspace, model, "m", dataset="digits")
    assert (
        cli.main(
            [
                "--workspace",
                str(workspace.root),
                "embed",
                "m",
                "--layer",
                "dense",
                "--dataset",
                "digits",
                "--sample",
                "100",
                "--out",
                str(tmp_path / "map.csv"),
            ]
        )
        == 0
    )
    assert used == [None]  # compile_cache.enable() with its default: the machine's folder
    assert not (workspace.root / "numba-cache").exists()


MODULE = """
import numba

@numba.njit(cache=True)
def plus_one(x):
    return x + 1
"""

FILL = """
import sys
sys.path.insert(0, sys.argv[1])
from featlib.maps import compile_cache
assert compile_cache.lock_index_saves()
import jitted
for value in ([1, 1.5] if sys.argv[2] == "int-first" else [1.5, 1]) * 3:
    assert jitted.plus_one(value) == value + 1
"""

LOAD = """
import sys
sys.path.insert(0, sys.argv[1])
import jitted
assert jitted.plus_one(1) == 2 and jitted.plus_one(1.5) == 2.5
print(sum(jitted.plus_one.stats.cache_hits.values()), sum(jitted.plus_one.stats.cache_misses.values()))
"""


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the save lock uses fcntl (POSIX)")
def test_processes_filling_one_cache_at_once_leave_every_signature_loadable(tmp_path):
    """Four processes compile two signatures of one cached function in opposite orders into one folder at once;
    a fifth then loads both from the cache, each giving its own signature's result."""
    (tmp_path / "jitted.py").write_text(textwrap.dedent(MODULE))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    fillers = [
        subprocess.Popen([sys.executable, "-c", FILL, str(tmp_path), order], env=env, stderr=subprocess.PIPE, text=True)
        for order in ("int-first", "float-first") * 2
    ]
    for process in fillers:
        _, stderr = process.communicate(timeout=300)  # reads and closes its pipe
        assert process.returncode == 0, stderr
    assert not list((tmp_path / "cache").rglob("*.tmp.*"))  # every temporary file was renamed over its target
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    hits, misses = map(int, done.stdout.split())
    assert (hits, misses) == (2, 0)


def test_the_lock_wraps_numbas_save_once():
    from numba.core.caching import IndexDataCacheFile

    assert compile_cache.lock_index_saves() is True
    wrapped = IndexDataCacheFile.save
    assert compile_cache.lock_index_saves() is True
    assert IndexDataCacheFile.save is wrapped and hasattr(wrapped, "__wrapped__")


HIGHER = """
import numba

@numba.njit(cache=True)
def twice(x):
    return 2 * x

@numba.njit(cache=True)
def apply(f, x):
    return f(x)
"""

APPLY = """
import sys
sys.path.insert(0, sys.argv[1])
from featlib.maps import compile_cache
compile_cache.lock_index_saves()
import higher
assert higher.apply(higher.twice, 3) == 6
"""


@pytest.mark.skipif(sys.platform.startswith("win"), reason="the save lock uses fcntl (POSIX)")
def test_an_entry_typed_by_a_function_argument_is_not_written(tmp_path):
    """``apply(twice, 3)``'s signature holds ``twice``'s type, which no other process can match: each new process
    compiled it and wrote another entry (pynndescent's process_candidates grew to 66 copies). Now none is written;
    ``twice`` itself is cached as before."""
    (tmp_path / "higher.py").write_text(textwrap.dedent(HIGHER))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", APPLY, str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    written = sorted(p.name.split(".")[1] for p in (tmp_path / "cache").rglob("*.nbc"))
    assert written and all(name.startswith("twice") for name in written), written
    assert not any(name.startswith("apply") for name in written)


FRESH_MAP = """
import json, sys
import numpy as np
from featlib.maps import compile_cache, embed
compile_cache.enable()  # the machine's cache, as the CLI and the workers use it
from numba.core.registry import CPUDispatcher

OWN = ("featlib.maps.kernels", "featlib.maps.layout")


def dispatchers():
    found = {}
    for name, module in list(sys.modules.items()):
        if module is not None and (name.split(".")[0] in ("umap", "pynndescent") or name in OWN):
            for attribute, value in list(vars(module).items()):
                if isinstance(value, CPUDispatcher):  # by the name it is called by (two may share one function)
                    found[name + "." + attribute] = value
    return found


def misses():
    return {name: sum(d.stats.cache_misses.values()) for name, d in dispatchers().items()}


before = misses()  # umap-learn compiles a few functions with explicit signatures at import, uncached: not the fit's
rng = np.random.default_rng(0)
x = (rng.normal(scale=4.0, size=(5, 32))[rng.integers(0, 5, 600)] + rng.normal(size=(600, 32))).astype("float32")
coords = embed.umap_embed(x, embed.UMAPParams(n_epochs=20))
np.save(sys.argv[1], coords)
found = dispatchers()
print(json.dumps({
    "compiled": sorted(name for name, count in misses().items() if count > before.get(name, 0)),
    "loaded": sorted(name for name, d in found.items() if sum(d.stats.cache_hits.values())),
    "nn_descent_compiled": bool(found["pynndescent.pynndescent_.nn_descent"].overloads),
}))
"""


def test_a_fresh_process_with_the_machines_cache_compiles_nothing_for_a_small_map(tmp_path):
    """The first map of a new process loads every compiled function from the machine's cache (Numba's own cache
    statistics, per function): the exact kNN graph (featlib.maps.knn) leaves out pynndescent's nn_descent, the part no
    cache keeps. The first process fills the cache where it is empty; both give the same map."""
    import json

    import numpy as np

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = []
    for name in ("fill", "fresh"):
        done = subprocess.run(
            [sys.executable, "-c", FRESH_MAP, str(tmp_path / f"{name}.npy")],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    fresh = runs[1]
    assert fresh["compiled"] == [], fresh["compiled"]
    assert {
        "featlib.maps.kernels.select_smallest",
        "umap.umap_.smooth_knn_dist",
        "umap.umap_.compute_membership_strengths",
        "featlib.maps.layout.epoch",  # the seeded layout on every core (umap-learn's own epoch no longer runs)
    } <= set(fresh["loaded"]), fresh["loaded"]
    assert not fresh["nn_descent_compiled"]
    np.testing.assert_array_equal(np.load(tmp_path / "fill.npy"), np.load(tmp_path / "fresh.npy"))
