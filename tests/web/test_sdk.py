"""The browser SDK: its unit tests (node's test runner: sessions, batching, retry/backoff,
replaceState de-duplication, opt-out) and its size budget."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
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
