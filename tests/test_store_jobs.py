"""Tests for featlib.store.jobs: the job table of the index, real SQLite."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime

import pytest

from featlib.store import FINISHED, JOB_STATUSES, JobRow, Workspace, WorkspaceError
from featlib.store.jobs import JobIndex


@pytest.fixture
def ws(tmp_path):
    return Workspace(tmp_path / "ws")


def test_statuses():
    assert JOB_STATUSES == ("queued", "running", "done", "failed", "cancelled", "interrupted", "over-limit")
    assert FINISHED == ("done", "failed", "cancelled", "interrupted", "over-limit")


def test_the_schema_has_the_jobs_table_and_its_indexes(ws):
    with ws._connect() as db:
        columns = {row[1]: (row[2], row[3], row[4]) for row in db.execute("PRAGMA table_info(jobs)")}
        indexes = {row[1]: row[2] for row in db.execute("PRAGMA index_list(jobs)")}
        indexed = {name: [r[2] for r in db.execute(f"PRAGMA index_info({name})")] for name in indexes}
    assert list(columns) == [
        "id",
        "key",
        "kind",
        "title",
        "creator",
        "status",
        "progress",
        "progress_text",
        "queued_at",
        "started_at",
        "finished_at",
        "error",
        "meta",
        "creator_subject",  # the owner's login subject (featlib.store.permissions), added when the index opens
    ]
    assert columns["progress"] == ("REAL", 1, "0") and columns["meta"] == ("TEXT", 1, "'{}'")
    assert columns["started_at"] == ("TEXT", 0, None) and columns["finished_at"] == ("TEXT", 0, None)
    assert ["status"] in indexed.values() and ["key"] in indexed.values()


def test_an_older_index_gains_the_jobs_table(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    db = sqlite3.connect(root / "index.sqlite")
    db.execute(
        "CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, dataset TEXT NOT NULL, "
        "architecture TEXT NOT NULL, test_accuracy REAL, input_scale TEXT NOT NULL, fingerprint TEXT NOT NULL, "
        "path TEXT NOT NULL, created TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}')"
    )
    db.commit()
    db.close()
    ws = Workspace(root)
    ws.jobs.add("j1", "k", "extract")
    assert ws.jobs.get("j1").status == "queued"


def test_lifecycle_and_timestamps(ws):
    assert isinstance(ws.jobs, JobIndex)
    assert ws.jobs.get("nope") is None
    ws.jobs.add("j1", "rep/abc", "extract", title=" Outputs of dense_1 ", creator=" alice ", meta={"layer": "dense_1"})
    job = ws.jobs.get("j1")
    assert isinstance(job, JobRow)
    assert (job.id, job.key, job.kind, job.title, job.creator) == (
        "j1",
        "rep/abc",
        "extract",
        "Outputs of dense_1",
        "alice",
    )
    assert (job.status, job.progress, job.progress_text, job.error) == ("queued", 0.0, "", "")
    assert job.meta == {"layer": "dense_1"} and not job.finished
    assert job.started_at is None and job.finished_at is None
    datetime.fromisoformat(job.queued_at)

    ws.jobs.update("j1", status="running", progress=0.25, progress_text="batch 1 of 4")
    running = ws.jobs.get("j1")
    assert (running.status, running.progress, running.progress_text) == ("running", 0.25, "batch 1 of 4")
    assert running.started_at is not None and running.finished_at is None
    assert datetime.fromisoformat(running.started_at) >= datetime.fromisoformat(running.queued_at)

    ws.jobs.update("j1", status="running", progress=0.5)  # running again: started_at kept
    assert ws.jobs.get("j1").started_at == running.started_at
    ws.jobs.update("j1", progress_text="batch 2 of 4")  # what is None is left as it is
    assert (ws.jobs.get("j1").progress, ws.jobs.get("j1").progress_text) == (0.5, "batch 2 of 4")

    ws.jobs.update("j1", status="done", progress=1.0)
    done = ws.jobs.get("j1")
    assert done.status == "done" and done.finished and done.progress == 1.0
    assert done.started_at == running.started_at and done.finished_at is not None
    assert datetime.fromisoformat(done.finished_at) >= datetime.fromisoformat(done.started_at)


def test_progress_is_clamped(ws):
    ws.jobs.add("j", "k", "map")
    ws.jobs.update("j", progress=1.7)
    assert ws.jobs.get("j").progress == 1.0
    ws.jobs.update("j", progress=-3)
    assert ws.jobs.get("j").progress == 0.0
    ws.jobs.update("j", progress=float("nan"))
    assert ws.jobs.get("j").progress == 0.0


def test_a_job_cancelled_while_queued_never_started(ws):
    ws.jobs.add("j", "k", "map")
    ws.jobs.update("j", status="cancelled")
    job = ws.jobs.get("j")
    assert job.status == "cancelled" and job.started_at is None and job.finished_at is not None


@pytest.mark.parametrize("final", FINISHED)
def test_a_finished_job_is_never_resurrected(ws, final):
    ws.jobs.add("j", "k", "train")
    ws.jobs.update("j", status="running", progress=0.4, progress_text="epoch 2")
    ws.jobs.update("j", status=final, error="stopped" if final != "done" else None)
    before = ws.jobs.get("j")
    # Late events from the worker after the cancel, timeout or end:
    ws.jobs.update("j", status="running", progress=0.9, progress_text="epoch 5")
    ws.jobs.update("j", progress=1.0)
    ws.jobs.update("j", status="done", error="")
    assert ws.jobs.get("j") == before
    assert ws.jobs.interrupt_unfinished() == 0 and ws.jobs.get("j") == before


def test_an_unknown_status_is_refused_naming_the_allowed_ones(ws):
    ws.jobs.add("j", "k", "train")
    with pytest.raises(
        ValueError,
        match=r"Unknown job status: 'finished'\. Choose one of \['queued', 'running', "
        r"'done', 'failed', 'cancelled', 'interrupted', 'over-limit'\]",
    ):
        ws.jobs.update("j", status="finished")
    with pytest.raises(ValueError, match="Unknown job status: 'paused'"):
        ws.jobs.list(statuses=["queued", "paused"])
    assert ws.jobs.get("j").status == "queued"


def test_unknown_job_and_duplicate_id(ws):
    with pytest.raises(WorkspaceError, match="No such job: ghost"):
        ws.jobs.update("ghost", progress=0.5)
    ws.jobs.add("j", "k", "train")
    with pytest.raises(ValueError, match="A job with id 'j' exists already"):
        ws.jobs.add("j", "other", "map")
    assert ws.jobs.get("j").key == "k"


def test_list_newest_first_with_status_filter_and_limit(ws):
    for i in range(5):
        ws.jobs.add(f"j{i}", f"k{i}", "map")
    ws.jobs.update("j1", status="running")
    ws.jobs.update("j3", status="failed", error="boom")
    assert [j.id for j in ws.jobs.list()] == ["j4", "j3", "j2", "j1", "j0"]
    assert [j.id for j in ws.jobs.list(limit=2)] == ["j4", "j3"]
    assert [j.id for j in ws.jobs.list(statuses=["queued", "running"])] == ["j4", "j2", "j1", "j0"]
    assert [j.id for j in ws.jobs.list(statuses=iter(FINISHED))] == ["j3"]
    assert ws.jobs.list(statuses=[]) == []
    assert ws.jobs.list(statuses=("failed",))[0].error == "boom"


def test_interrupt_unfinished_after_a_restart(ws):
    for i in range(4):
        ws.jobs.add(f"j{i}", "k", "extract")
    ws.jobs.update("j0", status="running", progress=0.3)
    ws.jobs.update("j1", status="done")
    restarted = Workspace(ws.root)  # a new server process opens the same workspace
    assert restarted.jobs.interrupt_unfinished() == 3
    rows = {j.id: j for j in restarted.jobs.list()}
    assert rows["j1"].status == "done" and rows["j1"].error == ""
    for job_id in ("j0", "j2", "j3"):
        job = rows[job_id]
        assert job.status == "interrupted" and job.error == "The server stopped while this job ran."
        assert job.finished_at is not None
    assert rows["j0"].progress == 0.3 and rows["j0"].started_at is not None
    assert restarted.jobs.interrupt_unfinished("again") == 0
    ws.jobs.add("j9", "k", "extract")
    assert ws.jobs.interrupt_unfinished("Stopped by the admin.") == 1
    assert ws.jobs.get("j9").error == "Stopped by the admin."


def test_prune_keeps_the_newest_finished_and_every_unfinished(ws):
    for i in range(6):
        ws.jobs.add(f"j{i}", "k", "map")
    for i in (0, 1, 2, 3):
        ws.jobs.update(f"j{i}", status="done")
    ws.jobs.update("j4", status="running")
    assert ws.jobs.prune(keep=2) == 2
    assert sorted(j.id for j in ws.jobs.list()) == ["j2", "j3", "j4", "j5"]
    assert ws.jobs.prune(keep=2) == 0
    assert ws.jobs.prune(keep=0) == 2
    assert sorted(j.id for j in ws.jobs.list()) == ["j4", "j5"]


def test_every_job_write_goes_through_the_one_writer(ws, monkeypatch):
    calls = []
    real_write = Workspace._write

    def counting(self):
        calls.append(1)
        return real_write(self)

    monkeypatch.setattr(Workspace, "_write", counting)
    ws.jobs.add("j", "k", "map")
    ws.jobs.update("j", status="running")
    ws.jobs.interrupt_unfinished()
    ws.jobs.prune()
    ws.jobs.get("j"), ws.jobs.list()  # reads: no write
    assert len(calls) == 4


def test_two_threads_update_different_jobs_at_once(tmp_path):
    root = tmp_path / "ws"
    Workspace(root).jobs.add("a", "ka", "map")
    Workspace(root).jobs.add("b", "kb", "map")
    steps = 60
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(job_id: str) -> None:
        try:
            jobs = Workspace(root).jobs  # each thread as its own session
            barrier.wait()
            jobs.update(job_id, status="running")
            for step in range(1, steps + 1):
                jobs.update(job_id, progress=step / steps, progress_text=f"{job_id} step {step}")
            jobs.update(job_id, status="done")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(job_id,)) for job_id in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for job_id in ("a", "b"):
        job = Workspace(root).jobs.get(job_id)
        assert job.status == "done" and job.progress == 1.0 and job.progress_text == f"{job_id} step {steps}"
        assert job.started_at is not None and job.finished_at is not None
