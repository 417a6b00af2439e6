"""The dedupe ledger keeps message ids for a window instead of forever.

`event_ids` held one row per (project, messageId) ever stored, ~170 bytes each with its index,
and nothing pruned it: at 10M events it was 1.7 GB that no query reads, and its index, keyed by
random ids, outgrew memory long before the events did. Segment keeps message ids for about 24
hours for the same purpose; clients resend a message within minutes or hours, not months.

`event_ids` becomes PARTITIONED BY LIST (generation). `event_id_generations` lists the
generations and when each began; the newest is the current one. The subscriber adds a message's
id to the current generation (a partition with its own unique (project_id, message_id) index)
only when no older generation holds it, and stores the event only when the id was added.
`tme_rotate_event_ids(window)` starts a new generation once the current one is `window` old and
drops the generations before the previous one, so an id is kept between one and two windows and
a repeat that arrives within `window` of the first copy is always dropped.

Writers take `pg_advisory_xact_lock_shared(tme_ledger_lock())` before they touch the ledger; a
rotation takes the same lock exclusively, so it waits for the writers in flight and the writers
after it all see the new generation: two copies of one message written at once always meet in
one partition's unique index.

The existing ledger becomes generation 1 in place: its rows gain `generation` (a constant
default, no rewrite), lose `created_at` (the generation dates them now), and it is attached after
one scan that checks the partition constraint (0.9 s for a 10M-id ledger on the benchmark machine).

Revision ID: 0008_bounded_dedupe_ledger
Revises: 0007_slimmer_step_index
Create Date: 2026-12-02
"""

from services.migrations.sql import run_script

revision = "0008_bounded_dedupe_ledger"
down_revision = "0007_slimmer_step_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE event_id_generations (
        generation  integer     PRIMARY KEY,
        started_at  timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO event_id_generations (generation) VALUES (1);

    ALTER TABLE event_ids RENAME TO event_ids_1;
    ALTER INDEX event_ids_pkey RENAME TO event_ids_1_pkey;
    ALTER TABLE event_ids_1 DROP COLUMN created_at;
    ALTER TABLE event_ids_1 ADD COLUMN generation integer NOT NULL DEFAULT 1;
    ALTER TABLE event_ids_1 ADD CONSTRAINT event_ids_1_generation CHECK (generation = 1);

    CREATE TABLE event_ids (
        project_id  bigint  NOT NULL,
        message_id  text    NOT NULL,
        generation  integer NOT NULL
    ) PARTITION BY LIST (generation);
    ALTER TABLE event_ids ATTACH PARTITION event_ids_1 FOR VALUES IN (1);
    ALTER TABLE event_ids_1 DROP CONSTRAINT event_ids_1_generation;
    ALTER TABLE event_ids_1 ALTER COLUMN generation DROP DEFAULT;

    -- the advisory lock that orders ledger writers (shared) against a rotation (exclusive)
    CREATE FUNCTION tme_ledger_lock() RETURNS bigint LANGUAGE sql IMMUTABLE AS $$ SELECT 1953326436::bigint $$;

    CREATE FUNCTION tme_rotate_event_ids(window_length interval)
    RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
        current_generation integer;
        current_start      timestamptz;
        next_generation    integer;
        old                record;
    BEGIN
        SELECT generation, started_at INTO current_generation, current_start
        FROM event_id_generations ORDER BY generation DESC LIMIT 1;
        IF current_start > now() - window_length THEN
            RETURN 0;
        END IF;
        PERFORM pg_advisory_xact_lock(tme_ledger_lock());
        -- another subscriber may have rotated while this one waited
        SELECT generation, started_at INTO current_generation, current_start
        FROM event_id_generations ORDER BY generation DESC LIMIT 1;
        IF current_start > now() - window_length THEN
            RETURN 0;
        END IF;
        next_generation := current_generation + 1;
        EXECUTE format('CREATE TABLE %I PARTITION OF event_ids FOR VALUES IN (%s)',
                       'event_ids_' || next_generation, next_generation);
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (project_id, message_id)', 'event_ids_' || next_generation);
        INSERT INTO event_id_generations (generation) VALUES (next_generation);
        FOR old IN SELECT generation FROM event_id_generations WHERE generation < current_generation LOOP
            EXECUTE format('DROP TABLE IF EXISTS %I', 'event_ids_' || old.generation);
            DELETE FROM event_id_generations WHERE generation = old.generation;
        END LOOP;
        RETURN next_generation;
    END
    $$;
    """)


def downgrade() -> None:
    run_script("""
    DROP FUNCTION tme_rotate_event_ids(interval);
    DROP FUNCTION tme_ledger_lock();
    CREATE TABLE event_ids_flat (
        project_id  bigint      NOT NULL,
        message_id  text        NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (project_id, message_id)
    );
    INSERT INTO event_ids_flat (project_id, message_id)
        SELECT project_id, message_id FROM event_ids ON CONFLICT DO NOTHING;
    DROP TABLE event_ids, event_id_generations;
    ALTER TABLE event_ids_flat RENAME TO event_ids;
    ALTER INDEX event_ids_flat_pkey RENAME TO event_ids_pkey;
    """)
