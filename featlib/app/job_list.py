"""The Jobs page's glue: every job of this workspace with its state, and a cancel button for the running ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from featlib import keys
from featlib.app import identity, resources, text
from featlib.app import job_watch as running
from featlib.errors import RoleError
from featlib.jobs.manager import behind
from featlib.store import JobRow
from featlib.store.permissions import why_not

if TYPE_CHECKING:
    from featlib.jobs import JobHandle

REFRESH_S = 2.0
LISTED = 200
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", "over-limit")

COLUMNS = {
    "status": st.column_config.TextColumn("status", width=80),
    "job": st.column_config.TextColumn("what", width=150),
    "by": st.column_config.TextColumn("by", width=75),
    "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0, width=75),
    "finished": st.column_config.TextColumn("finished", width=95),
    "error": st.column_config.TextColumn("error", width=80),
    **{name: {"hidden": True} for name in ("place", "waiting behind", "state", "queued", "started", "kind", "id")},
}
"""The job table's columns and their widths in pixels. They add up to less than the page's width at 1024 px, so
that no column is cut (the grid widens them all to fill a wider page); the details (a queued job's place and whose
jobs wait ahead of it, the last state, the other times, the kind, the id) are hidden, and shown from the table's
"Show/hide columns" menu. The queued jobs' places and whose jobs are ahead are also on their own lines above the
table (:func:`line`), at the page's full width."""


def subject(key: str, model_names: dict[str, str]) -> str:
    """The model and layer a job's key is about, in words: ``"mlp-digits · dense_1"``; ``""`` when it names neither.

    The key is read back by :func:`featlib.keys.model_and_layer`; ``model_names`` maps the models' fingerprints to
    their names.
    """
    found = keys.model_and_layer(key)
    if found is None:
        return ""
    model, layer = found
    return f"{model_names.get(model, f'model {model[:8]}')} · {layer or 'every layer'}"


def frame(
    rows: list[JobRow],
    model_names: dict[str, str] | None = None,
    waiting: Mapping[str, tuple[int, Mapping[str, int]]] | None = None,
) -> pd.DataFrame:
    """The jobs as a table: status, what for (with the model and layer it is about), who, progress, place in the
    queue and whose jobs wait ahead, times, error.

    ``model_names``: the models' names by fingerprint (:func:`subject`); ``waiting``: the queued jobs' places by id
    (:meth:`featlib.jobs.JobManager.waiting`); a job not in it (running, finished, another process's) has an empty
    ``place`` and ``waiting behind``.
    """
    names = model_names or {}
    queue = waiting or {}
    return pd.DataFrame(
        [
            {
                "status": r.status,
                "job": " · ".join(w for w in (r.title or r.kind, subject(r.key, names)) if w),
                "by": r.creator or "unknown",
                "progress": r.progress,
                "place": queue[r.id][0] if r.id in queue else None,
                "waiting behind": behind(queue[r.id][1]) if r.id in queue else "",
                "state": r.progress_text,
                "queued": _time(r.queued_at),
                "finished": _time(r.finished_at),
                "error": r.error,
                "kind": r.kind,
                "started": _time(r.started_at),
                "id": r.id,
            }
            for r in rows
        ]
    )


def line(handle: JobHandle, state: str, waiting: Mapping[str, tuple[int, Mapping[str, int]]]) -> str:
    """One running or queued job's line above the table: what, who, its ``state`` (a queued job's says its place);
    for a queued job also whose jobs are ahead: ``"a PCA map of 300 points · by cy · waiting for a free worker: 3 in
    the queue, … · behind 1 of ann's, 1 of bob's"`` (``waiting``: :meth:`featlib.jobs.JobManager.waiting`)."""
    words = f"{handle.spec.title} · by {handle.creator or 'unknown'} · {state}"
    place = waiting.get(handle.job_id)
    if place is not None and place[1]:
        words += f" · behind {behind(place[1])}"
    return words


def _time(stamp: str | None) -> str:
    """``"2026-12-07T02:21:03.5+00:00"`` -> ``"12-07 02:21"`` (UTC): short enough for a narrow column."""
    return stamp.replace("T", " ")[5:16] if stamp else ""


_ASKED = "featlib.jobs.cancel_asked"


def _ask_cancel(job_id: str) -> None:
    st.session_state[_ASKED] = job_id


def _cancel_asked(job_id: str) -> None:
    st.session_state.pop(_ASKED, None)
    _cancel(job_id)


def _cancel(job_id: str) -> None:
    """Cancels a job as the current user; a refusal of the store (a login's roles) is shown as a toast."""
    try:
        running.manager().cancel(job_id, who=identity.current_user(), actor=identity.actor())
    except RoleError as error:
        text.toast(error)


def cancel_button(handle: JobHandle, left, right) -> None:
    """A job's Cancel button: at once for the user's own job; for another person's, without a login, it first asks
    "X started this job; names are only labels here — cancel it anyway?". Under a login the roles decide
    (:mod:`featlib.store.permissions`): a member cancels their own jobs, an admin any; for the others the button is
    disabled and its tooltip says why. The cancel is recorded in History."""
    actor = identity.actor()
    if actor is not None:
        row = resources.workspace().jobs.get(handle.job_id)
        why = why_not(actor, "cancel", row.creator_subject if row is not None else "", f"the job {handle.spec.title!r}")
        right.button(
            "Cancel",
            key=f"jobs-cancel/{handle.job_id}",
            on_click=_cancel,
            args=(handle.job_id,),
            disabled=bool(why),
            help=text.escape(why) if why else None,
        )
        return
    others = bool(handle.creator) and handle.creator != identity.current_user()
    if not others:
        right.button("Cancel", key=f"jobs-cancel/{handle.job_id}", on_click=running.cancel, args=(handle.job_id,))
        return
    if st.session_state.get(_ASKED) != handle.job_id:
        right.button("Cancel", key=f"jobs-cancel/{handle.job_id}", on_click=_ask_cancel, args=(handle.job_id,))
        return
    text.warning(
        text.md("{} started this job; names are only labels here — cancel it anyway?", handle.creator), on=left
    )
    right.button(
        "Cancel it anyway", key=f"jobs-cancel-anyway/{handle.job_id}", on_click=_cancel_asked, args=(handle.job_id,)
    )


@st.fragment(run_every=REFRESH_S)
def live_list() -> None:
    """The job table and the running jobs' cancel buttons, redrawn every :data:`REFRESH_S` seconds."""
    rows = resources.workspace().jobs.list(limit=LISTED)
    counts = {status: sum(r.status == status for r in rows) for status in STATUSES}
    cols = st.columns(4)
    cols[0].metric("running", counts["running"])
    cols[1].metric("queued", counts["queued"])
    cols[2].metric("failed or stopped", sum(counts[s] for s in ("failed", "cancelled", "over-limit", "interrupted")))
    cols[3].metric("workers", running.manager().engine.workers())
    active = running.manager().handles()
    waiting = running.manager().waiting()
    for handle in active:
        left, right = st.columns([5, 1])
        left.progress(handle.fraction, text=text.escape(line(handle, running.state_text(handle), waiting)))
        cancel_button(handle, left, right)
    if not rows:
        text.info("No job has run in this workspace yet.")
        return
    names = {r.fingerprint: r.name for r in resources.workspace().list_models()}
    table = frame(rows, names, waiting)
    st.dataframe(table, hide_index=True, width="stretch", column_config=COLUMNS)
    text.caption(
        f"The latest {min(len(rows), LISTED)} jobs, newest first; refreshed every {REFRESH_S:g} s. Queued jobs start "
        "in turn between users (one of each user's in turn), so another user's backlog delays yours by at most one "
        "job per worker; each user may have a limited number of jobs queued or running at once."
    )
