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
#: Names of provider switches: the stack's cloud, a cluster's kind, a provider's backup type, AKS's
#: spot taint.
FORBIDDEN_NAMES = (
    "on_azure",
    "AzureCluster",
    "ExistingCluster",
    "AzureBlobBackups",
    "S3Backups",
    "scalesetpriority",
)
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


#: Modules defining the platform's components (and the helpers they share): they take their `Args`.
COMPONENT_MODULES = [
    PLATFORM / f"{module}.py"
    for module in (
        "certificate_issuer",
        "common",
        "database",
        "gateway",
        "model_server",
        "namespaces",
        "network_policies",
        "operators",
        "platform",
        "secrets",
    )
]
#: Only `assembly.py` (and the settings-derived helpers it calls) may read the settings or the config.
SETTINGS_NAMES = ("StackSettings", "load_settings", "Config")


def _annotations(tree: ast.Module) -> list[ast.expr]:
    found: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            found.append(node.returns)
    return found


def _settings_names(tree: ast.Module) -> set[str]:
    """Names and attributes in `tree` that reach the stack's settings or Pulumi's config."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in SETTINGS_NAMES:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in SETTINGS_NAMES:
            found.add(node.attr)
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in SETTINGS_NAMES:
            found.add(node.name)
    # A quoted annotation hides its type from the walk above (docstrings may still name the settings).
    for annotation in _annotations(tree):
        for constant in ast.walk(annotation):
            if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                found |= {n for n in SETTINGS_NAMES if re.search(rf"\b{n}\b", constant.value)}
    return found


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


@pytest.mark.parametrize("module", COMPONENT_MODULES, ids=lambda module: module.name)
def test_components_never_see_the_settings(module: Path) -> None:
    """A component is built from its `Args` alone; `assembly.py` is where settings become Args."""
    leaks = _settings_names(ast.parse(module.read_text()))
    assert leaks == set(), f"{module.name} reaches {sorted(leaks)}: take it through the component's Args"


def test_every_component_module_exists() -> None:
    assert all(module.exists() for module in COMPONENT_MODULES)
    assert (PLATFORM / "assembly.py").exists()


def test_the_settings_check_catches_a_settings_parameter() -> None:
    """The scan itself: the old constructors (settings in, `pulumi.Config` beside) would be caught."""
    source = (
        "from infra.settings import StackSettings\n"
        "import pulumi\n"
        "class Database:\n"
        "    def __init__(self, name, settings: StackSettings, config: pulumi.Config) -> None:\n"
        "        self.instances = settings.database.instances\n"
    )
    assert _settings_names(ast.parse(source)) == {"StackSettings", "Config"}
    assert _settings_names(ast.parse("def f(settings: 'StackSettings') -> None: ...\n")) == {"StackSettings"}
    assert _named("if isinstance(settings.cluster, AzureCluster): ...") == {"AzureCluster"}


AZURE = PLATFORM.parent / "azure"
#: The Azure layer's assembly: it alone reads the settings and checks the cluster's variant.
AZURE_ASSEMBLY = AZURE / "foundation.py"
AZURE_COMPONENT_MODULES = sorted(set(AZURE.glob("*.py")) - {AZURE_ASSEMBLY})


def _variant_asserts(tree: ast.Module) -> list[str]:
    """`assert isinstance(...)` statements: a component re-narrowing a settings variant."""
    return [
        ast.unparse(node.test)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert)
        and isinstance(node.test, ast.Call)
        and isinstance(node.test.func, ast.Name)
        and node.test.func.id == "isinstance"
    ]


def test_every_azure_component_module_is_checked() -> None:
    assert AZURE_ASSEMBLY.exists()
    assert {"aks_cluster.py", "key_vault.py", "backup_storage.py", "gpu_node_pool.py", "common.py"} <= {
        module.name for module in AZURE_COMPONENT_MODULES
    }


@pytest.mark.parametrize("module", AZURE_COMPONENT_MODULES, ids=lambda module: module.name)
def test_azure_components_never_see_the_settings(module: Path) -> None:
    """An Azure component is built from its `Args` and the `AzureContext`; `foundation.py` builds both."""
    tree = ast.parse(module.read_text())
    leaks = _settings_names(tree)
    assert leaks == set(), f"{module.name} reaches {sorted(leaks)}: take it through the component's Args"
    settings_imports = [name for name in _imports(tree) if name.startswith("infra.settings")]
    assert settings_imports == [], (
        f"{module.name} imports {settings_imports}: build its Args in foundation.py"
    )
    asserts = _variant_asserts(tree)
    assert asserts == [], f"{module.name} re-narrows {asserts}: the assembly checks the variant once"


def test_the_variant_check_catches_a_re_narrowing() -> None:
    """The scan itself: the old `AksCluster` body (settings from the context, narrowed again) is caught."""
    source = (
        "from infra.settings import AzureCluster\n"
        "def build(ctx):\n"
        "    cluster = ctx.settings.cluster\n"
        "    assert isinstance(cluster, AzureCluster)\n"
        "    assert cluster is not None\n"
    )
    tree = ast.parse(source)
    assert _variant_asserts(tree) == ["isinstance(cluster, AzureCluster)"]
    assert [n for n in _imports(tree) if n.startswith("infra.settings")] == [
        "infra.settings",
        "infra.settings.AzureCluster",
    ]


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
