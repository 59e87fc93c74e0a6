-- Hardening (issue 15): limits counted across replicas, disabled accounts, and the NOTIFY that
-- ends a login session's open streams on every replica.

-- An account an admin disabled: it cannot log in and has no sessions.
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- Registrations per client IP (IPv6: its /64), counted over a sliding hour by every replica.
CREATE TABLE registrations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ip            text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registrations_ip ON registrations (ip, registered_at);

-- Runs started per user, for the per-minute rate (active_runs only holds the ones in progress).
CREATE TABLE run_starts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX run_starts_user ON run_starts (user_id, started_at);

-- Whatever ends a login session (logout, revocation, password change, disabling, the purge),
-- every replica hears it and closes the streams opened with it.
CREATE FUNCTION webedt_auth_session_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webedt_auth_ended', OLD.user_id::text || ':' || OLD.public_id::text);
    RETURN OLD;
END
$$;
CREATE TRIGGER auth_sessions_ended AFTER DELETE ON auth_sessions
    FOR EACH ROW EXECUTE FUNCTION webedt_auth_session_ended();
