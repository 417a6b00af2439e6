"""Rollups: hourly aggregates of the analytics events, kept current by the tracking service's
rollup job (services/tracking/rollups/job.py), so dashboard questions over months of data read
a few thousand small rows instead of millions of events.

Tables (all hours are UTC hours, `date_bin('1 hour', event_time, epoch)`; only analytics
actions -- track/page/screen, bots left out -- as the raw queries count them):

- `rollup_hours`: per project and hour: events, page views (also counted over events that have a
  visitor id, as the summary counts them), exact distinct visitors of that hour, and a
  HyperLogLog sketch of the visitors (see below) that merges across hours.
- `rollup_dim_hours` / `rollup_dim_days`: per project, breakdown dimension, hour (UTC day) and
  value: events (page views for `page`) and the visitors' sketch, with the raw breakdown's rules
  on absent values. The day table is the bit_or of the day's hours and serves long ranges.
- `rollup_sessions`: every session (sessionize.py's rules: SDK sessionId, else 30 minutes of
  inactivity per visitor) over all of a project's actions, one row each; its GiST index on the
  session's span finds the few sessions that cross a query's range boundaries, whose in-range
  part is recomputed from raw events so answers equal the raw path's exactly.
- `rollup_session_hours`: sessions, bounces, total duration and page views by start hour.
- `rollup_state`: the job's watermark: the start time and snapshot xmin of the last finished run.
  The next run looks at rows with `created_at` after the watermark minus a margin (late commits)
  whose inserting transaction is not older than that snapshot's xmin, i.e. rows the last run may
  not have seen. No row means the first run has not finished and every question is answered from
  raw events.

HyperLogLog sketch: 1024 registers of 16 bits, one-hot: a visitor id hashes (hashtextextended)
to register `h & 1023` and rank rho (trailing zeros of the remaining bits + 1, at most 16) and
sets bit `register * 16 + rho - 1`. PostgreSQL's built-in `bit_or` aggregate merges sketches;
the estimate (highest rank per register, HLL with linear counting for small cardinalities) is
computed in Python: standard error 1.04/sqrt(1024) = 3.3%.

Indexes and why each exists:
- `rollup_hours (project_id, hour)` (PK), `rollup_session_hours (project_id, hour)` (PK): range
  scans of a project's hours.
- `rollup_dim_days (project_id, dim, day)`: one dimension's rows over a range;
  `rollup_dim_hours (project_id, hour, dim)`: the few edge hours of a range, and the job's
  replacement of whole hours.
- `rollup_sessions (project_id, grp, started_at)` (PK): the job replaces the sessions of the
  session groups that got new events; `(project_id, started_at)`: it re-adds up start hours.
- GiST on `tstzrange(started_at, ended_at, '[]')`: sessions containing a range boundary.
- `events (project_id, session_id, event_time) WHERE session_id IS NOT NULL`: the job (and the
  boundary correction) reads the events of one SDK session without scanning the project.
- `events (project_id, event_name, event_time) INCLUDE (visitor_id, type, is_bot, message_id)`:
  funnels read their step events by name and time with an index-only scan; it replaces the plain
  (project_id, event_name, event_time) index of 0002.

Revision ID: 0004_rollups
Revises: 0003_analytics
Create Date: 2026-11-25
"""

from services.migrations.sql import run_script

revision = "0004_rollups"
down_revision = "0003_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE rollup_state (
        id          integer     PRIMARY KEY CHECK (id = 1),
        watermark   timestamptz NOT NULL,  -- clock time when the last finished run started
        xid_low     bigint      NOT NULL,  -- low 32 bits of that run's snapshot xmin
        updated_at  timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE rollup_hours (
        project_id   bigint      NOT NULL,
        hour         timestamptz NOT NULL,
        events       bigint      NOT NULL,
        pageviews    bigint      NOT NULL,
        v_events     bigint      NOT NULL,  -- events that have a visitor id
        v_pageviews  bigint      NOT NULL,
        visitors     bigint      NOT NULL,  -- exact distinct visitors in this hour
        sketch       varbit      NOT NULL,
        PRIMARY KEY (project_id, hour)
    );

    CREATE TABLE rollup_dim_hours (
        project_id  bigint      NOT NULL,
        dim         text        NOT NULL,
        hour        timestamptz NOT NULL,
        value       text,
        events      bigint      NOT NULL,
        sketch      varbit      NOT NULL
    );
    CREATE INDEX rollup_dim_hours_idx ON rollup_dim_hours (project_id, hour, dim);

    CREATE TABLE rollup_dim_days (
        project_id  bigint      NOT NULL,
        dim         text        NOT NULL,
        day         timestamptz NOT NULL,
        value       text,
        events      bigint      NOT NULL,
        sketch      varbit      NOT NULL
    );
    CREATE INDEX rollup_dim_days_idx ON rollup_dim_days (project_id, dim, day);

    CREATE TABLE rollup_sessions (
        project_id  bigint      NOT NULL,
        grp         text        NOT NULL,
        started_at  timestamptz NOT NULL,
        ended_at    timestamptz NOT NULL,
        events      bigint      NOT NULL,
        pageviews   bigint      NOT NULL,
        PRIMARY KEY (project_id, grp, started_at)
    );
    CREATE INDEX rollup_sessions_start_idx ON rollup_sessions (project_id, started_at);
    CREATE INDEX rollup_sessions_span_idx ON rollup_sessions USING gist (tstzrange(started_at, ended_at, '[]'));

    CREATE TABLE rollup_session_hours (
        project_id  bigint      NOT NULL,
        hour        timestamptz NOT NULL,
        sessions    bigint      NOT NULL,
        bounces     bigint      NOT NULL,
        duration    numeric     NOT NULL,  -- seconds, summed exactly as the raw query sums them
        pageviews   bigint      NOT NULL,
        PRIMARY KEY (project_id, hour)
    );

    -- a visitor id's HyperLogLog bit: register (10 bits of the hash) * 16 + rank - 1 (one
    -- expression, so the planner inlines it)
    CREATE FUNCTION tme_hll_pos(visitor text) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT ((hashtextextended(visitor, 0) & 1023) * 16
                + least(bit_count(((((hashtextextended(visitor, 0) >> 10) & 18014398509481983)
                                    & (0 - ((hashtextextended(visitor, 0) >> 10) & 18014398509481983))) - 1)::bit(64))
                        + 1, 16)
                - 1)::integer
    $$;

    -- the 16384-bit sketch with the given bits set (NULLs ignored)
    CREATE FUNCTION tme_hll_sketch(positions integer[]) RETURNS varbit
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT (coalesce(string_agg(repeat('0', p - prev - 1) || '1', '' ORDER BY p), '')
                || repeat('0', 16383 - coalesce(max(p), -1)))::varbit
        FROM (SELECT p, coalesce(lag(p) OVER (ORDER BY p), -1) AS prev
              FROM (SELECT DISTINCT p FROM unnest(positions) AS u(p) WHERE p IS NOT NULL) d) x
    $$;

    CREATE INDEX events_project_session_idx ON events (project_id, session_id, event_time)
        WHERE session_id IS NOT NULL;
    CREATE INDEX events_project_name_time_cover_idx ON events (project_id, event_name, event_time)
        INCLUDE (visitor_id, type, is_bot, message_id);
    DROP INDEX events_project_name_time_idx;
    """)


def downgrade() -> None:
    run_script("""
    CREATE INDEX events_project_name_time_idx ON events (project_id, event_name, event_time);
    DROP INDEX events_project_name_time_cover_idx;
    DROP INDEX events_project_session_idx;
    DROP FUNCTION tme_hll_sketch(integer[]);
    DROP FUNCTION tme_hll_pos(text);
    DROP TABLE rollup_session_hours, rollup_sessions, rollup_dim_days, rollup_dim_hours, rollup_hours,
               rollup_state;
    """)
