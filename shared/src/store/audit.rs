//! The audit log: append-only (the databases' triggers refuse updates and deletes) and chained
//! per brokerage, each entry's hash covering its fields and the previous entry's hash.

use chrono::{DateTime, DurationRound, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use uuid::Uuid;

use super::{BeginWrite, Store, StoreResult, read_log::ReadEntry, with_pool};
use crate::auth::{Admin, Principal};

/// The hash before a brokerage's first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// Moves up to `$limit` of the brokerage's staged reads (oldest first) onto the end of its chain
/// inside `$tx`, which must hold the chain's lock; evaluates to `Result<u64, sqlx::Error>`, how
/// many it moved. A second chainer waits for the lock, then finds those rows gone.
macro_rules! chain_staged {
    ($tx:expr, $brokerage:expr, $limit:expr) => {{
        let brokerage_id: uuid::Uuid = $brokerage;
        let tx = &mut $tx;
        async move {
            let staged: Vec<$crate::store::audit::StagedRead> = sqlx::query_as(
                "SELECT id, at, actor_id, key_id, action, subject_type, subject_id, detail FROM audit_reads
                 WHERE brokerage_id = $1 ORDER BY id LIMIT $2",
            )
            .bind(brokerage_id)
            .bind(i64::from($limit))
            .fetch_all(&mut **tx)
            .await?;
            if staged.is_empty() {
                return Ok(0);
            }
            let last: Option<(i64, String)> = sqlx::query_as(
                "SELECT seq, hash FROM audit_log WHERE brokerage_id = $1 ORDER BY seq DESC LIMIT 1",
            )
            .bind(brokerage_id)
            .fetch_optional(&mut **tx)
            .await?;
            let links = $crate::store::audit::link_staged(brokerage_id, last, &staged);
            for rows in links.chunks($crate::store::audit::INSERT_ROWS) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_log (brokerage_id, seq, id, at, actor_id, key_id, action, subject_type, subject_id, detail, prev_hash, hash) ",
                );
                insert.push_values(rows, |mut row, (read, link)| {
                    row.push_bind(brokerage_id).push_bind(link.seq).push_bind(read.id).push_bind(read.at)
                        .push_bind(read.actor_id).push_bind(read.key_id).push_bind(&read.action)
                        .push_bind(&read.subject_type).push_bind(read.subject_id)
                        .push_bind(sqlx::types::Json(&read.detail)).push_bind(&link.prev_hash)
                        .push_bind(&link.hash);
                });
                insert.build().execute(&mut **tx).await?;
            }
            for ids in staged.chunks($crate::store::INSERT_BATCH) {
                let mut delete = sqlx::QueryBuilder::new("DELETE FROM audit_reads WHERE id IN (");
                let mut list = delete.separated(", ");
                for read in ids {
                    list.push_bind(read.id);
                }
                delete.push(")").build().execute(&mut **tx).await?;
            }
            Ok::<u64, sqlx::Error>(staged.len() as u64)
        }
        .await
    }};
}
pub(crate) use chain_staged;

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
            // Reads staged before this change go before it in the chain.
            while $crate::store::audit::chain_staged!(*tx, caller.brokerage_id, $crate::store::audit::CHAIN_BATCH)?
                == u64::from($crate::store::audit::CHAIN_BATCH)
            {}
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

/// Now, as both databases keep it (microseconds): the hash must see what they will return.
fn stored_now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now())
}

impl Link {
    /// The link after `last` (the chain's end, `None` for an empty chain) for a change made now.
    pub(crate) fn after(
        last: Option<(i64, String)>,
        caller: &Principal,
        record: &AuditRecord<'_>,
    ) -> Link {
        let (id, at) = (Uuid::now_v7(), stored_now());
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

/// A read as staged in `audit_reads`, waiting for its place in the chain.
#[derive(Clone, sqlx::FromRow)]
pub(crate) struct StagedRead {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub key_id: Option<Uuid>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: Uuid,
    #[sqlx(json)]
    pub detail: Value,
}

/// Staged reads chained per statement batch: one lock of the chain for many reads.
pub(crate) const CHAIN_BATCH: u32 = 1000;
/// Rows per multi-row insert into the log (12 binds each).
pub(crate) const INSERT_ROWS: usize = 200;

/// The links of `staged`, in order, after the chain's end `last`.
pub(crate) fn link_staged(
    brokerage_id: Uuid,
    last: Option<(i64, String)>,
    staged: &[StagedRead],
) -> Vec<(&StagedRead, Link)> {
    let (mut seq, mut prev_hash) = last.unwrap_or((0, GENESIS.to_owned()));
    staged
        .iter()
        .map(|read| {
            seq += 1;
            let hash = chain_hash(
                &prev_hash,
                brokerage_id,
                seq,
                read.id,
                read.at,
                read.actor_id,
                read.key_id,
                (&read.action, &read.subject_type, read.subject_id),
                &read.detail,
            );
            let link = Link {
                seq,
                id: read.id,
                at: read.at,
                prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
                hash,
            };
            (read, link)
        })
        .collect()
}

impl Store {
    /// Records a read by `caller` in the staging table before the read is answered: no lock, so
    /// reads of a brokerage never queue behind each other, and concurrent reads share one commit
    /// ([`read_log`](super::read_log)); the chainer ([`Store::chain_staged_reads`]) puts it in the
    /// brokerage's chain, in read order, within a second or so. Changes use [`record_audit!`] in
    /// their own transaction instead.
    pub async fn audit(&self, caller: &Principal, record: AuditRecord<'_>) -> StoreResult<()> {
        let entry = ReadEntry {
            brokerage_id: caller.brokerage_id,
            read: StagedRead {
                id: Uuid::now_v7(),
                at: stored_now(),
                actor_id: caller.user_id,
                key_id: Some(caller.key_id),
                action: record.action.to_owned(),
                subject_type: record.subject_type.to_owned(),
                subject_id: record.subject_id,
                detail: record.detail,
            },
        };
        self.reads.stage(entry).await?;
        Ok(())
    }

    /// Chains every staged read, brokerage by brokerage; returns how many.
    pub async fn chain_staged_reads(&self) -> StoreResult<u64> {
        let brokerages: Vec<Uuid> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT DISTINCT brokerage_id FROM audit_reads")
                .fetch_all(pool)
                .await
        })?;
        let mut chained = 0;
        for brokerage_id in brokerages {
            chained += self.chain_brokerage_reads(brokerage_id).await?;
        }
        Ok(chained)
    }

    /// Chains one brokerage's staged reads, a batch per transaction.
    async fn chain_brokerage_reads(&self, brokerage_id: Uuid) -> StoreResult<u64> {
        let mut chained = 0;
        loop {
            let batch = self.chain_read_batch(brokerage_id).await?;
            chained += batch;
            if batch < u64::from(CHAIN_BATCH) {
                return Ok(chained);
            }
        }
    }

    /// Moves up to [`CHAIN_BATCH`] of the brokerage's oldest staged reads onto its chain in one
    /// transaction, under the chain's lock (as [`record_audit!`] takes it).
    async fn chain_read_batch(&self, brokerage_id: Uuid) -> StoreResult<u64> {
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE brokerages SET name = name WHERE id = $1")
                .bind(brokerage_id)
                .execute(&mut *tx)
                .await?;
            let chained = chain_staged!(tx, brokerage_id, CHAIN_BATCH)?;
            tx.commit().await?;
            chained
        }))
    }

    /// Every entry about the persona `persona_id`, oldest first, if the caller sees it (none
    /// otherwise): the access log of a client's data export.
    pub async fn persona_access_log(
        &self,
        caller: &Principal,
        persona_id: Uuid,
    ) -> StoreResult<Vec<AuditEntry>> {
        let brokerage_id = caller.brokerage_id;
        self.chain_brokerage_reads(brokerage_id).await?;
        Ok(with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM audit_log
                 WHERE brokerage_id = $1 AND subject_id = $4
                   AND EXISTS (SELECT 1 FROM personas p WHERE p.id = $4 AND p.brokerage_id = $1 AND {})
                 ORDER BY seq",
                super::visible_to!("p", user = "$2", team = "$3"),
            )))
            .bind(brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(persona_id)
            .fetch_all(pool)
            .await
        })?)
    }

    /// The admin's brokerage's entries, newest first, at most `limit + 1` (to tell whether a
    /// page follows).
    pub async fn audit_entries(
        &self,
        admin: Admin<'_>,
        filter: &AuditFilter,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        let brokerage_id = admin.brokerage_id;
        // What was read a moment ago is in the listing.
        self.chain_brokerage_reads(brokerage_id).await?;
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
        self.chain_staged_reads().await?;
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
