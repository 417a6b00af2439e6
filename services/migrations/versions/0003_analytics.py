"""Analytics: indexes for the tracking service's queries.

- `events (project_id, visitor_id, event_time)`: one person's events (person view, funnels and
  retention per visitor).
- BRIN on `events.created_at`: rows are appended in insert order, so a tiny block-range index
  finds what was stored recently (the realtime stream, the latest events).

Revision ID: 0003_analytics
Revises: 0002_events
Create Date: 2026-11-25
"""

from services.migrations.sql import run_script

revision = "0003_analytics"
down_revision = "0002_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE INDEX events_project_visitor_time_idx ON events (project_id, visitor_id, event_time);
    CREATE INDEX events_created_brin ON events USING brin (created_at);
    """)


def downgrade() -> None:
    run_script("""
    DROP INDEX events_created_brin;
    DROP INDEX events_project_visitor_time_idx;
    """)
