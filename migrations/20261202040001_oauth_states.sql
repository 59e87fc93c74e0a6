-- GitHub OAuth App web flow: the `state` handed to GitHub, stored only as its HMAC (keyed by
-- SESSION_SECRET, like auth tokens), bound to the login session that started the flow, single
-- use (deleted when the callback presents it) and valid for 10 minutes.
CREATE TABLE oauth_states (
    state_hash    bytea PRIMARY KEY CHECK (length(state_hash) = 32),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The login session (its public id): a state started in one browser does not finish in another.
    auth_session  uuid NOT NULL REFERENCES auth_sessions (public_id) ON DELETE CASCADE,
    -- A same-origin path (`/account`), where the callback sends the browser back.
    return_to     text NOT NULL CHECK (return_to LIKE '/%' AND length(return_to) <= 512),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oauth_states_user_id ON oauth_states (user_id);
CREATE INDEX oauth_states_expires_at ON oauth_states (expires_at);

-- The account id the git host reported (GitHub's numeric `id`): the commit author of a GitHub
-- connection is `<id>+<login>@users.noreply.github.com`. Null for rows made before.
ALTER TABLE connections ADD COLUMN account_id text CHECK (length(account_id) <= 100);

-- The pull request opened from a code session's working branch.
ALTER TABLE chat_sessions
    ADD COLUMN pull_request_number integer CHECK (pull_request_number > 0),
    ADD COLUMN pull_request_url    text CHECK (length(pull_request_url) <= 2048),
    ADD CONSTRAINT chat_sessions_pull_request_complete CHECK (
        (pull_request_number IS NULL) = (pull_request_url IS NULL)
    );
