"""`kiva plan` and `kiva check` as a user runs them: exit codes, the JSON contract, no secret leaks."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from infra.cli import main
from infra.offline.digest import SECRET
from infra.offline.manifests import MARKER, manifest_names, write_manifests
from tests.conftest import PROJECT_DIR, STACKS

SAMPLE = Path(__file__).parent / "fixtures" / "preview-sample.json"
# What the mocks generate for random secrets and the offline stand-ins for secure config values:
# none of these may appear in a written plan or manifest.
SECRET_PATTERNS = [re.compile(r"offline-placeholder-"), re.compile(r"\bsk-[0-9a-f]{20,}")]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def written_plans(tmp_path_factory):
    """`kiva plan STACK --json --manifests` for every committed stack, run once."""
    out = tmp_path_factory.mktemp("plans")
    results = {}
    for stack in STACKS:
        result = invoke("plan", stack, "--project-dir", str(PROJECT_DIR),
                        "--json", str(out / f"{stack}.json"), "--manifests", str(out / stack))  # fmt: skip
        results[stack] = (result, out / f"{stack}.json", out / stack)
    return results


@pytest.mark.parametrize("stack", STACKS)
def test_plan_of_committed_stack_exits_zero(written_plans, stack):
    result, _, _ = written_plans[stack]
    assert result.exit_code == 0, result.output
    assert f"Plan of stack {stack} (project kiva)" in result.output
    total = re.search(r"\(project kiva\): (\d+) resources", result.output)
    in_tree = re.search(r"kiva-" + stack + r" \(pulumi:pulumi:Stack\): (\d+) resources", result.output)
    assert total and in_tree and total.group(1) == in_tree.group(1), (
        "header and tree count the same resources"
    )
    assert "Policies: " in result.output and "0 mandatory violation(s)" in result.output


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_has_the_preview_digest_shape(written_plans, stack):
    _, json_file, _ = written_plans[stack]
    digest = json.loads(json_file.read_text())
    assert set(digest) >= {"config", "steps", "changeSummary"}
    assert digest["changeSummary"] == {"create": len(digest["steps"])}
    for step in digest["steps"]:
        assert step["op"] == "create"
        state = step["newState"]
        assert state["urn"] == step["urn"] and step["urn"].startswith(f"urn:pulumi:{stack}::kiva::")
        assert {"type", "custom", "parent", "inputs", "protect", "dependencies", "retainOnDelete"} <= set(
            state
        )
    stack_step = digest["steps"][0]["newState"]
    assert stack_step["type"] == "pulumi:pulumi:Stack" and stack_step["parent"] == ""


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_the_plan_json(written_plans, stack):
    _, json_file, _ = written_plans[stack]
    text = json_file.read_text()
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(text), pattern.pattern
    digest = json.loads(text)
    secure_keys = [key for key, value in digest["config"].items() if value == SECRET]
    assert secure_keys, "the committed stacks have secure values; they must show as [secret]"


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_value_in_the_manifests(written_plans, stack):
    _, _, manifest_dir = written_plans[stack]
    files = sorted(manifest_dir.glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text()
        for pattern in SECRET_PATTERNS:
            assert not pattern.search(text), f"{path.name}: {pattern.pattern}"
        manifest = yaml.safe_load(text)
        if manifest["kind"] == "Secret":
            values = {**manifest.get("data", {}), **manifest.get("stringData", {})}
            assert set(values.values()) <= {"[redacted]"}, path.name


def test_manifests_have_stable_names_and_replace_their_earlier_run(written_plans, tmp_path):
    _, _, first_dir = written_plans["local"]
    out = tmp_path / "manifests"
    out.mkdir()
    unrelated = out / "my-notes.yaml"
    unrelated.write_text("kind: Note\n")  # no marker: not the tool's
    readme = out / "README.md"
    readme.write_text("hand-written\n")
    stale = out / "deployment-kiva-removed-model.yaml"
    stale.write_text(f"{MARKER}\nkind: Deployment\n")  # an object an earlier plan had
    legacy_looking = out / "000-namespace-cluster-kiva.yaml"
    legacy_looking.write_text("kind: Namespace\n")  # no marker: left alone
    for _ in range(2):
        result = invoke("plan", "local", "--project-dir", str(PROJECT_DIR), "--manifests", str(out))
        # Manifests are written before the policies run; their verdict is another test's business.
        assert result.exit_code in (0, 1) and f"manifests to {out}" in result.output, result.output
    names = sorted(p.name for p in out.glob("*.yaml"))
    written = sorted(p.name for p in first_dir.glob("*.yaml"))
    assert sorted(set(names) - {unrelated.name, legacy_looking.name}) == written, "same plan, same names"
    assert "deployment-kiva-kiva-gateway.yaml" in written
    assert not [n for n in written if re.match(r"\d", n)], "no running numbers"
    assert not stale.exists()
    assert unrelated.read_text() == "kind: Note\n" and readme.exists() and legacy_looking.exists()
    for name in written:
        assert (out / name).read_text() == (first_dir / name).read_text()
        assert (out / name).read_text().splitlines()[0] == MARKER


def test_manifests_never_overwrite_a_file_they_did_not_write(tmp_path):
    from tests.conftest import _committed_plan

    (tmp_path / "deployment-kiva-kiva-gateway.yaml").write_text("mine\n")
    with pytest.raises(FileExistsError, match=re.escape("deployment-kiva-kiva-gateway.yaml")):
        write_manifests(_committed_plan("local"), tmp_path)
    assert (tmp_path / "deployment-kiva-kiva-gateway.yaml").read_text() == "mine\n"


def test_manifest_names_disambiguate_collisions_independently_of_order():
    def obj(api: str, kind: str, name: str) -> dict:
        return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": "kiva"}}

    a = obj("example.com/v1", "Backup", "db")
    b = obj("postgresql.cnpg.io/v1", "Backup", "db")
    c = obj("v1", "Service", "kiva-gateway")
    names = manifest_names([a, b, c])
    assert names[2] == "service-kiva-kiva-gateway.yaml"
    assert names[0] != names[1] and all(n.startswith("backup-kiva-db-") for n in names[:2])
    assert manifest_names([c, b, a]) == [names[2], names[1], names[0]]


def test_plan_and_check_of_its_json_agree(written_plans):
    plan_result, json_file, _ = written_plans["prod"]
    check_result = invoke("check", str(json_file))
    assert check_result.exit_code == plan_result.exit_code == 0
    summary = [line for line in plan_result.output.splitlines() if line.startswith("Policies: ")]
    assert summary and summary[0] in check_result.output
    assert "Policy config: " in check_result.output and "prod.json" in check_result.output


def test_plan_default_stack_is_dev(tmp_path):
    result = CliRunner().invoke(main, ["plan", "--project-dir", str(PROJECT_DIR)])
    assert "Plan of stack dev" in result.output


def test_unknown_stack_exits_two_and_names_the_stacks():
    result = invoke("plan", "staging", "--project-dir", str(PROJECT_DIR))
    assert result.exit_code == 2
    assert "Pulumi.staging.yaml: no such stack file; stacks here: dev, local, prod" in result.output
    assert "Traceback" not in result.output


def _project_copy(tmp_path: Path, stack: str, edit) -> Path:
    for name in ("Pulumi.yaml", f"Pulumi.{stack}.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    document = yaml.safe_load((tmp_path / f"Pulumi.{stack}.yaml").read_text())
    edit(document["config"])
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c.update({"kiva:gatewayy": {"minReplicas": 2}}), "kiva:gatewayy: unknown key"),
        (
            lambda c: c["kiva:gateway"].update({"minReplicas": "many"}),
            "kiva:gateway.minReplicas: must be a whole number (got 'many')",
        ),
        (
            lambda c: c["kiva:models"][0].update({"pool": "h100"}),
            "kiva:models[0].pool: no GPU pool named 'h100'",
        ),
    ],
    ids=["unknown-key", "wrong-type", "cross-field"],
)
def test_bad_stack_file_exits_two_with_the_key_path(tmp_path, edit, expected):
    project = _project_copy(tmp_path, "dev", edit)
    result = invoke("plan", "dev", "--project-dir", str(project), "--json", str(tmp_path / "plan.json"))
    assert result.exit_code == 2
    assert f"Pulumi.dev.yaml: {expected}" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "plan.json").exists(), "nothing is written for an invalid configuration"


def test_check_of_a_hand_written_preview_with_unknowns(tmp_path):
    result = invoke("check", str(SAMPLE))
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output  # the Log Analytics workspace sits in eastus
    assert "eastus" in result.output
    assert "Policy config: none (strictest settings)" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not JSON"), ('{"steps": 3}', "no `steps` list"), ("[]", "no `steps` list")],
)
def test_check_of_a_broken_file_exits_two(tmp_path, content, message):
    broken = tmp_path / "broken.json"
    broken.write_text(content)
    result = invoke("check", str(broken))
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_check_of_a_missing_file_exits_two(tmp_path):
    result = invoke("check", str(tmp_path / "absent.json"))
    assert result.exit_code == 2 and "cannot read" in result.output
