"""Twin tests need the control-plane tools and the chart cache; without them they skip, saying why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"


def _folder(env: str) -> Path | None:
    value = os.environ.get(env)
    return Path(value) if value else None


@pytest.fixture
def twin_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    tools, charts = _folder("KIVA_K8S_TOOLS"), _folder("KIVA_CHARTS_DIR")
    if tools is None:
        pytest.skip("KIVA_K8S_TOOLS is not set: no Kubernetes control plane for the twin (see README, Twin)")
    if not (tools / "up").is_file():
        pytest.skip(f"KIVA_K8S_TOOLS={tools}: no `up` script there")
    if charts is None or not charts.is_dir():
        pytest.skip("KIVA_CHARTS_DIR is not set or missing: no chart cache for the twin (tests never pull)")
    return {"tools": tools, "charts": charts}
