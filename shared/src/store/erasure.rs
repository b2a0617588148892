//! Erasure (GDPR/CCPA): when a persona is erased — at an admin's request, or when a deleted
//! client's restore window closes (see [`deletion`](super::deletion)) — what other records hold
//! of it goes too. Its
//! answers are cut out of past simulations (whose aggregates stay), its id and name out of
//! stored plans, outbox events and webhook deliveries, and the SQLite response cache is emptied
//! (its entries cannot be traced to the personas they were made for). The audit log keeps the
//! persona's id, never its content.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult,
    audit::record_audit,
    contains_pattern,
    enrichment::content_hash,
    events::record_event,
    graph::sync_graph,
    lookup_keys::sync_digests,
    personas::{PersonaRow, columns},
    sealed_facts::{FactColumns, seal_fact},
    sealed_profiles::seal_profile,
    versions::record_version,
    with_pool,
};
use crate::{
    auth::{Admin, Principal},
    bus::Committed,
    crypto::Purpose,
    domain::{PersonaProfile, Role, SourceKind},
};

/// What replaces the persona's id and name in what remains.
pub(super) const REDACTED: &str = "[deleted persona]";

/// Removes the persona from `value`: array entries that are its id, or objects about it (their
/// `persona_id` is its id), are dropped; a `persona_id` field that is its id becomes the nil
/// UUID; its id elsewhere, and its name as a word in any text, become [`REDACTED`]. Returns
/// whether anything changed.
pub(crate) fn redact(value: &mut Value, id: &str, name: &str) -> bool {
    match value {
        Value::Array(items) => {
            let before = items.len();
            items.retain(|item| !is_about(item, id));
            let mut changed = items.len() != before;
            for item in items {
                changed |= redact(item, id, name);
            }
            changed
        }
        Value::Object(fields) => {
            let mut changed = false;
            for (key, field) in fields.iter_mut() {
                // A field that must hold a UUID (an individual plan's `persona_id`) keeps one:
                // the nil UUID, which names no one, so the record still reads.
                if key == "persona_id" && field.as_str() == Some(id) {
                    *field = Value::String(Uuid::nil().to_string());
                    changed = true;
                    continue;
                }
                changed |= redact(field, id, name);
            }
            changed
        }
        Value::String(text) if text == id => {
            *text = REDACTED.to_owned();
            true
        }
        Value::String(text) => match replace_word(text, name) {
            Some(replaced) => {
                *text = replaced;
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn is_about(item: &Value, id: &str) -> bool {
    item.as_str() == Some(id) || item["persona_id"].as_str() == Some(id)
}

/// `text` with every whole-word occurrence of `name` replaced, if there is one.
fn replace_word(text: &str, name: &str) -> Option<String> {
    // ASCII case folding keeps byte offsets, so positions found in the folded text cut the
    // original.
    let (folded, needle) = (text.to_ascii_lowercase(), name.to_ascii_lowercase());
    if needle.is_empty() || !folded.contains(&needle) {
        return None;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    let mut replaced = false;
    while let Some(found) = folded[from..].find(&needle) {
        let at = from + found;
        let end = at + needle.len();
        let before = text[..at].chars().last();
        let after = text[end..].chars().next();
        out.push_str(&text[from..at]);
        if is_word(before) || is_word(after) {
            out.push_str(&text[at..end]);
        } else {
            out.push_str(REDACTED);
            replaced = true;
        }
        from = end;
    }
    out.push_str(&text[from..]);
    replaced.then_some(out)
}

/// `text` with the persona's id and name taken out, if it held either.
fn redacted_text(text: &str, id: &str, name: &str) -> Option<String> {
    let mut value = Value::String(text.to_owned());
    redact(&mut value, id, name).then(|| value.as_str().unwrap_or_default().to_owned())
}

/// Rows of `(id, document)` to redact.
pub(super) type Documents = Vec<(Uuid, Json<Value>)>;

/// A past simulation to redact: its plan, and its results sealed (or, from earlier releases, in
/// the clear).
#[derive(sqlx::FromRow)]
pub(super) struct StoredRun {
    pub id: Uuid,
    pub plan: Json<Value>,
    pub results: Option<Json<Value>>,
    pub sealed_results: Option<Vec<u8>>,
}

impl Store {
    /// Erases a client at once, an admin's answer to an erasure request (GDPR/CCPA): whether
    /// or not they were deleted before, and whoever may see them. `false` if there was none.
    pub async fn erase_persona_now(&self, admin: Admin<'_>, id: Uuid) -> StoreResult<bool> {
        self.erase_persona(&admin, id, None).await
    }

    /// Erases the deleted clients whose restore window closed before `now`, each in its own
    /// transaction, recorded as done by who deleted them; returns how many went.
    pub async fn erase_due_personas(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let due: Vec<(Uuid, Uuid, Option<Uuid>, Option<Uuid>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT brokerage_id, id, deleted_by, deleted_via FROM personas
                            WHERE erase_after IS NOT NULL AND erase_after <= $1 ORDER BY erase_after")
                .bind(now)
                .fetch_all(pool)
                .await
        })?;
        let mut erased = 0;
        for (brokerage_id, id, deleted_by, deleted_via) in due {
            // The entry names who deleted them; the key they used stands for the request.
            let deleter = match deleted_by {
                Some(user) => self.get_user(brokerage_id, user).await?,
                None => None,
            };
            let actor = Principal {
                key_id: deleted_via.unwrap_or(id),
                user_id: deleted_by.unwrap_or(id),
                brokerage_id,
                team_id: deleter.as_ref().and_then(|u| u.team_id),
                role: deleter.map_or(Role::BrokerageAdmin, |u| u.role),
            };
            if self.erase_persona(&actor, id, Some(now)).await? {
                erased += 1;
            }
        }
        Ok(erased)
    }

    /// Deletes persona `id` and erases it from every other record in the same transaction: at
    /// once (`due` unset), or only if it was deleted and its window closed before `due`. The
    /// callers above decide who may; `actor` is who the audit entry names.
    async fn erase_persona(
        &self,
        actor: &Principal,
        id: Uuid,
        due: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // An offer or a sale stays a fact about the listing: it loses its client, while the
            // client's showings and responses go with them (the foreign key cascades).
            sqlx::query("UPDATE outcomes SET persona_id = NULL WHERE brokerage_id = $1 AND persona_id = $2 AND kind IN ('offer', 'sale')")
                .bind(actor.brokerage_id).bind(id).execute(&mut *tx).await?;
            // Match runs that recommended it: their completion events name it (read before its
            // recommendations go with it).
            let match_runs: Vec<Uuid> = sqlx::query_scalar(
                "SELECT DISTINCT run_id FROM match_recommendations WHERE brokerage_id = $1 AND persona_id = $2")
                .bind(actor.brokerage_id).bind(id).fetch_all(&mut *tx).await?;
            let row: Option<PersonaRow> = sqlx::query_as(concat!(
                "DELETE FROM personas WHERE brokerage_id = $1 AND id = $2
                   AND ($3 IS NULL OR (deleted_at IS NOT NULL AND erase_after <= $3)) RETURNING ", columns!()))
                .bind(actor.brokerage_id)
                .bind(id)
                .bind(due)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                return Ok(false);
            };
            let profile = self.unseal(row).await?.profile;
            let (id_text, name) = (id.to_string(), profile.name.clone());
            let (by_id, by_name) = (contains_pattern(&id_text), contains_pattern(&name.to_lowercase()));
            let brokerage = actor.brokerage_id;
            sqlx::query("DELETE FROM embeddings WHERE brokerage_id = $1 AND subject_id = $2")
                .bind(brokerage).bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM events WHERE brokerage_id = $1 AND subject_id = $2")
                .bind(brokerage).bind(id).execute(&mut *tx).await?;
            sqlx::query("UPDATE match_runs SET subject_id = NULL WHERE brokerage_id = $1 AND subject_id = $2")
                .bind(brokerage).bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM llm_cache").execute(&mut *tx).await?;
            // Past simulations: the plan names the persona (a run lists every participant's id),
            // the results hold its answers, and the run's events announced them.
            let runs: Vec<StoredRun> = sqlx::query_as(
                "SELECT id, plan, results, sealed_results FROM simulations WHERE brokerage_id = $1
                   AND (CAST(plan AS TEXT) LIKE $2 ESCAPE '\\' OR LOWER(CAST(plan AS TEXT)) LIKE $3 ESCAPE '\\')")
                .bind(actor.brokerage_id).bind(&by_id).bind(&by_name)
                .fetch_all(&mut *tx)
                .await?;
            let mut announcing = match_runs;
            for StoredRun { id: run, mut plan, results, sealed_results: sealed } in runs {
                announcing.push(run);
                let mut results = self.open_results(run, results, sealed.as_deref()).await?;
                let mut changed = redact(&mut plan.0, &id_text, &name);
                if let Some(results) = results.as_mut() {
                    changed |= redact(results, &id_text, &name);
                }
                if changed {
                    let sealed = results.map(|r| key.seal(Purpose::SimulationResults, run, r.to_string().as_bytes()));
                    // The run's sealed notes were about the persona too (an individual run).
                    sqlx::query("UPDATE simulations SET plan = $2, results = NULL, sealed_results = $3, sealed_enrichment = NULL WHERE id = $1")
                        .bind(run).bind(plan).bind(sealed)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            // Those runs' events (a progress event carries answers; a match run's completion
            // names its clients): opened, redacted and sealed again. A webhook delivery holds no
            // copy: it is built from its event when sent.
            for subject in announcing {
                let events: Vec<(Uuid, Json<Value>, Option<Vec<u8>>)> = sqlx::query_as(
                    "SELECT id, payload, sealed_payload FROM events WHERE brokerage_id = $1 AND subject_id = $2")
                    .bind(actor.brokerage_id).bind(subject)
                    .fetch_all(&mut *tx)
                    .await?;
                for (event, Json(plain), sealed) in events {
                    let mut payload = match sealed {
                        Some(sealed) => self.open_json(Purpose::EventPayload, event, &sealed).await?,
                        None => plain,
                    };
                    if redact(&mut payload, &id_text, &name) {
                        let sealed = key.seal(Purpose::EventPayload, event, payload.to_string().as_bytes());
                        sqlx::query("UPDATE events SET payload = '{}', sealed_payload = $2 WHERE id = $1")
                            .bind(event).bind(sealed)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
            }
            // Other clients' profiles that name it (a spouse, a referral), and their earlier
            // versions: opened, redacted and sealed again in place; a current profile changed
            // so becomes a new version, its graph edges rebuilt.
            let sealed: Vec<(Uuid, i64, Json<Value>, Vec<u8>)> = sqlx::query_as(
                "SELECT persona_id, version, profile, sealed FROM persona_versions WHERE brokerage_id = $1 AND sealed IS NOT NULL
                 UNION ALL SELECT id, -1, profile, sealed FROM personas WHERE brokerage_id = $1 AND sealed IS NOT NULL")
                .bind(actor.brokerage_id)
                .fetch_all(&mut *tx)
                .await?;
            for (other, version, Json(column), blob) in sealed {
                let mut document = self.open_profile(other, column, Some(&blob)).await?;
                if !redact(&mut document, &id_text, &name) {
                    continue;
                }
                let Ok(redacted) = serde_json::from_value::<PersonaProfile>(document) else {
                    continue;
                };
                let stored = seal_profile(&redacted, &key, other);
                if version >= 0 {
                    sqlx::query("UPDATE persona_versions SET profile = $3, sealed = $4 WHERE persona_id = $1 AND version = $2")
                        .bind(other).bind(version).bind(&stored.public).bind(&stored.sealed)
                        .execute(&mut *tx).await?;
                    continue;
                }
                sqlx::query("UPDATE personas SET profile = $2, sealed = $3, version = version + 1, updated_at = $4 WHERE id = $1")
                    .bind(other).bind(&stored.public).bind(&stored.sealed).bind(Utc::now())
                    .execute(&mut *tx)
                    .await?;
                sync_graph!(tx, self.blind_index(), actor.brokerage_id, other, &redacted.knowledge_graph);
                sync_digests!(tx, self.blind_index(), actor.brokerage_id, other, &redacted);
                record_version!(tx, other, actor.user_id, "redacted")?;
            }
            // Schedules whose stored request names it.
            let schedules: Documents = sqlx::query_as(
                "SELECT id, request FROM schedules WHERE brokerage_id = $1
                   AND (CAST(request AS TEXT) LIKE $2 ESCAPE '\\' OR LOWER(CAST(request AS TEXT)) LIKE $3 ESCAPE '\\')")
                .bind(actor.brokerage_id).bind(&by_id).bind(&by_name)
                .fetch_all(&mut *tx)
                .await?;
            for (row, mut document) in schedules {
                if redact(&mut document.0, &id_text, &name) {
                    sqlx::query("UPDATE schedules SET request = $2 WHERE id = $1")
                        .bind(row).bind(document).execute(&mut *tx).await?;
                }
            }
            // What other clients' enrichment learned about it (a spouse, a referral): sealed, so
            // every fact of the brokerage is opened; a slot naming it (`relationships:<name>`)
            // keeps its topic only.
            let facts: Vec<FactColumns> = sqlx::query_as(
                "SELECT id, brokerage_id, slot, value, sealed_fact FROM persona_facts WHERE brokerage_id = $1")
                .bind(actor.brokerage_id)
                .fetch_all(&mut *tx)
                .await?;
            let lowered = name.to_lowercase();
            for fact in facts {
                let mut content = self.open_fact(fact.id, fact.slot, fact.value.0, fact.sealed_fact.as_deref()).await?;
                let mut changed = redact(&mut content.value, &id_text, &name);
                if !lowered.is_empty() && content.slot.to_lowercase().contains(&lowered) {
                    let topic = content.slot.split(':').next().unwrap_or_default();
                    content.slot = format!("{topic}:{REDACTED}");
                    changed = true;
                }
                if changed {
                    let stored = seal_fact(&key, self.blind_index(), actor.brokerage_id, fact.id, &content);
                    sqlx::query("UPDATE persona_facts SET slot = $2, value = 'null', sealed_fact = $3, slot_digest = $4, key_tag = $5 WHERE id = $1")
                        .bind(fact.id).bind(&stored.topic).bind(&stored.sealed).bind(&stored.digest).bind(&stored.key_tag)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            // The quotes those facts were taken from, and the sources themselves (a call's
            // transcript, its title), are sealed text naming it too.
            let quotes: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(
                "SELECT id, evidence FROM persona_facts WHERE brokerage_id = $1")
                .bind(actor.brokerage_id)
                .fetch_all(&mut *tx)
                .await?;
            for (fact, sealed) in quotes {
                let quote = self.open(Purpose::FactEvidence, fact, &sealed).await?;
                if let Some(quote) = redacted_text(&String::from_utf8_lossy(&quote), &id_text, &name) {
                    sqlx::query("UPDATE persona_facts SET evidence = $2 WHERE id = $1")
                        .bind(fact).bind(key.seal(Purpose::FactEvidence, fact, quote.as_bytes()))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let sources: Vec<(Uuid, String, Option<String>, Vec<u8>)> = sqlx::query_as(
                "SELECT id, kind, title, content FROM enrichment_sources WHERE brokerage_id = $1")
                .bind(actor.brokerage_id)
                .fetch_all(&mut *tx)
                .await?;
            for (source, kind, title, sealed) in sources {
                let text = self.open(Purpose::SourceText, source, &sealed).await?;
                let text = String::from_utf8_lossy(&text).into_owned();
                let new_text = redacted_text(&text, &id_text, &name);
                let new_title = title.as_deref().and_then(|t| redacted_text(t, &id_text, &name));
                if new_text.is_none() && new_title.is_none() {
                    continue;
                }
                let text = new_text.unwrap_or(text);
                let hash = SourceKind::parse(&kind).map(|kind| content_hash(kind, &text));
                sqlx::query("UPDATE enrichment_sources SET content = $2, title = $3, content_hash = COALESCE($4, content_hash) WHERE id = $1")
                    .bind(source).bind(key.seal(Purpose::SourceText, source, text.as_bytes()))
                    .bind(new_title.or(title)).bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            // The entry names the persona's id only: nothing of its content outlives it.
            let detail = serde_json::json!({ "requested": if due.is_some() { "after_deletion" } else { "now" } });
            record_audit!(tx, actor, AuditRecord::persona("persona.erased", id, detail))?;
            // Systems that hold the client too (a CRM) are told which record went, by its ids
            // alone, after every other mention of the id was erased above.
            let payload = serde_json::json!({ "persona_id": id, "external_ids": profile.external_ids });
            let notice = record_event!(tx, &key, actor.brokerage_id, "persona.deleted", id, &payload)?;
            tx.commit().await?;
            Ok::<Option<Committed>, StoreError>(Some(notice))
        })?;
        if let Some(notice) = &deleted {
            self.announce(std::slice::from_ref(notice)).await;
        }
        let deleted = deleted.is_some();
        // SQLite zeroes what it frees (`secure_delete`), but the WAL still holds the pages as
        // they were until a checkpoint copies them back: empty it now, so the erased text is
        // gone from the files too.
        if let (Some(pool), true) = (self.sqlite_pool(), deleted) {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await?;
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_go_and_mentions_are_redacted() {
        let id = "0192f3a4-5b6c-7d8e-9f00-112233445566";
        let mut results = json!({
            "summary": "Ben liked the cellar; Bench seating was noted.",
            "raw_responses": [
                { "persona_id": id, "persona_name": "Ben", "answer": "Yes" },
                { "persona_id": "other", "persona_name": "Ada", "answer": "No" }
            ],
            "persona_ids": [id, "other"],
            "subject": id,
            "score": 0.5
        });
        assert!(redact(&mut results, id, "Ben"));
        assert_eq!(
            results,
            json!({
                "summary": "[deleted persona] liked the cellar; Bench seating was noted.",
                "raw_responses": [{ "persona_id": "other", "persona_name": "Ada", "answer": "No" }],
                "persona_ids": ["other"],
                "subject": "[deleted persona]",
                "score": 0.5
            })
        );
        assert!(!redact(&mut results, id, "Ben"), "nothing left to redact");
    }

    #[test]
    fn a_persona_id_field_keeps_a_uuid() {
        let id = "0192f3a4-5b6c-7d8e-9f00-112233445566";
        let mut plan = json!({ "type": "individual", "persona_id": id });
        assert!(redact(&mut plan, id, "Ben"));
        assert_eq!(plan["persona_id"], Uuid::nil().to_string());
    }
}
