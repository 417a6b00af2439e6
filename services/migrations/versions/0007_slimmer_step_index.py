"""The covering index funnels read step events from no longer carries `message_id`.

Migration 0004 built `events_project_name_time_cover_idx` on (project_id, event_name, event_time)
INCLUDE (visitor_id, type, is_bot, message_id): funnels then broke ties between same-instant
events by message id. They now order such events by the funnel's own steps
(services/tracking/queries/funnel_chains.py) and read only the visitor, the time and the name,
so the message id, ~37 bytes of every entry, was written on every insert and read by no query.
The new index, `events_project_name_time_visitor_idx`, has the same keys and INCLUDE
(visitor_id, type, is_bot).

Building it takes a SHARE lock on `events` for the length of the build (minutes at tens of
millions of rows): subscribers wait, and events wait in the Redis stream meanwhile; nothing is
lost and the gateway keeps answering.

Revision ID: 0007_slimmer_step_index
Revises: 0006_incremental_rollups
Create Date: 2026-12-02
"""

from services.migrations.sql import run_script

revision = "0007_slimmer_step_index"
down_revision = "0006_incremental_rollups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE INDEX events_project_name_time_visitor_idx ON events (project_id, event_name, event_time)
        INCLUDE (visitor_id, type, is_bot);
    DROP INDEX events_project_name_time_cover_idx;
    """)


def downgrade() -> None:
    run_script("""
    CREATE INDEX events_project_name_time_cover_idx ON events (project_id, event_name, event_time)
        INCLUDE (visitor_id, type, is_bot, message_id);
    DROP INDEX events_project_name_time_visitor_idx;
    """)
