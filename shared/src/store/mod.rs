//! Persistence for both shapes. Each aggregate has its own module of queries; every query is
//! written once (PostgreSQL and SQLite both take `$n` placeholders) and compiled against each
//! driver by [`with_pool!`], so the two backends cannot drift apart. Every query that reads or
//! changes tenant data takes the caller's brokerage.

mod audit;
mod auth;
mod backfill;
mod calibrations;
mod cancellation;
mod deletion;
mod directory;
mod embeddings;
mod enrichment;
mod erasure;
mod events;
mod export;
mod feedback;
pub(crate) mod graph;
pub mod job_requests;
mod keys;
mod llm_cache;
pub(crate) mod lookup_keys;
mod matching;
mod merge;
pub(crate) mod outcomes;
pub(crate) mod personas;
mod places;
mod properties;
mod read_log;
mod schedules;
mod sealed_facts;
mod sealed_profiles;
mod segments;
mod sign_in;
mod simulations;
pub(crate) mod versions;
mod webhooks;

pub use audit::{AuditEntry, AuditFilter, AuditRecord, Tampered};
pub use auth::ProvisionedKey;
pub use cancellation::CancelOutcome;
pub use directory::{MintedKey, ReassignRefused};
pub use enrichment::{
    EnrichmentOutcome, EnrichmentSubmitted, EnrichmentWork, FactRecord, NewSource, Supersession,
};
pub use events::Event;
pub use export::{FeedbackRecord, PersonaRecords, RecommendationRecord, SimulationAnswers};
pub use feedback::PairFeedback;
pub use job_requests::{DueJob, JobRequest};
pub use keys::{ACTIVE_KEY_TTL, Rotation};
pub use llm_cache::CachedResponse;
pub use lookup_keys::Holder;
pub use matching::{NewRecommendation, NightlyScores};
pub use merge::MergeRefused;
pub use outcomes::{Fault, Recorded, Rejection};
pub use personas::{ClientChoice, LIST_PERSONAS, PersonaFilter, PersonaWrite};
pub use properties::{Imported, PropertyFilter};
pub use schedules::{NewSchedule, SchedulePatch};

pub use sign_in::{Account, SessionPrincipal};
pub use simulations::{Claim, LastProgress, NewSimulation, ProgressAck, SimulationRecord};
pub use webhooks::{DeliveryOutcome, DeliveryTask, FAN_OUT_BATCH, NewWebhook, WebhookPatch};

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, SqlitePool,
    migrate::Migrator,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    bus::EventBus,
    config::{Config, DatabaseKind},
};

/// apalis-sqlite keeps its own migrations in `_sqlx_migrations` in the same file; ours get a
/// table of their own so neither migrator sees the other's history as unknown.
const MIGRATIONS_TABLE: &str = "troupe_migrations";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("Redis error")]
    Redis(#[from] redis::RedisError),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("encryption at rest")]
    Crypto(#[from] crate::crypto::CryptoError),
    /// A write would break a uniqueness rule the caller can fix (a listing id in use, say).
    #[error("{0}")]
    Duplicate(String),
    /// The caller's role does not allow the operation (a 403 at the API).
    #[error("{0}")]
    Forbidden(String),
    /// A concurrent change got in first; running the operation again sees it.
    #[error("{0}")]
    Contended(String),
    /// The request asks for something the store cannot answer as asked (a 422 at the API).
    #[error("{0}")]
    Invalid(String),
}

impl StoreError {
    /// What could not be reached (`"database"` or `"job queue"`), when the error is an outage
    /// rather than a fault of the request or of the data.
    pub fn unreachable(&self) -> Option<&'static str> {
        match self {
            // `Protocol`: a connection closed during its handshake (a proxy or balancer in front of
            // a server that is gone accepts, then hangs up) reads as a nonsense SSL answer.
            StoreError::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => Some("database"),
            StoreError::Redis(e)
                if e.is_io_error()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_connection_dropped() =>
            {
                Some("job queue")
            }
            _ => None,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Pool {
    /// A pool of up to `size` connections to the configured database.
    async fn connect(config: &Config, size: u32) -> StoreResult<Pool> {
        Ok(match config.database_kind() {
            DatabaseKind::Postgres => Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(config.database_acquire_timeout)
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
                    // Freed space is zeroed: an erased client's text does not linger in free
                    // pages of the file.
                    .pragma("secure_delete", "ON")
                    .busy_timeout(Duration::from_secs(10));
                Pool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(size)
                        .connect_with(options)
                        .await?,
                )
            }
        })
    }

    async fn close(&self) {
        match self {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }
}

/// Connections of the main SQLite pool (one writer at a time, readers beside it in WAL mode).
const SQLITE_CONNECTIONS: u32 = 8;

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
    /// Told about every event after its transaction commits.
    bus: EventBus,
    keys: std::sync::Arc<keys::Keyring>,
    /// Where audited reads stage their entries, a batch per commit.
    reads: read_log::ReadLog,
    /// Simulations of one brokerage in the job queue at once, not yet started.
    queue_share: u32,
}

impl Store {
    pub async fn connect(config: &Config) -> StoreResult<Self> {
        let size = match config.database_kind() {
            DatabaseKind::Postgres => config.database_pool_size,
            DatabaseKind::Sqlite => SQLITE_CONNECTIONS,
        };
        let pool = Pool::connect(config, size).await?;
        let bus = match crate::queue::RedisServer::configured(config)? {
            Some(server) => EventBus::redis(&server, config.queue_name("events")).await?,
            None => EventBus::in_process(),
        };
        let keys = keys::Keyring::new(crate::crypto::MasterKey::load(&config.encryption_key)?);
        // The audited reads' writer has a connection of its own: waiting for one behind the
        // reads it records would serialise them again.
        let reads = read_log::ReadLog::start(Pool::connect(config, 1).await?);
        Ok(Store {
            pool,
            bus,
            keys,
            reads,
            queue_share: config.limits.queue_share,
        })
    }

    /// Where committed events are announced.
    pub fn bus(&self) -> &EventBus {
        &self.bus
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
                    .await?;
            }
            Pool::Sqlite(pool) => {
                ours(sqlx::migrate!("../migrations/sqlite"))
                    .run(pool)
                    .await?;
            }
        }
        // A wrong master key stops the process here rather than at its first encrypted read.
        let key = self.sealing_key().await?;
        let facts = self.seal_facts(&key).await?;
        if facts > 0 {
            tracing::info!(
                facts,
                "sealed facts stored in the clear, or hashed their slots under the current master key"
            );
        }
        let rehashed = self.reindex_digests().await?;
        if rehashed > 0 {
            tracing::info!(
                clients = rehashed,
                "hashed contact details and search terms again under the current master key"
            );
        }
        let sealed = self.seal_plaintext().await?;
        if sealed > 0 {
            tracing::info!(
                rows = sealed,
                "sealed client profiles and secrets stored in the clear by an earlier release"
            );
        }
        let backfilled = self.backfill_predictions().await?;
        if backfilled > 0 {
            tracing::info!(
                simulations = backfilled,
                "recorded the predictions of simulations completed before they were kept"
            );
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
        with_pool!(self, pool => pool.close().await);
        self.reads.close().await;
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

/// Rows per multi-row INSERT (9 parameters a row stays well inside both databases' limits).
pub(crate) const INSERT_BATCH: usize = 500;

/// The visibility rule, written once: the persona row `$alias` is visible to the caller whose
/// user id is bound at `$user` and team id at `$team` when it is shared with the brokerage, owned
/// by them, or shared with their team (a `NULL` team shares nothing). Every query that shows,
/// counts or changes personas for a caller says it through this; the brokerage is matched apart.
/// A deleted persona waiting for its erasure (see [`personas`]) is visible to no one.
macro_rules! visible_to {
    ($alias:literal, user = $user:literal, team = $team:literal) => {
        concat!(
            "(",
            $alias,
            ".deleted_at IS NULL AND (",
            $alias,
            ".visibility = 'brokerage' OR ",
            $alias,
            ".owner_user_id = ",
            $user,
            " OR (",
            $alias,
            ".visibility = 'team' AND ",
            $alias,
            ".team_id = ",
            $team,
            ")))"
        )
    };
}
pub(crate) use visible_to;

/// [`visible_to!`] on a table aliased `p`, for the caller at `$2` (user) and `$3` (team).
macro_rules! visible_persona {
    () => {
        $crate::store::visible_to!("p", user = "$2", team = "$3")
    };
}

pub(crate) use visible_persona;

/// Ids per `IN (…)` list: one statement reads this many rows by id.
const IN_BATCH: usize = 500;

/// The rows of type `$row` whose ids are in `$ids`, read [`IN_BATCH`] ids per statement: `$head`
/// is the SQL up to the opening of the id list (`… WHERE id IN (`), and `$tail` appends the rest
/// of the condition to the builder `$q` (the tenant, say). Errors return from the caller.
macro_rules! fetch_by_ids {
    ($pool:expr, $row:ty, $ids:expr, $head:expr, |$q:ident| $tail:block) => {{
        let mut rows: Vec<$row> = Vec::with_capacity($ids.len());
        for chunk in $ids.chunks($crate::store::IN_BATCH) {
            let mut $q = sqlx::QueryBuilder::new($head);
            {
                let mut list = $q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
            }
            $q.push(")");
            $tail
            rows.extend($q.build_query_as::<$row>().fetch_all($pool).await?);
        }
        rows
    }};
}
use fetch_by_ids;

/// `(Idempotency-Key, hash of the request body, how long the key holds)`.
pub type IdempotencyKey = (String, String, Duration);

/// What a request that creates work got.
pub enum Submitted<T> {
    /// Created, with the request to run it that the submitter pushes.
    Created(T, JobRequest),
    /// The same key was used before with the same request: here is what it created.
    Replayed(T),
    /// The same key was used before with a different request.
    KeyReused,
    /// The brokerage already has this many runs of the kind waiting or running: its limit.
    AtCapacity(u64),
}

/// What presenting an Idempotency-Key found.
enum KeyClaim {
    /// The key is now this request's: create the resource under the id given.
    Claimed,
    /// The same request came before and created this resource.
    Replay(uuid::Uuid),
    /// The key was used for a different request.
    Reused,
}

/// Claims `$key` for resource `$id` inside the write transaction `$tx`. A key that expired, or
/// whose resource (a run in `$table`) is gone or failed, is taken over: a retry after a failure
/// starts a new run rather than handing back the dead one. Two concurrent requests with one key:
/// the loser's insert hits the key's primary key (a unique violation the caller retries once).
macro_rules! claim_idempotency_key {
    ($tx:expr, $brokerage:expr, $key:expr, $id:expr, $table:literal) => {{
        let (key, request_hash, ttl): &$crate::store::IdempotencyKey = $key;
        let now = chrono::Utc::now();
        let existing: Option<(String, uuid::Uuid)> = sqlx::query_as(
            "SELECT request_hash, resource_id FROM idempotency_keys
             WHERE brokerage_id = $1 AND key = $2 AND expires_at > $3",
        )
        .bind($brokerage)
        .bind(key)
        .bind(now)
        .fetch_optional(&mut *$tx)
        .await?;
        let resource_live = match existing {
            Some((_, resource)) => sqlx::query_scalar::<_, i32>(concat!("SELECT 1 FROM ", $table, " WHERE id = $1 AND status <> 'failed'"))
                .bind(resource)
                .fetch_optional(&mut *$tx)
                .await?
                .is_some(),
            None => false,
        };
        match existing {
            Some((stored_hash, _)) if &stored_hash != request_hash => $crate::store::KeyClaim::Reused,
            Some((_, resource)) if resource_live => $crate::store::KeyClaim::Replay(resource),
            stale => {
                let expires_at = now + chrono::Duration::from_std(*ttl).unwrap_or(chrono::Duration::days(1));
                // Only the claim this transaction saw expire or fail is cleared: a claim a
                // concurrent request committed since must stay, so that this insert collides
                // with it and the caller's retry replays it instead of creating a second one.
                sqlx::query(
                    "DELETE FROM idempotency_keys WHERE brokerage_id = $1 AND key = $2
                       AND (expires_at <= $3 OR resource_id = $4)",
                )
                    .bind($brokerage)
                    .bind(key)
                    .bind(now)
                    .bind(stale.map(|(_, resource)| resource))
                    .execute(&mut *$tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO idempotency_keys (brokerage_id, key, request_hash, resource_id, expires_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind($brokerage)
                .bind(key)
                .bind(request_hash)
                .bind($id)
                .bind(expires_at)
                .execute(&mut *$tx)
                .await?;
                $crate::store::KeyClaim::Claimed
            }
        }
    }};
}
use claim_idempotency_key;

/// The top-level fields that differ between two states of a record (a persona's profile, a
/// listing's details): what `*.updated` events name, never the values.
fn changed_fields<T: serde::Serialize>(before: &T, after: &T) -> Vec<String> {
    let (Ok(serde_json::Value::Object(old)), Ok(serde_json::Value::Object(new))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut fields: Vec<String> = new
        .iter()
        .filter(|(field, value)| old.get(*field) != Some(*value))
        .map(|(field, _)| field.clone())
        .chain(old.keys().filter(|f| !new.contains_key(*f)).cloned())
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

/// `%text%` for LIKE … ESCAPE '\\', with the pattern characters in `text` escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod visibility_rule {
    //! [`visible_to!`] against every kind of row and caller, on both databases, checked against
    //! the rule as the README's access table states it.

    use sqlx::Connection;
    use uuid::Uuid;

    const VISIBLE: &str = concat!(
        "SELECT name FROM cases c WHERE ",
        visible_to!("c", user = "$1", team = "$2"),
        " ORDER BY name"
    );

    struct Case {
        name: String,
        owner: Uuid,
        team: Option<Uuid>,
        visibility: &'static str,
        deleted: bool,
    }

    /// The owner `a` in team `t1`, each visibility, each also deleted, and a team persona that
    /// has no team.
    fn cases(a: Uuid, t1: Uuid) -> Vec<Case> {
        let mut cases: Vec<Case> = ["private", "team", "brokerage"]
            .into_iter()
            .flat_map(|visibility| {
                [false, true].map(|deleted| Case {
                    name: format!("{visibility}{}", if deleted { " deleted" } else { "" }),
                    owner: a,
                    team: Some(t1),
                    visibility,
                    deleted,
                })
            })
            .collect();
        cases.push(Case {
            name: "team without a team".into(),
            owner: a,
            team: None,
            visibility: "team",
            deleted: false,
        });
        cases
    }

    fn expected(cases: &[Case], user: Uuid, team: Option<Uuid>) -> Vec<String> {
        let mut names: Vec<String> = cases
            .iter()
            .filter(|c| {
                !c.deleted
                    && (c.visibility == "brokerage"
                        || c.owner == user
                        || (c.visibility == "team" && c.team.is_some() && c.team == team))
            })
            .map(|c| c.name.clone())
            .collect();
        names.sort();
        names
    }

    /// The owner, a teammate, an agent of another team and one of no team.
    fn callers(a: Uuid, t1: Uuid) -> Vec<(Uuid, Option<Uuid>)> {
        vec![
            (a, Some(t1)),
            (Uuid::new_v4(), Some(t1)),
            (Uuid::new_v4(), Some(Uuid::new_v4())),
            (Uuid::new_v4(), None),
        ]
    }

    macro_rules! check_on {
        ($conn:expr, $create:literal) => {{
            let (a, t1) = (Uuid::new_v4(), Uuid::new_v4());
            let cases = cases(a, t1);
            sqlx::query($create).execute(&mut $conn).await.unwrap();
            for case in &cases {
                sqlx::query("INSERT INTO cases (name, owner_user_id, team_id, visibility, deleted_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&case.name).bind(case.owner).bind(case.team).bind(case.visibility)
                    .bind(case.deleted.then(chrono::Utc::now))
                    .execute(&mut $conn).await.unwrap();
            }
            for (user, team) in callers(a, t1) {
                let seen: Vec<String> = sqlx::query_scalar(VISIBLE)
                    .bind(user).bind(team)
                    .fetch_all(&mut $conn).await.unwrap();
                assert_eq!(seen, expected(&cases, user, team), "caller {user} in {team:?}");
            }
        }};
    }

    #[tokio::test]
    async fn the_rule_holds_on_sqlite() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        check_on!(
            conn,
            "CREATE TABLE cases (name TEXT, owner_user_id BLOB, team_id BLOB, visibility TEXT, deleted_at TEXT)"
        );
    }

    /// On the tests' PostgreSQL (`TROUPE_TEST_POSTGRES_URL`), in a table of this connection's own.
    #[tokio::test]
    async fn the_rule_holds_on_postgres() {
        let url = std::env::var("TROUPE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .expect("the tests' PostgreSQL (scripts/test.sh starts it)");
        check_on!(
            conn,
            "CREATE TEMP TABLE cases (name TEXT, owner_user_id UUID, team_id UUID, visibility TEXT, deleted_at TIMESTAMPTZ)"
        );
    }
}
