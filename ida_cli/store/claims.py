"""Who is walking which question: proof of life for sessions, and the claims of scripted rounds.

An `ida round` claims every question it picked (round_claims, one row per question, so two rounds
can never hold the same one) in the transaction that creates the round, and gives them back when it
ends, however it ends. Until then `ida label` will not serve those questions to a person and other
rounds will not pick them. A round whose process was killed cannot give its claims back: a claim
counts only while its session is live (open, its process alive where this host can tell, and seen
within the claim timeout), and the next writer that looks drops the others.

Label sessions' claims (label_claims) follow the same liveness rule, in ida_cli/store/presence.py."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ida_cli.checks import env_seconds
from ida_cli.errors import IdaError
from ida_cli.store.db import now

if TYPE_CHECKING:
    from ida_cli.store import Store

Con = Any
DEFAULT_CLAIM_TIMEOUT = 120.0


def claim_timeout() -> float:
    """Seconds after which a claim of a session that has not been seen may be taken over."""
    return env_seconds("IDA_CLAIM_TIMEOUT", os.environ.get("IDA_CLAIM_TIMEOUT", str(DEFAULT_CLAIM_TIMEOUT)))


def heartbeat_every() -> float:
    """How often a live session says it is alive: well within the claim timeout."""
    return max(min(claim_timeout() / 4, 30.0), 0.1)


def process_alive(pid: int) -> bool:
    """A process of this host is still an ida (not gone, a zombie, or a reused pid)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped), or the pid reused by another program, is not working
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"ida" in f.read()
    except OSError:
        return True


def heartbeat(con: Con, session_id: str) -> None:
    con.execute("UPDATE sessions SET heartbeat_at = ? WHERE id = ?", [now(), session_id])


class Heartbeat:
    """Keeps a session's `heartbeat_at` fresh from a background thread while it works (a person
    thinking, a round walking), so that its claims never look stale to others; errors (the
    server away for a moment) are ignored."""

    def __init__(self, store: Store, session_id: str) -> None:
        self.store, self.session_id = store, session_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ida-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        every = heartbeat_every()
        while not self._stop.wait(every):
            with contextlib.suppress(IdaError), self.store.write() as con:
                heartbeat(con, self.session_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def session_dead(status: str, pid: int, host: str | None, seen: datetime, cutoff: datetime) -> bool:
    """A session whose claims no longer count: ended, its process gone (on this host), or not seen
    since `cutoff`."""
    if status != "open":
        return True
    if host in (None, socket.gethostname()) and not process_alive(pid):
        return True
    return seen < cutoff


def dead_rounds(con: Con) -> list[tuple[int, str, datetime]]:
    """Rounds holding claims whose session is dead: (round id, session id, when it was last seen).
    Reads only; their claims count for nothing."""
    rows = con.execute(
        """SELECT DISTINCT c.round_id, c.session_id, s.status, s.pid, s.host,
                  coalesce(s.heartbeat_at, s.started_at, c.claimed_at)
           FROM round_claims c LEFT JOIN sessions s ON s.id = c.session_id"""
    ).fetchall()
    cutoff = now() - timedelta(seconds=claim_timeout())
    return [
        (int(round_id), str(session_id), seen)
        for round_id, session_id, status, pid, host, seen in rows
        if status is None or session_dead(str(status), int(pid), host, seen, cutoff)
    ]


def expire_round_claims(con: Con) -> list[int]:
    """Drop the claims of rounds whose session is dead, and mark those rounds and sessions killed
    (a round ended by its own process has given its claims back already). Returns the rounds."""
    dead = dead_rounds(con)
    for round_id, session_id, seen in dead:
        con.execute(
            "UPDATE sessions SET status = 'killed', ended_at = ? WHERE id = ? AND status = 'open'",
            [seen, session_id],
        )
        con.execute(
            "UPDATE rounds SET status = 'killed', finished_at = ? WHERE id = ? AND status = 'running'",
            [seen, round_id],
        )
        con.execute("DELETE FROM round_claims WHERE round_id = ?", [round_id])
    return [r for r, _, _ in dead]


def taken(con: Con, question_ids: Sequence[int]) -> set[int]:
    """Those of `question_ids` that are no longer free: a tree answers them, an open label item or a
    live round holds them (call `expire_round_claims` first, in the same transaction)."""
    if not question_ids:
        return set()
    rows = con.execute(
        """SELECT q.id FROM (SELECT unnest(?::BIGINT[]) AS id) q
           WHERE EXISTS (SELECT 1 FROM trees t WHERE t.question_id = q.id)
              OR EXISTS (SELECT 1 FROM round_claims r WHERE r.question_id = q.id)
              OR EXISTS (SELECT 1 FROM label_claims c JOIN label_items i ON i.id = c.item_id
                         WHERE c.question_id = q.id AND i.status = 'open')""",
        [[int(q) for q in question_ids]],
    ).fetchall()
    return {int(r[0]) for r in rows}


def claim_for_round(con: Con, round_id: int, session_id: str, question_ids: Sequence[int]) -> None:
    """The round's claims on free questions (see `taken`); a question held already fails the
    primary key, so two rounds can never walk one question."""
    if question_ids:
        con.execute(
            """INSERT INTO round_claims (question_id, round_id, session_id, claimed_at)
               SELECT unnest(?::BIGINT[]), ?, ?, ?""",
            [[int(q) for q in question_ids], round_id, session_id, now()],
        )


def release_round(con: Con, round_id: int) -> None:
    con.execute("DELETE FROM round_claims WHERE round_id = ?", [round_id])
