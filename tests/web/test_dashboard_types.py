"""The dashboard's API types come from the gateway's OpenAPI document (openapi-typescript, run by
scripts/build_web.sh): the dashboard does not type-check when it reads a field the API does not
describe, when the API stops describing a field the dashboard reads, or when the generated types are
missing. Each case type-checks a copy of the dashboard's sources with its own tsc."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from services.gateway.openapi import openapi_document

from .conftest import ROOT

DASHBOARD = ROOT / "services" / "gateway" / "dashboard"


@pytest.fixture
def dashboard(built_web: Path, tmp_path: Path) -> Path:
    """A copy of the dashboard's sources, its generated types and its document, using the real node_modules."""
    copy_dir = tmp_path / "dashboard"
    copy_dir.mkdir()
    shutil.copytree(DASHBOARD / "src", copy_dir / "src")
    for name in ("tsconfig.json", "package.json", "openapi.json"):
        shutil.copy2(DASHBOARD / name, copy_dir / name)
    (copy_dir / "node_modules").symlink_to(DASHBOARD / "node_modules")
    assert (copy_dir / "src" / "api" / "schema.d.ts").is_file(), "build_web.sh generates src/api/schema.d.ts"
    return copy_dir


def tsc(dashboard: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(dashboard / "node_modules" / ".bin" / "tsc"), "--noEmit", "-p", "."], cwd=dashboard,
                          capture_output=True, text=True, timeout=120)


def generate_types(dashboard: Path, document: dict[str, object]) -> None:
    """The package's own `schema` script (openapi-typescript with the build's options) over `document`."""
    (dashboard / "openapi.json").write_text(json.dumps(document), encoding="utf-8")
    npm = shutil.which("npm")
    assert npm, "npm is needed"
    result = subprocess.run([npm, "run", "--silent", "schema"], cwd=dashboard, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_type_checks_against_the_generated_types(dashboard: Path) -> None:
    result = tsc(dashboard)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("field", "passes"), [("writeKey", True), ("noSuchField", False)])
def test_reading_a_field_the_api_does_not_describe_fails_the_type_check(dashboard: Path, field: str,
                                                                        passes: bool) -> None:
    (dashboard / "src" / "probe.ts").write_text(
        'import type { Project } from "./api/types";\n\n'
        f"export const probe = (project: Project): unknown => project.{field};\n",
        encoding="utf-8",
    )
    result = tsc(dashboard)
    output = result.stdout + result.stderr
    if passes:
        assert result.returncode == 0, output
    else:
        assert result.returncode != 0
        assert "src/probe.ts" in output and f"Property '{field}' does not exist" in output, output


def test_a_field_the_api_stops_describing_fails_the_pages_that_read_it(dashboard: Path) -> None:
    document = copy.deepcopy(openapi_document())
    project = document["components"]["schemas"]["Project"]
    del project["properties"]["writeKey"]
    project["required"] = [name for name in project.get("required", []) if name != "writeKey"]
    generate_types(dashboard, document)
    result = tsc(dashboard)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "src/pages/ProjectsPage.tsx" in output and "Property 'writeKey' does not exist" in output, output


def test_missing_generated_types_fail_the_type_check_instead_of_typing_nothing(dashboard: Path) -> None:
    (dashboard / "src" / "api" / "schema.d.ts").unlink()
    result = tsc(dashboard)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "src/api/types.ts" in output and "'./schema'" in output, output
