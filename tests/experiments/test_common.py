"""The CLI's small helpers."""

from __future__ import annotations

import experiments._common as common


def test_the_throttle_keeps_a_costly_task_to_its_share_of_the_time(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(common.time, "perf_counter", lambda: clock[0])
    ran = []

    def report(cost: float):
        def task():
            ran.append(round(clock[0], 1))
            clock[0] += cost

        return task

    throttle = common.Throttle(share=0.1)
    for now in (0.0, 2.0, 9.9, 10.0, 10.5):  # a 1 s task: at most once in 10 s
        clock[0] = max(clock[0], now)
        throttle(report(1.0))
    assert ran == [0.0, 10.0]
    clock[0] = 20.0
    for _ in range(3):  # a cheap task runs at every call
        clock[0] += 1.0
        throttle(report(0.01))
    assert ran == [0.0, 10.0, 21.0, 22.0, 23.0]
