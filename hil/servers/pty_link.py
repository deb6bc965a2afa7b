"""Two pseudo-terminals joined back to back (what ``socat pty,raw pty,raw`` does), so an RTU
server and a client can talk over real serial devices with no hardware and no socat.

What one side writes, the other reads, byte for byte and at once: a pty has no baud rate, so
line timing is the server's ``BusTiming``, not the link's.
"""

from __future__ import annotations

import os
import select
import threading
import tty

POLL_S = 0.05
CHUNK = 4096


class PtyLink:
    def __init__(self) -> None:
        self._masters: list[int] = []
        self._slaves: list[int] = []
        self.paths: list[str] = []
        for _ in range(2):
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no line editing: bytes pass as they are
            self._masters.append(master)
            self._slaves.append(slave)  # held open, so the master never sees a hang-up between opens
            self.paths.append(os.ttyname(slave))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="pty-link", daemon=True)
        self._thread.start()

    @property
    def server_path(self) -> str:
        return self.paths[0]

    @property
    def client_path(self) -> str:
        return self.paths[1]

    def _pump(self) -> None:
        other = {self._masters[0]: self._masters[1], self._masters[1]: self._masters[0]}
        while not self._stop.is_set():
            ready, _, _ = select.select(self._masters, [], [], POLL_S)
            for fd in ready:
                try:
                    data = os.read(fd, CHUNK)
                except OSError:  # the other end is between close and reopen
                    continue
                os.write(other[fd], data)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2 * POLL_S + 1.0)
        for fd in self._masters + self._slaves:
            os.close(fd)

    def __enter__(self) -> PtyLink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
