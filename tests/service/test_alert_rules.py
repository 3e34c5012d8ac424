"""The shipped Prometheus alert rules: ``promtool test rules`` (Debian's prometheus package;
CI installs it), and every metric they use is one the service exposes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from service_helpers import make_harness

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

RULES = Path(__file__).resolve().parents[2] / "ops" / "prometheus"


def test_promtool_checks_and_tests_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (apt-get install prometheus; CI installs it)")
    for args in (["check", "rules", "gridhash-alerts.yml"],
                 ["test", "rules", "gridhash-alerts.test.yml"]):
        out = subprocess.run([promtool, *args], cwd=RULES, capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "SUCCESS" in out.stdout


def test_the_rules_use_metrics_the_service_exposes(tmp_path: Path) -> None:
    used = set(re.findall(r"\b(gridhash_[a-z_]+)\b", (RULES / "gridhash-alerts.yml").read_text()))
    h = make_harness(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    with h.client:
        h.get("/api/sites/S/setpoint", "site:S")
        h.post("/api/sites/S/telemetry", "site:S", {
            "mw": 1.0, "hashrate_th_s": 1.0, "cap_mw": 2.0,
            "machines": {"awake": 1, "asleep": 0, "unreachable": 0, "disobeying": 0}})
        h.post("/api/safety/holds", "watch", {"reason": "a signed head"})
        text = h.client.get("/metrics").text
    exposed = set(re.findall(r"^(gridhash_[a-z_]+)", text, re.M))
    assert used <= exposed, used - exposed
