//! Merging two records of one client: the kept record takes the other's profile (see
//! [`PersonaProfile::absorb`]) as a new version, and what was learned about or happened with the
//! other — enrichment runs with their sources and facts, outcomes, predictions, the simulations
//! they took part in, match runs about them, graph edges to them — moves to the kept record, all
//! in one transaction. The other record is then removed (not erased: its content lives on in the
//! kept one), and a CRM is told with `persona.deleted` naming the record it was merged into.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult,
    audit::record_audit,
    changed_fields,
    events::record_event,
    graph::{persona_key, sync_graph},
    lookup_keys::{sync_digests, sync_external_ids},
    personas::{PersonaRow, columns, visible, writable},
    sealed_profiles::seal_profile,
    versions::record_version,
    with_pool,
};
use crate::{
    auth::Principal,
    domain::{Persona, PersonaProfile, Role},
};

/// Why a merge did not happen.
#[derive(Debug)]
pub enum MergeRefused {
    /// One of the two is not a client the caller may see.
    NotFound(Uuid),
    /// The caller may see but not change one of them.
    NotYours(Uuid),
    /// The two records cannot be one as they stand (two ids in one system, a synthetic persona).
    Conflict(String),
    /// One of them changed while the merge was being applied: try again.
    Moved,
}

impl Store {
    /// Merges `absorbed` into `kept` for `caller` (who must be allowed to change both), returning
    /// the kept client as merged.
    pub async fn merge_personas(
        &self,
        caller: &Principal,
        absorbed: Uuid,
        kept: Uuid,
    ) -> StoreResult<Result<Persona, MergeRefused>> {
        let Some(into) = self.get_persona(caller, kept).await? else {
            return Ok(Err(MergeRefused::NotFound(kept)));
        };
        let Some(from) = self.get_persona(caller, absorbed).await? else {
            return Ok(Err(MergeRefused::NotFound(absorbed)));
        };
        for persona in [&into, &from] {
            if persona.synthetic {
                return Ok(Err(MergeRefused::Conflict(format!(
                    "persona {} is a synthetic participant, not a client",
                    persona.id
                ))));
            }
            if caller.role == Role::Agent && persona.agent_id != caller.user_id {
                return Ok(Err(MergeRefused::NotYours(persona.id)));
            }
        }
        let mut profile = into.profile.clone();
        if let Err(why) = profile.absorb(from.profile.clone()) {
            return Ok(Err(MergeRefused::Conflict(why)));
        }
        let key = self.sealing_key().await?;
        let stored = seal_profile(&profile, &key, kept);
        let brokerage = caller.brokerage_id;
        let merged = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // What was learned about the absorbed record, and what happened with them.
            sqlx::query("UPDATE enrichments SET persona_id = $3 WHERE brokerage_id = $1 AND persona_id = $2")
                .bind(brokerage).bind(absorbed).bind(kept).execute(&mut *tx).await?;
            // A source both records learned from stays the kept one's (its facts too).
            sqlx::query("UPDATE enrichment_sources SET persona_id = $3 WHERE brokerage_id = $1 AND persona_id = $2
                           AND content_hash NOT IN (SELECT content_hash FROM enrichment_sources WHERE persona_id = $3)")
                .bind(brokerage).bind(absorbed).bind(kept).execute(&mut *tx).await?;
            sqlx::query("UPDATE persona_facts SET persona_id = $3 WHERE brokerage_id = $1 AND persona_id = $2
                           AND source_id IN (SELECT id FROM enrichment_sources WHERE persona_id = $3)")
                .bind(brokerage).bind(absorbed).bind(kept).execute(&mut *tx).await?;
            for table in ["outcomes", "predictions"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE {table} SET persona_id = $3 WHERE brokerage_id = $1 AND persona_id = $2")))
                    .bind(brokerage).bind(absorbed).bind(kept).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO simulation_personas (simulation_id, persona_id, brokerage_id)
                         SELECT simulation_id, $3, brokerage_id FROM simulation_personas
                         WHERE brokerage_id = $1 AND persona_id = $2
                           AND simulation_id NOT IN (SELECT simulation_id FROM simulation_personas WHERE persona_id = $3)")
                .bind(brokerage).bind(absorbed).bind(kept).execute(&mut *tx).await?;
            sqlx::query("UPDATE match_runs SET subject_id = $3 WHERE brokerage_id = $1 AND subject_id = $2")
                .bind(brokerage).bind(absorbed).bind(kept).execute(&mut *tx).await?;
            sqlx::query("UPDATE graph_edges SET target_persona_id = $3, target_key = $4 WHERE brokerage_id = $1 AND target_persona_id = $2")
                .bind(brokerage).bind(absorbed).bind(kept).bind(persona_key(kept)).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM embeddings WHERE brokerage_id = $1 AND subject_id = $2")
                .bind(brokerage).bind(absorbed).execute(&mut *tx).await?;
            // Other clients' relationships that named the absorbed record name the kept one
            // now, so their graph holds and a read-modify-write of them still passes.
            let (from_text, into_text) = (absorbed.to_string(), kept.to_string());
            // They are sealed: those are found by their graph edges, which now lead to the kept.
            let naming: Vec<(Uuid, Json<Value>, Option<Vec<u8>>)> = sqlx::query_as(
                "SELECT id, profile, sealed FROM personas WHERE brokerage_id = $1 AND id <> $2 AND id <> $3
                   AND id IN (SELECT persona_id FROM graph_edges WHERE brokerage_id = $1 AND target_persona_id = $3)")
                .bind(brokerage).bind(absorbed).bind(kept)
                .fetch_all(&mut *tx).await?;
            for (other, Json(column), blob) in naming {
                let mut document = self.open_profile(other, column, blob.as_deref()).await?;
                if !renamed(&mut document, &from_text, &into_text) {
                    continue;
                }
                let Ok(other_profile) = serde_json::from_value::<PersonaProfile>(document) else {
                    continue;
                };
                let stored = seal_profile(&other_profile, &key, other);
                sqlx::query("UPDATE personas SET profile = $2, sealed = $3, version = version + 1, updated_at = $4 WHERE id = $1")
                    .bind(other).bind(&stored.public).bind(&stored.sealed).bind(chrono::Utc::now())
                    .execute(&mut *tx).await?;
                sync_graph!(tx, self.blind_index(), brokerage, other, &other_profile.knowledge_graph);
                record_version!(tx, other, caller.user_id, "merged")?;
            }
            // The absorbed record goes (its versions, matches and index rows with it), if it is
            // still as read and the caller may change it.
            let removed = sqlx::query(concat!("DELETE FROM personas WHERE brokerage_id = $1 AND id = $4 AND version = $6 AND ",
                    writable!(role = "$5")))
                .bind(brokerage).bind(caller.user_id).bind(caller.team_id).bind(absorbed)
                .bind(caller.role.as_str()).bind(from.version)
                .execute(&mut *tx).await?.rows_affected();
            let row: Option<PersonaRow> = sqlx::query_as(concat!("UPDATE personas SET profile = $5, segment = $6, version = version + 1, updated_at = $7, sealed = $9
                 WHERE brokerage_id = $1 AND id = $4 AND version = $8 AND ", writable!(role = "$10"), " RETURNING ", columns!()))
                .bind(brokerage).bind(caller.user_id).bind(caller.team_id).bind(kept)
                .bind(&stored.public).bind(&profile.segment).bind(chrono::Utc::now())
                .bind(into.version).bind(&stored.sealed).bind(caller.role.as_str())
                .fetch_optional(&mut *tx).await?;
            let (Some(row), 1) = (row, removed) else {
                return Ok(Err(MergeRefused::Moved));
            };
            sync_graph!(tx, self.blind_index(), brokerage, kept, &profile.knowledge_graph);
            sync_external_ids!(tx, "persona_external_ids", "persona_id", brokerage, kept, &profile.external_ids, "client");
            sync_digests!(tx, self.blind_index(), brokerage, kept, &profile);
            record_version!(tx, kept, caller.user_id, "merged")?;
            let detail = serde_json::json!({ "merged": absorbed, "version": into.version + 1 });
            record_audit!(tx, caller, AuditRecord::persona("persona.merged", kept, detail))?;
            let updated = serde_json::json!({
                "persona_id": kept, "version": into.version + 1, "fields": changed_fields(&into.profile, &profile),
                "merged": absorbed,
            });
            let deleted = serde_json::json!({
                "persona_id": absorbed, "external_ids": from.profile.external_ids, "merged_into": kept,
            });
            let notices = [
                record_event!(tx, &key, brokerage, "persona.updated", kept, &updated)?,
                record_event!(tx, &key, brokerage, "persona.deleted", absorbed, &deleted)?,
            ];
            tx.commit().await?;
            Ok::<_, StoreError>(Ok((row, notices)))
        })?;
        match merged {
            Ok((row, notices)) => {
                self.announce(&notices).await;
                Ok(Ok(self.unseal(row).await?))
            }
            Err(refused) => Ok(Err(refused)),
        }
    }
}

/// Replaces every string that is exactly `from` (an id) with `into`, anywhere in `value`; whether
/// anything changed.
fn renamed(value: &mut Value, from: &str, into: &str) -> bool {
    match value {
        Value::String(text) if text == from => {
            *text = into.to_owned();
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| renamed(item, from, into) | changed),
        Value::Object(fields) => fields
            .values_mut()
            .fold(false, |changed, field| renamed(field, from, into) | changed),
        _ => false,
    }
}
