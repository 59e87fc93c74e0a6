-- A user's connections to git hosts (and, later, AI providers). The token is stored only as
-- AES-256-GCM ciphertext (nonce ‖ ciphertext ‖ tag) bound to (user_id, id); `key_id` names the
-- key of CREDENTIALS_KEYS that made it, so keys can rotate.
CREATE TABLE connections (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('pat', 'github', 'ai_key')),
    -- The API flavour the token was checked against: github, gitlab or gitea.
    provider    text NOT NULL CHECK (provider IN ('github', 'gitlab', 'gitea')),
    -- The origin (`https://host[:port]`), lower-case, without a trailing slash.
    host        text NOT NULL CHECK (length(host) <= 300),
    login       text NOT NULL CHECK (length(login) <= 200),
    secret      bytea NOT NULL,
    key_id      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- One connection per host and kind: a run's credential is the one for its repository's host.
    UNIQUE (user_id, kind, host)
);
