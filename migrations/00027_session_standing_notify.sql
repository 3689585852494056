-- +goose Up
-- Nodes cache what the authenticator reads for a request (SessionPrincipal:
-- the session, its user, device and entitlement), so a busy client is not
-- one extra query per request. These triggers tell every node when that
-- changes: each committed change NOTIFYs hivesync_standing with the user's
-- id, and each node drops that user's cached sessions (server/auth,
-- standing.go). Triggers rather than code at each call site, so no writer
-- is ever missed: revocations, disabling, device revocation, entitlement
-- changes, an operator's manual UPDATE. The notification is sent only on
-- commit; these are rare transactions, so the NOTIFY's commit lock costs
-- nothing that matters (saves never NOTIFY, see 00023).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION standing_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        IF TG_OP <> 'INSERT' THEN
            PERFORM pg_notify('hivesync_standing', OLD.id::text);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM pg_notify('hivesync_standing', NEW.id::text);
        END IF;
    ELSE
        IF TG_OP <> 'INSERT' THEN
            PERFORM pg_notify('hivesync_standing', OLD.user_id::text);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM pg_notify('hivesync_standing', NEW.user_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TRIGGER IF EXISTS sessions_standing_update ON sessions;
CREATE TRIGGER sessions_standing_update AFTER UPDATE ON sessions FOR EACH ROW
WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.device_id IS DISTINCT FROM NEW.device_id
   OR OLD.client_type IS DISTINCT FROM NEW.client_type OR OLD.scopes IS DISTINCT FROM NEW.scopes
   OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.second_factor_at IS DISTINCT FROM NEW.second_factor_at)
EXECUTE FUNCTION standing_notify();
DROP TRIGGER IF EXISTS sessions_standing_delete ON sessions;
CREATE TRIGGER sessions_standing_delete AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION standing_notify();

DROP TRIGGER IF EXISTS users_standing_update ON users;
CREATE TRIGGER users_standing_update AFTER UPDATE ON users FOR EACH ROW
WHEN (OLD.disabled_at IS DISTINCT FROM NEW.disabled_at OR OLD.is_admin IS DISTINCT FROM NEW.is_admin)
EXECUTE FUNCTION standing_notify();
DROP TRIGGER IF EXISTS users_standing_delete ON users;
CREATE TRIGGER users_standing_delete AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION standing_notify();

DROP TRIGGER IF EXISTS devices_standing_update ON devices;
CREATE TRIGGER devices_standing_update AFTER UPDATE ON devices FOR EACH ROW
WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
EXECUTE FUNCTION standing_notify();
DROP TRIGGER IF EXISTS devices_standing_delete ON devices;
CREATE TRIGGER devices_standing_delete AFTER DELETE ON devices FOR EACH ROW EXECUTE FUNCTION standing_notify();

DROP TRIGGER IF EXISTS entitlements_standing ON entitlements;
CREATE TRIGGER entitlements_standing AFTER INSERT OR UPDATE OR DELETE ON entitlements FOR EACH ROW
EXECUTE FUNCTION standing_notify();

-- +goose Down
DROP TRIGGER IF EXISTS entitlements_standing ON entitlements;
DROP TRIGGER IF EXISTS devices_standing_delete ON devices;
DROP TRIGGER IF EXISTS devices_standing_update ON devices;
DROP TRIGGER IF EXISTS users_standing_delete ON users;
DROP TRIGGER IF EXISTS users_standing_update ON users;
DROP TRIGGER IF EXISTS sessions_standing_delete ON sessions;
DROP TRIGGER IF EXISTS sessions_standing_update ON sessions;
DROP FUNCTION IF EXISTS standing_notify();
