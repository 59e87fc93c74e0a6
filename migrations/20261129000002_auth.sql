-- Accounts and login sessions. Sessions live only here, so every replica validates every
-- request and a logout anywhere ends the session everywhere.

CREATE TABLE users (
    id                  uuid PRIMARY KEY,
    -- Stored normalised (trimmed, lower-case); the check keeps every writer honest.
    email               text NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND length(email) <= 254),
    password_hash       text NOT NULL,
    display_name        text,
    is_admin            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE auth_sessions (
    -- HMAC-SHA256 of the token, keyed by SESSION_SECRET: the token itself is never stored.
    id               bytea PRIMARY KEY CHECK (length(id) = 32),
    -- What the API shows and revokes by, so no token-derived value ever leaves the database.
    public_id        uuid NOT NULL UNIQUE,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    last_verified_at timestamptz NOT NULL DEFAULT now(),
    user_agent       text,
    ip               text
);
CREATE INDEX auth_sessions_user_id ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires_at ON auth_sessions (expires_at);

-- Failed logins, counted per email and per client IP by every replica alike.
CREATE TABLE login_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    ip         text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email ON login_failures (email, failed_at);
CREATE INDEX login_failures_ip ON login_failures (ip, failed_at);
CREATE INDEX login_failures_failed_at ON login_failures (failed_at);
