//! The data keys of encryption at rest, their rotation, and the columns they seal.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use chrono::Utc;
use sqlx::types::Json;
use uuid::Uuid;

use super::{BeginWrite, Store, StoreError, StoreResult, with_pool};
use crate::crypto::{BlindIndex, CryptoError, Key, MasterKey, Purpose, sealed_key_id};

/// How long a process seals with the active key it last read: a rotation waits this long (and a
/// little) before re-sealing, so no process is still sealing under the retired key by then.
pub const ACTIVE_KEY_TTL: Duration = Duration::from_secs(2);

/// Text columns hold a sealed value as this prefix and base64.
const SEALED_TEXT: &str = "sealed:";

/// The master key and the data keys unwrapped so far.
pub(crate) struct Keyring {
    master: MasterKey,
    /// Derived from `master` once.
    index: BlindIndex,
    unwrapped: RwLock<HashMap<Uuid, Key>>,
    active: Mutex<Option<(Key, Instant)>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring")
    }
}

impl Keyring {
    pub(crate) fn new(master: MasterKey) -> Arc<Self> {
        Arc::new(Keyring {
            index: master.blind_index(),
            master,
            unwrapped: RwLock::default(),
            active: Mutex::default(),
        })
    }
}

/// A sealed column: rows are found by `subject`, which is also what each value is bound to.
struct SealedColumn {
    table: &'static str,
    subject: &'static str,
    column: &'static str,
    purpose: Purpose,
}

/// Every binary column that holds sealed values (webhook secrets are text, handled apart).
const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "personas",
        subject: "id",
        column: "sealed",
        purpose: Purpose::PersonaPrivate,
    },
    SealedColumn {
        table: "persona_versions",
        subject: "persona_id",
        column: "sealed",
        purpose: Purpose::PersonaPrivate,
    },
    SealedColumn {
        table: "enrichment_sources",
        subject: "id",
        column: "content",
        purpose: Purpose::SourceText,
    },
    SealedColumn {
        table: "simulations",
        subject: "id",
        column: "sealed_enrichment",
        purpose: Purpose::SimulationNotes,
    },
    SealedColumn {
        table: "simulations",
        subject: "id",
        column: "sealed_results",
        purpose: Purpose::SimulationResults,
    },
    SealedColumn {
        table: "events",
        subject: "id",
        column: "sealed_payload",
        purpose: Purpose::EventPayload,
    },
    SealedColumn {
        table: "outcomes",
        subject: "id",
        column: "sealed_comment",
        purpose: Purpose::OutcomeNotes,
    },
    SealedColumn {
        table: "persona_facts",
        subject: "id",
        column: "evidence",
        purpose: Purpose::FactEvidence,
    },
    SealedColumn {
        table: "persona_facts",
        subject: "id",
        column: "sealed_fact",
        purpose: Purpose::FactValue,
    },
];

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rotation {
    pub key_id: Uuid,
    pub resealed: u64,
    /// Values that did not open (altered or sealed under a lost key); left as they are.
    pub unreadable: u64,
}

impl Store {
    /// The keyed hashes contact details are found by.
    pub(crate) fn blind_index(&self) -> &BlindIndex {
        &self.keys.index
    }

    /// The active data key, creating the first one on first use. Take it before a transaction
    /// begins: creating it writes.
    pub(crate) async fn sealing_key(&self) -> StoreResult<Key> {
        if let Some((key, read_at)) = self.keys.active.lock().expect("key lock").clone()
            && read_at.elapsed() < ACTIVE_KEY_TTL
        {
            return Ok(key);
        }
        let key = match self.active_key_row().await? {
            Some((id, wrapped)) => self.keys.master.unwrap_data_key(id, &wrapped)?,
            None => {
                let (key, wrapped) = self.keys.master.new_data_key();
                with_pool!(self, pool => {
                    sqlx::query("INSERT INTO encryption_keys (id, wrapped, active, created_at) VALUES ($1, $2, TRUE, $3)
                                 ON CONFLICT DO NOTHING")
                        .bind(key.id()).bind(wrapped).bind(Utc::now())
                        .execute(pool).await.map(drop)
                })?;
                // Another process may have created one first: use whichever is active.
                let (id, wrapped) = self.active_key_row().await?.ok_or_else(|| {
                    StoreError::Corrupt("no active encryption key after creating one".into())
                })?;
                self.keys.master.unwrap_data_key(id, &wrapped)?
            }
        };
        self.remember(&key);
        *self.keys.active.lock().expect("key lock") = Some((key.clone(), Instant::now()));
        Ok(key)
    }

    async fn active_key_row(&self) -> StoreResult<Option<(Uuid, Vec<u8>)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT id, wrapped FROM encryption_keys WHERE active")
                .fetch_optional(pool).await
        })?)
    }

    fn remember(&self, key: &Key) {
        self.keys
            .unwrapped
            .write()
            .expect("key lock")
            .insert(key.id(), key.clone());
    }

    /// Opens a sealed value with whichever data key sealed it.
    pub(crate) async fn open(
        &self,
        purpose: Purpose,
        subject: Uuid,
        sealed: &[u8],
    ) -> StoreResult<Vec<u8>> {
        let id = sealed_key_id(sealed)?;
        let known = self
            .keys
            .unwrapped
            .read()
            .expect("key lock")
            .get(&id)
            .cloned();
        let key = match known {
            Some(key) => key,
            None => {
                let wrapped: Option<Vec<u8>> = with_pool!(self, pool => {
                    sqlx::query_scalar("SELECT wrapped FROM encryption_keys WHERE id = $1")
                        .bind(id).fetch_optional(pool).await
                })?;
                let wrapped = wrapped.ok_or(CryptoError::Unauthentic)?;
                let key = self.keys.master.unwrap_data_key(id, &wrapped)?;
                self.remember(&key);
                key
            }
        };
        Ok(key.open(purpose, subject, sealed)?)
    }

    /// Opens a sealed JSON document.
    pub(crate) async fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        purpose: Purpose,
        subject: Uuid,
        sealed: &[u8],
    ) -> StoreResult<T> {
        let bytes = self.open(purpose, subject, sealed).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Corrupt(format!("sealed document of {subject}: {e}")))
    }

    /// Opens a value a text column holds (see [`seal_text`]); text without the prefix was
    /// written before encryption and is returned as it is until the service seals it.
    pub(crate) async fn open_text(
        &self,
        purpose: Purpose,
        subject: Uuid,
        text: &str,
    ) -> StoreResult<String> {
        let Some(encoded) = text.strip_prefix(SEALED_TEXT) else {
            return Ok(text.to_owned());
        };
        let sealed = BASE64.decode(encoded).map_err(|_| CryptoError::Malformed)?;
        let bytes = self.open(purpose, subject, &sealed).await?;
        String::from_utf8(bytes).map_err(|_| CryptoError::Malformed.into())
    }

    /// Makes a new active data key and re-seals every sealed value under it, while the service
    /// runs: other processes pick the new key up within [`ACTIVE_KEY_TTL`], and each value is
    /// replaced only if it has not changed since it was read.
    pub async fn rotate_encryption_key(&self) -> StoreResult<Rotation> {
        let (key, wrapped) = self.keys.master.new_data_key();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let now = Utc::now();
            sqlx::query("UPDATE encryption_keys SET active = FALSE, retired_at = $1 WHERE active")
                .bind(now).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO encryption_keys (id, wrapped, active, created_at) VALUES ($1, $2, TRUE, $3)")
                .bind(key.id()).bind(wrapped).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        self.remember(&key);
        *self.keys.active.lock().expect("key lock") = Some((key.clone(), Instant::now()));
        tokio::time::sleep(ACTIVE_KEY_TTL + Duration::from_millis(500)).await;
        let mut rotation = Rotation {
            key_id: key.id(),
            resealed: 0,
            unreadable: 0,
        };
        for column in SEALED_COLUMNS {
            self.reseal_column(column, &key, &mut rotation).await?;
        }
        self.reseal_webhook_secrets(&key, &mut rotation).await?;
        Ok(rotation)
    }

    /// Re-wraps every data key under `new_master` (after a master key is exposed, or on a
    /// schedule), in one transaction. Processes running keep the keys they unwrapped; each must be
    /// restarted with the new master key, and any started with the old one fails at start
    /// (sealing what predates encryption needs the active key), saying the key is wrong.
    pub async fn rewrap_data_keys(&self, new_master: &MasterKey) -> StoreResult<u64> {
        let rows: Vec<(Uuid, Vec<u8>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, wrapped FROM encryption_keys").fetch_all(pool).await
        })?;
        let mut rewrapped = Vec::with_capacity(rows.len());
        for (id, wrapped) in rows {
            let key = self.keys.master.unwrap_data_key(id, &wrapped)?;
            rewrapped.push((id, wrapped, new_master.wrap_data_key(&key)));
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for (id, old, new) in &rewrapped {
                let done = sqlx::query("UPDATE encryption_keys SET wrapped = $3 WHERE id = $1 AND wrapped = $2")
                    .bind(id).bind(old).bind(new)
                    .execute(&mut *tx).await?.rows_affected();
                if done == 0 {
                    return Err(StoreError::Contended(format!("data key {id} changed during the re-wrap; run it again")));
                }
            }
            tx.commit().await?;
        });
        Ok(rewrapped.len() as u64)
    }

    async fn reseal_column(
        &self,
        column: &SealedColumn,
        key: &Key,
        rotation: &mut Rotation,
    ) -> StoreResult<()> {
        let SealedColumn {
            table,
            subject,
            column,
            purpose,
        } = column;
        let select = format!(
            "SELECT {subject}, {column} FROM {table}
             WHERE {column} IS NOT NULL AND substr({column}, 2, 16) <> $1
               AND ({subject} > $2 OR ({subject} = $2 AND {column} > $3))
             ORDER BY {subject}, {column} LIMIT 200"
        );
        let update =
            format!("UPDATE {table} SET {column} = $3 WHERE {subject} = $1 AND {column} = $2");
        let (mut after_subject, mut after_value) = (Uuid::nil(), Vec::new());
        loop {
            let rows: Vec<(Uuid, Vec<u8>)> = with_pool!(self, pool => {
                sqlx::query_as(sqlx::AssertSqlSafe(select.clone()))
                    .bind(key.id().as_bytes().to_vec()).bind(after_subject).bind(&after_value)
                    .fetch_all(pool).await
            })?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            (after_subject, after_value) = last.clone();
            for (id, old) in rows {
                let Ok(plain) = self.open(*purpose, id, &old).await else {
                    rotation.unreadable += 1;
                    continue;
                };
                let new = key.seal(*purpose, id, &plain);
                let done = with_pool!(self, pool => {
                    sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                        .bind(id).bind(&old).bind(new)
                        .execute(pool).await.map(|done| done.rows_affected())
                })?;
                rotation.resealed += done;
            }
        }
    }

    async fn reseal_webhook_secrets(&self, key: &Key, rotation: &mut Rotation) -> StoreResult<()> {
        let rows: Vec<(Uuid, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, secret, previous_secret FROM webhooks").fetch_all(pool).await
        })?;
        for (id, secret, previous) in rows {
            let (Ok(plain), Ok(plain_previous)) = (
                self.open_text(Purpose::WebhookSecret, id, &secret).await,
                match &previous {
                    Some(p) => self
                        .open_text(Purpose::WebhookSecret, id, p)
                        .await
                        .map(Some),
                    None => Ok(None),
                },
            ) else {
                rotation.unreadable += 1;
                continue;
            };
            let new = seal_text(key, Purpose::WebhookSecret, id, &plain);
            let new_previous =
                plain_previous.map(|p| seal_text(key, Purpose::WebhookSecret, id, &p));
            let done = with_pool!(self, pool => {
                sqlx::query("UPDATE webhooks SET secret = $3, previous_secret = $4 WHERE id = $1 AND secret = $2")
                    .bind(id).bind(&secret).bind(new).bind(new_previous)
                    .execute(pool).await.map(|done| done.rows_affected())
            })?;
            rotation.resealed += done;
        }
        Ok(())
    }
}

impl Store {
    /// Seals what earlier releases stored in the clear — client profiles (see
    /// [`seal_profiles`](Self::seal_profiles)) and webhook secrets — run after migrations while
    /// `plaintext_to_seal` holds a row.
    pub(crate) async fn seal_plaintext(&self) -> StoreResult<u64> {
        let pending: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM plaintext_to_seal").fetch_one(pool).await
        })?;
        if pending == 0 {
            return Ok(0);
        }
        let key = self.sealing_key().await?;
        let mut sealed_rows = self.seal_profiles(&key).await?;
        sealed_rows += self.seal_results_and_events(&key).await?;
        let secrets: Vec<(Uuid, String, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, secret, previous_secret FROM webhooks WHERE secret NOT LIKE 'sealed:%'")
                .fetch_all(pool).await
        })?;
        for (id, secret, previous) in secrets {
            let seal = |plain: &str| seal_text(&key, Purpose::WebhookSecret, id, plain);
            sealed_rows += with_pool!(self, pool => {
                sqlx::query("UPDATE webhooks SET secret = $3, previous_secret = $4 WHERE id = $1 AND secret = $2")
                    .bind(id).bind(&secret).bind(seal(&secret)).bind(previous.as_deref().map(seal))
                    .execute(pool).await.map(|done| done.rows_affected())
            })?;
        }
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM plaintext_to_seal").execute(pool).await.map(drop)
        })?;
        // SQLite keeps the replaced plaintext in free pages and in the WAL until they are reused:
        // rebuild the file and empty the WAL, once (facts were sealed just before).
        if let Some(pool) = self.sqlite_pool() {
            sqlx::query("VACUUM").execute(pool).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(sealed_rows)
    }
}

impl Store {
    /// Seals the results, event payloads and match explanations earlier releases stored in the
    /// clear, and empties the bodies webhook deliveries copied (a delivery is now built from its
    /// event), a page at a time.
    async fn seal_results_and_events(&self, key: &Key) -> StoreResult<u64> {
        let mut sealed = 0;
        loop {
            let runs: Vec<(Uuid, Json<serde_json::Value>)> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, results FROM simulations WHERE results IS NOT NULL ORDER BY id LIMIT 200")
                    .fetch_all(pool).await
            })?;
            if runs.is_empty() {
                break;
            }
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, Json(results)) in &runs {
                    let plain = results.to_string();
                    sealed += sqlx::query("UPDATE simulations SET results = NULL, sealed_results = $2 WHERE id = $1")
                        .bind(id).bind(key.seal(Purpose::SimulationResults, *id, plain.as_bytes()))
                        .execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            });
        }
        loop {
            let events: Vec<(Uuid, Json<serde_json::Value>)> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, payload FROM events WHERE sealed_payload IS NULL ORDER BY id LIMIT 500")
                    .fetch_all(pool).await
            })?;
            if events.is_empty() {
                break;
            }
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, Json(payload)) in &events {
                    let plain = payload.to_string();
                    sealed += sqlx::query("UPDATE events SET payload = '{}', sealed_payload = $2 WHERE id = $1")
                        .bind(id).bind(key.seal(Purpose::EventPayload, *id, plain.as_bytes()))
                        .execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            });
        }
        sealed += with_pool!(self, pool => {
            sqlx::query("UPDATE webhook_deliveries SET body = '{}' WHERE event_id IS NOT NULL")
                .execute(pool).await.map(|done| done.rows_affected())
        })?;
        // Feedback reasons: text in the clear, where one sealed carries the prefix.
        let reasons: Vec<(Uuid, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, reason FROM match_feedback WHERE reason IS NOT NULL AND reason NOT LIKE 'sealed:%'")
                .fetch_all(pool).await
        })?;
        for chunk in reasons.chunks(500) {
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, reason) in chunk {
                    sealed += sqlx::query("UPDATE match_feedback SET reason = $2 WHERE id = $1")
                        .bind(id).bind(seal_text(key, Purpose::FeedbackReason, *id, reason))
                        .execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            });
        }
        // Match explanations: an object in the clear, where one sealed is a string.
        let mut after = Uuid::nil();
        loop {
            let page: Vec<(Uuid, Json<serde_json::Value>)> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, detail FROM match_recommendations WHERE id > $1 ORDER BY id LIMIT 500")
                    .bind(after).fetch_all(pool).await
            })?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, Json(detail)) in page.iter().filter(|(_, d)| d.is_object()) {
                    let sealed_text = seal_text(key, Purpose::MatchDetail, *id, &detail.to_string());
                    sealed += sqlx::query("UPDATE match_recommendations SET detail = $2 WHERE id = $1")
                        .bind(id).bind(Json(sealed_text))
                        .execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            });
        }
        Ok(sealed)
    }
}

/// A sealed value for a text column.
pub(crate) fn seal_text(key: &Key, purpose: Purpose, subject: Uuid, plaintext: &str) -> String {
    format!(
        "{SEALED_TEXT}{}",
        BASE64.encode(key.seal(purpose, subject, plaintext.as_bytes()))
    )
}
