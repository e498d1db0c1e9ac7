"""The dependency rule: a pure core (stdlib, pydantic, itself); workers never talk to Mesos or Redis."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package.replace(".", "/")).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_core_imports_only_the_standard_library_pydantic_and_itself() -> None:
    allowed_roots = set(sys.stdlib_module_names) | {"pydantic", "__future__"}
    for module, names in imports("juice.core").items():
        for name in names:
            ok = (
                name.split(".")[0] in allowed_roots or name.startswith("juice.core") or name == "juice.errors"
            )
            assert ok, f"{module} imports {name}"


def test_core_reads_no_clock_and_no_randomness() -> None:
    for path in (ROOT / "juice" / "core").rglob("*.py"):
        text = path.read_text()
        for forbidden in ("time.time(", "time.monotonic(", "datetime.now(", "random.", "uuid.uuid4("):
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_workers_do_not_reach_mesos_redis_or_the_scheduler() -> None:
    for module, names in imports("workers").items():
        for name in names:
            assert not name.startswith(("juice.mesos", "juice.scheduler", "juice.store", "redis", "boto3")), (
                f"{module} imports {name}"
            )
