"""The Pulumi project file is valid for the real CLI, and the layout is what DESIGN.md promises."""

import importlib.metadata
import json
from pathlib import Path

import jsonschema
import yaml

from tests.conftest import PROJECT_DIR

SCHEMA = Path(__file__).parent / "schemas" / "pulumi" / "project.json"


def test_pulumi_yaml_validates_against_pulumis_project_schema():
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    jsonschema.validate(project, json.loads(SCHEMA.read_text()))
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "uv"}}
    assert project["main"] == "infra/"
    assert (PROJECT_DIR / project["main"] / "__main__.py").is_file()


def test_pyproject_is_where_the_uv_toolchain_looks():
    """Pulumi's uv toolchain searches upwards from `main` for pyproject.toml; it must be the project root's."""
    assert not (PROJECT_DIR / "infra" / "pyproject.toml").exists()
    assert (PROJECT_DIR / "pyproject.toml").is_file()


def test_lock_records_hashes_and_no_download_address():
    lock = (PROJECT_DIR / "requirements.lock").read_text()
    assert "--hash=sha256:" in lock
    assert "://" not in lock
    assert not (PROJECT_DIR / "uv.lock").exists() or "uv.lock" in (PROJECT_DIR / ".gitignore").read_text()


def test_every_direct_dependency_is_pinned_exactly():
    import tomllib

    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    pins = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    assert all("==" in pin for pin in pins), [pin for pin in pins if "==" not in pin]


def test_readme_configuration_reference_is_generated_from_the_models():
    """Every key is documented: the README's table is exactly what the models generate."""
    from infra.settings.reference import END, START, render

    readme = (PROJECT_DIR / "README.md").read_text()
    block = readme[readme.index(START) : readme.index(END) + len(END)]
    assert block == render(), "run `uv run python -m infra.settings.reference --write README.md`"
    assert "`kiva:models[].gpus`" in block and "`kiva:retention.backupDays`" in block


def test_policy_pack_installs_a_hashed_lock_that_matches_the_project_pins():
    """The pack's own virtualenv gets the same pulumi and pulumi-policy versions the offline runner uses."""
    import tomllib

    lock = (PROJECT_DIR / "policies" / "requirements.txt").read_text()
    assert "--hash=sha256:" in lock and "://" not in lock
    pins = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())["project"]["dependencies"]
    for package in ("pulumi", "pulumi-policy", "pyyaml"):
        pin = next(p for p in pins if p.startswith(f"{package}=="))
        assert f"\n{pin} \\" in lock, pin


def test_no_generic_package_name_is_installed_into_site_packages():
    """The project is installed editable only (hatch_build.py refuses a regular wheel): site-packages
    gets a `.pth` path entry and the `kiva` script, never a copy of `infra/` or `components/`."""
    installed = [str(path) for path in importlib.metadata.distribution("kiva-platform").files or []]
    top_level = {path.split("/", 1)[0] for path in installed if not path.startswith("..")}
    packages = {name for name in top_level if not name.endswith((".pth", ".dist-info"))}
    assert packages == set(), packages
    assert "_editable_impl_kiva_platform.pth" in top_level
