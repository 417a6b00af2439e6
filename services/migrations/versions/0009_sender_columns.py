"""Events say who sent them: the sending library, the app version, the locale and the screen's
size class, as columns the analytics break down and filter by (the gateway derives them from
Segment's context: services/gateway/ingest/attribution.py).

Adding nullable columns without a default changes only the catalogue: instant at any size. Rows
stored before this migration have NULL in them, and their browser, OS, device and bot flag may
come from the sending library's User-Agent; `tme reattribute` re-derives all of these from what
each row kept (services/maintenance/reattribute.py) and has the rollups rebuilt.

`rollup_bot_hours` counts the bot actions per project and hour that analytics leave out (the
summary says how many); the rollup job keeps it like the other hourly tables. The job's state is
cleared, so its next run rebuilds every rollup from raw events with the new dimensions and bot
counts (minutes at tens of millions of events; questions are answered from raw events meanwhile).

Revision ID: 0009_sender_columns
Revises: 0008_bounded_dedupe_ledger
Create Date: 2026-12-07
"""

from services.migrations.sql import run_script

revision = "0009_sender_columns"
down_revision = "0008_bounded_dedupe_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE events
        ADD COLUMN library      text,  -- context.library.name; 'http' when none was named
        ADD COLUMN app_version  text,  -- context.app.version (else build)
        ADD COLUMN locale       text,  -- context.locale (else the browser's Accept-Language), e.g. en-US
        ADD COLUMN screen_class text;  -- mobile | tablet | laptop | desktop (context.screen)

    CREATE TABLE rollup_bot_hours (
        project_id  bigint      NOT NULL,
        hour        timestamptz NOT NULL,
        events      bigint      NOT NULL,  -- bot track/page/screen events stored for that hour
        PRIMARY KEY (project_id, hour)
    );
    DELETE FROM rollup_state;
    """)


def downgrade() -> None:
    run_script("""
    DROP TABLE rollup_bot_hours;
    DELETE FROM rollup_state;
    ALTER TABLE events DROP COLUMN library, DROP COLUMN app_version, DROP COLUMN locale, DROP COLUMN screen_class;
    """)
