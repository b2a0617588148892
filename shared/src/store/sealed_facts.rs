//! What enrichment learned is stored sealed: a fact's slot (`interests:sailing`,
//! `relationships:odile marsh`) and value together, bound to the fact. In the clear stay the
//! slot's topic (`interests`) and a keyed hash of the whole slot, scoped to the brokerage, by
//! which the insights find the clients who hold the same interest without reading it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{BeginWrite, Store, StoreError, StoreResult, with_pool};
use crate::crypto::{BlindIndex, Key, Purpose};

/// What a fact holds that is sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FactContent {
    pub slot: String,
    pub value: Value,
}

/// A fact's columns as stored.
pub(crate) struct StoredFact {
    /// The slot's topic, all that stays readable.
    pub topic: String,
    pub sealed: Vec<u8>,
    pub digest: Vec<u8>,
    pub key_tag: String,
}

/// The digest kind of a slot in the blind index.
const SLOT: &str = "slot";

/// The topic of a slot: what comes before its first `:`.
fn topic(slot: &str) -> &str {
    slot.split(':').next().unwrap_or_default()
}

/// The keyed hash of a slot in the brokerage, as [`StoredFact::digest`] holds it.
pub(crate) fn slot_digest(index: &BlindIndex, brokerage_id: Uuid, slot: &str) -> Vec<u8> {
    index.digest(brokerage_id, SLOT, slot)
}

/// Seals fact `id`'s content for storage.
pub(crate) fn seal_fact(
    key: &Key,
    index: &BlindIndex,
    brokerage_id: Uuid,
    id: Uuid,
    content: &FactContent,
) -> StoredFact {
    let plain = serde_json::to_vec(content).expect("facts serialize");
    StoredFact {
        topic: topic(&content.slot).to_owned(),
        sealed: key.seal(Purpose::FactValue, id, &plain),
        digest: slot_digest(index, brokerage_id, &content.slot),
        key_tag: index.tag().to_owned(),
    }
}

/// A fact row's content columns: sealed, or (rows of earlier releases) `slot` and `value`.
#[derive(sqlx::FromRow)]
pub(crate) struct FactColumns {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub slot: String,
    pub value: Json<Value>,
    pub sealed_fact: Option<Vec<u8>>,
}

/// Facts sealed or re-hashed per statement at start.
const PAGE: i64 = 500;

impl Store {
    /// A fact's slot and value, opened.
    pub(crate) async fn open_fact(
        &self,
        id: Uuid,
        slot: String,
        value: Value,
        sealed: Option<&[u8]>,
    ) -> StoreResult<FactContent> {
        match sealed {
            None => Ok(FactContent { slot, value }),
            Some(sealed) => {
                let plain = self.open(Purpose::FactValue, id, sealed).await?;
                serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("fact {id}: {e}")))
            }
        }
    }

    /// Seals the facts earlier releases stored in the clear, and hashes again the slots hashed
    /// under another master key (after a re-wrap), a page at a time; run at start. Answers how
    /// many it rewrote.
    pub(crate) async fn seal_facts(&self, key: &Key) -> StoreResult<u64> {
        let tag = self.blind_index().tag().to_owned();
        let mut rewritten = 0;
        loop {
            let rows: Vec<FactColumns> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, brokerage_id, slot, value, sealed_fact FROM persona_facts
                                WHERE sealed_fact IS NULL OR key_tag IS NULL OR key_tag <> $1 ORDER BY id LIMIT $2")
                    .bind(&tag).bind(PAGE).fetch_all(pool).await
            })?;
            if rows.is_empty() {
                return Ok(rewritten);
            }
            let mut page = Vec::with_capacity(rows.len());
            for row in rows {
                let content = self
                    .open_fact(row.id, row.slot, row.value.0, row.sealed_fact.as_deref())
                    .await?;
                page.push((
                    row.id,
                    seal_fact(key, self.blind_index(), row.brokerage_id, row.id, &content),
                ));
            }
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, stored) in &page {
                    rewritten += sqlx::query(
                        "UPDATE persona_facts SET slot = $2, value = 'null', sealed_fact = $3, slot_digest = $4, key_tag = $5 WHERE id = $1")
                        .bind(id).bind(&stored.topic).bind(&stored.sealed).bind(&stored.digest).bind(&stored.key_tag)
                        .execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            });
        }
    }
}
