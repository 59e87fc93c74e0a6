-- Chat sessions, their event logs, and the runs in progress. Everything a stream needs to resume
-- on another replica is here.

CREATE TABLE chat_sessions (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title          text NOT NULL,
    status         text NOT NULL DEFAULT 'idle'
                   CHECK (status IN ('idle', 'running', 'completed', 'error', 'interrupted')),
    provider       text NOT NULL,
    model          text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz,
    deleted_at     timestamptz,
    total_cost_usd double precision NOT NULL DEFAULT 0,
    last_error     text,
    -- The last event seq handed out. Incremented under the row lock by the transaction that
    -- inserts the event, so seqs per session are gap-free and in commit order.
    last_seq       bigint NOT NULL DEFAULT 0
);
CREATE INDEX chat_sessions_user_list ON chat_sessions (user_id, created_at DESC, id DESC);

CREATE TABLE events (
    chat_session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    type            text NOT NULL,
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_session_id, seq)
);

-- One row per running run: who owns it, and proof of life judged by the database's clock.
CREATE TABLE active_runs (
    chat_session_id     uuid PRIMARY KEY REFERENCES chat_sessions (id) ON DELETE CASCADE,
    run_id              uuid NOT NULL UNIQUE,
    owner               text NOT NULL,
    started_at          timestamptz NOT NULL DEFAULT now(),
    heartbeat_at        timestamptz NOT NULL DEFAULT now(),
    cancel_requested_at timestamptz
);
CREATE INDEX active_runs_owner ON active_runs (owner);
CREATE INDEX active_runs_heartbeat ON active_runs (heartbeat_at);
