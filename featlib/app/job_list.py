"""The Jobs page's glue: every job of this workspace with its state, and a cancel button for the running ones."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from featlib.app import job_watch as running
from featlib.app import resources, text
from featlib.store import JobRow

REFRESH_S = 2.0
LISTED = 200
STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", "over-limit")


def frame(rows: list[JobRow]) -> pd.DataFrame:
    """The jobs as a table: status, what for, who, progress, times, error (all plain text)."""
    return pd.DataFrame(
        [
            {
                "status": r.status,
                "job": r.title or r.kind,
                "kind": r.kind,
                "by": r.creator or "unknown",
                "progress": r.progress,
                "state": r.progress_text,
                "queued": _time(r.queued_at),
                "started": _time(r.started_at),
                "finished": _time(r.finished_at),
                "error": r.error,
                "id": r.id,
            }
            for r in rows
        ]
    )


def _time(stamp: str | None) -> str:
    return stamp.replace("T", " ")[:19] if stamp else ""


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
    for handle in active:
        left, right = st.columns([5, 1])
        left.progress(
            handle.fraction,
            text=text.escape(f"{handle.spec.title} · by {handle.creator or 'unknown'} · {running.state_text(handle)}"),
        )
        right.button("Cancel", key=f"jobs-cancel/{handle.job_id}", on_click=running.cancel, args=(handle.job_id,))
    if not rows:
        text.info("No job has run in this workspace yet.")
        return
    st.dataframe(
        frame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "progress": st.column_config.ProgressColumn("progress", min_value=0.0, max_value=1.0),
            "error": st.column_config.TextColumn("error", width="large"),
        },
    )
    text.caption(f"The latest {min(len(rows), LISTED)} jobs, newest first; refreshed every {REFRESH_S:g} s.")
