"""Indexes for forgetting a deleted account in the audit log.

Deleting an account rewrites its entries in the teams it shared (services/users/project_deletion.py:
its email leaves `actor_name` and the details of its invitation and joining). That runs in the
deletion's transaction, which holds the dedupe ledger lock and so holds off event storage: without
these indexes it would read the whole log.

Revision ID: 0014_audit_actor_indexes
Revises: 0013_teams
Create Date: 2026-12-08
"""

from services.migrations.sql import run_script

revision = "0014_audit_actor_indexes"
down_revision = "0013_teams"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE INDEX audit_events_actor_idx ON audit_events (actor_user_id) WHERE actor_user_id IS NOT NULL;
    CREATE INDEX audit_events_email_target_idx ON audit_events (target) WHERE details ? 'email';
    CREATE INDEX audit_events_email_idx ON audit_events (lower(details->>'email')) WHERE details ? 'email';
    """)


def downgrade() -> None:
    run_script("""
    DROP INDEX audit_events_email_idx;
    DROP INDEX audit_events_email_target_idx;
    DROP INDEX audit_events_actor_idx;
    """)
