"""The browser SDK: its unit tests (node's test runner: sessions, batching, retry/backoff,
replaceState de-duplication, opt-out), its size budget, and its npm package."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from .conftest import ROOT

SDK = ROOT / "services" / "gateway" / "sdk"


def test_sdk_unit_tests_pass() -> None:
    node = shutil.which("node")
    assert node, "Node.js is needed for the SDK's unit tests"
    result = subprocess.run([node, "--test", "--test-reporter=tap", "test/"], cwd=SDK, capture_output=True,
                            text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    passed = re.search(r"^# pass (\d+)$", output, re.M)
    failed = re.search(r"^# fail (\d+)$", output, re.M)
    assert passed and int(passed.group(1)) >= 25, output
    assert failed and failed.group(1) == "0", output


def test_script_bundle_is_one_small_minified_file(built_web: Path) -> None:
    bundle = (built_web / "sdk" / "tme.js").read_bytes()
    assert len(gzip.compress(bundle, 9)) < 5 * 1024
    assert bundle.count(b"\n") <= 2, "tme.js should be minified"
    assert b"import " not in bundle[:200] and b"export " not in bundle, "tme.js is a classic script, not a module"


def test_npm_package_installs_and_exports_init(built_web: Path, tmp_path: Path) -> None:
    """`npm pack` makes a package that a bundler-using site can install and import by name."""
    npm = shutil.which("npm")
    node = shutil.which("node")
    assert npm and node, "Node.js and npm are needed"
    packed = subprocess.run([npm, "pack", "--ignore-scripts", "--json", "--pack-destination", str(tmp_path)],
                            cwd=SDK, capture_output=True, text=True, timeout=120)
    assert packed.returncode == 0, packed.stderr
    info = json.loads(packed.stdout)[0]
    assert {f["path"] for f in info["files"]} == {"README.md", "package.json", "dist/index.js", "index.d.ts"}
    site = tmp_path / "site"
    (site / "node_modules").mkdir(parents=True)
    with tarfile.open(tmp_path / info["filename"]) as tar:
        tar.extractall(site / "node_modules", filter="data")
    (site / "node_modules" / "package").rename(site / "node_modules" / "tme-js")
    (site / "package.json").write_text('{"type": "module"}')
    script = (
        'import init, { init as named, createTracker, VERSION } from "tme-js";\n'
        'if (init !== named || typeof createTracker !== "function") throw new Error("bad exports");\n'
        'try { init({ writeKey: "wk_x", host: "https://tme.example" }); throw new Error("no error"); }\n'
        'catch (e) { if (!/runs in a browser/.test(e.message)) throw e; }\n'
        "console.log(VERSION);\n"
    )
    (site / "check.mjs").write_text(script)
    ran = subprocess.run([node, "check.mjs"], cwd=site, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == json.loads((SDK / "package.json").read_text())["version"]
