"""Hundreds of machines, concurrently with a bound: 200 fake LuxOS machines on loopback,
identified and driven by the real pyasic through the agent's loop, never more than
``concurrency`` machines in flight."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fake_miners import FakeMiner, loopback_block

from gridhash.agent.fleet import MinerSpec, SiteSpec
from gridhash.agent.pyasic_backend import PyasicBackend
from gridhash.agent.run import Agent, AgentConfig

N, BOUND = 200, 16


class Counting:
    """Wraps a backend; records the most machines it was driving at once."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.now, self.most = inner, 0, 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def counted(*a: Any) -> Any:
            self.now += 1
            self.most = max(self.most, self.now)
            try:
                return await method(*a)
            finally:
                self.now -= 1

        return counted


def test_two_hundred_machines_with_a_bound() -> None:
    key = Ed25519PrivateKey.generate()
    block = loopback_block()
    miners = [FakeMiner(f"{block}.{i + 2}") for i in range(N)]

    def body(cap: float, second: int) -> dict[str, Any]:
        issued = datetime(2027, 3, 1, 10, 0, second, tzinfo=UTC)
        f = {"site": "S", "mw_cap": cap, "issued_at": issued.isoformat(),
             "valid_until": (issued + timedelta(minutes=5)).isoformat(), "plan_id": 1,
             "hold": False, "reason": "scale"}
        text = json.dumps(f)
        return {"payload": text, "signature": key.sign(text.encode()).hex()}

    async def main() -> tuple[float, float, int]:
        await asyncio.gather(*(m.start() for m in miners))
        try:
            backend = Counting(PyasicBackend())
            spec = SiteSpec(tuple(MinerSpec(m.host) for m in miners), 0.05)
            clock = [datetime(2027, 3, 1, 10, 0, 30, tzinfo=UTC)]
            agent = Agent(AgentConfig("http://x", "S", "t",
                                      key.public_key().public_bytes_raw(), spec,
                                      concurrency=BOUND, ramp_step=N), backend,
                          clock=lambda: clock[0])
            bodies = [body(0.0, 0)]

            async def fetch() -> Any:
                return bodies[-1]

            async def report() -> None:
                return None

            agent.fetch = fetch  # type: ignore[method-assign]
            agent.report = report  # type: ignore[method-assign]
            t0 = time.perf_counter()
            await agent.step()  # identify all, put all to sleep
            first = time.perf_counter() - t0
            assert all(m.asleep for m in miners)
            # 0.5 MW, cooling 5 %: 476.2 kW of ASICs -> 146 machines at 3250 W (1.7 kW left)
            bodies.append(body(0.5, 1))
            t0 = time.perf_counter()
            await agent.step()
            second = time.perf_counter() - t0
            awake = [m for m in miners if not m.asleep]
            assert len(awake) == 146
            assert sum(m.watts() for m in miners) * 1.05 <= 0.5e6 + N * 12 * 1.05
            assert agent.telemetry()["machines"]["awake"] == 146
            return first, second, backend.most
        finally:
            await asyncio.gather(*(m.stop() for m in miners))

    first, second, most = asyncio.run(main())
    assert most <= BOUND, most
    print(f"{N} machines, bound {BOUND}: first step (identify + sleep) {first:.1f} s, "
          f"second (wake 146 + presets) {second:.1f} s")
