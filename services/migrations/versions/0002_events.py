"""Events: the partitioned event table, the dedupe ledger, persons and their aliases.

`events` is PARTITIONED BY RANGE (event_time), one partition per calendar month (UTC) plus a
DEFAULT partition for anything outside the partitions that exist. PostgreSQL would require a
unique index on it to include event_time, but the skew-corrected event time of a Segment retry
differs from the original's (new sentAt), so (project_id, message_id) cannot be unique there.
Dedupe therefore lives in `event_ids`, a plain table keyed by (project_id, message_id) that the
subscriber writes in the same transaction as the rows (INSERT ... ON CONFLICT DO NOTHING
RETURNING): only messages whose id was new become rows.

`tme_ensure_event_partitions(months_back, months_ahead)` creates the missing monthly partitions
around the current month; the migration calls it once and the subscriber calls it on start-up
and periodically, so partitions always exist ahead of time.

Revision ID: 0002_events
Revises: 0001_accounts
Create Date: 2026-11-25
"""

from services.migrations.sql import run_script

revision = "0002_events"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE events (
        project_id      bigint      NOT NULL,
        event_time      timestamptz NOT NULL,  -- skew-corrected client time; partition key
        message_id      text        NOT NULL,
        type            text        NOT NULL,  -- track | page | screen | identify | group | alias
        event_name      text        NOT NULL,  -- track: the event; page: PAGE_VIEW; screen: SCREEN_VIEW; ...
        user_id         text,
        anonymous_id    text,
        visitor_id      text GENERATED ALWAYS AS (coalesce(user_id, anonymous_id)) STORED,
        session_id      text,
        group_id        text,
        previous_id     text,
        page            text,                  -- full page URL
        path            text,                  -- URL path of the page
        referrer        text,
        referrer_host   text,
        utm_source      text,
        utm_medium      text,
        utm_campaign    text,
        utm_term        text,
        utm_content     text,
        properties      jsonb       NOT NULL DEFAULT '{}',
        traits          jsonb,
        context         jsonb       NOT NULL DEFAULT '{}',
        user_agent      text,
        browser         text,
        browser_version text,
        os              text,
        os_version      text,
        device_type     text,                  -- desktop | mobile | tablet | bot | other
        is_bot          boolean     NOT NULL DEFAULT false,
        sent_at         timestamptz,
        received_at     timestamptz NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now()
    ) PARTITION BY RANGE (event_time);

    CREATE TABLE events_default PARTITION OF events DEFAULT;

    CREATE INDEX events_project_time_idx ON events (project_id, event_time);
    CREATE INDEX events_project_name_time_idx ON events (project_id, event_name, event_time);
    CREATE INDEX events_time_brin ON events USING brin (event_time);

    -- dedupe ledger: one row per (project, messageId) ever accepted into events
    CREATE TABLE event_ids (
        project_id  bigint      NOT NULL,
        message_id  text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, message_id)
    );

    -- people: traits merged from identify calls, keyed by visitor id (userId, else anonymousId)
    CREATE TABLE persons (
        project_id  bigint      NOT NULL,
        visitor_id  text        NOT NULL,
        traits      jsonb       NOT NULL DEFAULT '{}',
        first_seen  timestamptz NOT NULL,
        last_seen   timestamptz NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, visitor_id)
    );

    -- id links: alias(previousId -> userId) and identify(anonymousId -> userId); first link wins
    CREATE TABLE person_aliases (
        project_id  bigint      NOT NULL,
        alias_id    text        NOT NULL,
        visitor_id  text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, alias_id)
    );
    CREATE INDEX person_aliases_visitor_idx ON person_aliases (project_id, visitor_id);

    CREATE FUNCTION tme_ensure_event_partitions(months_back integer, months_ahead integer)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
        month_start timestamp;
        part_name   text;
        created     integer := 0;
    BEGIN
        FOR i IN -months_back..months_ahead LOOP
            month_start := date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i);
            part_name := 'events_' || to_char(month_start, 'YYYY_MM');
            CONTINUE WHEN to_regclass(part_name) IS NOT NULL;
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                    part_name, month_start AT TIME ZONE 'UTC',
                    (month_start + interval '1 month') AT TIME ZONE 'UTC');
                created := created + 1;
            EXCEPTION WHEN check_violation THEN
                -- the DEFAULT partition already holds rows of that month: they stay there
                RAISE WARNING 'partition % not created: events_default holds rows of that month', part_name;
            END;
        END LOOP;
        RETURN created;
    END
    $$;

    SELECT tme_ensure_event_partitions(12, 3);
    """)


def downgrade() -> None:
    run_script("""
    DROP FUNCTION tme_ensure_event_partitions(integer, integer);
    DROP TABLE person_aliases, persons, event_ids, events;
    """)
