//! Persistence for both shapes. Each aggregate has its own module of queries; every query is
//! written once (PostgreSQL and SQLite both take `$n` placeholders) and compiled against each
//! driver by [`with_pool!`], so the two backends cannot drift apart. Every query that reads or
//! changes tenant data takes the caller's brokerage.

mod auth;
mod llm_cache;
mod matching;
mod personas;
mod properties;
mod segments;
mod simulations;

pub use auth::ProvisionedKey;
pub use llm_cache::CachedResponse;
pub use matching::{NewRecommendation, NightlyScores, PairFeedback};
pub use personas::{PersonaFilter, PersonaWrite};
pub use properties::{Imported, PropertyFilter};
pub use simulations::{Claim, NewSimulation, SimulationCreated, SimulationRecord};

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::config::{Config, DatabaseKind};

/// apalis-sqlite keeps its own migrations in `_sqlx_migrations` in the same file; ours get a
/// table of their own so neither migrator sees the other's history as unknown.
const MIGRATIONS_TABLE: &str = "troupe_migrations";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    /// A write would break a uniqueness rule the caller can fix (a listing id in use, say).
    #[error("{0}")]
    Duplicate(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs `$body` with `$pool` bound to whichever driver's pool this store has.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::Pool::Postgres($pool) => $body,
            $crate::store::Pool::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
}

impl Store {
    pub async fn connect(config: &Config) -> StoreResult<Self> {
        let pool = match config.database_kind() {
            DatabaseKind::Postgres => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(&config.database_url)
                    .await?,
            ),
            DatabaseKind::Sqlite => {
                // WAL lets the API read while a worker writes; FULL sync keeps committed client
                // data through a power loss (apalis-sqlite would set OFF on the connections it
                // touches, so its setup runs on a connection of its own, see `queue`).
                let options = SqliteConnectOptions::from_str(&config.database_url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(8)
                        .connect_with(options)
                        .await?,
                )
            }
        };
        Ok(Store { pool })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        fn ours(mut migrator: Migrator) -> Migrator {
            migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
            migrator
        }
        match &self.pool {
            Pool::Postgres(pool) => {
                ours(sqlx::migrate!("../migrations/postgres"))
                    .run(pool)
                    .await?
            }
            Pool::Sqlite(pool) => {
                ours(sqlx::migrate!("../migrations/sqlite"))
                    .run(pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Readiness: the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The SQLite pool, which the embedded shape's job queue shares.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// A stored enum column that no longer parses means the data, not the caller, is wrong.
fn parse_column<T>(value: &str, parse: fn(&str) -> Option<T>, column: &str) -> StoreResult<T> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("{column} = {value:?}")))
}

/// Begins a transaction that will write. SQLite must take its write lock up front: a deferred
/// transaction that reads first and writes later fails at once with `SQLITE_BUSY` (no busy
/// wait) when another connection — the queue's poller, say — commits in between.
trait BeginWrite {
    type Db: sqlx::Database;

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, Self::Db>>;
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.begin().await
    }
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;

    async fn begin_write(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
