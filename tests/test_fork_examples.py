"""The worked examples under `examples/` (issue 12, part 5): each plans green as docs/forking.md says.

Every `examples/<provider>/Pulumi.<stack>.yaml` is found, not listed, so a new example is tested the day
it is added. Each is copied with `Pulumi.yaml` into a project folder of its own, as a newcomer copies it
to the project root, and planned with `kiva plan STACK --project-dir DIR`: no policy config file exists
for these stacks, so the config is derived from the stack's declared region and jurisdiction, which is
what a fork gets on its first run. The twin test applies the same plan to a throw-away control plane.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from infra.cli import main
from tests.conftest import PROJECT_DIR
from tests.conftest import STACKS as SHIPPED_STACKS
from tests.twin.conftest import twin_env  # noqa: F401  (the twin tests' fixture: skips without tools)

EXAMPLES = sorted((PROJECT_DIR / "examples").glob("*/Pulumi.*.yaml"))
PLACEHOLDER = "set-me-with-pulumi-config-set-secret"

#: Examples whose twin run fails because of a known gap in the twin, with the gap; the test is an
#: expected failure (strict: it fails as soon as the gap is closed, so the entry must then go).
TWIN_GAPS: dict[str, str] = {}


def _stack(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def _id(path: Path) -> str:
    return f"{path.parent.name}/{_stack(path)}"


def _project(root: Path, example: Path) -> Path:
    """A project folder as docs/forking.md builds it: `Pulumi.yaml` and the example beside it."""
    project = root / _stack(example)
    project.mkdir()
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(example, project / example.name)
    return project


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Result]:
    """`kiva plan STACK --project-dir DIR` of an example, run at most once per module."""
    root = tmp_path_factory.mktemp("fork-examples")
    results: dict[Path, Result] = {}

    def plan(example: Path) -> Result:
        if example not in results:
            project = _project(root, example)
            results[example] = CliRunner().invoke(
                main, ["plan", _stack(example), "--project-dir", str(project)], catch_exceptions=False
            )
        return results[example]

    return plan


def test_there_are_examples_for_each_documented_provider() -> None:
    assert {_id(path) for path in EXAMPLES} >= {
        "stackit-ske/stackit-prod",
        "ionos/ionos-gateway",
        "k3s-onprem/k3s-onprem",
        "otc-cce/otc-dev",
    }


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_example_plans_green(planned: Callable[[Path], Result], example: Path) -> None:
    result = planned(example)
    assert result.exit_code == 0, result.output
    assert re.search(r"^Policies: \d+ run, 0 mandatory violation\(s\)", result.output, re.M), result.output
    # No file of its own: the policy config is derived from the stack's declaration, as in a new fork.
    assert "Policy config: derived (no config file)" in result.output, result.output


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_day_one_allows_every_required_flow_and_places_every_pod(
    planned: Callable[[Path], Result], example: Path
) -> None:
    output = planned(example).output
    summary = output.split("Day one (would it come up?):", 1)[1].split("Policy config:", 1)[0]
    flows = re.search(r"flows: (\d+) required, (\d+) allowed", summary)
    assert flows is not None, summary
    assert int(flows[1]) > 0 and flows[1] == flows[2], summary
    assert "blocked:" not in summary and "unplaced pods:" not in summary, summary
    assert "no device plugin: none advertised" not in summary, summary


@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_example_is_self_explaining_and_holds_no_secret(example: Path) -> None:
    text = example.read_text(encoding="utf-8")
    assert text.startswith("# "), "an example starts with a comment that says what it sets up"
    assert _stack(example) not in SHIPPED_STACKS, "an example must not shadow a shipped stage's name"
    config = yaml.safe_load(text)["config"]
    secure = {key for key, value in config.items() if isinstance(value, dict) and "secure" in value}
    assert secure, "every example needs at least the backup store's keys"
    assert {config[key]["secure"] for key in secure} == {PLACEHOLDER}
    # The header names exactly the secrets the file declares, with the command that sets them.
    named = set(re.findall(rf"pulumi config set --secret (kiva:\w+) -s {_stack(example)}\b", text))
    assert named == secure


@pytest.mark.twin
@pytest.mark.parametrize("example", EXAMPLES, ids=_id)
def test_twin_accepts_and_places_every_pod(
    example: Path,
    twin_env: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    gap = TWIN_GAPS.get(_stack(example))
    if gap:
        request.applymarker(pytest.mark.xfail(reason=gap, strict=True))
    project = _project(tmp_path, example)
    report = tmp_path / "twin.md"
    result = CliRunner().invoke(
        main, ["twin", _stack(example), "--project-dir", str(project), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert "every object accepted and every pod placed" in result.output
    assert "**Result: passed**" in report.read_text()
