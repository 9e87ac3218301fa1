"""Policies share helpers through `base` (and small helper modules), never by importing one another.

A policy module is one that builds a `ResourceValidationPolicy` or `StackValidationPolicy`; the test
finds them by parsing the source, so a new policy module is covered without being listed here. The
consumers of the policies (the pack list, the offline runner and the reviewer's report) may import
policy modules; policy modules and helper modules import neither another policy module nor a consumer.
The day-one package is one unit: its modules import each other freely.
"""

from __future__ import annotations

import ast
from pathlib import Path

import kiva_policies
import pytest

PACKAGE = Path(kiva_policies.__file__).resolve().parent
DAY_ONE = "kiva_policies.day_one"
#: Modules that assemble, run or report on the policies: they sit above the policies.
CONSUMERS = {"kiva_policies.pack", "kiva_policies.runner", "kiva_policies.report"}
POLICY_CLASSES = {"ResourceValidationPolicy", "StackValidationPolicy"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, str]:
    return {_module_name(path): path.read_text() for path in sorted(PACKAGE.rglob("*.py"))}


def defines_policies(source: str) -> bool:
    """Does the module construct a resource or stack policy?"""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", None)
            if name in POLICY_CLASSES:
                return True
    return False


def imported_modules(source: str) -> set[str]:
    """Every `kiva_policies` module the source imports, at top level or inside functions.

    `from kiva_policies.day_one import network` names the module `kiva_policies.day_one.network`
    when such a module exists, else the package.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("kiva_policies")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kiva_policies"):
            base = PACKAGE.parent.joinpath(*node.module.split("."))
            for alias in node.names:
                is_module = base.is_dir() and (
                    (base / f"{alias.name}.py").exists() or (base / alias.name).is_dir()
                )
                found.add(f"{node.module}.{alias.name}" if is_module else node.module)
    return found


def _same_unit(importer: str, imported: str) -> bool:
    """Day-one modules form one unit; every other module is its own."""
    return importer == imported or (
        importer.startswith(DAY_ONE) and (imported == DAY_ONE or imported.startswith(f"{DAY_ONE}."))
    )


def layering_violations(sources: dict[str, str]) -> list[str]:
    """`importer → imported` for each import of a policy module or consumer by a non-consumer."""
    policies = {name for name, source in sources.items() if defines_policies(source)}
    upward = policies | CONSUMERS
    problems = []
    for importer, source in sorted(sources.items()):
        if importer in CONSUMERS:
            continue
        for imported in sorted(imported_modules(source)):
            if imported in upward and not _same_unit(importer, imported):
                problems.append(f"{importer} → {imported}")
    return problems


def test_the_policy_modules_are_found() -> None:
    """The checker must see the policies, or the layering test below would pass vacuously."""
    policies = {name for name, source in _sources().items() if defines_policies(source)}
    assert {
        "kiva_policies.residency",
        "kiva_policies.retention",
        "kiva_policies.telemetry",
        "kiva_policies.hardening",
        "kiva_policies.topology",
        "kiva_policies.day_one.scheduling",
        "kiva_policies.day_one.network",
    } <= policies
    assert not policies & {"kiva_policies.base", "kiva_policies.litellm", "kiva_policies.regions"}


def test_no_policy_or_helper_module_imports_another_policy_module_or_a_consumer() -> None:
    assert layering_violations(_sources()) == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        # the defect this test guards against: a policy taking a helper from another policy
        (
            "kiva_policies.hardening",
            "from kiva_policies.residency import parse_yaml\n",
            ["kiva_policies.hardening → kiva_policies.residency"],
        ),
        # an import inside a function counts too
        (
            "kiva_policies.day_one.flows",
            "def f():\n    from kiva_policies.residency import litellm_config\n",
            ["kiva_policies.day_one.flows → kiva_policies.residency"],
        ),
        # a helper module may not reach up to the runner
        (
            "kiva_policies.litellm",
            "from kiva_policies.runner import engine_props\n",
            ["kiva_policies.litellm → kiva_policies.runner"],
        ),
        # a top-level policy may not use a day-one policy module …
        (
            "kiva_policies.topology",
            "from kiva_policies.day_one import scheduling\n",
            ["kiva_policies.topology → kiva_policies.day_one.scheduling"],
        ),
        # … but may use its data tables, base and the shared helpers
        (
            "kiva_policies.topology",
            "from kiva_policies.day_one import vm_sizes\nfrom kiva_policies.base import get\n"
            "from kiva_policies.litellm import litellm_config\nimport kiva_policies.regions\n",
            [],
        ),
        # day-one modules import each other; the report (a consumer) imports policies
        ("kiva_policies.day_one.network", "from kiva_policies.day_one import names\n", []),
        ("kiva_policies.report", "from kiva_policies.telemetry import switch_states\n", []),
    ],
)
def test_the_checker_flags_exactly_the_forbidden_imports(
    module: str, source: str, expected: list[str]
) -> None:
    sources = _sources() | {module: source}
    assert [p for p in layering_violations(sources) if p.startswith(f"{module} →")] == expected
