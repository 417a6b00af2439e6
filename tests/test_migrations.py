"""Migrations: several migrators started at once (replicas, a hook Job and init containers) leave
one schema at head, none of them failing."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from conftest import Database


def test_concurrent_migrators_all_succeed_on_a_fresh_database(db: Database, database_url: str) -> None:
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    db.execute(f"CREATE DATABASE {name}")
    fresh_url = database_url.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "TME_DATABASE_URL": fresh_url}
    runs = [subprocess.Popen([sys.executable, "-m", "services.cli", "migrate"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [(run.wait(120), run.stdout.read().decode() if run.stdout else "") for run in runs]
    assert all(code == 0 for code, _ in outputs), outputs
    fresh = Database(fresh_url)
    from services.migrations.runner import head_revision

    assert fresh.fetchval("SELECT version_num FROM alembic_version") == head_revision()
    assert fresh.fetchval("SELECT count(*) FROM alembic_version") == 1
