//! Connections to either backend, and the one way the async code reaches them.
//!
//! Diesel is synchronous, so every query runs on tokio's blocking pool through [`Db::run`];
//! the r2d2 pool's size bounds how many blocking threads hold a connection at once, and a
//! checkout that times out is `DbError::Unavailable` (503), never a stalled executor.
//!
//! Two backends from one codebase: [`Conn`] is an enum over the pooled PostgreSQL and SQLite
//! connections, and [`Tx`] the same over a borrowed connection inside a transaction. Code that
//! runs inside a transaction is an ordinary function taking `&mut Tx`; [`with_conn!`] and
//! [`with_tx!`] dispatch one query to the concrete connection, so the same diesel DSL is
//! type-checked against both backends and a function can still use what only one backend has
//! (`FOR UPDATE SKIP LOCKED`, advisory locks, `LATERAL`). [`Conn::transaction`] is the one write
//! transaction: SQLite takes its write lock up front (`BEGIN IMMEDIATE`), so two writers wait on
//! the busy timeout instead of failing on upgrade. (docs/decisions.md weighs this against
//! diesel's `MultiConnection` derive.)

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{DbError, DbResult};

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

pub enum Conn {
    Pg(PooledConnection<PgManager>),
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
}

/// Run `$body` with `$c` bound to the concrete connection of either backend.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::Conn::Pg(pooled) => {
                let $c: &mut ::diesel::pg::PgConnection = &mut **pooled;
                $body
            }
            $crate::Conn::Sqlite(pooled) => {
                let $c: &mut ::diesel::sqlite::SqliteConnection = &mut *pooled;
                $body
            }
        }
    };
}

/// A borrowed connection of either backend, usually inside a write transaction: what functions
/// that run inside a caller's transaction take, so they are ordinary functions, not macros.
/// [`with_tx!`] dispatches one query to the concrete connection.
pub enum Tx<'a> {
    Pg(&'a mut PgConnection),
    Sqlite(&'a mut SqliteConnection),
}

impl<'a> From<&'a mut PgConnection> for Tx<'a> {
    fn from(c: &'a mut PgConnection) -> Self {
        Tx::Pg(c)
    }
}

impl<'a> From<&'a mut SqliteConnection> for Tx<'a> {
    fn from(c: &'a mut SqliteConnection) -> Self {
        Tx::Sqlite(c)
    }
}

/// Run `$body` with `$c` bound to the concrete connection of a [`Tx`] (one query, both backends).
#[macro_export]
macro_rules! with_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::Tx::Pg(inner) => {
                let $c: &mut ::diesel::pg::PgConnection = &mut **inner;
                $body
            }
            $crate::Tx::Sqlite(inner) => {
                let $c: &mut ::diesel::sqlite::SqliteConnection = &mut **inner;
                $body
            }
        }
    };
}

impl Conn {
    /// The current use failed: test the connection before it is used again, whatever the
    /// error was (a lost server shows first as an error of the statement that met it).
    fn suspect(&mut self) {
        if let Conn::Pg(pooled) = self {
            pooled.suspect = true;
        }
    }

    /// Run `f` on this connection, marking it [`Conn::suspect`] when `f` fails.
    pub fn using<T, E>(&mut self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E> {
        let result = f(self);
        if result.is_err() {
            self.suspect();
        }
        result
    }

    /// This connection as a [`Tx`], for functions written against it (outside a transaction
    /// each statement commits on its own).
    pub fn tx(&mut self) -> Tx<'_> {
        match self {
            Conn::Pg(pooled) => Tx::Pg(pooled),
            Conn::Sqlite(pooled) => Tx::Sqlite(pooled),
        }
    }

    /// Run `f` in one write transaction. SQLite takes its write lock up front
    /// (`BEGIN IMMEDIATE`): two writers then wait on the busy timeout instead of failing with
    /// `SQLITE_BUSY` when both upgrade a read lock.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> DbResult<T>) -> DbResult<T> {
        match self {
            Conn::Pg(pooled) => {
                diesel::Connection::transaction(&mut ***pooled, |c| f(&mut Tx::Pg(c)))
            }
            Conn::Sqlite(pooled) => pooled.immediate_transaction(|c| f(&mut Tx::Sqlite(c))),
        }
    }
}

/// How long a PostgreSQL connection handed back to the pool after a use that raised no error is
/// trusted without a ping. r2d2 pings (`SELECT 1`) at every checkout by default: seven round
/// trips per survey (pg_stat_statements at 60/s), more than any one statement of the sign-off.
/// Within this window the last use is the test, as HikariCP's `aliveBypassWindowMs` does it; a
/// connection idle for longer, or whose last use failed, is pinged as before, so one that died
/// with the server is found at checkout and replaced.
const TRUSTED_AFTER_USE: Duration = Duration::from_millis(1000);

/// A pooled PostgreSQL connection and when it was last handed back after a clean use.
pub struct PgPooled {
    conn: PgConnection,
    clean_at: Option<std::time::Instant>,
    /// The current use raised an error: ping before the next.
    suspect: bool,
}

impl std::ops::Deref for PgPooled {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PgPooled {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// diesel's r2d2 manager for PostgreSQL, with the ping skipped inside [`TRUSTED_AFTER_USE`].
pub struct PgManager(ConnectionManager<PgConnection>);

impl diesel::r2d2::ManageConnection for PgManager {
    type Connection = PgPooled;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PgPooled, Self::Error> {
        self.0.connect().map(|conn| PgPooled {
            conn,
            clean_at: None,
            suspect: false,
        })
    }

    fn is_valid(&self, c: &mut PgPooled) -> Result<(), Self::Error> {
        if c.clean_at.is_some_and(|t| t.elapsed() < TRUSTED_AFTER_USE) {
            return Ok(());
        }
        self.0.is_valid(&mut c.conn)?;
        c.clean_at = Some(std::time::Instant::now());
        Ok(())
    }

    /// Called as the connection goes back to the pool.
    fn has_broken(&self, c: &mut PgPooled) -> bool {
        if self.0.has_broken(&mut c.conn) {
            return true;
        }
        c.clean_at = if std::mem::take(&mut c.suspect) {
            None
        } else {
            Some(std::time::Instant::now())
        };
        false
    }
}

#[derive(Clone)]
enum PoolKind {
    Pg(Pool<PgManager>),
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
}

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: PoolKind,
    /// Checkouts that timed out, for the pool's metrics.
    timeouts: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // WAL lets readers run beside the one writer; synchronous=FULL because a 202 promises
        // the submission survives a power cut, not only a crash.
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 15000; \
             PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Where the database's schema stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Versions this binary has and the database lacks: run `fieldsurvey migrate`.
    pub behind: Vec<String>,
    /// Versions the database has and this binary does not know: a newer release migrated it.
    pub ahead: Vec<String>,
    /// How many migrations the database records as applied.
    pub applied: usize,
}

/// How many connections a process may hold, and how long a checkout waits before it is a 503.
/// Connections are opened as they are needed (one is kept idle), not all at start: PostgreSQL's
/// connection limit is shared by every process on the server.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub min_idle: u32,
    pub connect_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            min_idle: 1,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl Db {
    /// Connect to `postgres://…` or `sqlite://PATH` (also `sqlite:PATH`).
    pub fn connect(url: &str, opts: &PoolOptions) -> DbResult<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = Pool::builder()
                .max_size(opts.max_size)
                .min_idle(Some(opts.min_idle.min(opts.max_size)))
                .connection_timeout(opts.connect_timeout)
                .build(PgManager(ConnectionManager::<PgConnection>::new(url)))?;
            Ok(Db {
                pool: PoolKind::Pg(pool),
                timeouts: Default::default(),
            })
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let pool = Pool::builder()
                .max_size(opts.max_size.min(8))
                .connection_timeout(opts.connect_timeout)
                .connection_customizer(Box::new(SqlitePragmas))
                .build(ConnectionManager::<SqliteConnection>::new(path))?;
            Ok(Db {
                pool: PoolKind::Sqlite(pool),
                timeouts: Default::default(),
            })
        } else {
            Err(DbError::Invalid(
                "DATABASE_URL must start with postgres:// or sqlite://".to_owned(),
            ))
        }
    }

    pub fn backend(&self) -> &'static str {
        match self.pool {
            PoolKind::Pg(_) => "postgres",
            PoolKind::Sqlite(_) => "sqlite",
        }
    }

    /// A connection for synchronous code (CLI commands, tests). Async code uses [`Db::run`].
    pub fn get(&self) -> DbResult<Conn> {
        let got = match &self.pool {
            PoolKind::Pg(p) => p.get().map(Conn::Pg),
            PoolKind::Sqlite(p) => p.get().map(Conn::Sqlite),
        };
        got.map_err(|e| {
            // r2d2's checkout fails only when no connection came within the timeout.
            self.timeouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            DbError::from(e)
        })
    }

    /// Checkouts that timed out since the pool was made.
    pub fn pool_timeouts(&self) -> u64 {
        self.timeouts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Run `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> DbResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> DbResult<T> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.get()?.using(f))
            .await
            .map_err(|e| DbError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Apply pending migrations; returns how many ran.
    pub fn migrate(&self) -> DbResult<usize> {
        let mut conn = self.get()?;
        let ran = match &mut conn {
            Conn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
            Conn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        };
        ran.map_err(|e| DbError::Migration(e.to_string()))
    }

    /// The migrations this binary has that the database lacks (`behind`), and those the
    /// database has that this binary does not know (`ahead`: a newer release migrated it).
    pub fn schema_status(&self) -> DbResult<SchemaStatus> {
        fn status<DB: diesel::backend::Backend>(
            c: &mut impl MigrationHarness<DB>,
            source: EmbeddedMigrations,
        ) -> Result<SchemaStatus, String> {
            use diesel::migration::{Migration, MigrationSource};
            let known: Vec<String> = MigrationSource::<DB>::migrations(&source)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|m| m.name().version().to_string())
                .collect();
            let applied: Vec<String> = c
                .applied_migrations()
                .map_err(|e| e.to_string())?
                .iter()
                .map(|v| v.to_string())
                .collect();
            Ok(SchemaStatus {
                behind: known
                    .iter()
                    .filter(|v| !applied.contains(v))
                    .cloned()
                    .collect(),
                ahead: applied
                    .iter()
                    .filter(|v| !known.contains(v))
                    .cloned()
                    .collect(),
                applied: applied.len(),
            })
        }
        let mut conn = self.get()?;
        match &mut conn {
            Conn::Pg(c) => status(&mut ***c, PG_MIGRATIONS),
            Conn::Sqlite(c) => status(&mut **c, SQLITE_MIGRATIONS),
        }
        .map_err(DbError::Migration)
    }

    /// Revert every migration (used by the test that exercises each `down.sql`).
    pub fn revert_all(&self) -> DbResult<usize> {
        let mut conn = self.get()?;
        let ran = match &mut conn {
            Conn::Pg(c) => c.revert_all_migrations(PG_MIGRATIONS).map(|v| v.len()),
            Conn::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
        };
        ran.map_err(|e| DbError::Migration(e.to_string()))
    }

    /// `(connections open, of which idle, the most allowed)`, for the pool's gauges.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        match &self.pool {
            PoolKind::Pg(p) => {
                let s = p.state();
                (s.connections, s.idle_connections, p.max_size())
            }
            PoolKind::Sqlite(p) => {
                let s = p.state();
                (s.connections, s.idle_connections, p.max_size())
            }
        }
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> DbResult<()> {
        self.run(|conn| with_conn!(conn, |c| c.batch_execute("SELECT 1").map_err(DbError::from)))
            .await
    }
}
