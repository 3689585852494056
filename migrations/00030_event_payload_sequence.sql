-- +goose Up
-- Stored payloads carry their sequence again (field 4 of hivesync.v1.Event,
-- appended to the encoded event), as they did before 00028: nodes of the
-- previous release read the sequence from the payload, and during a rolling
-- upgrade they serve events appended by new nodes. New readers take the
-- number from the sequence column (events.Decode); the payload's copy can
-- be dropped once no release reads it.
--
-- event_sequence_field is a single SQL expression, so the planner inlines
-- it into the statements that append (a function call per save cost
-- measurable CPU): varints of up to 5 bytes (sequences below 2^35) are
-- built directly; larger ones, never reached in practice, by a loop.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_sequence_field_loop(s bigint) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    rest  bigint := s;
    field bytea := '\x20'; -- tag of field 4, wire type 0 (varint)
BEGIN
    WHILE rest >= 128 LOOP
        field := field || set_byte('\x00'::bytea, 0, ((rest & 127) | 128)::int);
        rest := rest >> 7;
    END LOOP;
    RETURN field || set_byte('\x00'::bytea, 0, rest::int);
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_sequence_field(s bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE
    WHEN s < 128 THEN
        set_byte('\x2000'::bytea, 1, s::int)
    WHEN s < 16384 THEN
        set_byte(set_byte('\x200000'::bytea, 1, ((s & 127) | 128)::int), 2, (s >> 7)::int)
    WHEN s < 2097152 THEN
        set_byte(set_byte(set_byte('\x20000000'::bytea, 1, ((s & 127) | 128)::int),
            2, (((s >> 7) & 127) | 128)::int), 3, (s >> 14)::int)
    WHEN s < 268435456 THEN
        set_byte(set_byte(set_byte(set_byte('\x2000000000'::bytea, 1, ((s & 127) | 128)::int),
            2, (((s >> 7) & 127) | 128)::int), 3, (((s >> 14) & 127) | 128)::int), 4, (s >> 21)::int)
    WHEN s < 34359738368 THEN
        set_byte(set_byte(set_byte(set_byte(set_byte('\x200000000000'::bytea, 1, ((s & 127) | 128)::int),
            2, (((s >> 7) & 127) | 128)::int), 3, (((s >> 14) & 127) | 128)::int),
            4, (((s >> 21) & 127) | 128)::int), 5, (s >> 28)::int)
    ELSE event_sequence_field_loop(s)
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_append(channel text, event_type text, payload bytea) RETURNS bigint
LANGUAGE sql AS $$
    WITH numbered AS (
        INSERT INTO event_channels AS c (channel, last_sequence) VALUES (event_append.channel, 1)
        ON CONFLICT ON CONSTRAINT event_channels_pkey DO UPDATE SET last_sequence = c.last_sequence + 1
        RETURNING c.last_sequence
    ), logged AS (
        INSERT INTO events (channel, sequence, event_type, payload)
        SELECT event_append.channel, numbered.last_sequence, event_append.event_type,
               event_append.payload || event_sequence_field(numbered.last_sequence)
        FROM numbered
    )
    SELECT last_sequence FROM numbered;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION event_append(channel text, event_type text, payload bytea) RETURNS bigint
LANGUAGE sql AS $$
    WITH numbered AS (
        INSERT INTO event_channels AS c (channel, last_sequence) VALUES (event_append.channel, 1)
        ON CONFLICT ON CONSTRAINT event_channels_pkey DO UPDATE SET last_sequence = c.last_sequence + 1
        RETURNING c.last_sequence
    ), logged AS (
        INSERT INTO events (channel, sequence, event_type, payload)
        SELECT event_append.channel, numbered.last_sequence, event_append.event_type, event_append.payload FROM numbered
    )
    SELECT last_sequence FROM numbered;
$$;
-- +goose StatementEnd
DROP FUNCTION IF EXISTS event_sequence_field(bigint);
DROP FUNCTION IF EXISTS event_sequence_field_loop(bigint);
