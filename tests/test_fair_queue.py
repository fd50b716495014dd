"""Fair queues between users on a real Dask LocalCluster (issue 26, item 5): one user's backlog does not starve
another's next job, each user has a cap on queued and running jobs, and the Jobs page says who waits behind whom.

The test process's cluster of one worker (one thread; ``shared_engine`` in tests/conftest.py): with one worker
the order in which jobs start is the queue's order. A plain Dask task that sleeps holds the worker while the jobs are queued, so every job is queued
before any starts (as when twelve t-SNE links are opened on a busy server) whatever the machine's speed.
"""

from __future__ import annotations

import numpy as np
import pytest

from featlib import jobs
from featlib.app import job_list
from featlib.errors import JobLimitError, TooManyJobsError
from featlib.jobs import Input, JobManager
from featlib.maps import embed
from featlib.store import Workspace

HOLD_S = 3.0
"""How long the sleeping task holds the worker while the jobs are queued."""


@pytest.fixture()
def manager(shared_engine, tmp_path):
    """A job manager on the test process's cluster of one worker (tests/conftest.py's ``shared_engine``)."""
    running = JobManager(shared_engine, Workspace(tmp_path / "ws"))
    yield running
    running.close()


POINTS = np.random.default_rng(0).normal(size=(300, 16)).astype("float32")


def _map(key: str) -> jobs.JobSpec:
    return jobs.specs.reduce_spec(key, len(POINTS), embed.PCAParams())


def _finish(handles) -> None:
    for handle in handles:
        assert handle.wait(120), f"{handle.spec.key} did not finish: {handle.status}"
        assert handle.status == "done", handle.error


def test_one_users_backlog_does_not_starve_another_users_next_job(manager, hold_the_worker):
    busy = hold_the_worker(manager.engine, HOLD_S)
    points = Input("points/fair", lambda: POINTS)
    ann = [manager.submit(_map(f"emb/ann/{i}"), {"points": points}, creator="ann") for i in range(6)]
    bob = manager.submit(_map("emb/bob"), {"points": points}, creator="bob")
    _finish([*ann, bob])
    busy.result()
    started_before_bob = [h.spec.key for h in ann if h.started < bob.started]
    workers = manager.engine.workers()
    assert workers == 1
    # FIFO ran all six of ann's first (bob waited behind ann's whole backlog); fair: at most one job per worker.
    assert len(started_before_bob) <= workers, f"bob's job waited behind {started_before_bob}"
    assert started_before_bob == ["emb/ann/0"]  # ann's first came first: she asked first
    assert [h.started for h in ann] == sorted(h.started for h in ann)  # ann's own jobs keep her order


def test_a_user_over_the_cap_is_refused_saying_why_and_attaching_is_never_refused(
    manager, monkeypatch, hold_the_worker
):
    monkeypatch.setenv("FEATLIB_MAX_JOBS_PER_USER", "3")
    busy = hold_the_worker(manager.engine, HOLD_S)
    ann = [manager.submit(_map(f"emb/cap/{i}"), {"points": POINTS}, creator="ann") for i in range(3)]
    with pytest.raises(TooManyJobsError) as refused:
        manager.submit(_map("emb/cap/3"), {"points": POINTS}, creator="ann")
    message = str(refused.value)
    assert isinstance(refused.value, JobLimitError)  # the pages show it as they show every refused job
    assert "at most 3 jobs queued or running at once" in message and "FEATLIB_MAX_JOBS_PER_USER" in message
    assert "ann has 3" in message and "cancel one on the Jobs page" in message
    assert manager.find("emb/cap/3") is None
    assert [r.key for r in manager.workspace.jobs.list()].count("emb/cap/3") == 0
    # Asking again for a result already on its way attaches to its job: never refused, for anyone.
    assert manager.submit(_map("emb/cap/1"), {"points": POINTS}, creator="ann") is ann[1]
    assert manager.submit(_map("emb/cap/2"), {"points": POINTS}, creator="bob") is ann[2]
    other = manager.submit(_map("emb/cap/bob"), {"points": POINTS}, creator="bob")  # the cap is per user
    # A job cancelled while it waits in the queue frees its place at once, and stops no worker: the task running
    # there (the sleeping one) finishes.
    assert ann[2].status == "queued" and manager.cancel(ann[2].job_id)
    assert ann[2].wait(10) and ann[2].status == "cancelled"
    later = manager.submit(_map("emb/cap/3"), {"points": POINTS}, creator="ann")
    busy.result(timeout=60)
    _finish([ann[0], ann[1], other, later])


def test_the_jobs_page_says_each_queued_jobs_place_and_whose_jobs_are_ahead(manager, hold_the_worker):
    busy = hold_the_worker(manager.engine, HOLD_S)
    ann = [manager.submit(_map(f"emb/page/ann/{i}"), {"points": POINTS}, creator="ann") for i in range(4)]
    bob = manager.submit(_map("emb/page/bob"), {"points": POINTS}, creator="bob")
    cy = manager.submit(_map("emb/page/cy"), {"points": POINTS}, creator="cy")
    rows = manager.workspace.jobs.list()
    table = job_list.frame(rows, {}, manager.waiting())
    behind = dict(zip(table["id"], table["waiting behind"]))
    place = dict(zip(table["id"], table["place"]))
    # ann asked first; then bob and cy each get a turn before ann's second, and so on.
    assert [place[h.job_id] for h in (ann[0], bob, cy, *ann[1:])] == [1, 2, 3, 4, 5, 6]
    assert behind[ann[0].job_id] == "nobody: next for a free worker"
    assert behind[bob.job_id] == "1 of ann's"
    assert behind[cy.job_id] == "1 of ann's, 1 of bob's"
    assert behind[ann[3].job_id] == "3 of ann's, 1 of bob's, 1 of cy's"
    waiting = manager.waiting()
    line = job_list.line(ann[3], "queued", waiting)  # the job's line above the table, at the page's full width
    assert line.endswith("· by ann · queued · behind 3 of ann's, 1 of bob's, 1 of cy's")
    assert job_list.line(ann[0], "queued", waiting).endswith("· by ann · queued")  # next: nobody ahead
    assert "waiting behind" in job_list.COLUMNS and "place" in job_list.COLUMNS
    _finish([*ann, bob, cy])
    busy.result()
    done = job_list.frame(manager.workspace.jobs.list(), {}, manager.waiting())
    assert set(done["waiting behind"]) == {""} and done["place"].isna().all()
