"""Teams: members and roles, guests of one project, invitations, API keys, share links and the
audit log.

- `teams`: every project belongs to one (`projects.team_id`). Each existing account gets a personal
  team (`personal`, named after it) holding its projects, with the account as its owner: write
  keys, ids and data do not change.
- `team_members`: an account's role in a team: `owner` (deletes the team, transfers ownership),
  `admin` (members, keys, settings, deleting projects), `member` (analytics, creating projects),
  `viewer` (read-only analytics). A team always keeps at least one owner (checked by the users
  service, services/users/access.py).
- `project_guests`: an account that may read one project of a team it is not in (a viewer).
- `projects.owner_id` becomes `created_by`: who created the project, nullable (the project
  belongs to its team and outlives the account).
- `invitations`: single-use, expiring; the token only as a SHA-256 hash. `project_id` set: a
  guest invitation (a viewer of that project only).
- `api_keys`: long-lived keys for scripts (`tme_key_...`), stored as a SHA-256 hash with the last
  four characters to tell them apart; `read` (of `project_ids`) or `admin` (the whole team).
- `share_links`: a public, read-only view of one project's dashboard; token hashed, optional
  password (argon2 like account passwords), the range and filters it was shared with.
- `audit_events`: what happened in a team, by whom (an account or an API key, with the name it
  had then), from which client; never an IP address.
- `data_jobs.team_id`: the team whose admins see the job.

Revision ID: 0013_teams
Revises: 0012_data_lifecycle
Create Date: 2026-12-08
"""

from services.migrations.sql import run_script

revision = "0013_teams"
down_revision = "0012_data_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE teams (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name       text        NOT NULL,
        personal   boolean     NOT NULL DEFAULT false,
        created_by bigint      REFERENCES users(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE team_members (
        team_id    bigint      NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        user_id    bigint      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (team_id, user_id)
    );
    CREATE INDEX team_members_user_idx ON team_members (user_id);

    -- one personal team per existing account, owning its projects
    INSERT INTO teams (name, personal, created_by, created_at)
        SELECT name, true, id, created_at FROM users ORDER BY id;
    INSERT INTO team_members (team_id, user_id, role, created_at)
        SELECT id, created_by, 'owner', created_at FROM teams;

    ALTER TABLE projects ADD COLUMN team_id bigint REFERENCES teams(id);
    UPDATE projects p SET team_id = t.id FROM teams t WHERE t.created_by = p.owner_id;
    ALTER TABLE projects ALTER COLUMN team_id SET NOT NULL;
    CREATE INDEX projects_team_idx ON projects (team_id, id);
    ALTER TABLE projects RENAME COLUMN owner_id TO created_by;
    ALTER TABLE projects ALTER COLUMN created_by DROP NOT NULL;
    ALTER TABLE projects DROP CONSTRAINT projects_owner_id_fkey;
    ALTER TABLE projects ADD CONSTRAINT projects_created_by_fkey
        FOREIGN KEY (created_by) REFERENCES users(id) ON DELETE SET NULL;
    DROP INDEX projects_owner_idx;

    CREATE TABLE project_guests (
        project_id bigint      NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        user_id    bigint      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role       text        NOT NULL DEFAULT 'viewer' CHECK (role = 'viewer'),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, user_id)
    );
    CREATE INDEX project_guests_user_idx ON project_guests (user_id);

    CREATE TABLE invitations (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        team_id     bigint      NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        project_id  bigint      REFERENCES projects(id) ON DELETE CASCADE,
        email       text        NOT NULL,
        role        text        NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
        token_hash  bytea       NOT NULL UNIQUE,
        invited_by  bigint      REFERENCES users(id) ON DELETE SET NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        accepted_at timestamptz,
        accepted_by bigint      REFERENCES users(id) ON DELETE SET NULL,
        revoked_at  timestamptz,
        CHECK (project_id IS NULL OR role = 'viewer')
    );
    CREATE INDEX invitations_team_idx ON invitations (team_id, id);

    CREATE TABLE api_keys (
        id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        team_id      bigint      NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        name         text        NOT NULL,
        scope        text        NOT NULL CHECK (scope IN ('read', 'admin')),
        project_ids  bigint[],
        token_hash   bytea       NOT NULL UNIQUE,
        hint         text        NOT NULL,
        created_by   bigint      REFERENCES users(id) ON DELETE SET NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        expires_at   timestamptz,
        revoked_at   timestamptz,
        CHECK ((scope = 'read') = (project_ids IS NOT NULL))
    );
    CREATE INDEX api_keys_team_idx ON api_keys (team_id, id);

    CREATE TABLE share_links (
        id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        project_id     bigint      NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name           text,
        token_hash     bytea       NOT NULL UNIQUE,
        password_hash  text,
        params         jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_by     bigint      REFERENCES users(id) ON DELETE SET NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        last_viewed_at timestamptz,
        revoked_at     timestamptz
    );
    CREATE INDEX share_links_project_idx ON share_links (project_id, id);

    CREATE TABLE audit_events (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        team_id       bigint      NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
        at            timestamptz NOT NULL DEFAULT now(),
        action        text        NOT NULL,
        actor_user_id bigint,                -- no foreign key: the record outlives the account
        actor_key_id  bigint,                -- set when an API key acted
        actor_name    text,                  -- the account's email or the key's name then
        project_id    bigint,
        target        text,                  -- what was acted on, e.g. 'user:12', 'api_key:3'
        details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
        client        text                   -- the client's User-Agent, shortened; never an address
    );
    CREATE INDEX audit_events_team_idx ON audit_events (team_id, id);

    ALTER TABLE data_jobs ADD COLUMN team_id bigint;
    UPDATE data_jobs j SET team_id = p.team_id FROM projects p WHERE p.id = j.project_id;
    UPDATE data_jobs j SET team_id = t.id FROM teams t
        WHERE j.team_id IS NULL AND t.personal AND t.created_by = j.owner_id;
    CREATE INDEX data_jobs_team_idx ON data_jobs (team_id, id);
    """)


def downgrade() -> None:
    run_script("""
    DROP INDEX data_jobs_team_idx;
    ALTER TABLE data_jobs DROP COLUMN team_id;
    DROP TABLE audit_events;
    DROP TABLE share_links;
    DROP TABLE api_keys;
    DROP TABLE invitations;
    DROP TABLE project_guests;
    ALTER TABLE projects DROP CONSTRAINT projects_created_by_fkey;
    ALTER TABLE projects RENAME COLUMN created_by TO owner_id;
    -- a project created in a shared team goes back to the team's first owner
    UPDATE projects p SET owner_id = (SELECT m.user_id FROM team_members m
                                      WHERE m.team_id = p.team_id AND m.role = 'owner'
                                      ORDER BY m.created_at, m.user_id LIMIT 1)
        WHERE owner_id IS NULL OR NOT EXISTS (SELECT 1 FROM team_members m
                                              WHERE m.team_id = p.team_id AND m.user_id = p.owner_id);
    DELETE FROM projects WHERE owner_id IS NULL;
    ALTER TABLE projects ALTER COLUMN owner_id SET NOT NULL;
    ALTER TABLE projects ADD CONSTRAINT projects_owner_id_fkey
        FOREIGN KEY (owner_id) REFERENCES users(id) ON DELETE CASCADE;
    CREATE INDEX projects_owner_idx ON projects (owner_id);
    DROP INDEX projects_team_idx;
    ALTER TABLE projects DROP COLUMN team_id;
    DROP TABLE team_members;
    DROP TABLE teams;
    """)
