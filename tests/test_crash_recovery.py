"""Nothing lost, nothing half-written: real processes killed with SIGKILL mid-save.

A child Python process saves in a loop (a real Keras model of 784-2048-2048-10,
about 23 MB, or large embedding arrays) and prints ``saving i`` before and
``saved i`` after each save. The parent waits until a save has started, sleeps
a fraction of one save's duration and kills the child with SIGKILL, several
times at different delays. Then a new :class:`Workspace` object (as a
restarted server would make) must open, list only complete items, and load
every one of them with the content its record promises; leftover ``.tmp-*``
files are never listed and are removed by ``clean_temporary_files``.

Run with ``-s`` to see where each kill landed.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from featlib import models
from featlib.store import TEMP_PREFIX, Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
# Fractions of one save's duration after "saving i" at which the parent kills.
KILL_FRACTIONS = (0.05, 0.3, 0.55, 0.8)
EMBEDDING_ROWS = 2_000_000  # (rows, 3) float64: 48 MB, an embedding table writ large

MODEL_CHILD = textwrap.dedent(
    """
    import sys, time
    from featlib import models
    from featlib.store import Workspace

    ws = Workspace(sys.argv[1])
    model = models.build_mlp((784,), hidden=(2048, 2048), seed=0)
    weights = model.get_weights()
    for i in range(1000):
        weights[1][0] = float(i)  # first bias: says which save this is
        model.set_weights(weights)
        print(f"saving {i}", flush=True)
        start = time.perf_counter()
        models.save_model(ws, model, "crash", dataset="digits", meta={"i": i})
        print(f"saved {i} {time.perf_counter() - start:.4f}", flush=True)
    """
)

ARRAY_CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from featlib.store import Workspace

    ws = Workspace(sys.argv[1])
    tag, rows = sys.argv[2], int(sys.argv[3])
    table = np.empty((rows, 3), dtype="float64")
    for i in range(1000):
        table.fill(float(i))
        print(f"saving {i}", flush=True)
        start = time.perf_counter()
        ws.save_array("embedding", f"crash/{tag}/{i}", table, meta={"i": i})
        print(f"saved {i} {time.perf_counter() - start:.4f}", flush=True)
    """
)


def child_env() -> dict:
    path = os.environ.get("PYTHONPATH", "")
    return dict(
        os.environ, PYTHONPATH=f"{REPO_ROOT}{os.pathsep}{path}" if path else str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL="2"
    )


class Child:
    """A Python child process whose stdout lines are read in a thread."""

    def __init__(self, script: str, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", script, *args],
            cwd=REPO_ROOT,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.put(line.strip())

    def wait_for(self, prefix: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.process.kill()
                raise AssertionError(
                    f"no {prefix!r} from the child; stderr:\n{self.process.stderr.read()[-3000:]}"
                ) from None
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        assert self.process.returncode == -signal.SIGKILL
        time.sleep(0.2)  # let the reader drain the pipe
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        self.process.stderr.close()  # stdout is closed by its reader, at its end

    def finish(self, timeout: float) -> int:
        """Waits for the child to exit; returns its exit status, its pipes closed."""
        self.process.wait(timeout=timeout)
        self.process.stderr.close()
        return self.process.returncode

    def saved(self) -> list[str]:
        return [line for line in self.seen if line.startswith("saved ")]


@dataclass
class Kill:
    delay: float
    landed: str
    temp_bytes: list[int] = field(default_factory=list)


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(TEMP_PREFIX + "*"))


def final_files(root: Path, folder: str) -> set[str]:
    return {p.name for p in (root / folder).rglob("*") if p.is_file() and not p.name.startswith(TEMP_PREFIX)}


def indexed_files(root: Path) -> set[str]:
    with Workspace(root)._connect() as db:
        rows = db.execute("SELECT path FROM models UNION ALL SELECT path FROM artifacts").fetchall()
    return {row[0].rsplit("/", 1)[-1] for row in rows}


def kill_mid_save(
    script: str, root: Path, folder: str, args: tuple[str, ...], fraction: float, rng: random.Random
) -> tuple[Kill, list[str]]:
    """Runs a saving child, kills it during its second save; says where the kill landed."""
    earlier_temps = set(temp_files(root))  # left by earlier kills
    child = Child(script, str(root), *args)
    first = child.wait_for("saved 0")
    duration = float(first.split()[2])
    child.wait_for("saving 1")
    before = final_files(root, folder)
    delay = duration * fraction * rng.uniform(0.8, 1.2)
    time.sleep(delay)
    child.kill()
    temps = [p for p in temp_files(root) if p not in earlier_temps]
    finals = final_files(root, folder)
    saved_after = [line for line in child.saved() if not line.startswith("saved 0")]
    if temps:
        landed = "mid-write (temporary file left)"
    elif saved_after:
        landed = "after the save (index committed)"
    elif finals - before:
        indexed = indexed_files(root)
        if all(name in indexed for name in finals - before):
            landed = "after the index commit, before 'saved' was printed"
        else:
            landed = "after the rename, before the index commit (the file is not listed)"
    else:
        landed = "before the write began"
    return Kill(delay, landed, [p.stat().st_size for p in temps]), child.saved()


def report(title: str, kills: list[Kill], full_size: int, listed: int, leftovers: int, unlisted: int = 0) -> None:
    print(f"\n{title}: {len(kills)} kills; a complete file is {full_size:,} bytes")
    for kill in kills:
        sizes = ", ".join(f"{b:,} B ({b / full_size:.0%})" for b in kill.temp_bytes)
        print(f"  killed {kill.delay * 1000:7.1f} ms into a save: {kill.landed}{': ' + sizes if sizes else ''}")
    print(
        f"  reopened workspace lists {listed} complete items; {leftovers} temporary files were left over"
        f"{f', {unlisted} complete but unlisted files (killed between rename and commit)' if unlisted else ''}"
    )


def test_sigkill_while_saving_models_loses_nothing_and_lists_only_complete_models(tmp_path):
    root = tmp_path / "ws"
    rng = random.Random(1234)
    kills, saved_lines = [], []
    for fraction in KILL_FRACTIONS:
        kill, saved = kill_mid_save(MODEL_CHILD, root, "models", (), fraction, rng)
        kills.append(kill)
        saved_lines += saved
        # Every restart opens the workspace as a server would, and it lists only complete models.
        listed = Workspace(root).list_models()
        assert all(not r.path.split("/")[-1].startswith(TEMP_PREFIX) for r in listed)
    assert any(k.temp_bytes for k in kills), f"no kill landed mid-write: {kills}"

    leftovers = temp_files(root)
    assert leftovers, "the kills mid-write should have left temporary files"
    ws = Workspace(root)  # a fresh object, as after a restart; young leftovers are kept
    assert temp_files(root) == leftovers
    listed = ws.list_models()
    assert len(listed) >= len(saved_lines)  # everything reported saved is there...
    assert len(listed) <= len(saved_lines) + len(kills)  # ...plus at most one per kill
    assert len({r.name for r in listed}) == len(listed) and len({r.id for r in listed}) == len(listed)
    assert {r.name for r in listed} == {"crash"} | {f"crash-{n}" for n in range(2, len(listed) + 1)}
    full_size = 0
    for record in listed:
        path = ws.root / record.path
        full_size = max(full_size, path.stat().st_size)
        loaded = models.load_model(path)
        assert models.fingerprint(loaded) == record.fingerprint
        assert loaded.get_weights()[1][0] == record.meta["i"]
        assert ws.load_model(record.name).count_params() == loaded.count_params()
    unlisted = final_files(root, "models") - {r.path.split("/")[-1] for r in listed}
    assert unlisted <= {n for n in final_files(root, "models") if n not in indexed_files(root)}
    report("models (784-2048-2048-10)", kills, full_size, len(listed), len(leftovers), len(unlisted))

    # The killed writers hold no lock: the leftovers go, the listing stays.
    assert sorted(ws.clean_temporary_files(older_than=0)) == leftovers
    assert temp_files(root) == [] and ws.list_models() == listed
    assert ws.usage()["models"] == len(listed)


def test_sigkill_while_saving_embeddings_lists_only_complete_arrays(tmp_path):
    root = tmp_path / "ws"
    rng = random.Random(5678)
    kills, keys = [], []
    for n, fraction in enumerate(KILL_FRACTIONS):
        tag = f"run{n}"
        kill, saved = kill_mid_save(ARRAY_CHILD, root, "arrays", (tag, str(EMBEDDING_ROWS)), fraction, rng)
        kills.append(kill)
        keys += [(tag, int(line.split()[1])) for line in saved]
    assert any(k.temp_bytes for k in kills), f"no kill landed mid-write: {kills}"

    leftovers = temp_files(root)
    ws = Workspace(root)
    with ws._connect() as db:
        rows = db.execute("SELECT key, kind, path, bytes, meta FROM artifacts").fetchall()
    assert all(not row["path"].split("/")[-1].startswith(TEMP_PREFIX) for row in rows)
    listed = {row["key"] for row in rows}
    assert {f"crash/{tag}/{i}" for tag, i in keys} <= listed  # nothing reported saved is lost
    assert len(listed) <= len(keys) + len(kills)
    full_size = EMBEDDING_ROWS * 3 * 8 + 128
    for row in rows:
        array = ws.load_array(row["kind"], row["key"])
        assert array is not None and array.shape == (EMBEDDING_ROWS, 3) and array.dtype == np.float64
        i = json.loads(row["meta"])["i"]
        assert array[0, 0] == array[-1, -1] == i and np.all(array == i)
        assert (ws.root / row["path"]).stat().st_size == row["bytes"] == full_size
    assert ws.usage()["embeddings"] == len(rows)
    report(f"embeddings ({EMBEDDING_ROWS:,} × 3 float64)", kills, full_size, len(rows), len(leftovers))

    removed = ws.clean_temporary_files(older_than=0)
    assert sorted(removed) == leftovers and temp_files(root) == []
    assert ws.usage()["embeddings"] == len(rows)


# ----------------------------------------------------------------------------- the same name at once

SAME_NAME_CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    from featlib import models
    from featlib.store import Workspace

    root, go, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = models.build_mlp((784,), hidden=(512, 256), seed=seed)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    record = models.save_model(Workspace(root), model, "same", dataset="digits", meta={"seed": seed})
    print("saved " + json.dumps({"name": record.name, "id": record.id, "seed": seed,
                                 "fingerprint": models.fingerprint(model)}), flush=True)
    """
)


def test_two_processes_saving_the_same_name_at_once_keep_both(tmp_path):
    root = tmp_path / "fresh-ws"  # not there yet: both processes also create it at once
    go = tmp_path / "go"
    children = [Child(SAME_NAME_CHILD, str(root), str(go), str(seed)) for seed in (11, 22)]
    for child in children:
        child.wait_for("ready")
    go.touch()
    results = [json.loads(child.wait_for("saved ")[len("saved ") :]) for child in children]
    for child in children:
        assert child.finish(60) == 0
    assert sorted(r["name"] for r in results) == ["same", "same-2"]
    assert results[0]["id"] != results[1]["id"]
    assert results[0]["fingerprint"] != results[1]["fingerprint"]
    ws = Workspace(root)
    assert sorted(r.name for r in ws.list_models()) == ["same", "same-2"]
    for result in results:
        record = ws.get_model(result["name"])
        assert record.id == result["id"] and record.meta["seed"] == result["seed"]
        assert models.fingerprint(ws.load_model(result["name"])) == result["fingerprint"] == record.fingerprint
    assert temp_files(root) == []


def test_threads_saving_the_same_name_at_once_keep_all(tmp_path):
    ws = Workspace(tmp_path / "ws")
    built = [models.build_mlp((64,), hidden=(32,), seed=seed) for seed in range(4)]
    barrier = threading.Barrier(len(built))
    records: dict[int, object] = {}
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            barrier.wait()
            records[i] = models.save_model(ws, built[i], "same", dataset="digits")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(built))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sorted(r.name for r in records.values()) == ["same", "same-2", "same-3", "same-4"]
    for i, record in records.items():
        assert models.fingerprint(ws.load_model(record.name)) == models.fingerprint(built[i]) == record.fingerprint


# ----------------------------------------------------------------------------- the cleaner spares live writers

HOLDER_CHILD = textwrap.dedent(
    """
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("holding", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_clean_temporary_files_spares_a_live_writer_and_young_files(tmp_path):
    ws = Workspace(tmp_path / "ws")
    folder = ws.root / "models"
    folder.mkdir(exist_ok=True)
    held, dead, young = (folder / f"{TEMP_PREFIX}{name}.keras" for name in ("held", "dead", "young"))
    holder = Child(HOLDER_CHILD, str(held))
    try:
        holder.wait_for("holding")
        dead.write_bytes(b"half")
        old = time.time() - 3600
        for path in (held, dead):
            os.utime(path, (old, old))
        young.write_bytes(b"half")
        assert ws.clean_temporary_files() == [dead]  # old and unheld only
        assert held.exists() and young.exists()
        assert ws.clean_temporary_files(older_than=0) == [young]  # the held one stays
        assert held.exists()
    finally:
        holder.kill()
    assert ws.clean_temporary_files(older_than=0) == [held]  # its writer is gone
    # Opening a workspace cleans up with the default age.
    stale = folder / f"{TEMP_PREFIX}stale.keras"
    stale.write_bytes(b"half")
    os.utime(stale, (old, old))
    Workspace(ws.root)
    assert not stale.exists()
