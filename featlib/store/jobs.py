"""The job table: background work (training, extraction, maps) as rows of the index.

A job is added ``queued``, becomes ``running``, and ends in one of
:data:`FINISHED`. Rows are written only through the workspace's one writer
(:meth:`~featlib.store.index.IndexedFolder._write`), so the server's threads
and other processes see one consistent table. A finished row is final: a late
update (a progress event after a cancel) leaves it as it is. After a restart,
:meth:`JobIndex.interrupt_unfinished` marks the jobs no process runs any more.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from featlib.store.audit import record
from featlib.store.index import IndexedFolder, now
from featlib.store.permissions import Actor, check
from featlib.store.records import WorkspaceError

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled", "interrupted", "over-limit")
FINISHED = JOB_STATUSES[2:]
"""The statuses a job ends in; a row in one of them is never changed again."""
UNFINISHED = JOB_STATUSES[:2]


@dataclass(frozen=True)
class JobRow:
    """One job as recorded in the index (times in ISO 8601 UTC)."""

    id: str
    key: str
    kind: str
    title: str
    creator: str
    status: str
    progress: float
    progress_text: str
    queued_at: str
    started_at: str | None
    finished_at: str | None
    error: str
    meta: dict
    creator_subject: str = ""  # who asked, as the login's subject (featlib.store.permissions); "": none recorded

    @property
    def finished(self) -> bool:
        """Whether the job has ended (its status is one of :data:`FINISHED`)."""
        return self.status in FINISHED

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRow:
        values = dict(row)
        values["meta"] = json.loads(values["meta"] or "{}")
        values["creator_subject"] = values.get("creator_subject") or ""
        return cls(**values)


def _check_status(status: str) -> None:
    if status not in JOB_STATUSES:
        raise ValueError(f"Unknown job status: {status!r}. Choose one of {list(JOB_STATUSES)}.")


class JobIndex:
    """The ``jobs`` table of a workspace's index (``workspace.jobs``).

    Args:
        folder: the workspace whose index holds the table; every write goes
            through its ``_write``.
    """

    def __init__(self, folder: IndexedFolder):
        self._folder = folder

    def add(
        self, job_id: str, key: str, kind: str, *, title: str = "", creator: str = "", meta: dict | None = None
    ) -> None:
        """Records a new job, ``queued`` now.

        Raises:
            ValueError: a job with that id exists already.
        """
        try:
            with self._folder._write() as db:
                db.execute(
                    "INSERT INTO jobs (id, key, kind, title, creator, status, queued_at, meta) "
                    "VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)",
                    (job_id, key, kind, title.strip(), creator.strip(), now(), json.dumps(meta or {})),
                )
        except sqlite3.IntegrityError as error:
            raise ValueError(f"A job with id {job_id!r} exists already.") from error

    def update(
        self,
        job_id: str,
        *,
        status: str | None = None,
        progress: float | None = None,
        progress_text: str | None = None,
        error: str | None = None,
    ) -> None:
        """Changes a job's status, progress or error; what is ``None`` is left as it is.

        ``started_at`` is set the first time the status becomes ``running`` (or, for a job that
        ran between two polls, when it becomes ``done`` or ``failed``), ``finished_at`` when it
        becomes one of :data:`FINISHED`; ``progress``
        is clamped to ``[0, 1]``. A job already finished is left unchanged.

        Raises:
            ValueError: an unknown status, naming the allowed ones.
            WorkspaceError: no such job.
        """
        if status is not None:
            _check_status(status)
        changes: dict[str, object] = {}
        if progress is not None:
            value = float(progress)
            changes["progress"] = 0.0 if math.isnan(value) else min(1.0, max(0.0, value))
        if progress_text is not None:
            changes["progress_text"] = progress_text
        if error is not None:
            changes["error"] = error
        with self._folder._write() as db:
            row = db.execute("SELECT status, started_at FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise WorkspaceError(f"No such job: {job_id}.")
            if row["status"] in FINISHED:
                return  # final: a late event does not bring it back
            if status is not None:
                changes["status"] = status
                if status == "running" and row["started_at"] is None:
                    changes["started_at"] = now()
                if status in FINISHED:
                    changes["finished_at"] = now()
                if status in ("done", "failed") and row["started_at"] is None:
                    changes["started_at"] = changes["finished_at"]  # it ran between two polls: its start went unseen
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*changes.values(), job_id))

    def check_cancel(self, job_id: str, actor: Actor | None) -> None:
        """Refuses, under a login, a cancel of the job ``job_id`` that ``actor``'s role does not allow (a member's
        cancel of another's job, any viewer's); returns when allowed, when ``actor`` is ``None`` (no login) and
        when there is no such job.

        Raises:
            featlib.errors.RoleError: naming the rule, the role and the fix.
        """
        if actor is None:
            return
        with self._folder._connect() as db:
            row = db.execute("SELECT title, creator_subject FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is not None:
            check(actor, "cancel", row["creator_subject"] or "", f"the job {row['title'] or job_id!r}")

    def record_cancel(self, job_id: str, who: str, reason: str = "cancelled", *, who_subject: str = "") -> None:
        """Records in the audit trail (:mod:`featlib.store.audit`) that ``who`` (login subject ``who_subject``)
        cancelled the job ``job_id``, with whose job it was (its ``creator`` and subject), its status before and
        ``reason``; nothing when there is no such job."""
        with self._folder._write() as db:
            row = db.execute(
                "SELECT title, creator, creator_subject, status FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is not None:
                record(
                    db,
                    who,
                    "cancel",
                    "job",
                    job_id,
                    name=row["title"],
                    owner=row["creator"],
                    old=row["status"],
                    new=reason,
                    who_subject=who_subject,
                    owner_subject=row["creator_subject"] or "",
                )

    def get(self, job_id: str) -> JobRow | None:
        """The job with that id, or ``None``."""
        with self._folder._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else JobRow.from_row(row)

    def list(self, limit: int = 200, statuses: Iterable[str] | None = None) -> list[JobRow]:
        """At most ``limit`` jobs, newest queued first, optionally only those in ``statuses``.

        Raises:
            ValueError: an unknown status.
        """
        query, args = "SELECT * FROM jobs", []
        if statuses is not None:
            chosen = sorted(set(statuses))
            for status in chosen:
                _check_status(status)
            if not chosen:
                return []
            query += f" WHERE status IN ({', '.join('?' * len(chosen))})"
            args += chosen
        query += " ORDER BY queued_at DESC, rowid DESC LIMIT ?"
        with self._folder._connect() as db:
            rows = db.execute(query, (*args, max(0, int(limit)))).fetchall()
        return [JobRow.from_row(row) for row in rows]

    def interrupt_unfinished(self, reason: str = "The server stopped while this job ran.") -> int:
        """Marks every queued or running job ``interrupted`` with ``reason``; returns how many.

        For a server starting up: no process runs the jobs an earlier one left unfinished.
        """
        with self._folder._write() as db:
            return db.execute(
                f"UPDATE jobs SET status = 'interrupted', error = ?, finished_at = ? "
                f"WHERE status IN ({', '.join('?' * len(UNFINISHED))})",
                (reason, now(), *UNFINISHED),
            ).rowcount

    def prune(self, keep: int = 1000) -> int:
        """Removes the oldest finished jobs beyond the newest ``keep``; returns how many."""
        marks = ", ".join("?" * len(FINISHED))
        with self._folder._write() as db:
            return db.execute(
                f"DELETE FROM jobs WHERE status IN ({marks}) AND rowid NOT IN ("
                f"SELECT rowid FROM jobs WHERE status IN ({marks}) "
                f"ORDER BY finished_at DESC, rowid DESC LIMIT ?)",
                (*FINISHED, *FINISHED, max(0, int(keep))),
            ).rowcount
