"""Who is labelling: an annotator's label sessions are live while open, seen within the claim
timeout, and (on this host) their process is alive. Claims of annotators with no live session who
were last seen longer ago than the timeout may be taken over."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ida_cli.store.claims import claim_timeout, process_alive
from ida_cli.store.db import now

Con = Any


@dataclass
class Presence:
    """An annotator's label sessions: one is live (open, seen within the claim timeout, and its
    process alive where this host can tell), and when any of them was last seen."""

    live: tuple[int, str] | None  # (pid, host) of a live session
    last_seen: datetime | None


def presence(con: Con, kill_dead: bool = True) -> dict[str, Presence]:
    """Every annotator's presence, by name. Open sessions of this host whose process is gone are
    closed as killed (their claims still wait out the timeout from when they were last seen)."""
    here = socket.gethostname()
    cutoff = now() - timedelta(seconds=claim_timeout())
    rows = con.execute(
        """SELECT id, actor, pid, host, status, coalesce(heartbeat_at, started_at), ended_at
           FROM sessions WHERE command = 'label' AND actor LIKE 'human:%'"""
    ).fetchall()
    out: dict[str, Presence] = {}
    for sid, actor, pid, host, status, seen, ended in rows:
        name = str(actor)[len("human:") :]
        p = out.setdefault(name, Presence(None, None))
        dead = status == "open" and host in (None, here) and not process_alive(int(pid))
        if dead:
            ended = None  # it died some time after it was last seen
            if kill_dead:  # recorded as ending when it was last seen
                con.execute("UPDATE sessions SET status = 'killed', ended_at = ? WHERE id = ?", [seen, sid])
        last = max(t for t in (seen, ended) if t is not None)
        p.last_seen = last if p.last_seen is None else max(p.last_seen, last)
        if status != "open" or dead:
            continue
        if seen >= cutoff and p.live is None:
            p.live = (int(pid), str(host or here))
    return out


def stale_annotators(con: Con, annotator: str, kill_dead: bool = True) -> list[str]:
    """Annotators other than `annotator` holding open claims who have no live session and were last
    seen more than the claim timeout ago: their claims may be taken over."""
    holders = [
        r[0]
        for r in con.execute(
            """SELECT DISTINCT i.annotator FROM label_claims c JOIN label_items i ON i.id = c.item_id
               WHERE i.status = 'open'"""
        ).fetchall()
    ]
    if not holders:
        return []
    cutoff = now() - timedelta(seconds=claim_timeout())
    seen = presence(con, kill_dead)
    out = []
    for name in holders:
        if name == annotator:
            continue
        p = seen.get(name)
        if p is None or (p.live is None and (p.last_seen is None or p.last_seen < cutoff)):
            out.append(name)
    return out


def claim_sessions(con: Con, annotator: str) -> tuple[int, str] | None:
    """Close this annotator's label sessions whose process is gone (killed); return (pid, host) of
    one still live, if any."""
    p = presence(con).get(annotator)
    return None if p is None else p.live
