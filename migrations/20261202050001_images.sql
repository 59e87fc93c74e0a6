-- Images pasted into prompts (issue 24): the bytes themselves, one row each, owned by a session
-- (and through it a user). A `user_message` event names its images by id; runs read them back to
-- send and replay them. `media_type` is what the bytes' magic numbers say, never the client's claim.
CREATE TABLE images (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chat_session_id  uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    media_type       text NOT NULL
                     CHECK (media_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    bytes            bytea NOT NULL,
    size             integer NOT NULL CHECK (size > 0),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_session ON images (chat_session_id, created_at);
