"""Data lifecycle: deletion jobs, erasure requests and their audit record, retention per project,
and the positions of imports.

- `projects.retention_days`: events older than this many days are deleted (NULL: kept forever,
  the default). Enforced by the retention run (services/lifecycle/retention.py).
- `data_jobs`: the asynchronous jobs that delete data -- a project's deletion (`delete_project`),
  one person's erasure (`erase_person`) and a retention run's deletes (`retention`) -- and the
  lasting record of each: who asked (`requested_by`, `client`), for which owner, when, and how
  many rows each table lost (`rows_deleted`, table -> count). `project_id` and the user columns
  carry no foreign key: the record outlives the project and the account it was about.
  An erasure names its subjects in `subject_ids` only while it runs; when it ends they are
  cleared and only their SHA-256 digests (`subject_digests`) stay, so the audit record can answer
  "was this id erased?" without keeping the id. A job is claimed with FOR UPDATE SKIP LOCKED by
  one worker at a time; `heartbeat_at` shows it is alive, and a running job whose worker stopped
  beating is taken over (every job is idempotent: it deletes what is still there).
- `legacy_imports`: which account of the original Track My Events (its `"User".id`) became which
  project, and the last original `"Event".id` brought over: re-running `tme import-legacy`
  continues from there and adds nothing twice.
- `file_imports`: per project and file (SHA-256 of its bytes), how many lines an import has
  handed to ingest, so re-running `tme import --file` resumes instead of sending them again.

Revision ID: 0012_data_lifecycle
Revises: 0011_tagged_sources
Create Date: 2026-12-07
"""

from services.migrations.sql import run_script

revision = "0012_data_lifecycle"
down_revision = "0011_tagged_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    ALTER TABLE projects ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 30 AND 36500);

    CREATE TABLE data_jobs (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind            text        NOT NULL CHECK (kind IN ('delete_project', 'erase_person', 'retention')),
        project_id      bigint      NOT NULL,
        project_name    text,                -- the project's name then: the record outlives the project
        owner_id        bigint,              -- the project's owner when the job was asked for
        requested_by    bigint,              -- the account that asked; NULL for scheduled runs
        client          text,                -- what asked: 'dashboard', 'api', 'tme retention', ...
        subject_type    text CHECK (subject_type IN ('USER_ID', 'ANONYMOUS_ID')),
        subject_ids     text[],              -- erase_person only, cleared when the job ends
        subject_digests text[],              -- sha256 hex of each subject id, kept
        status          text        NOT NULL DEFAULT 'queued'
                                    CHECK (status IN ('queued', 'running', 'done', 'failed')),
        rows_deleted    jsonb       NOT NULL DEFAULT '{}'::jsonb,
        error           text,
        attempts        integer     NOT NULL DEFAULT 0,
        created_at      timestamptz NOT NULL DEFAULT now(),
        started_at      timestamptz,
        heartbeat_at    timestamptz,
        finished_at     timestamptz
    );
    CREATE INDEX data_jobs_pending_idx ON data_jobs (id) WHERE status IN ('queued', 'running');
    CREATE INDEX data_jobs_owner_idx ON data_jobs (owner_id, id);
    CREATE INDEX data_jobs_project_idx ON data_jobs (project_id, id);

    CREATE TABLE legacy_imports (
        legacy_user_id uuid        PRIMARY KEY,
        project_id     bigint      NOT NULL,
        last_event_id  bigint      NOT NULL DEFAULT 0,
        updated_at     timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX legacy_imports_project_idx ON legacy_imports (project_id);

    CREATE TABLE file_imports (
        project_id  bigint      NOT NULL,
        file_digest text        NOT NULL,
        lines_done  bigint      NOT NULL DEFAULT 0,
        accepted    bigint      NOT NULL DEFAULT 0,
        rejected    bigint      NOT NULL DEFAULT 0,
        finished    boolean     NOT NULL DEFAULT false,
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, file_digest)
    );
    """)


def downgrade() -> None:
    run_script("""
    DROP TABLE file_imports;
    DROP TABLE legacy_imports;
    DROP TABLE data_jobs;
    ALTER TABLE projects DROP COLUMN retention_days;
    """)
