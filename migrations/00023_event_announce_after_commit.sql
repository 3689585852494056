-- +goose Up
-- event_append no longer sends NOTIFY. A NOTIFY in a transaction takes a
-- database-wide lock from its commit until the end of the commit (WAL flush
-- included), so every save was serialized behind every other save: at 8
-- concurrent clients a save-shaped transaction with a NOTIFY ran at half the
-- rate of the same transaction without one (pgbench, this project's machine).
-- The server announces appended events after the commit instead, on the
-- configured bus (Postgres NOTIFY outside any write transaction, or Redis),
-- and every node's hub re-reads channel heads periodically, so an
-- announcement lost to a crash between commit and announcement only delays
-- delivery (server/events/bus.go).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_append(channel text, event_type text, payload bytea) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq   bigint;
    rest  bigint;
    field bytea := '\x20'; -- tag of field 4, wire type 0 (varint)
BEGIN
    INSERT INTO event_channels AS c (channel, last_sequence) VALUES (event_append.channel, 1)
    ON CONFLICT ON CONSTRAINT event_channels_pkey DO UPDATE SET last_sequence = c.last_sequence + 1
    RETURNING c.last_sequence INTO seq;
    rest := seq;
    WHILE rest >= 128 LOOP
        field := field || set_byte('\x00'::bytea, 0, ((rest & 127) | 128)::int);
        rest := rest >> 7;
    END LOOP;
    field := field || set_byte('\x00'::bytea, 0, rest::int);
    INSERT INTO events (channel, sequence, event_type, payload)
    VALUES (event_append.channel, seq, event_append.event_type, event_append.payload || field);
    RETURN seq;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_append(channel text, event_type text, payload bytea) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq   bigint;
    rest  bigint;
    field bytea := '\x20';
BEGIN
    INSERT INTO event_channels AS c (channel, last_sequence) VALUES (event_append.channel, 1)
    ON CONFLICT ON CONSTRAINT event_channels_pkey DO UPDATE SET last_sequence = c.last_sequence + 1
    RETURNING c.last_sequence INTO seq;
    rest := seq;
    WHILE rest >= 128 LOOP
        field := field || set_byte('\x00'::bytea, 0, ((rest & 127) | 128)::int);
        rest := rest >> 7;
    END LOOP;
    field := field || set_byte('\x00'::bytea, 0, rest::int);
    INSERT INTO events (channel, sequence, event_type, payload)
    VALUES (event_append.channel, seq, event_append.event_type, event_append.payload || field);
    PERFORM pg_notify('hivesync_events', event_append.channel || ' ' || seq);
    RETURN seq;
END
$$;
-- +goose StatementEnd
