"""The first page is drawn while the server starts (issue 24, item 1).

Keras and the job cluster start in threads of their own with the server's first page: Home never waits for
them, and every other page shows its frame (its title) while Keras loads, then the page, or the reason the
cluster could not start; a page waits for the cluster only for a job (item 2: a stored map is drawn while it
starts, tests/test_first_look.py). Before, the first page of a server waited about 10 s for the cluster, Home
included, and a cluster that could not start stopped Home with an error.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import pytest
from app_testing import no_exception, page_path

from featlib.app import job_watch, resources


@pytest.mark.own_cluster  # a remote scheduler named without certificates: not the test process's cluster
def test_home_is_drawn_when_the_job_cluster_cannot_start_and_the_other_pages_say_why(app, monkeypatch):
    monkeypatch.setenv("FEATLIB_SCHEDULER", "tls://127.0.0.1:9")  # nothing listens there, and no certificates
    job_watch._start.clear()  # this server's cluster starts anew, with the setting above
    try:
        at = no_exception(app.run())
        assert [t.value for t in at.title] == ["featlib"]
        assert not at.error, [e.value for e in at.error]  # Home does not need the workers
        assert job_watch.starting().done.wait(60)  # the start has failed (a page does not wait for it)
        at.switch_page(page_path("model")).run()
        assert [t.value for t in at.title] == ["Model"]  # the page's frame, then why nothing can be computed
        [error] = at.error
        assert error.value.startswith("The job workers cannot be started, so nothing can be computed"), error.value
        assert "FEATLIB_TLS_CA_FILE" in error.value, error.value  # the reason: no certificates for a tls:// one
    finally:
        job_watch._start.clear()  # the next test's pages start a cluster of their own


@pytest.mark.own_cluster  # the server's own local cluster, whose start takes seconds, is what the page waits for
def test_a_page_waits_for_the_cluster_started_with_the_first_page_and_uses_it(app):
    job_watch._start.clear()
    started = None
    try:
        at = no_exception(app.run())
        started = job_watch._start()
        at.switch_page(page_path("jobs")).run()
        no_exception(at)
        assert started.done.is_set() and started.error is None
        assert started.engine.cluster is not None  # a local cluster of this server's, not a scheduler's address
        assert job_watch.engine() is started.engine  # one cluster per server, started by the first page
        assert [t.value for t in at.title] == ["Jobs"]
    finally:
        job_watch._start.clear()  # the next test's pages use the test process's cluster
        if started is not None and started.engine is not None:
            started.engine.close()


def test_a_script_run_forces_no_full_garbage_collection(app):
    """After every script run Streamlit forced two full collections (its ``runner.postScriptGC`` and Keras's
    ``clear_session``, which it calls once Keras is imported): ~0.4 CPU s with TensorFlow loaded, the GIL held, so
    one user's click stalled every session. The repository's config turns the first off and the server makes the
    second reset Keras without collecting (:func:`featlib.app.resources.reset_keras_without_collecting`)."""
    at = no_exception(app.run())
    deadline = time.monotonic() + 120
    while not resources.libraries_ready() and time.monotonic() < deadline:  # Keras imported behind the page
        time.sleep(0.05)
    assert resources.libraries_ready()
    full = []

    def count(phase: str, info: dict) -> None:
        if phase == "start" and info["generation"] == 2:
            full.append(info)

    gc.callbacks.append(count)
    try:
        for _ in range(4):
            no_exception(at.run())
    finally:
        gc.callbacks.remove(count)
    assert len(full) <= 1, f"{len(full)} full collections in 4 runs (before: 2 a run)"


def test_the_start_up_imports_keras_after_the_first_page_not_during_it():
    """Keras's import (4-5 CPU s holding the GIL) waits for the first page: Home, with its stored map, is drawn
    without it; it begins once the page has been drawn (a fresh process, as a server's, without TensorFlow
    imported)."""
    code = (
        "import sys, time\n"
        "from featlib.app import resources\n"
        "resources.start_warm_up()\n"
        "time.sleep(1.0)\n"
        "print('before the page:', 'tensorflow' in sys.modules, resources.libraries_ready())\n"
        "resources.page_drawn()\n"
        "print('ready:', resources._warm_up().wait(300), 'tensorflow' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.stdout.splitlines() == ["before the page: False False", "ready: True True"], done.stderr[-3000:]
