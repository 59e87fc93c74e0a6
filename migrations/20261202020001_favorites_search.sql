-- Daily use: starred sessions and full-text search over titles and conversations.

-- A star. The partial index serves `?favorite=true` (few rows per user) without touching the
-- list's own index, so the plain list's plans are unchanged.
ALTER TABLE chat_sessions ADD COLUMN favorite boolean NOT NULL DEFAULT false;
CREATE INDEX chat_sessions_user_favorites ON chat_sessions (user_id, created_at DESC, id DESC)
    WHERE favorite;

-- Titles are searched live (a rename is found at once), through an expression index. The
-- `simple` configuration: no stemming and no stop words, so code identifiers match as typed.
CREATE INDEX chat_sessions_title_search ON chat_sessions
    USING gin (to_tsvector('simple', title));

-- One row per turn (the prompt that started a run and the answer it streamed, tool output
-- left out), written once when the run ends: deltas split words, and a GIN update per delta
-- would cost the write path. `body` is capped by the writer (256 KiB) well below tsvector's
-- 1 MB limit.
CREATE TABLE session_search (
    chat_session_id uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    -- The seq of the turn's `user_message` event.
    seq             bigint NOT NULL,
    body            text NOT NULL CHECK (octet_length(body) <= 262144),
    tsv             tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    PRIMARY KEY (chat_session_id, seq)
);
CREATE INDEX session_search_tsv ON session_search USING gin (tsv);

-- Turns that ended before this migration: indexed once here, like the run manager does when a
-- run ends (each turn's prompt and the assistant text up to the next prompt; `left` by
-- characters keeps the body within 256 KiB whatever the encoding width).
INSERT INTO session_search (chat_session_id, seq, body)
SELECT u.chat_session_id, u.seq,
       left(coalesce(u.data->>'text', '') || E'\n\n' || coalesce((
           SELECT string_agg(e.data->>'text', '' ORDER BY e.seq) FROM events e
            WHERE e.chat_session_id = u.chat_session_id AND e.type = 'assistant_message'
              AND e.seq > u.seq
              AND e.seq < coalesce((SELECT min(n.seq) FROM events n
                                     WHERE n.chat_session_id = u.chat_session_id
                                       AND n.type = 'user_message' AND n.seq > u.seq),
                                   9223372036854775807)), ''), 65536)
  FROM events u
 WHERE u.type = 'user_message';
-- (A run still in progress is indexed again, whole, when it ends: the writer replaces the row.)
