//! The registry on sqlx: PostgreSQL in production, SQLite on embedded defaults.
//!
//! Both engines go through sqlx's Any driver with `$N` placeholders (which SQLite accepts
//! too), so each statement is written once. The few places where the dialects differ ask
//! [`SqlEngine`]; nothing outside this module knows which engine runs. Statements of
//! hundreds of parameters take theirs from [`values_placeholders`] and
//! [`list_placeholders`], which write anonymous `?` for SQLite.

mod batch;
mod devices;
mod events;
mod files;
mod keys;
mod profiles;
mod rows;
mod tenants;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use signpost_domain::{TenantId, Timestamp};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{ChangeContext, RegistryAdmin, RegistryError, RegistryResult};

// A database migrated by a newer release still runs the older binary (a rollback, or old
// tasks starting during a deploy): migrations are additive, so the migrations it does not
// know are ignored rather than refused.
static POSTGRES_MIGRATIONS: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| {
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        migrator.set_ignore_missing(true);
        migrator
    });
static SQLITE_MIGRATIONS: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| {
        let mut migrator = sqlx::migrate!("./migrations/sqlite");
        migrator.set_ignore_missing(true);
        migrator
    });

/// How long a pooled connection may sit idle before it is checked with a round trip before
/// use.
const CHECK_AFTER_IDLE: Duration = Duration::from_secs(30);

/// How long connecting to the database may take, at start and when the pool needs a
/// connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Rows per multi-row statement: keeps every statement under SQLite's 32,766 and
/// PostgreSQL's 65,535 bind parameters whatever the column count.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlEngine {
    Postgres,
    Sqlite,
}

impl SqlEngine {
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0;
        match scheme {
            "postgres" | "postgresql" => Some(SqlEngine::Postgres),
            "sqlite" => Some(SqlEngine::Sqlite),
            _ => None,
        }
    }

    /// The engine behind a connection (for functions handed one inside a transaction).
    fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name() == "PostgreSQL" {
            SqlEngine::Postgres
        } else {
            SqlEngine::Sqlite
        }
    }

    /// Bind parameter `n` (counted from 1) in statement text.
    ///
    /// SQLite gets an anonymous `?`, numbered by its place in the text, so a statement
    /// written this way must bind its values in text order. The reason is the cost of
    /// binding: sqlx asks SQLite for the name of every parameter it binds, and SQLite looks
    /// a named one (`$7`, `?7`) up by walking the statement's list of names. Binding n named
    /// parameters walks n²/2 names: 1.1M instructions for a 600-parameter flush of
    /// last-seen rows, 6% of the server's work in a boot storm. Anonymous ones have no
    /// names to walk.
    pub(crate) fn param(self, n: usize) -> String {
        match self {
            SqlEngine::Postgres => format!("${n}"),
            SqlEngine::Sqlite => "?".to_owned(),
        }
    }

    /// Row locks for read-modify-write; SQLite needs none because a write transaction
    /// already holds the database's single write lock (see [`SqlRegistry::begin_write`]).
    fn lock_rows(self) -> &'static str {
        match self {
            SqlEngine::Postgres => " FOR UPDATE",
            SqlEngine::Sqlite => "",
        }
    }

    /// Locks rows against change and deletion but not against other sharers: batches of
    /// one tenant run side by side, while deleting the tenant or its profiles waits.
    fn share_rows(self) -> &'static str {
        match self {
            SqlEngine::Postgres => " FOR SHARE",
            SqlEngine::Sqlite => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SqlRegistry {
    pool: AnyPool,
    engine: SqlEngine,
    /// SQLite has one writer at a time. Its busy handler retries with sleeps in no order,
    /// so under a queue of writers (concurrent batches) one could wait past `busy_timeout`
    /// and fail; writers of this process queue here instead, first come first served.
    writer: Arc<Semaphore>,
}

/// A write transaction, holding this process's turn to write (SQLite) until it ends.
/// Dereferences to the connection, like [`Transaction`].
pub(crate) struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedSemaphorePermit>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

impl SqlRegistry {
    /// Connects (and for SQLite creates the file) without running migrations.
    pub async fn connect(url: &str, max_connections: u32) -> RegistryResult<Self> {
        let engine = SqlEngine::from_url(url).ok_or_else(|| {
            RegistryError::Unavailable("database URL must start with postgres:// or sqlite:".into())
        })?;
        install_default_drivers();
        // One direct connection first: the pool would only report "timed out" for a refused
        // connection or a wrong password, and the operator needs the real reason.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, AnyConnection::connect(url))
            .await
            .map_err(|_| {
                RegistryError::Unavailable(format!("no answer within {CONNECT_TIMEOUT:?}"))
            })?
            .map_err(unavailable)?;
        probe.close().await.map_err(unavailable)?;
        let options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(CONNECT_TIMEOUT)
            // The pool's own check pings every connection it hands out: a second round trip
            // (and, on SQLite, a second hand-off to the connection's thread) for every query.
            // Only a connection that sat idle long enough to have been dropped by the server
            // or a firewall is checked; one in steady use proves itself with every query.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for < CHECK_AFTER_IDLE {
                        return Ok(true);
                    }
                    // A dead connection is closed and another one taken.
                    Ok(conn.ping().await.is_ok())
                })
            });
        let options = match engine {
            // WAL lets readers run beside the one writer; busy_timeout makes a second writer
            // wait its turn instead of failing.
            SqlEngine::Sqlite => options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            SqlEngine::Postgres => options,
        };
        let pool = options.connect(url).await.map_err(unavailable)?;
        Ok(Self {
            pool,
            engine,
            writer: Arc::new(Semaphore::new(1)),
        })
    }

    pub fn engine(&self) -> SqlEngine {
        self.engine
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail when
    /// another writer committed in between.
    async fn begin_write(&self) -> RegistryResult<WriteTx> {
        let (tx, turn) = match self.engine {
            SqlEngine::Postgres => (self.pool.begin().await, None),
            SqlEngine::Sqlite => {
                let turn = self.writer.clone().acquire_owned().await.map_err(|_| {
                    RegistryError::Unavailable("the registry is shutting down".into())
                })?;
                (self.pool.begin_with("BEGIN IMMEDIATE").await, Some(turn))
            }
        };
        Ok(WriteTx {
            tx: tx.map_err(unavailable)?,
            _turn: turn,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl RegistryAdmin for SqlRegistry {
    async fn migrate(&self) -> RegistryResult<()> {
        let migrator = match self.engine {
            SqlEngine::Postgres => &*POSTGRES_MIGRATIONS,
            SqlEngine::Sqlite => &*SQLITE_MIGRATIONS,
        };
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| RegistryError::Unavailable(format!("migration failed: {e}")))
    }

    async fn check(&self) -> RegistryResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}

pub(crate) fn unavailable(e: sqlx::Error) -> RegistryError {
    RegistryError::Unavailable(e.to_string())
}

/// Rows or keys sent as one JSON parameter: one fixed statement whatever their number.
pub(crate) fn json_param(what: &str, value: &impl Serialize) -> RegistryResult<String> {
    serde_json::to_string(value)
        .map_err(|err| RegistryError::Unavailable(format!("cannot encode {what}: {err}")))
}

pub(crate) fn corrupt(what: &str, value: &str) -> RegistryError {
    RegistryError::Corrupt(format!("{what}: {value:?}"))
}

/// PostgreSQL, many events (a batch): one statement, the rows as one JSON parameter.
async fn append_events_json(
    conn: &mut AnyConnection,
    change: &ChangeContext,
    at: Timestamp,
    events: &[NewEvent],
) -> RegistryResult<()> {
    #[derive(Serialize)]
    struct Row<'a> {
        tenant_id: Option<&'a str>,
        action: &'a str,
        target: &'a str,
        before_json: Option<&'a str>,
        after_json: Option<&'a str>,
    }
    let rows: Vec<Row<'_>> = events
        .iter()
        .map(|event| Row {
            tenant_id: event.tenant.as_ref().map(TenantId::as_str),
            action: event.action,
            target: &event.target,
            before_json: event.before.as_deref(),
            after_json: event.after.as_deref(),
        })
        .collect();
    let json = json_param("events", &rows)?;
    sqlx::query(
        "INSERT INTO events (tenant_id, actor, action, target, before_json, after_json, request_id, at) \
         SELECT tenant_id, $2, action, target, before_json, after_json, $3, $4 \
         FROM json_to_recordset($1::json) \
              AS e(tenant_id text, action text, target text, before_json text, after_json text)",
    )
    .bind(json)
    .bind(change.actor.clone())
    .bind(change.request_id.clone())
    .bind(at.unix_millis())
    .execute(&mut *conn)
    .await
    .map_err(unavailable)?;
    Ok(())
}

/// `($o+1, $o+2, …), (…)`: placeholders for `rows` rows of `columns` values each (on
/// SQLite all `?`: see [`SqlEngine::param`]).
pub(crate) fn values_placeholders(
    engine: SqlEngine,
    rows: usize,
    columns: usize,
    offset: usize,
) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        let first = offset + row * columns + 1;
        sql.push_str(&list_placeholders(engine, columns, first - 1));
        sql.push(')');
    }
    sql
}

/// `$o+1, $o+2, …` for an `IN (…)` list (on SQLite all `?`: see [`SqlEngine::param`]).
pub(crate) fn list_placeholders(engine: SqlEngine, count: usize, offset: usize) -> String {
    (offset + 1..=offset + count)
        .map(|n| engine.param(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An audit record on its way into the events table.
pub(crate) struct NewEvent {
    pub tenant: Option<TenantId>,
    pub action: &'static str,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl NewEvent {
    pub fn new<T: Serialize>(
        tenant: Option<&TenantId>,
        action: &'static str,
        target: String,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Self {
        let json = |v: &T| serde_json::to_string(v).unwrap_or_else(|_| "null".into());
        Self {
            tenant: tenant.cloned(),
            action,
            target,
            before: before.map(json),
            after: after.map(json),
        }
    }
}

/// Appends audit records inside the caller's transaction, so they commit with the change.
pub(crate) async fn append_events(
    conn: &mut AnyConnection,
    change: &ChangeContext,
    at: Timestamp,
    events: Vec<NewEvent>,
) -> RegistryResult<()> {
    const COLUMNS: usize = 8;
    let engine = SqlEngine::of(conn);
    if events.len() > 1 && engine == SqlEngine::Postgres {
        return append_events_json(conn, change, at, &events).await;
    }
    for chunk in events.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO events (tenant_id, actor, action, target, before_json, after_json, request_id, at) VALUES {}",
            values_placeholders(engine, chunk.len(), COLUMNS, 0)
        );
        let mut query = sqlx::query(&sql);
        for event in chunk {
            query = query
                .bind(event.tenant.as_ref().map(|t| t.as_str().to_owned()))
                .bind(change.actor.clone())
                .bind(event.action)
                .bind(event.target.clone())
                .bind(event.before.clone())
                .bind(event.after.clone())
                .bind(change.request_id.clone())
                .bind(at.unix_millis());
        }
        query.execute(&mut *conn).await.map_err(unavailable)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_postgres_and_anonymous_on_sqlite() {
        let pg = SqlEngine::Postgres;
        assert_eq!(list_placeholders(pg, 3, 1), "$2, $3, $4");
        assert_eq!(
            values_placeholders(pg, 2, 3, 0),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_placeholders(pg, 1, 2, 4), "($5, $6)");
        let lite = SqlEngine::Sqlite;
        assert_eq!(list_placeholders(lite, 3, 1), "?, ?, ?");
        assert_eq!(values_placeholders(lite, 2, 2, 0), "(?, ?), (?, ?)");
        assert_eq!(lite.param(1), "?");
    }
}
