"""A label session's heartbeat: proof of life for its claims on a shared store."""

from __future__ import annotations

import contextlib
import threading

from ida_cli.errors import IdaError
from ida_cli.label import records as lrec
from ida_cli.store import Store


class Heartbeat:
    """Keeps the session's `heartbeat_at` fresh from a background thread while the person thinks,
    so that its claim never looks stale to other annotators; errors (server away) are ignored."""

    def __init__(self, store: Store, session_id: str) -> None:
        self.store, self.session_id = store, session_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ida-label-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        every = lrec.heartbeat_every()
        while not self._stop.wait(every):
            with contextlib.suppress(IdaError), self.store.write() as con:
                lrec.heartbeat(con, self.session_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
