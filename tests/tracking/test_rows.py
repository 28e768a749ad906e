"""tracking.rows stores the same rows through COPY on PostgreSQL as through the ORM on SQLite."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from .storage_scenario import run

ROOT = Path(__file__).resolve().parents[2]


def _on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'scenario.sqlite3'}",
        DJANGO_SETTINGS_MODULE="humblytics.settings",
    )
    out = subprocess.run(
        [sys.executable, "-m", "tests.tracking.storage_scenario"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(line for line in out.stdout.splitlines() if line.startswith("SCENARIO "))
    return json.loads(line.removeprefix("SCENARIO "))


def test_the_scenario_lands_as_hand_computed(db):
    got = run()
    assert got["visits"] == [
        [111, "2026-03-10T12:00:00+00:00", "2026-03-10T12:12:00+00:00", 720, 3, 1, False, "/", '/docs/"x"', "",
         "Berlin"],
        [222, "2026-03-10T12:00:00+00:00", "2026-03-10T12:00:05+00:00", 5, 1, 0, True, "/solo", "/solo",
         'a "quoted" \\ ref\tx', "Berlin"],
    ]  # fmt: skip
    views = {row[0]: row for row in got["pageviews"]}
    assert set(views) == {f"scenario-view-0000000{i}" for i in (1, 2, 3, 4)}
    assert views["scenario-view-00000001"][5] == {"ab": "b"}
    assert views["scenario-view-00000004"][4:] == ['/docs/"x"', {}, 120_000, 80]
    assert views["scenario-view-00000003"][6:] == [5_000, None]
    assert got["events"] == [["scenario-view-00000002", 0, "Signup", {"plan": "pro"}, "49.900000", "EUR", True]]
    assert got["drops"] == [["bot", 2]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="compares PostgreSQL's COPY path with SQLite's ORM path")
def test_postgresql_and_sqlite_store_the_same_rows(db, tmp_path):
    assert run() == _on_sqlite(tmp_path)
