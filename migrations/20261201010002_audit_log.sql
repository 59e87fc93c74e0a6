-- Security-relevant actions, readable by admins and kept for AUDIT_RETENTION_DAYS (the
-- `audit-retention` job). Floods (failed logins, limit hits) are written at most once per
-- (action, key, minute): `dedup` is unique.
CREATE TABLE audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    action         text NOT NULL,
    -- Who acted (null: not logged in, e.g. a failed login) and whom it concerned.
    actor_id       uuid,
    subject_id     uuid,
    -- The email as given, for failed logins of accounts that may not exist (bounded at write).
    email          text,
    ip             text,
    replica        text NOT NULL,
    detail         jsonb NOT NULL DEFAULT '{}',
    dedup          text UNIQUE
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_action ON audit_log (action, at DESC);
CREATE INDEX audit_log_subject ON audit_log (subject_id, at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor_id, at DESC);
