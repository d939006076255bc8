"""The run ledger in ``state/state.sqlite``: runs, their steps, and acknowledgements.

Every change is one short transaction, so another process (``workbench runs show``,
``workbench checklist ack``) sees a run as it goes. Times are UTC ISO strings; durations
are seconds (floats), computed from those times so that they agree with what is shown.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from workbench import state
from workbench.checklist.definitions import Checklist
from workbench.checklist.errors import ChecklistError
from workbench.workspace import Workspace

RUN_STATUSES = ("running", "waiting", "finished", "failed")
STEP_STATUSES = ("pending", "running", "waiting", "passed", "failed", "skipped")
VERDICTS = ("go", "no-go")
ACK_VIA = ("command", "console", "auto")  # workbench checklist ack | the run's terminal | --ack
RUN_PREFIX = {"rehearsal": "DR", "go-live": "GL"}


@dataclass
class RunStep:
    run_id: str
    seq: int
    step: str
    title: str
    kind: str
    planned_s: float | None
    optional: bool
    status: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    waiting_s: float | None = None
    operator: str | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    artefact: str | None = None  # relative to the workspace root

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ack:
    run_id: str
    step: str
    user: str
    at: str
    verdict: str
    note: str | None
    via: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    id: str
    checklist: str
    checklist_sha256: str | None
    kind: str
    target: str
    status: str
    operator: str
    parameters: dict[str, Any]
    started_at: str
    ended_at: str | None = None
    reason: str | None = None
    decision: dict[str, Any] | None = None
    steps: list[RunStep] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        return seconds_between(self.started_at, self.ended_at) if self.ended_at else None

    def step(self, step_id: str) -> RunStep:
        for s in self.steps:
            if s.step == step_id:
                return s
        raise ChecklistError(f"run {self.id}: no step {step_id!r}")

    def ack_for(self, step_id: str) -> Ack | None:
        return next((a for a in self.acks if a.step == step_id), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["duration_s"] = self.duration_s
        return data


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def new_run(
    ws: Workspace,
    checklist: Checklist,
    *,
    kind: str,
    target: str,
    operator: str,
    parameters: dict[str, Any],
    started: datetime | None = None,
) -> str:
    """Record a new run (status running) with every step pending; returns its id.

    The id is ``DR-``/``GL-`` and the UTC start time to the second; a second run started in
    the same second gets ``-2``, ``-3``, ... The primary key arbitrates between processes.
    """
    if kind not in RUN_PREFIX:
        raise ChecklistError(f"run kind {kind!r} is not one of {', '.join(RUN_PREFIX)}")
    started = started or datetime.now(UTC)
    base = f"{RUN_PREFIX[kind]}-{started.strftime('%Y%m%d-%H%M%S')}"
    with state.connection(ws) as con:
        for n in range(1, 1000):
            run_id = base if n == 1 else f"{base}-{n}"
            try:
                _insert_run(con, run_id, checklist, kind, target, operator, parameters, started)
            except sqlite3.IntegrityError:
                continue
            return run_id
    raise ChecklistError(f"cannot allocate a run id after {base}-999")


def _insert_run(
    con: sqlite3.Connection,
    run_id: str,
    checklist: Checklist,
    kind: str,
    target: str,
    operator: str,
    parameters: dict[str, Any],
    started: datetime,
) -> None:
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute(
            "INSERT INTO runs(id, checklist, checklist_sha256, kind, target, status, operator, "
            "parameters, started_at) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            (
                run_id,
                checklist.name,
                checklist.sha256,
                kind,
                target,
                operator,
                _json(parameters),
                started.isoformat(timespec="microseconds"),
            ),
        )
        con.executemany(
            "INSERT INTO run_steps(run_id, seq, step, title, kind, planned_s, optional) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (run_id, seq, s.id, s.title, s.kind, s.planned_s, int(s.optional))
                for seq, s in enumerate(checklist.steps, start=1)
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def start_step(ws: Workspace, run_id: str, step: str, operator: str) -> None:
    _update_step(
        ws,
        run_id,
        step,
        "status = 'running', started_at = ?, operator = ?",
        (now(), operator),
    )


def record_wait(ws: Workspace, run_id: str, step: str, waiting_s: float) -> None:
    """The step (and so its run) waits for an acknowledgement, for ``waiting_s`` so far."""
    with state.connection(ws) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                "UPDATE run_steps SET status = 'waiting', waiting_s = ? "
                "WHERE run_id = ? AND step = ?",
                (waiting_s, run_id, step),
            )
            con.execute(
                "UPDATE runs SET status = 'waiting' WHERE id = ? AND status = 'running'",
                (run_id,),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def finish_step(
    ws: Workspace,
    run_id: str,
    step: str,
    status: str,
    *,
    counts: dict[str, Any] | None = None,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
    artefact: str | None = None,
    waiting_s: float | None = None,
    operator: str | None = None,
) -> None:
    """Close a step: its end time, duration, status and what it reported."""
    if status not in ("passed", "failed"):
        raise ValueError(f"a step finishes passed or failed, not {status!r}")
    ended = now()
    with state.connection(ws) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            row = con.execute(
                "SELECT started_at FROM run_steps WHERE run_id = ? AND step = ?", (run_id, step)
            ).fetchone()
            if row is None:
                raise ChecklistError(f"run {run_id}: no step {step!r}")
            started = row[0] or ended
            con.execute(
                "UPDATE run_steps SET status = ?, started_at = ?, ended_at = ?, duration_s = ?, "
                "counts = ?, outputs = ?, error = ?, artefact = ?, "
                "waiting_s = coalesce(?, waiting_s), operator = coalesce(?, operator) "
                "WHERE run_id = ? AND step = ?",
                (
                    status,
                    started,
                    ended,
                    seconds_between(started, ended),
                    _json(counts or {}),
                    _json(outputs or {}),
                    error,
                    artefact,
                    waiting_s,
                    operator,
                    run_id,
                    step,
                ),
            )
            con.execute(
                "UPDATE runs SET status = 'running' WHERE id = ? AND status = 'waiting'",
                (run_id,),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise


def skip_remaining(ws: Workspace, run_id: str) -> int:
    """Mark every step that has not started as skipped; returns how many."""
    with state.connection(ws) as con:
        cur = con.execute(
            "UPDATE run_steps SET status = 'skipped' WHERE run_id = ? AND status = 'pending'",
            (run_id,),
        )
        return cur.rowcount


def finish_run(ws: Workspace, run_id: str, status: str, reason: str | None = None) -> None:
    if status not in ("finished", "failed"):
        raise ValueError(f"a run finishes finished or failed, not {status!r}")
    with state.connection(ws) as con:
        con.execute(
            "UPDATE runs SET status = ?, ended_at = ?, reason = ? WHERE id = ?",
            (status, now(), reason, run_id),
        )


def set_decision(ws: Workspace, run_id: str, decision: dict[str, Any] | None) -> None:
    with state.connection(ws) as con:
        con.execute(
            "UPDATE runs SET decision = ? WHERE id = ?",
            (None if decision is None else _json(decision), run_id),
        )


def ack(
    ws: Workspace,
    run_id: str,
    step: str,
    user: str,
    verdict: str = "go",
    note: str | None = None,
    *,
    via: str = "command",
) -> Ack:
    """Record that ``user`` acknowledged a manual step of a run that has not ended.

    One acknowledgement per step: a second one is refused, naming the first.
    """
    if verdict not in VERDICTS:
        raise ChecklistError(f"verdict {verdict!r}: use {' or '.join(VERDICTS)}")
    if via not in ACK_VIA:
        raise ValueError(f"ack via {via!r} is not one of {ACK_VIA}")
    entry = Ack(run_id, step, user, now(), verdict, note or None, via)
    with state.connection(ws) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            _check_ackable(con, run_id, step)
            con.execute(
                "INSERT INTO acks(run_id, step, user, at, verdict, note, via) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry.run_id, entry.step, entry.user, entry.at, entry.verdict, entry.note, via),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return entry


def _check_ackable(con: sqlite3.Connection, run_id: str, step: str) -> None:
    run = con.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
    if run is None:
        raise ChecklistError(f"no run {run_id!r} (see 'workbench runs')")
    if run[0] not in ("running", "waiting"):
        raise ChecklistError(f"run {run_id} has ended ({run[0]}); nothing to acknowledge")
    row = con.execute(
        "SELECT kind, status FROM run_steps WHERE run_id = ? AND step = ?", (run_id, step)
    ).fetchone()
    if row is None:
        steps = [
            r[0] for r in con.execute("SELECT step FROM run_steps WHERE run_id = ?", (run_id,))
        ]
        raise ChecklistError(f"run {run_id} has no step {step!r} (steps: {', '.join(steps)})")
    if row[0] != "manual":
        raise ChecklistError(f"run {run_id}: step {step} is a {row[0]} step, not a manual one")
    first = con.execute(
        "SELECT user, at, verdict FROM acks WHERE run_id = ? AND step = ?", (run_id, step)
    ).fetchone()
    if first is not None:
        raise ChecklistError(
            f"run {run_id}: step {step} was already acknowledged by {first[0]} at {first[1]} "
            f"({first[2]})"
        )
    if row[1] not in ("pending", "running", "waiting"):
        raise ChecklistError(f"run {run_id}: step {step} is {row[1]}; nothing to acknowledge")


def acks_for(ws: Workspace, run_id: str, step: str | None = None) -> list[Ack]:
    sql = "SELECT run_id, step, user, at, verdict, note, via FROM acks WHERE run_id = ?"
    args: tuple[str, ...] = (run_id,)
    if step is not None:
        sql, args = sql + " AND step = ?", (run_id, step)
    with state.connection(ws) as con:
        return [Ack(*row) for row in con.execute(sql + " ORDER BY at", args)]


def get_run(ws: Workspace, run_id: str) -> Run:
    with state.connection(ws) as con:
        row = con.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise ChecklistError(f"no run {run_id!r} (see 'workbench runs')")
        return _run(con, row)


def list_runs(ws: Workspace) -> list[Run]:
    """Every run, newest first."""
    with state.connection(ws) as con:
        rows = con.execute(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id DESC")
        return [_run(con, row) for row in rows.fetchall()]


_RUN_COLUMNS = (
    "id, checklist, checklist_sha256, kind, target, status, operator, parameters, "
    "started_at, ended_at, reason, decision"
)
_STEP_COLUMNS = (
    "run_id, seq, step, title, kind, planned_s, optional, status, started_at, ended_at, "
    "duration_s, waiting_s, operator, counts, outputs, error, artefact"
)


def _run(con: sqlite3.Connection, row: tuple) -> Run:
    run = Run(*row[:7], json.loads(row[7]), *row[8:11], _maybe_json(row[11]))
    for s in con.execute(
        f"SELECT {_STEP_COLUMNS} FROM run_steps WHERE run_id = ? ORDER BY seq", (run.id,)
    ):
        run.steps.append(
            RunStep(*s[:6], bool(s[6]), *s[7:13], json.loads(s[13]), json.loads(s[14]), *s[15:])
        )
    run.acks = [
        Ack(*a)
        for a in con.execute(
            "SELECT run_id, step, user, at, verdict, note, via FROM acks WHERE run_id = ? "
            "ORDER BY at",
            (run.id,),
        )
    ]
    return run


def _update_step(ws: Workspace, run_id: str, step: str, assignments: str, args: tuple) -> None:
    with state.connection(ws) as con:
        cur = con.execute(
            f"UPDATE run_steps SET {assignments} WHERE run_id = ? AND step = ?",
            (*args, run_id, step),
        )
        if cur.rowcount == 0:
            raise ChecklistError(f"run {run_id}: no step {step!r}")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _maybe_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
