-- +goose Up
-- event_append numbers, stores and announces one event of the log in a
-- single call, so an append is one statement and can be part of a larger
-- one (a save is one statement: queries/files.sql FileVersionAppend). It
-- takes the channel's next sequence (the event_channels row lock orders
-- concurrent appends to one channel and is held only until the commit),
-- inserts the event and sends NOTIFY hivesync_events '<channel> <sequence>',
-- delivered when the transaction commits.
--
-- The sequence is only known here, so payload is the hivesync.v1.Event as the
-- server encoded it without its sequence, and the stored payload is that
-- followed by the encoded sequence field (Event.sequence, field 4, varint).
-- Protobuf decoders merge concatenated encodings of a message, so readers
-- decode one Event with its sequence set.
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
    PERFORM pg_notify('hivesync_events', event_append.channel || ' ' || seq);
    RETURN seq;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS event_append(text, text, bytea);
