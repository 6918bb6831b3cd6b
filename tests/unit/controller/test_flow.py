"""Flow control (token bucket, priority gate) and operator settings."""

from __future__ import annotations

import asyncio
import time

import pytest

from containertask.controller import settings
from containertask.controller.ratelimit import PriorityGate, TokenBucket

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_paces() -> None:
    clock = Clock()
    bucket = TokenBucket(qps=10, burst=3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    clock.now = 10.0  # refills up to the burst, not beyond
    assert [bucket.reserve() for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve() > 0


def test_token_bucket_without_limit() -> None:
    bucket = TokenBucket(qps=0, burst=1)
    assert all(bucket.reserve() == 0 for _ in range(1000))


def test_priority_gate_lets_urgent_waiters_in_first() -> None:
    order: list[str] = []

    async def scenario() -> None:
        gate = PriorityGate(1)
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.slot(5):
                await release.wait()

        async def waiter(name: str, priority: int) -> None:
            async with gate.slot(priority):
                order.append(name)

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        waiters = [
            asyncio.create_task(waiter(n, p))
            for n, p in (("event", 2), ("status", 1), ("pod", 0), ("status-2", 1))
        ]
        await asyncio.sleep(0)
        release.set()
        await asyncio.gather(first, *waiters)

    asyncio.run(scenario())
    assert order == ["pod", "status", "status-2", "event"]


def test_priority_gate_survives_a_cancelled_waiter() -> None:
    async def scenario() -> int:
        gate = PriorityGate(1)
        entered = 0
        release = asyncio.Event()

        async def holder() -> None:
            async with gate.slot(0):
                await release.wait()

        async def waiter() -> None:
            nonlocal entered
            async with gate.slot(0):
                entered += 1

        first = asyncio.create_task(holder())
        await asyncio.sleep(0)
        doomed = asyncio.create_task(waiter())
        kept = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        doomed.cancel()
        release.set()
        await asyncio.gather(first, kept)
        async with gate.slot(0):  # the slot came back
            return entered

    assert asyncio.run(scenario()) == 1


def test_under_the_rate_limit_an_urgent_call_takes_the_next_token() -> None:
    """Routine calls queued first wait for tokens; a pod creation queued after them does not
    wait behind them, and the rate still holds."""

    async def scenario() -> tuple[list[str], float]:
        gate = PriorityGate(10, TokenBucket(qps=50, burst=1))
        order: list[str] = []

        async def call(name: str, priority: int) -> None:
            async with gate.slot(priority):
                order.append(name)

        started = time.monotonic()
        routine = [asyncio.create_task(call(f"status-{i}", 1)) for i in range(5)]
        await asyncio.sleep(0)
        await asyncio.gather(*routine, call("pod", 0))
        return order, time.monotonic() - started

    order, seconds = asyncio.run(scenario())
    assert order == ["status-0", "pod", "status-1", "status-2", "status-3", "status-4"]
    assert seconds >= 5 / 50 * 0.9  # six calls, one token saved: five waits of 20 ms


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, {"namespaces": (), "clusterwide": True, "qps": 100.0}),
        (
            ["-n", "a", "--namespace=b", "-n", "a"],
            {},
            {"namespaces": ("a", "b"), "clusterwide": False},
        ),
        ([], {"CONTAINERTASK_NAMESPACES": "x, y"}, {"namespaces": ("x", "y")}),
        (["-n", "z"], {"CONTAINERTASK_NAMESPACES": "x"}, {"namespaces": ("z",)}),
        (["-A"], {"CONTAINERTASK_NAMESPACES": "x"}, {"namespaces": ()}),
        (
            ["--pending-timeout=30", "--qps=5", "--burst=7"],
            {"CONTAINERTASK_COPILOT_IMAGE": "c:1", "CONTAINERTASK_LOG_LEVEL": "debug"},
            {
                "pending_timeout_seconds": 30,
                "qps": 5.0,
                "burst": 7,
                "copilot_image": "c:1",
                "log_level": "DEBUG",
            },
        ),
        ([], {"CONTAINERTASK_METRICS_PORT": "9000"}, {"metrics_port": 9000}),
    ],
    ids=[
        "defaults",
        "namespaces",
        "env-namespaces",
        "flag-wins",
        "all",
        "flags-and-env",
        "env-number",
    ],
)
def test_settings(argv: list[str], env: dict[str, str], expected: dict[str, object]) -> None:
    parsed = settings.parse(argv, env)
    assert {k: getattr(parsed, k) for k in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [["-A", "-n", "a"], ["--qps=-1"], ["--pending-timeout=soon"], ["--log-level=LOUD"]],
    ids=["all-and-namespace", "negative", "not-a-number", "log-level"],
)
def test_bad_settings_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        settings.parse(argv, {})
