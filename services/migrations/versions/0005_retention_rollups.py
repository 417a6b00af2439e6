"""Retention rollups: cohort matrices kept current by the rollup job, so a retention question
over a project's whole history reads a few hundred rows instead of every event it ever stored.

A visitor's cohort is the period of their first-ever event, so a retention answer depends on
every event of the project; the matrix of "visitors of cohort C active in period P" is not
additive over hours (a visitor active twice in a week counts once), so the job keeps the
per-visitor state it needs to update the matrix when new events, late events or new aliases
arrive (see services/tracking/rollups/retention.py):

- `rollup_visitor_hours`: every (raw visitor id, UTC hour) with at least one analytics action
  (track/page/screen, bots left out, as the raw retention counts them).
- `rollup_visitor_aliases`: the job's copy of `person_aliases` as applied to the matrices; a
  visitor id resolves through it one level, as the raw query resolves through person_aliases.
- `rollup_retention_zones`: the (project, time zone, period) matrices that are kept, registered
  by the first retention question asked in that zone and period; `ready` once the job has
  computed the matrix from the whole state.
- `rollup_retention`: per zone matrix: visitors of cohort `cohort` (first active period) active
  in period `period_start`; the row with period_start = cohort is the cohort's size.
- `rollup_state.visitors_ready`: false until the job has filled the visitor state from every
  event (after this migration on an existing database, its next run does that once).

Matrices are kept for time zones a whole number of hours from UTC only: their periods start on
UTC hours, so the hour a visitor was active in decides the period.

Revision ID: 0005_retention_rollups
Revises: 0004_rollups
Create Date: 2026-12-01
"""

from services.migrations.sql import run_script

revision = "0005_retention_rollups"
down_revision = "0004_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE rollup_state ADD COLUMN visitors_ready boolean NOT NULL DEFAULT false;

    CREATE TABLE rollup_visitor_hours (
        project_id  bigint      NOT NULL,
        visitor_id  text        NOT NULL,
        hour        timestamptz NOT NULL,
        PRIMARY KEY (project_id, visitor_id, hour)
    );

    CREATE TABLE rollup_visitor_aliases (
        project_id  bigint NOT NULL,
        alias_id    text   NOT NULL,
        visitor_id  text   NOT NULL,
        PRIMARY KEY (project_id, alias_id)
    );
    CREATE INDEX rollup_visitor_aliases_visitor_idx ON rollup_visitor_aliases (project_id, visitor_id);

    CREATE TABLE rollup_retention_zones (
        project_id    bigint      NOT NULL,
        tz            text        NOT NULL,
        period        text        NOT NULL CHECK (period IN ('day', 'week', 'month')),
        ready         boolean     NOT NULL DEFAULT false,
        requested_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, tz, period)
    );

    CREATE TABLE rollup_retention (
        project_id    bigint NOT NULL,
        tz            text   NOT NULL,
        period        text   NOT NULL,
        cohort        date   NOT NULL,
        period_start  date   NOT NULL,
        visitors      bigint NOT NULL,
        PRIMARY KEY (project_id, tz, period, cohort, period_start)
    );
    """)


def downgrade() -> None:
    run_script("""
    DROP TABLE rollup_retention, rollup_retention_zones, rollup_visitor_aliases, rollup_visitor_hours;
    ALTER TABLE rollup_state DROP COLUMN visitors_ready;
    """)
