"""The served split-test runtime is the minified build of splittests/tracker/runtime.js: fresh, small, storage-free."""

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest

from splittests import delivery
from tracking.script_view import _script

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "splittests" / "tracker" / "build.mjs"
BUILT = ROOT / "splittests" / "tracker" / "dist" / "runtime.js"
MAX_GZIPPED_BYTES = 2048


@pytest.fixture(scope="module")
def fresh_build():
    if not shutil.which("node"):
        pytest.fail("node is needed to rebuild the split-test runtime (splittests/tracker/build.mjs)")
    if not (ROOT / "node_modules" / "terser").is_dir():
        subprocess.run(
            [str(ROOT / "scripts" / "build_tracker.sh"), "--stdout"], cwd=ROOT, capture_output=True, check=True
        )
    result = subprocess.run(["node", str(BUILD), "--stdout"], cwd=ROOT, capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def test_the_committed_build_matches_a_fresh_build_of_the_source(fresh_build):
    assert BUILT.read_bytes() == fresh_build, "stale runtime build: run `make build-tracker` and commit the result"


def test_the_runtime_stays_small():
    assert len(gzip.compress(BUILT.read_bytes(), compresslevel=9, mtime=0)) <= MAX_GZIPPED_BYTES


@pytest.mark.parametrize("api", ["localStorage", "sessionStorage", "indexedDB", ".cookie", "caches"])
def test_it_touches_no_browser_storage(api):
    assert api not in BUILT.read_text()


def test_the_site_script_is_valid_javascript(tmp_path):
    config = {"t": [{"i": 1, "p": "/x", "a": 2, "k": "r", "u": "/y", "x": [], "r": {"2": "/y"}}]}
    path = tmp_path / "site.js"
    path.write_bytes(delivery.script_body(config, _script().raw))
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()


def test_exposures_are_sent_without_credentials():
    # Through a proxy on the site's own origin a default fetch would carry the site's cookies to /api/exposure.
    assert 'credentials:"omit"' in BUILT.read_text()
