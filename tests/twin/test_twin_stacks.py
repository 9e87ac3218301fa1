"""`kiva twin` on every committed stack: Kubernetes accepts every object and places every pod."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from infra.cli import main
from tests.conftest import PROJECT_DIR, STACKS

pytestmark = pytest.mark.twin


@pytest.mark.parametrize("stack", STACKS)
def test_twin_accepts_and_places_everything(stack: str, twin_env: dict, tmp_path) -> None:
    report = tmp_path / "twin.md"
    result = CliRunner().invoke(
        main, ["twin", stack, "--project-dir", str(PROJECT_DIR), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "every object accepted and every pod placed" in result.output
    assert "**Result: passed**" in report.read_text()
