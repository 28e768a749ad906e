"""The served tracker is the minified build of tracking/tracker/script.js: fresh, small and free of storage."""

import gzip
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tracking" / "tracker" / "script.js"
BUILT = ROOT / "tracking" / "tracker" / "dist" / "script.js"
BUILD = ROOT / "scripts" / "build_tracker.sh"
MAX_GZIPPED_BYTES = 2048


@pytest.fixture(scope="module")
def fresh_build():
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed to rebuild the tracker (scripts/build_tracker.sh)")
    # Installs the pinned terser with `npm ci` when node_modules is missing.
    result = subprocess.run([str(BUILD), "--stdout"], cwd=ROOT, capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_the_committed_build_matches_a_fresh_build_of_the_source(fresh_build):
    assert BUILT.read_bytes() == fresh_build, "stale tracker build: run `make build-tracker` and commit the result"


def test_the_build_is_deterministic(fresh_build):
    again = subprocess.run([str(BUILD), "--stdout"], cwd=ROOT, capture_output=True, timeout=300, check=True)
    assert again.stdout == fresh_build


def test_it_stays_within_two_kilobytes_gzipped():
    size = len(gzip.compress(BUILT.read_bytes(), compresslevel=9, mtime=0))
    assert size <= MAX_GZIPPED_BYTES, f"tracker is {size} bytes gzipped, the budget is {MAX_GZIPPED_BYTES}"


def test_it_is_actually_minified():
    assert len(BUILT.read_bytes()) < len(SOURCE.read_bytes()) / 2
    assert BUILT.read_text().count("\n") <= 2


@pytest.mark.parametrize("api", ["localStorage", "sessionStorage", "indexedDB", ".cookie", "caches"])
def test_it_touches_no_browser_storage(api):
    # The readable source mentions them in comments; code must not.
    assert api not in BUILT.read_text()


def test_it_keeps_the_payload_contract_with_the_server():
    code = BUILT.read_text()
    for fragment in (
        'method:"POST"',
        "keepalive:!0",
        '"Content-Type":"text/plain"',
        "sendBeacon",
        'type:"text/plain"',
        '"/api/event"',
        'n:"engagement"',
        '"pageview"',
        "crypto.getRandomValues(new Uint8Array(16))",
        '"Outbound Link: Click"',
        '"File Download"',
        "data-humblytics-event",
        "humblytics_ignore",
    ):
        assert fragment in code, fragment


def test_the_source_exposes_only_the_humblytics_object_and_the_queue_names():
    # Every global the source assigns: window.X = ..., or w[name] = ... for the two queue names.
    source = SOURCE.read_text()
    assigned = set(re.findall(r"\bw\.([A-Za-z_$][\w$]*)\s*=[^=]", source))
    assert assigned == {"Humblytics"}
    assert "['humblytics', 'plausible'].forEach" in source
