-- A user's own AI provider key (issue 17) is a connection of kind `ai_key` whose provider is
-- `anthropic` or `openai` (any OpenAI-compatible server); `host` holds its base URL and `login`
-- the model its runs use by default (empty: none chosen). One per provider and user.
ALTER TABLE connections DROP CONSTRAINT connections_provider_check;
ALTER TABLE connections ADD CONSTRAINT connections_provider_check
    CHECK (provider IN ('github', 'gitlab', 'gitea', 'anthropic', 'openai'));
ALTER TABLE connections ADD CONSTRAINT connections_ai_key_provider
    CHECK ((kind = 'ai_key') = (provider IN ('anthropic', 'openai')));
CREATE UNIQUE INDEX connections_one_ai_key_per_provider
    ON connections (user_id, provider) WHERE kind = 'ai_key';
