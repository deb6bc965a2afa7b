"""One writer at a time: who may write, and what a second writing client is.

The first client that writes owns the site until its connection closes. A write from any
other client while the owner is connected is a *writer conflict*: it is counted
(``site.writer_conflicts``), the first one of each client becomes a ``writer_conflict``
event, and with ``single_writer`` the write is refused (exception 01). Two controllers
that both think they are in charge otherwise make setpoints alternate with no alarm.

Clients are named in commands (and so in the recording) by the order in which they first
wrote (``modbus client 1``), not by their ephemeral TCP port, so that a rerun records the
same text.
"""

from __future__ import annotations

import threading


class Writers:
    def __init__(self, single_writer: bool = False) -> None:
        self.single_writer = single_writer
        self.owner: str | None = None
        self.conflicts = 0
        self._labels: dict[str, str] = {}
        self._reported: set[str] = set()
        self._new_conflicts: list[tuple[str, str]] = []  # (client, owner) not yet drained as events
        self._lock = threading.Lock()

    def label(self, client: str) -> str:
        """``modbus client N``: N in the order of first write."""
        with self._lock:
            return self._labels.setdefault(client, f"modbus client {len(self._labels) + 1}")

    def admit(self, client: str) -> bool:
        """Whether ``client`` may write now; counts a conflict when it is not the owner."""
        with self._lock:
            if self.owner is None:
                self.owner = client
            if client == self.owner:
                return True
            self.conflicts += 1
            if client not in self._reported:
                self._reported.add(client)
                self._new_conflicts.append((client, self.owner))
            return not self.single_writer

    def disconnected(self, client: str) -> None:
        """The owner's connection closed: the next client to write owns the site."""
        with self._lock:
            if client == self.owner:
                self.owner = None

    def drain_conflicts(self) -> list[tuple[str, str]]:
        with self._lock:
            new, self._new_conflicts = self._new_conflicts, []
        return new
