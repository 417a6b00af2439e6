"""A tagged link's source under its known name, in the one source column.

`events.referrer_source` becomes the traffic source, as Plausible's column of that name is: a
link's `utm_source` under its known name ("google", "GOOGLE" and "google.com" are "Google", the
row the referrer google.de also lands in), else the referrer's source (migration 0010). The
`source` dimension reads this column alone; it read `coalesce(utm_source, referrer_source)`, which
kept "google" and "Google" apart. Rows stored before with a `utm_source` are filled here: the
distinct values are named in Python with the ingest's own code, the rows updated in one statement.
The `referrer` breakdown now leaves internal navigation out too, so the rollups are rebuilt: the
rollup job's state is cleared (questions are answered from raw events meanwhile).

Revision ID: 0011_tagged_sources
Revises: 0010_sources_and_bounces
Create Date: 2026-12-07
"""

from sqlalchemy.util import await_

from services.migrations.sql import driver_connection, run_script
from services.shared.referrers import tagged_source

revision = "0011_tagged_sources"
down_revision = "0010_sources_and_bounces"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("DELETE FROM rollup_state;")
    conn = driver_connection()
    values = [r["utm_source"] for r in await_(conn.fetch(
        "SELECT DISTINCT utm_source FROM events WHERE utm_source IS NOT NULL"))]
    if not values:
        return
    await_(conn.execute("CREATE TEMP TABLE tagged_sources (utm text PRIMARY KEY, source text NOT NULL) "
                        "ON COMMIT DROP"))
    await_(conn.execute("INSERT INTO tagged_sources SELECT * FROM unnest($1::text[], $2::text[])",
                        values, [tagged_source(v) for v in values]))
    await_(conn.execute("""
        UPDATE events e SET referrer_source = t.source FROM tagged_sources t
        WHERE e.utm_source = t.utm AND e.referrer_source IS DISTINCT FROM t.source"""))


def downgrade() -> None:
    """The earlier code reads `coalesce(utm_source, referrer_source)`, which finds a tagged row's
    utm_source first: the filled names need no undoing; the rollups are rebuilt."""
    run_script("DELETE FROM rollup_state;")
