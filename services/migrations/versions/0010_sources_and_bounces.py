"""Referrer sources, and bounce rate and views per visit as Plausible defines them.

- `events.referrer_source`: the referrer's source ("Google" for www.google.com and google.de, a
  host of its own for unknown sites, NULL without a referrer or when the referrer is the page's
  own host: internal navigation), derived at ingest from a maintained referrer list
  (services/shared/referrers.py). The `source` dimension is `coalesce(utm_source,
  referrer_source)`. Rows stored before are filled here: the distinct referrer hosts are mapped in
  Python with the same code, and the rows that have a referrer are updated in one statement
  (about a minute per few million rows with a referrer).
- `rollup_session_hours.viewed`: the sessions that have at least one page (or screen) view. The
  bounce rate is bounces / viewed and views per visit page views / viewed; `bounces` now counts
  sessions of exactly one page view and no other action (it counted sessions of one event of any
  kind). Sessions without a page view (server-side events only) count in neither.

The rollup job's state is cleared: its next run rebuilds every rollup from raw events (questions
are answered from raw events meanwhile).

Revision ID: 0010_sources_and_bounces
Revises: 0009_sender_columns
Create Date: 2026-12-08
"""

from sqlalchemy.util import await_

from services.migrations.sql import driver_connection, run_script
from services.shared.referrers import source_of_host

revision = "0010_sources_and_bounces"
down_revision = "0009_sender_columns"
branch_labels = None
depends_on = None

# a host without a leading www./m./mobile. (when more than one dot remains): referrers.py's _bare
_BARE = r"regexp_replace({}, '^(www|m|mobile)\.(?=.*\.)', '')"
_PAGE_HOST = r"lower(substring({} from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#]+)'))"


def upgrade() -> None:
    run_script("""
    ALTER TABLE events ADD COLUMN referrer_source text;  -- "Google"; NULL: none, or the page's own host
    ALTER TABLE rollup_session_hours ADD COLUMN viewed bigint NOT NULL DEFAULT 0;  -- sessions with a page view
    DELETE FROM rollup_state;
    """)
    conn = driver_connection()
    hosts = [r["referrer_host"] for r in await_(conn.fetch(
        "SELECT DISTINCT referrer_host FROM events WHERE referrer_host IS NOT NULL"))]
    if not hosts:
        return
    await_(conn.execute("CREATE TEMP TABLE referrer_sources (host text PRIMARY KEY, source text NOT NULL) "
                        "ON COMMIT DROP"))
    await_(conn.execute("INSERT INTO referrer_sources SELECT * FROM unnest($1::text[], $2::text[])",
                        hosts, [source_of_host(h) for h in hosts]))
    await_(conn.execute(f"""
        UPDATE events e SET referrer_source = s.source FROM referrer_sources s
        WHERE e.referrer_host = s.host
          AND {_BARE.format('e.referrer_host')} IS DISTINCT FROM {_BARE.format(_PAGE_HOST.format('e.page'))}"""))


def downgrade() -> None:
    run_script("""
    DELETE FROM rollup_state;
    ALTER TABLE rollup_session_hours DROP COLUMN viewed;
    ALTER TABLE events DROP COLUMN referrer_source;
    """)
