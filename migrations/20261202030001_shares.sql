-- Sharing a session by an unlisted link (api/src/shares). Only the token's HMAC is stored (as
-- for login tokens, under its own domain so one can never stand for the other); one link per
-- session at a time, gone with its session.
CREATE TABLE session_shares (
    id              uuid PRIMARY KEY,
    chat_session_id uuid NOT NULL UNIQUE REFERENCES chat_sessions (id) ON DELETE CASCADE,
    token_key       bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Whatever removes a link (revocation, a new link, the session purged), every replica hears it
-- and ends the anonymous streams opened with it.
CREATE FUNCTION webedt_share_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('webedt_share_revoked', OLD.id::text);
    RETURN OLD;
END
$$;
CREATE TRIGGER session_shares_revoked AFTER DELETE ON session_shares
    FOR EACH ROW EXECUTE FUNCTION webedt_share_revoked();
