"""The progress line for long waits: silent for short waits, one line per interval for long ones."""

from pytest_invokeai.run.progress import WaitProgress


class FakeClock:
    """Time under the test's control (the real waits are seconds long)."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_short_waits_print_nothing_and_long_waits_one_line_per_interval():
    lines: list[str] = []
    clock = FakeClock()
    progress = WaitProgress(lines.append, interval=15, clock=clock)
    for step in range(30):  # 30 looks at the item, half a second apart: 14.5 s in all
        clock.now = 100.0 + step * 0.5
        progress("test_a.py::test_a[Seed=1]", 7, "pending")
    assert lines == []
    for step in range(30, 95):  # on to 47 s
        clock.now = 100.0 + step * 0.5
        progress("test_a.py::test_a[Seed=1]", 7, "in_progress")
    assert lines == [
        "[invokeai] test_a.py::test_a[Seed=1]: queue item 7 is in progress (15 s)",
        "[invokeai] test_a.py::test_a[Seed=1]: queue item 7 is in progress (30 s)",
        "[invokeai] test_a.py::test_a[Seed=1]: queue item 7 is in progress (45 s)",
    ]
