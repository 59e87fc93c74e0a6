-- Code sessions: the repository a session works on, its base branch, the session's own working
-- branch (`webedt/<session id hex>`), and what the runs left there: the base commit the branch
-- left from (recorded by the first report) and the last pushed head. All null for a chat
-- session. Adding nullable columns without a default rewrites nothing.
ALTER TABLE chat_sessions
    ADD COLUMN repository     text CHECK (length(repository) <= 2048),
    ADD COLUMN base_branch    text CHECK (length(base_branch) <= 200),
    ADD COLUMN working_branch text CHECK (length(working_branch) <= 200),
    ADD COLUMN base_commit    text CHECK (base_commit ~ '^[0-9a-f]{7,64}$'),
    ADD COLUMN head_commit    text CHECK (head_commit ~ '^[0-9a-f]{7,64}$'),
    -- A repository comes with both branches, and only then.
    ADD CONSTRAINT chat_sessions_repository_complete CHECK (
        (repository IS NULL) = (base_branch IS NULL)
        AND (repository IS NULL) = (working_branch IS NULL)
    );
