-- The trash purge (api/src/sessions/retention.rs) finds sessions deleted longer ago than the
-- retention, oldest first, in small batches; this keeps that scan off the live sessions.
CREATE INDEX chat_sessions_trash ON chat_sessions (deleted_at) WHERE deleted_at IS NOT NULL;
