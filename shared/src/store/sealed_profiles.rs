//! How a client's profile is stored: sealed whole, but for the two fields queries read in SQL.
//!
//! The `profile` column of `personas` and `persona_versions` holds only [`PUBLIC_FIELDS`] (the
//! segment label, also a column of its own, and the record's ids in other systems, also in
//! `persona_external_ids`). Everything else — the name, contact details, net worth, budgets,
//! biography, relationships, past properties, history — is in `sealed`, AES-256-GCM under the
//! active data key and bound to the persona's id, so a value copied to another row does not open.
//! What the book is searched by is kept apart as keyed digests (see
//! [`lookup_keys`](super::lookup_keys)).
//!
//! Rows written by releases before this one held every field but the private ones in the column
//! (and, before encryption at rest, those too). Reading merges the column with what is sealed, so
//! both forms read alike; [`Store::seal_profiles`] rewrites them once, at the first start.

use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, Store, StoreError, StoreResult, graph::sync_graph, lookup_keys::sync_digests,
    with_pool,
};
use crate::{
    crypto::{Key, Purpose},
    domain::PersonaProfile,
};

/// The profile fields kept in the clear: labels and foreign ids, never what identifies or
/// describes the client.
const PUBLIC_FIELDS: &[&str] = &["segment", "external_ids"];

/// A profile as written: its public fields for the `profile` column, the rest sealed.
pub(crate) struct StoredProfile {
    pub(crate) public: Json<Value>,
    pub(crate) sealed: Vec<u8>,
}

/// Splits `profile` for storage, sealing its private part for persona `id` under `key`.
pub(crate) fn seal_profile(profile: &PersonaProfile, key: &Key, id: Uuid) -> StoredProfile {
    let Value::Object(mut fields) = serde_json::to_value(profile).expect("profiles serialize")
    else {
        unreachable!("a profile serializes as an object")
    };
    let public: Map<String, Value> = PUBLIC_FIELDS
        .iter()
        .filter_map(|name| {
            fields
                .remove(*name)
                .map(|value| ((*name).to_owned(), value))
        })
        .collect();
    let plain = serde_json::to_vec(&fields).expect("JSON values serialize");
    StoredProfile {
        public: Json(Value::Object(public)),
        sealed: key.seal(Purpose::PersonaPrivate, id, &plain),
    }
}

/// A persona's or a version's stored profile, as the start-up sealing reads it.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    id: Uuid,
    brokerage_id: Uuid,
    version: i64,
    profile: Json<Value>,
    sealed: Option<Vec<u8>>,
}

/// Whether a `profile` column still holds fields that belong sealed (a row from before).
fn holds_private_fields(column: &Value) -> bool {
    column.as_object().is_some_and(|fields| {
        fields
            .keys()
            .any(|name| !PUBLIC_FIELDS.contains(&name.as_str()))
    })
}

impl Store {
    /// The profile document of persona `id`: its `public` column with what `sealed` holds.
    pub(crate) async fn open_profile(
        &self,
        id: Uuid,
        public: Value,
        sealed: Option<&[u8]>,
    ) -> StoreResult<Value> {
        let mut document = public;
        if let Some(sealed) = sealed {
            let private: Map<String, Value> =
                self.open_json(Purpose::PersonaPrivate, id, sealed).await?;
            match &mut document {
                Value::Object(fields) => fields.extend(private),
                _ => document = Value::Object(private),
            }
        }
        Ok(document)
    }

    /// [`open_profile`](Self::open_profile), typed.
    pub(crate) async fn open_typed_profile(
        &self,
        id: Uuid,
        public: Value,
        sealed: Option<&[u8]>,
    ) -> StoreResult<PersonaProfile> {
        let document = self.open_profile(id, public, sealed).await?;
        serde_json::from_value(document)
            .map_err(|e| StoreError::Corrupt(format!("profile of persona {id}: {e}")))
    }

    /// Seals the profiles stored by earlier releases and writes every persona's search digests
    /// and graph edges anew, a page at a time; run at start while `plaintext_to_seal` says rows
    /// may need it. Answers how many rows it rewrote.
    pub(crate) async fn seal_profiles(&self, key: &Key) -> StoreResult<u64> {
        let mut rewritten = 0;
        let mut after = Uuid::nil();
        let mut pages = 0u32;
        loop {
            let rows: Vec<ProfileRow> = with_pool!(self, pool => {
                sqlx::query_as("SELECT id, brokerage_id, version, profile, sealed FROM personas
                                WHERE id > $1 ORDER BY id LIMIT 500")
                    .bind(after).fetch_all(pool).await
            })?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let mut page = Vec::with_capacity(rows.len());
            for ProfileRow {
                id,
                brokerage_id,
                version,
                profile: Json(column),
                sealed,
            } in rows
            {
                let legacy = holds_private_fields(&column) || sealed.is_none();
                let profile = self
                    .open_typed_profile(id, column, sealed.as_deref())
                    .await?;
                let stored = legacy.then(|| seal_profile(&profile, key, id));
                page.push((id, brokerage_id, version, profile, stored));
            }
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, brokerage_id, version, profile, stored) in &page {
                    if let Some(stored) = stored {
                        // Only if no one changed it since it was read: a writer sealed it anyway.
                        rewritten += sqlx::query("UPDATE personas SET profile = $3, sealed = $4 WHERE id = $1 AND version = $2")
                            .bind(id).bind(version).bind(&stored.public).bind(&stored.sealed)
                            .execute(&mut *tx).await?.rows_affected();
                    }
                    sync_digests!(tx, self.blind_index(), *brokerage_id, *id, profile);
                    sync_graph!(tx, self.blind_index(), *brokerage_id, *id, &profile.knowledge_graph);
                }
                tx.commit().await?;
            });
            pages += 1;
            if pages.is_power_of_two() {
                // The digest tables start empty: without fresh statistics PostgreSQL keeps
                // planning their per-client deletes as scans (measured: 50 clients a second at
                // 300,000 digests, against thousands once analysed).
                self.analyze(&["persona_terms", "persona_contacts", "graph_edges"])
                    .await?;
            }
        }
        let mut after = (Uuid::nil(), 0i64);
        loop {
            let rows: Vec<ProfileRow> = with_pool!(self, pool => {
                sqlx::query_as("SELECT persona_id AS id, brokerage_id, version, profile, sealed FROM persona_versions
                                WHERE persona_id > $1 OR (persona_id = $1 AND version > $2)
                                ORDER BY persona_id, version LIMIT 500")
                    .bind(after.0).bind(after.1).fetch_all(pool).await
            })?;
            let Some(last) = rows.last() else { break };
            after = (last.id, last.version);
            let mut page = Vec::new();
            for ProfileRow {
                id,
                version,
                profile: Json(column),
                sealed,
                ..
            } in rows
            {
                if holds_private_fields(&column) || sealed.is_none() {
                    let profile = self
                        .open_typed_profile(id, column, sealed.as_deref())
                        .await?;
                    page.push((id, version, seal_profile(&profile, key, id)));
                }
            }
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                for (id, version, stored) in &page {
                    rewritten += sqlx::query("UPDATE persona_versions SET profile = $3, sealed = $4 WHERE persona_id = $1 AND version = $2")
                        .bind(id).bind(version).bind(&stored.public).bind(&stored.sealed)
                        .execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
            });
        }
        Ok(rewritten)
    }
}

impl Store {
    /// Refreshes the planner's statistics of `tables`.
    async fn analyze(&self, tables: &[&str]) -> StoreResult<()> {
        for table in tables {
            with_pool!(self, pool => {
                sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                    .execute(pool).await.map(drop)
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::EncryptionKeySource,
        crypto::{MasterKey, generate_master_key},
    };

    #[test]
    fn only_the_segment_and_external_ids_stay_in_the_clear() {
        let master = MasterKey::load(&EncryptionKeySource::Inline(generate_master_key())).unwrap();
        let (key, _) = master.new_data_key();
        let mut profile = PersonaProfile {
            name: "Harrison Vale".into(),
            segment: Some("tech_founders".into()),
            biography: Some("Sold his company in 2019".into()),
            ..PersonaProfile::default()
        };
        profile.external_ids.insert("hubspot".into(), "51".into());
        let id = Uuid::now_v7();
        let stored = seal_profile(&profile, &key, id);
        assert_eq!(
            stored.public.0,
            serde_json::json!({ "segment": "tech_founders", "external_ids": { "hubspot": "51" } })
        );
        assert!(!holds_private_fields(&stored.public.0));
        let plain = key
            .open(Purpose::PersonaPrivate, id, &stored.sealed)
            .unwrap();
        let private: Map<String, Value> = serde_json::from_slice(&plain).unwrap();
        assert_eq!(private["name"], "Harrison Vale");
        assert!(!private.contains_key("segment"));
        // Bound to its row: another persona's id does not open it.
        assert!(
            key.open(Purpose::PersonaPrivate, Uuid::now_v7(), &stored.sealed)
                .is_err()
        );
    }
}
