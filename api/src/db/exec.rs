//! Executors that work the same on a direct connection and through a transaction-mode pooler.
//!
//! sqlx runs a statement with arguments as two round trips, Parse/Describe+Sync and then
//! Bind/Execute+Sync; a persistent statement is also *named* (`sqlx_s_1`, …) and cached per
//! client connection. PgBouncer in transaction mode hands the server connection back to its pool
//! whenever the server is idle outside a transaction, i.e. after each Sync: the Bind may reach
//! another server (`unnamed prepared statement does not exist`), and named statements collide or
//! go missing across server connections (`prepared statement "sqlx_s_1" already exists`).
//!
//! So in [`PoolerMode::Transaction`] every statement here runs unprepared (`persistent(false)`)
//! inside an explicit transaction, which pins one server connection from BEGIN to COMMIT; the
//! transaction's first message also sets the timeouts with `SET LOCAL`, because PgBouncer refuses
//! the startup `options` that carry them on a direct connection. Statements that already run in a
//! [`Tx`] only need the first part. With [`PoolerMode::None`] everything goes straight to sqlx.
//!
//! Code never reaches the raw sqlx pool for queries: [`super::Db`] and the [`Conn`]/[`Tx`] it
//! hands out are the executors, so a new query is correct through the pooler by construction.

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{AssertSqlSafe, Connection, Either, Execute, Executor, PgConnection, Postgres, SqlStr};
use std::sync::Arc;

type Item = Result<Either<PgQueryResult, PgRow>, sqlx::Error>;

/// How statements are sent: `None` = as sqlx likes (cached prepared statements); `Some(begin)` =
/// unprepared, and single statements wrapped in a transaction opened with `begin` (which carries
/// the `SET LOCAL` settings).
#[derive(Clone, Debug, Default)]
pub struct Mode(pub(super) Option<Arc<str>>);

impl Mode {
    pub fn pooled(&self) -> bool {
        self.0.is_some()
    }

    pub(super) async fn begin<'c>(
        &self,
        conn: &'c mut PgConnection,
    ) -> sqlx::Result<sqlx::Transaction<'c, Postgres>> {
        match &self.0 {
            None => conn.begin().await,
            Some(begin) => conn.begin_with(AssertSqlSafe(begin.clone())).await,
        }
    }
}

/// An `Execute` with persistence switched off when `unprepared`.
struct Unprepared<E> {
    inner: E,
    unprepared: bool,
}

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Unprepared<E> {
    fn sql(self) -> SqlStr {
        self.inner.sql()
    }
    fn statement(&self) -> Option<&PgStatement> {
        self.inner.statement()
    }
    fn take_arguments(
        &mut self,
    ) -> Result<Option<sqlx::postgres::PgArguments>, sqlx::error::BoxDynError> {
        self.inner.take_arguments()
    }
    fn persistent(&self) -> bool {
        !self.unprepared && self.inner.persistent()
    }
}

fn unprepared<'q, E: Execute<'q, Postgres>>(inner: E) -> Unprepared<E> {
    Unprepared {
        inner,
        unprepared: true,
    }
}

/// Runs one statement on `conn` in a transaction of its own (pooler mode), collecting its results.
async fn in_own_tx<'q, E>(mode: &Mode, conn: &mut PgConnection, query: E) -> sqlx::Result<Vec<Item>>
where
    E: 'q + Execute<'q, Postgres>,
{
    let mut tx = mode.begin(conn).await?;
    let items: Vec<Item> = (&mut *tx).fetch_many(unprepared(query)).collect().await;
    // An error inside the stream (e.g. a constraint) aborts the transaction; dropping `tx` rolls
    // it back and the error is still reported in `items`.
    if items.iter().any(|i| i.is_err()) {
        drop(tx);
    } else {
        tx.commit().await?;
    }
    Ok(items)
}

async fn optional_in_own_tx<'q, E>(
    mode: &Mode,
    conn: &mut PgConnection,
    query: E,
) -> sqlx::Result<Option<PgRow>>
where
    E: 'q + Execute<'q, Postgres>,
{
    let mut tx = mode.begin(conn).await?;
    let row = (&mut *tx).fetch_optional(unprepared(query)).await?;
    tx.commit().await?;
    Ok(row)
}

fn replay(items: sqlx::Result<Vec<Item>>) -> impl futures::Stream<Item = Item> {
    match items {
        Ok(items) => futures::stream::iter(items).left_stream(),
        Err(e) => futures::stream::once(async move { Err(e) }).right_stream(),
    }
}

impl<'p> Executor<'p> for &'_ super::Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Item>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.mode.pooled() {
            return self.raw().fetch_many(query);
        }
        let db = self.clone();
        Box::pin(
            futures::stream::once(async move {
                let mut conn = db.acquire_raw().await?;
                in_own_tx(&db.mode, &mut conn, query).await
            })
            .flat_map(replay),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<PgRow>>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.mode.pooled() {
            return self.raw().fetch_optional(query);
        }
        let db = self.clone();
        Box::pin(async move {
            let mut conn = db.acquire_raw().await?;
            optional_in_own_tx(&db.mode, &mut conn, query).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<PgStatement>>
    where
        'p: 'e,
    {
        let pool = self.raw().clone();
        Box::pin(async move { pool.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, sqlx::Result<sqlx::Describe<Postgres>>>
    where
        'p: 'e,
    {
        let pool = self.raw().clone();
        Box::pin(async move { pool.acquire().await?.describe(sql).await })
    }
}

/// A connection held from the pool (see [`super::Db::acquire`]). `&mut *conn` is an executor;
/// [`Conn::begin`] opens a transaction on it.
#[derive(Debug)]
pub struct Conn(pub(super) ConnHandle);

#[derive(Debug)]
pub struct ConnHandle {
    pub(super) conn: PoolConnection<Postgres>,
    pub(super) mode: Mode,
}

impl std::ops::Deref for Conn {
    type Target = ConnHandle;
    fn deref(&self) -> &ConnHandle {
        &self.0
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut ConnHandle {
        &mut self.0
    }
}

impl ConnHandle {
    pub async fn begin(&mut self) -> sqlx::Result<Tx<'_>> {
        let mode = self.mode.clone();
        let tx = mode.begin(&mut self.conn).await?;
        Ok(Tx(TxHandle {
            tx,
            unprepared: mode.pooled(),
        }))
    }
}

impl<'c> Executor<'c> for &'c mut ConnHandle {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Item>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.mode.pooled() {
            return (&mut *self.conn).fetch_many(query);
        }
        Box::pin(
            futures::stream::once(
                async move { in_own_tx(&self.mode, &mut self.conn, query).await },
            )
            .flat_map(replay),
        )
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<PgRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        if !self.mode.pooled() {
            return (&mut *self.conn).fetch_optional(query);
        }
        Box::pin(async move { optional_in_own_tx(&self.mode, &mut self.conn, query).await })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<PgStatement>>
    where
        'c: 'e,
    {
        (&mut *self.conn).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, sqlx::Result<sqlx::Describe<Postgres>>>
    where
        'c: 'e,
    {
        (&mut *self.conn).describe(sql)
    }
}

/// A transaction (from [`super::Db::begin`] or [`Conn::begin`]). `&mut *tx` is an executor;
/// dropping it without [`Tx::commit`] rolls back.
#[derive(Debug)]
pub struct Tx<'c>(TxHandle<'c>);

#[derive(Debug)]
pub struct TxHandle<'c> {
    tx: sqlx::Transaction<'c, Postgres>,
    unprepared: bool,
}

impl<'c> Tx<'c> {
    pub(super) fn new(tx: sqlx::Transaction<'c, Postgres>, mode: &Mode) -> Self {
        Self(TxHandle {
            tx,
            unprepared: mode.pooled(),
        })
    }

    pub async fn commit(self) -> sqlx::Result<()> {
        self.0.tx.commit().await
    }

    pub async fn rollback(self) -> sqlx::Result<()> {
        self.0.tx.rollback().await
    }
}

impl<'c> std::ops::Deref for Tx<'c> {
    type Target = TxHandle<'c>;
    fn deref(&self) -> &TxHandle<'c> {
        &self.0
    }
}

impl<'c> std::ops::DerefMut for Tx<'c> {
    fn deref_mut(&mut self) -> &mut TxHandle<'c> {
        &mut self.0
    }
}

impl<'c, 't> Executor<'c> for &'c mut TxHandle<'t> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(self, query: E) -> BoxStream<'e, Item>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let unprepared = self.unprepared;
        (&mut *self.tx).fetch_many(Unprepared {
            inner: query,
            unprepared,
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, sqlx::Result<Option<PgRow>>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let unprepared = self.unprepared;
        (&mut *self.tx).fetch_optional(Unprepared {
            inner: query,
            unprepared,
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, sqlx::Result<PgStatement>>
    where
        'c: 'e,
    {
        (&mut *self.tx).prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, sqlx::Result<sqlx::Describe<Postgres>>>
    where
        'c: 'e,
    {
        (&mut *self.tx).describe(sql)
    }
}
