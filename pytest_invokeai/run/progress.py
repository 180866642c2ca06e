"""A quiet progress line for long waits: what the running test waits for, at most once per interval.

Short generations show nothing (the test's dot or PASSED line is progress enough); a test that waits
longer than ``interval`` seconds gets one line saying which queue item it waits for and its status,
then one more per interval. It never floods a CI log. A server that answers nothing gets its own
line every 15 s (:meth:`WaitProgress.server_silent`) until it is declared down.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class WaitProgress:
    def __init__(
        self, write_line: Callable[[str], None], *, interval: float = 15.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.write_line = write_line
        self.interval = interval
        self.clock = clock
        self._since: dict[str, float] = {}  # case key -> when we began waiting
        self._shown: dict[str, float] = {}  # case key -> when we last wrote about it

    def __call__(self, case_key: str, item_id: int, status: str) -> None:
        now = self.clock()
        start = self._since.setdefault(case_key, now)
        last = self._shown.get(case_key, start)
        if now - last >= self.interval:
            self._shown[case_key] = now
            self.write_line(
                f"[invokeai] {case_key}: queue item {item_id} is {status.replace('_', ' ')} ({now - start:.0f} s)"
            )

    def server_silent(self, url: str, seconds: float, hang_timeout: float) -> None:
        """A server has answered nothing for ``seconds`` (it is declared down at ``hang_timeout``)."""
        self.write_line(
            f"[invokeai] InvokeAI at {url} has not answered for {seconds:.0f} s "
            f"(declared down at {hang_timeout:g} s: --invokeai-hang-timeout)"
        )
