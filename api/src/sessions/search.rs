//! Search and favourites for the session list: statements of their own, so the plain list keeps
//! its two static ones (and their generic plans, BENCHMARKS.md).
//!
//! Search is PostgreSQL full-text search with the `simple` configuration (no stemming, no stop
//! words: `parse_config` matches as typed) over two sources: the title, live from
//! `chat_sessions` (so a rename is found at once), and one `session_search` row per turn
//! (prompt and answer), written when the run ends. Ranks are `ts_rank` normalised into [0, 1)
//! (flag 32); a title hit adds 1, so it always ranks above a session that only matches in its
//! conversation, and the best turn counts (not the sum: a long session is not better for it).
//! The last word gets prefix matching, for a box that searches as one types.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Session, session_columns};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::state::AppState;

/// Longest accepted `q`, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The indexed text of one turn is cut here (bytes): far below tsvector's 1 MB limit, and
/// more than any prompt and answer one reads back.
pub const MAX_TURN_BYTES: usize = 256 * 1024;

/// `ts_headline`'s options for result snippets: one short passage, matches between U+E000 and
/// U+E001 (private-use characters, stripped from the text first), which the UI turns into
/// `<mark>` elements without parsing any HTML.
const HEADLINE_OPTIONS: &str =
    "StartSel=\u{E000}, StopSel=\u{E001}, MaxWords=18, MinWords=6, MaxFragments=1";

/// What `q` asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Search {
    /// Empty or blank: no search, the plain list.
    None,
    /// Text without a single word (only punctuation): nothing can match.
    NoWords,
    /// A `to_tsquery` expression built from the words alone, so no user input reaches the
    /// tsquery syntax.
    Query(String),
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Unprocessable {
        code: ErrorCode::InvalidSearch,
        field: "q",
        message: message.into(),
    }
}

/// Parses `q`: its words (letters, digits, `_`) all must match; the last one as a prefix
/// unless the query ends with a space (the word is complete).
pub fn parse(q: &str) -> AppResult<Search> {
    if q.contains('\0') {
        return Err(invalid("q: must not contain the NUL character (U+0000)"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "q: must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if q.trim().is_empty() {
        return Ok(Search::None);
    }
    let words: Vec<&str> = q
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let Some(last) = words.len().checked_sub(1) else {
        return Ok(Search::NoWords);
    };
    let prefix = !q.ends_with(char::is_whitespace);
    let terms: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            // Quoted: a word the parser splits further (`parse_config`) becomes a phrase.
            if i == last && prefix {
                format!("'{w}':*")
            } else {
                format!("'{w}'")
            }
        })
        .collect();
    Ok(Search::Query(terms.join(" & ")))
}

/// The keyset position of a search result: its rank, then the list's order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RankCursor {
    pub rank: f32,
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(sqlx::FromRow)]
pub struct Ranked {
    pub rank: f32,
    #[sqlx(flatten)]
    pub session: Session,
}

/// One page of `user`'s sessions matching `query`, best first. Ranking needs every match of
/// the user scored, so each page scores them all (bounded by the user's own sessions) and the
/// keyset cursor (rank, created_at, id) picks up where the previous page ended.
pub async fn search(
    state: &AppState,
    user: Uuid,
    query: &str,
    deleted: bool,
    favorite: bool,
    limit: i64,
    after: Option<RankCursor>,
) -> AppResult<Vec<Ranked>> {
    let sql = concat!(
        "WITH q AS (SELECT to_tsquery('simple', $2) AS q),
         hits AS (
           SELECT s.id AS hit, (1 + ts_rank(to_tsvector('simple', s.title), q.q, 32))::real AS tr,
                  0::real AS br
             FROM chat_sessions s, q
            WHERE s.user_id = $1 AND to_tsvector('simple', s.title) @@ q.q
           UNION ALL
           SELECT t.chat_session_id, 0::real, ts_rank(t.tsv, q.q, 32)
             FROM session_search t JOIN chat_sessions s ON s.id = t.chat_session_id, q
            WHERE s.user_id = $1 AND t.tsv @@ q.q
         ),
         ranked AS (SELECT hit, (max(tr) + max(br))::real AS rank FROM hits GROUP BY hit)
         SELECT ranked.rank, ",
        session_columns!(),
        ", (SELECT ts_headline('simple', replace(replace(t.body, U&'\\E000', ''), U&'\\E001', ''), q.q, $9)
              FROM session_search t, q
             WHERE t.chat_session_id = chat_sessions.id AND t.tsv @@ q.q
             ORDER BY ts_rank(t.tsv, q.q, 32) DESC, t.seq DESC LIMIT 1) AS snippet
           FROM ranked JOIN chat_sessions ON chat_sessions.id = ranked.hit
          WHERE user_id = $1 AND (deleted_at IS NOT NULL) = $3 AND (favorite OR NOT $4)
            AND ($5::real IS NULL OR (ranked.rank, created_at, id) < ($5, $6, $7))
          ORDER BY ranked.rank DESC, created_at DESC, id DESC
          LIMIT $8"
    );
    let rows = sqlx::query_as::<_, Ranked>(sql)
        .bind(user)
        .bind(query)
        .bind(deleted)
        .bind(favorite)
        .bind(after.map(|c| c.rank))
        .bind(after.map(|c| c.created_at))
        .bind(after.map(|c| c.id))
        .bind(limit)
        .bind(HEADLINE_OPTIONS)
        .fetch_all(state.db.pool())
        .await?;
    Ok(rows)
}

/// The list statement for `?favorite=true`: the list's order over the partial index of
/// starred sessions.
macro_rules! favorites_page {
    ($after:literal) => {
        concat!(
            "SELECT ",
            session_columns!(),
            " FROM chat_sessions WHERE user_id = $1 AND favorite AND (deleted_at IS NOT NULL) = $2 ",
            $after,
            " ORDER BY created_at DESC, id DESC LIMIT $3"
        )
    };
}

/// One page of `user`'s starred sessions, newest first, after `(created_at, id)` when given.
pub async fn favorites(
    state: &AppState,
    user: Uuid,
    deleted: bool,
    limit: i64,
    after: Option<(DateTime<Utc>, Uuid)>,
) -> AppResult<Vec<Session>> {
    let sql = match after {
        None => favorites_page!(""),
        Some(_) => favorites_page!("AND (created_at, id) < ($4, $5)"),
    };
    let mut query = sqlx::query_as(sql).bind(user).bind(deleted).bind(limit);
    if let Some((at, id)) = after {
        query = query.bind(at).bind(id);
    }
    Ok(query.fetch_all(state.db.pool()).await?)
}

/// `text` cut to at most `max` bytes, on a character boundary.
pub fn cap(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Indexes the session's last turn: its prompt and the assistant text streamed after it (tool
/// output is not indexed), assembled once when the run ends, in the transaction that records
/// the end. Replaces the row if the turn was indexed before.
pub async fn index_last_turn(tx: &mut crate::db::TxHandle<'_>, session: Uuid) -> sqlx::Result<()> {
    let turn: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT u.seq, u.data->>'text',
                (SELECT string_agg(e.data->>'text', '' ORDER BY e.seq) FROM events e
                  WHERE e.chat_session_id = $1 AND e.seq > u.seq AND e.type = 'assistant_message')
           FROM events u WHERE u.chat_session_id = $1 AND u.type = 'user_message'
          ORDER BY u.seq DESC LIMIT 1",
    )
    .bind(session)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((seq, prompt, answer)) = turn else {
        return Ok(());
    };
    let body = cap(
        format!(
            "{}\n\n{}",
            prompt.unwrap_or_default(),
            answer.unwrap_or_default()
        ),
        MAX_TURN_BYTES,
    );
    sqlx::query(
        "INSERT INTO session_search (chat_session_id, seq, body) VALUES ($1, $2, $3)
         ON CONFLICT (chat_session_id, seq) DO UPDATE SET body = EXCLUDED.body",
    )
    .bind(session)
    .bind(seq)
    .bind(body)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: AppError) -> &'static str {
        e.code().as_str()
    }

    #[test]
    fn queries_are_built_from_words_only_with_a_prefix_on_the_last() {
        assert_eq!(parse("").unwrap(), Search::None);
        assert_eq!(parse("   ").unwrap(), Search::None);
        assert_eq!(parse("!!! ()").unwrap(), Search::NoWords);
        assert_eq!(
            parse("parse_con").unwrap(),
            Search::Query("'parse_con':*".into())
        );
        assert_eq!(
            parse("fix parse").unwrap(),
            Search::Query("'fix' & 'parse':*".into())
        );
        assert_eq!(
            parse("fix parse ").unwrap(),
            Search::Query("'fix' & 'parse'".into())
        );
        // Quotes, backslashes and operators never reach the tsquery syntax.
        assert_eq!(
            parse("a' | !b\\ & c:*").unwrap(),
            Search::Query("'a' & 'b' & 'c':*".into())
        );
        assert_eq!(parse("wörld").unwrap(), Search::Query("'wörld':*".into()));
    }

    #[test]
    fn bad_queries_are_422_invalid_search() {
        assert_eq!(code(parse("a\0b").unwrap_err()), "invalid_search");
        assert_eq!(
            code(parse(&"x".repeat(MAX_QUERY_CHARS + 1)).unwrap_err()),
            "invalid_search"
        );
        assert!(parse(&"é".repeat(MAX_QUERY_CHARS)).is_ok());
    }

    #[test]
    fn turns_are_capped_on_a_character_boundary() {
        assert_eq!(cap("abc".into(), 10), "abc");
        assert_eq!(cap("abcdef".into(), 3), "abc");
        // "é" is two bytes: a cut in its middle moves back before it.
        assert_eq!(cap("aé".into(), 2), "a");
        assert!(cap("é".repeat(200_000), MAX_TURN_BYTES).len() <= MAX_TURN_BYTES);
    }
}
