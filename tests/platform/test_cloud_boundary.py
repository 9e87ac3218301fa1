"""The platform layer never asks which cloud it runs on: it reads the `CloudFoundation` contract only.

Every module under `components/platform/` is read as source (AST and text): it imports no cloud
layer and no cloud SDK, and names none of the provider switches the contract replaced. A new cloud
is then a new package under `components/` that fills the contract, with no platform edit.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PLATFORM = Path(__file__).resolve().parents[2] / "components" / "platform"
MODULES = sorted(PLATFORM.glob("*.py"))
#: Packages that are one cloud's (or the cloud layers'), never the platform's.
FORBIDDEN_IMPORTS = ("components.azure", "components.existing", "pulumi_azure_native")
#: Names of provider switches: the stack's cloud, a provider's backup type, AKS's spot taint.
FORBIDDEN_NAMES = ("on_azure", "AzureBlobBackups", "S3Backups", "scalesetpriority")
#: A cloud's name as a value compared against (e.g. a GPU pool's `driver == "aks"`).
FORBIDDEN_LITERALS = ("aks", "azure", "existing")


def _imports(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return names


def _named(source: str) -> set[str]:
    return {name for name in FORBIDDEN_NAMES if re.search(rf"\b{name}\b", source)}


def test_every_platform_module_is_checked() -> None:
    assert {"database.py", "network_policies.py", "operators.py", "model_server.py"} <= {
        module.name for module in MODULES
    }


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.name)
def test_no_cloud_import(module: Path) -> None:
    imported = _imports(ast.parse(module.read_text()))
    leaks = [name for name in imported if name.startswith(FORBIDDEN_IMPORTS)]
    assert leaks == [], f"{module.name} imports {leaks}"


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.name)
def test_no_provider_switch(module: Path) -> None:
    source = module.read_text()
    leaks = _named(source)
    assert leaks == set(), f"{module.name} names {sorted(leaks)}: read it from the CloudFoundation"
    literals = {
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    compared = literals & set(FORBIDDEN_LITERALS)
    assert compared == set(), f"{module.name} spells the cloud {sorted(compared)}"


def test_the_check_catches_a_switch(tmp_path: Path) -> None:
    """The scan itself: a module like the old database.py would be caught."""
    source = (
        "from components.contracts import S3Backups\n"
        "from components.azure.foundation import aks_gpu_nodes\n"
        "def f(settings, pool):\n"
        "    return settings.on_azure or pool.driver == 'aks'\n"
    )
    tree = ast.parse(source)
    assert [n for n in _imports(tree) if n.startswith(FORBIDDEN_IMPORTS)] == [
        "components.azure.foundation",
        "components.azure.foundation.aks_gpu_nodes",
    ]
    assert _named(source) == {"S3Backups", "on_azure"}
    assert "aks" in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
