//! The audit log: append-only (the databases' triggers refuse updates and deletes) and chained
//! per brokerage, each entry's hash covering its fields and the previous entry's hash.

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use uuid::Uuid;

use super::{BeginWrite, Store, StoreError, StoreResult, is_unique_violation, with_pool};
use crate::auth::Principal;

/// The hash before a brokerage's first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Appends that still collide on a sequence number try again this often.
const APPEND_ATTEMPTS: usize = 5;

/// What happened, to what, by whom.
pub struct AuditRecord<'a> {
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: Uuid,
    /// Never the subject's content: ids, field names, counts.
    pub detail: Value,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, poem_openapi::Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub key_id: Option<Uuid>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Uuid,
    #[sqlx(json)]
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Filters of the audit listing.
#[derive(Default)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub action: Option<String>,
    /// Entries before this sequence number (newest first).
    pub before: Option<i64>,
}

/// The first entry whose stored hash does not match what its fields and predecessor give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tampered {
    pub brokerage_id: Uuid,
    pub seq: i64,
    pub id: Uuid,
}

const COLUMNS: &str =
    "seq, id, at, actor_id, key_id, action, subject_type, subject_id, detail, prev_hash, hash";

impl AuditEntry {
    fn expected_hash(&self, brokerage_id: Uuid) -> String {
        chain_hash(
            &self.prev_hash,
            brokerage_id,
            self.seq,
            self.id,
            self.at,
            self.actor_id,
            self.key_id,
            (&self.action, &self.subject_type, self.subject_id),
            &self.detail,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn chain_hash(
    prev_hash: &str,
    brokerage_id: Uuid,
    seq: i64,
    id: Uuid,
    at: DateTime<Utc>,
    actor_id: Uuid,
    key_id: Option<Uuid>,
    (action, subject_type, subject_id): (&str, &str, Uuid),
    detail: &Value,
) -> String {
    // serde_json's maps are ordered by key, so the detail serializes the same after a round
    // trip through either database.
    let line = format!(
        "{prev_hash}|{brokerage_id}|{seq}|{id}|{}|{actor_id}|{}|{action}|{subject_type}|{subject_id}|{detail}",
        at.to_rfc3339_opts(SecondsFormat::Micros, true),
        key_id.map(|k| k.to_string()).unwrap_or_default(),
    );
    hex::encode(Sha256::digest(line.as_bytes()))
}

/// Appends `$record` (an [`AuditRecord`]) for `$caller` (a `&Principal`) to the brokerage's chain
/// inside the transaction `$tx`, so that the entry commits with the change it records, or rolls
/// back with it: a change whose entry cannot be written is not made. Evaluates to
/// `Result<(), sqlx::Error>`.
macro_rules! record_audit {
    ($tx:expr, $caller:expr, $record:expr) => {{
        let caller: &$crate::auth::Principal = $caller;
        let record: &$crate::store::AuditRecord<'_> = &$record;
        let tx = &mut $tx;
        async move {
            // Appends to one chain take turns: touching the brokerage's row locks it until
            // commit in PostgreSQL (SQLite's write transaction is exclusive anyway).
            sqlx::query("UPDATE brokerages SET name = name WHERE id = $1")
                .bind(caller.brokerage_id)
                .execute(&mut **tx)
                .await?;
            let last: Option<(i64, String)> = sqlx::query_as(
                "SELECT seq, hash FROM audit_log WHERE brokerage_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(caller.brokerage_id)
            .fetch_optional(&mut **tx)
            .await?;
            let entry = $crate::store::audit::Link::after(last, caller, record);
            sqlx::query(
                "INSERT INTO audit_log (brokerage_id, seq, id, at, actor_id, key_id, action, subject_type, subject_id, detail, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(caller.brokerage_id).bind(entry.seq).bind(entry.id).bind(entry.at)
            .bind(caller.user_id).bind(caller.key_id)
            .bind(record.action).bind(record.subject_type).bind(record.subject_id)
            .bind(sqlx::types::Json(&record.detail)).bind(&entry.prev_hash).bind(&entry.hash)
            .execute(&mut **tx)
            .await
            .map(drop)
        }
        .await
    }};
}
pub(crate) use record_audit;

impl<'a> AuditRecord<'a> {
    /// An entry about an admin's change to the brokerage's people, keys or settings.
    pub fn admin(action: &'a str, subject_type: &'a str, subject_id: Uuid, detail: Value) -> Self {
        AuditRecord {
            action,
            subject_type,
            subject_id,
            detail,
        }
    }

    /// An entry about a persona.
    pub fn persona(action: &'a str, persona_id: Uuid, detail: Value) -> Self {
        AuditRecord {
            action,
            subject_type: "persona",
            subject_id: persona_id,
            detail,
        }
    }
}

/// The next link of a chain: its number, time, id and hashes.
pub(crate) struct Link {
    pub seq: i64,
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub prev_hash: String,
    pub hash: String,
}

impl Link {
    /// The link after `last` (the chain's end, `None` for an empty chain).
    pub(crate) fn after(
        last: Option<(i64, String)>,
        caller: &Principal,
        record: &AuditRecord<'_>,
    ) -> Link {
        // Both databases keep microseconds; the hash must see what they will return.
        let at = Utc::now()
            .duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or_else(|_| Utc::now());
        let id = Uuid::now_v7();
        let (seq, prev_hash) = last.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
        let hash = chain_hash(
            &prev_hash,
            caller.brokerage_id,
            seq,
            id,
            at,
            caller.user_id,
            Some(caller.key_id),
            (record.action, record.subject_type, record.subject_id),
            &record.detail,
        );
        Link {
            seq,
            id,
            at,
            prev_hash,
            hash,
        }
    }
}

impl Store {
    /// Appends an entry for `caller` to their brokerage's chain, in a transaction of its own:
    /// for reads, which change nothing to commit it with (changes use [`record_audit!`]).
    pub async fn audit(&self, caller: &Principal, record: AuditRecord<'_>) -> StoreResult<()> {
        for _ in 0..APPEND_ATTEMPTS {
            let appended: Result<(), sqlx::Error> = with_pool!(self, pool => async {
                let mut tx = pool.begin_write().await?;
                record_audit!(tx, caller, record)?;
                tx.commit().await
            }.await);
            match appended {
                Ok(()) => return Ok(()),
                // Another append took this number first: read the new end and go again.
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Corrupt(
            "the audit log is contended beyond retrying".into(),
        ))
    }

    /// The brokerage's entries, newest first, at most `limit + 1` (to tell whether a page
    /// follows).
    pub async fn audit_entries(
        &self,
        brokerage_id: Uuid,
        filter: &AuditFilter,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM audit_log
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR actor_id = $2) AND ($3 IS NULL OR subject_id = $3)
                   AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR seq < $5)
                 ORDER BY seq DESC LIMIT $6"
            )))
            .bind(brokerage_id).bind(filter.actor_id).bind(filter.subject_id)
            .bind(&filter.action).bind(filter.before).bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Walks every brokerage's chain from its start; the first entry that does not hash to
    /// what is stored (or does not follow its predecessor), if any, and how many were checked.
    pub async fn verify_audit(&self) -> StoreResult<(u64, Option<Tampered>)> {
        let brokerages: Vec<Uuid> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT DISTINCT brokerage_id FROM audit_log")
                .fetch_all(pool)
                .await
        })?;
        let mut checked = 0;
        for brokerage_id in brokerages {
            let mut expected_prev = GENESIS.to_owned();
            let mut expected_seq = 1;
            let mut after = 0;
            loop {
                let page: Vec<AuditEntry> = with_pool!(self, pool => {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {COLUMNS} FROM audit_log WHERE brokerage_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000"
                    )))
                    .bind(brokerage_id).bind(after)
                    .fetch_all(pool)
                    .await
                })?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for entry in &page {
                    checked += 1;
                    if entry.seq != expected_seq
                        || entry.prev_hash != expected_prev
                        || entry.hash != entry.expected_hash(brokerage_id)
                    {
                        let tampered = Tampered {
                            brokerage_id,
                            seq: entry.seq,
                            id: entry.id,
                        };
                        return Ok((checked, Some(tampered)));
                    }
                    expected_prev = entry.hash.clone();
                    expected_seq += 1;
                }
            }
        }
        Ok((checked, None))
    }
}
