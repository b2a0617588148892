//! Enrichment runs, their sources (text sealed) and the facts they produced (quotes sealed). A
//! run is submitted by the API, taken by a worker, and finished in one transaction that writes
//! the persona's new version, the facts, and the `persona.enriched` event.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, JobRequest, Store, StoreResult,
    audit::record_audit,
    events::record_event,
    graph::sync_graph,
    job_requests::record_job,
    lookup_keys::sync_digests,
    parse_column,
    sealed_facts::{FactContent, seal_fact, slot_digest},
    sealed_profiles::seal_profile,
    versions::record_version,
    visible_persona, with_pool,
};
use crate::{
    auth::Principal,
    crypto::Purpose,
    domain::{
        Enrichment, EnrichmentStatus, Fact, FactCounts, FactEffect, FactKind, FactStatus, Persona,
        PersonaProfile, SourceKind, SourceRef, SourceText,
    },
    jobs::EnrichmentJob,
};

/// A source as submitted.
pub struct NewSource {
    pub kind: SourceKind,
    pub content: String,
    pub occurred_on: NaiveDate,
    pub author: Option<String>,
    pub title: Option<String>,
}

/// What a submission did.
pub enum EnrichmentSubmitted {
    /// A new run is requested (some sources were new, or a failed run is tried again).
    Queued(Enrichment, JobRequest),
    /// Every source was submitted before: the run that learned from them.
    AlreadyKnown(Enrichment),
}

/// What a worker needs to run an enrichment.
pub struct EnrichmentWork {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub requested_by: Uuid,
    pub persona: Persona,
    /// Each source with its text.
    pub sources: Vec<(SourceRef, String)>,
    /// The persona's facts so far (applied ones are what new facts are weighed against).
    pub facts: Vec<Fact>,
}

/// A checked, resolved fact, ready to store.
pub struct FactRecord {
    pub id: Uuid,
    pub source_id: Uuid,
    pub kind: FactKind,
    pub slot: String,
    pub value: Value,
    pub effect: FactEffect,
    pub confidence: f64,
    pub status: FactStatus,
    pub reason: Option<String>,
    pub observed_on: NaiveDate,
    pub quote: String,
}

/// An earlier fact a newer one replaces.
pub struct Supersession {
    pub fact_id: Uuid,
    pub by: Uuid,
    pub reason: String,
}

/// What a run decided.
pub struct EnrichmentOutcome {
    pub extractor: String,
    /// The merged profile, or none when no fact changed it.
    pub profile: Option<PersonaProfile>,
    pub facts: Vec<FactRecord>,
    pub superseded: Vec<Supersession>,
}

#[derive(sqlx::FromRow)]
struct EnrichmentRow {
    id: Uuid,
    persona_id: Uuid,
    status: String,
    extractor: Option<String>,
    version: Option<i64>,
    facts: Option<Json<FactCounts>>,
    error: Option<String>,
    requested_by: Uuid,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct SourceRow {
    id: Uuid,
    kind: String,
    occurred_on: NaiveDate,
    author: Option<String>,
    title: Option<String>,
    bytes: i64,
}

impl TryFrom<SourceRow> for SourceRef {
    type Error = super::StoreError;

    fn try_from(row: SourceRow) -> StoreResult<SourceRef> {
        Ok(SourceRef {
            id: row.id,
            kind: parse_column(&row.kind, SourceKind::parse, "enrichment_sources.kind")?,
            occurred_on: row.occurred_on,
            author: row.author,
            title: row.title,
            bytes: row.bytes,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SourceRowWithText {
    #[sqlx(flatten)]
    source: SourceRow,
    content: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct FactRow {
    id: Uuid,
    kind: String,
    slot: String,
    value: Json<Value>,
    sealed_fact: Option<Vec<u8>>,
    effect: String,
    confidence: f64,
    status: String,
    reason: Option<String>,
    superseded_by: Option<Uuid>,
    version: Option<i64>,
    observed_on: NaiveDate,
    evidence: Vec<u8>,
    created_at: DateTime<Utc>,
    source_id: Uuid,
    source_kind: String,
    source_occurred_on: NaiveDate,
    source_author: Option<String>,
    source_title: Option<String>,
    source_bytes: i64,
}

const RUN_COLUMNS: &str = "id, persona_id, status, extractor, version, facts, error, requested_by, created_at, completed_at";
const SOURCE_COLUMNS: &str = "id, kind, occurred_on, author, title, bytes";
const FACT_COLUMNS: &str = "f.id, f.kind, f.slot, f.value, f.sealed_fact, f.effect, f.confidence, f.status, f.reason, f.superseded_by, f.version,
    f.observed_on, f.evidence, f.created_at, s.id AS source_id, s.kind AS source_kind, s.occurred_on AS source_occurred_on,
    s.author AS source_author, s.title AS source_title, s.bytes AS source_bytes";

/// The fingerprint that recognises a source submitted again.
pub(super) fn content_hash(kind: SourceKind, content: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(kind.as_str().as_bytes());
    hash.update([0]);
    hash.update(content.trim().as_bytes());
    hex::encode(hash.finalize())
}

impl Store {
    /// Stores the sources of a persona the caller may change and queues a run over the new ones;
    /// `None` if the persona is not theirs to change.
    pub async fn submit_enrichment(
        &self,
        caller: &Principal,
        persona_id: Uuid,
        sources: Vec<NewSource>,
    ) -> StoreResult<Option<EnrichmentSubmitted>> {
        let key = self.sealing_key().await?;
        let run_id = Uuid::now_v7();
        let now = Utc::now();
        let outcome: Option<(Uuid, Option<JobRequest>)> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Learning changes the persona: an agent enriches only their own (`$5` the role).
            let writable: Option<Uuid> = sqlx::query_scalar(concat!(
                "SELECT p.id FROM personas p WHERE p.brokerage_id = $1 AND p.id = $4 AND ", visible_persona!(),
                " AND (p.owner_user_id = $2 OR $5 <> 'agent')"))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(persona_id)
                .bind(caller.role.as_str())
                .fetch_optional(&mut *tx).await?;
            if writable.is_none() {
                return Ok(None);
            }
            sqlx::query("INSERT INTO enrichments (id, brokerage_id, persona_id, requested_by, status, created_at)
                         VALUES ($1, $2, $3, $4, 'queued', $5)")
                .bind(run_id).bind(caller.brokerage_id).bind(persona_id).bind(caller.user_id).bind(now)
                .execute(&mut *tx).await?;
            let mut added = 0;
            let mut known_run = None;
            for source in &sources {
                let id = Uuid::now_v7();
                let hash = content_hash(source.kind, &source.content);
                let sealed = key.seal(Purpose::SourceText, id, source.content.as_bytes());
                let inserted = sqlx::query(
                    "INSERT INTO enrichment_sources (id, enrichment_id, persona_id, brokerage_id, kind, occurred_on, author, title, bytes, content_hash, content, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (persona_id, content_hash) DO NOTHING")
                    .bind(id).bind(run_id).bind(persona_id).bind(caller.brokerage_id).bind(source.kind.as_str())
                    .bind(source.occurred_on).bind(&source.author).bind(&source.title)
                    .bind(source.content.len() as i64).bind(&hash).bind(sealed).bind(now)
                    .execute(&mut *tx).await?.rows_affected();
                added += inserted;
                if inserted == 0 && known_run.is_none() {
                    known_run = sqlx::query_scalar("SELECT enrichment_id FROM enrichment_sources WHERE brokerage_id = $1 AND persona_id = $2 AND content_hash = $3")
                        .bind(caller.brokerage_id).bind(persona_id).bind(&hash)
                        .fetch_optional(&mut *tx).await?;
                }
            }
            match (added, known_run) {
                (0, Some(known)) => {
                    // Nothing new: drop the empty run, and try a failed one again.
                    sqlx::query("DELETE FROM enrichments WHERE brokerage_id = $1 AND id = $2")
                        .bind(caller.brokerage_id).bind(run_id).execute(&mut *tx).await?;
                    let retried = sqlx::query("UPDATE enrichments SET status = 'queued', error = NULL, completed_at = NULL
                                               WHERE brokerage_id = $1 AND id = $2 AND status = 'failed'")
                        .bind(caller.brokerage_id).bind(known).execute(&mut *tx).await?.rows_affected();
                    let request = if retried > 0 {
                        let detail = serde_json::json!({ "enrichment_id": known, "retried": true });
                        record_audit!(tx, caller, AuditRecord::persona("persona.enrich", persona_id, detail))?;
                        Some(record_job!(tx, caller.brokerage_id, EnrichmentJob, known)?)
                    } else {
                        None
                    };
                    tx.commit().await?;
                    Some((known, request))
                }
                _ => {
                    let detail = serde_json::json!({ "enrichment_id": run_id, "sources": added });
                    record_audit!(tx, caller, AuditRecord::persona("persona.enrich", persona_id, detail))?;
                    let request = record_job!(tx, caller.brokerage_id, EnrichmentJob, run_id)?;
                    tx.commit().await?;
                    Some((run_id, Some(request)))
                }
            }
        });
        let Some((id, queued)) = outcome else {
            return Ok(None);
        };
        let run = self
            .enrichment_by_id(caller.brokerage_id, id)
            .await?
            .ok_or_else(|| super::StoreError::Corrupt(format!("enrichment {id} vanished")))?;
        Ok(Some(match queued {
            Some(request) => EnrichmentSubmitted::Queued(run, request),
            None => EnrichmentSubmitted::AlreadyKnown(run),
        }))
    }

    /// A run of a persona the caller may see.
    pub async fn enrichment(
        &self,
        caller: &Principal,
        persona_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Enrichment>> {
        let visible: Option<Uuid> = with_pool!(self, pool => {
            sqlx::query_scalar(concat!(
                "SELECT e.id FROM enrichments e JOIN personas p ON p.id = e.persona_id
                 WHERE p.brokerage_id = $1 AND e.id = $4 AND p.id = $5 AND ", visible_persona!()))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(id).bind(persona_id)
                .fetch_optional(pool).await
        })?;
        match visible {
            Some(id) => self.enrichment_by_id(caller.brokerage_id, id).await,
            None => Ok(None),
        }
    }

    async fn enrichment_by_id(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Enrichment>> {
        let (row, sources): (Option<EnrichmentRow>, Vec<SourceRow>) = with_pool!(self, pool => {
            let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} FROM enrichments WHERE brokerage_id = $1 AND id = $2")))
                .bind(brokerage_id).bind(id)
                .fetch_optional(pool).await?;
            let sources = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SOURCE_COLUMNS} FROM enrichment_sources WHERE enrichment_id = $1 ORDER BY id")))
                .bind(id)
                .fetch_all(pool).await?;
            (row, sources)
        });
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Enrichment {
            id: row.id,
            persona_id: row.persona_id,
            status: parse_column(&row.status, EnrichmentStatus::parse, "enrichments.status")?,
            sources: sources
                .into_iter()
                .map(SourceRef::try_from)
                .collect::<StoreResult<_>>()?,
            extractor: row.extractor,
            version: row.version,
            facts: row.facts.map(|f| f.0),
            error: row.error,
            requested_by: row.requested_by,
            created_at: row.created_at,
            completed_at: row.completed_at,
        }))
    }

    /// Marks a queued (or interrupted) run as running and loads what it needs; `None` if it has
    /// finished or its persona is gone.
    pub async fn start_enrichment(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<EnrichmentWork>> {
        let started: Option<(Uuid, Uuid)> = with_pool!(self, pool => {
            sqlx::query_as("UPDATE enrichments SET status = 'running'
                            WHERE brokerage_id = $1 AND id = $2 AND status IN ('queued', 'running')
                            RETURNING persona_id, requested_by")
                .bind(brokerage_id).bind(id).fetch_optional(pool).await
        })?;
        let Some((persona_id, requested_by)) = started else {
            return Ok(None);
        };
        let Some(persona) = self
            .personas_for_run(brokerage_id, &[persona_id])
            .await?
            .pop()
        else {
            return Ok(None);
        };
        let sources = self
            .sources_with_text("enrichment_id", id)
            .await?
            .into_iter()
            .map(|s| (s.source, s.content))
            .collect();
        let facts = self.facts_of(persona_id).await?;
        Ok(Some(EnrichmentWork {
            id,
            brokerage_id,
            requested_by,
            persona,
            sources,
            facts,
        }))
    }

    /// Writes a run's outcome: the persona's new version (if the facts changed it), the facts,
    /// the superseded ones, and the `persona.enriched` event. `false` if the persona changed
    /// since the run read it (the run merges again) or is gone.
    pub async fn finish_enrichment(
        &self,
        work: &EnrichmentWork,
        outcome: &EnrichmentOutcome,
    ) -> StoreResult<bool> {
        let key = self.sealing_key().await?;
        let persona_id = work.persona.id;
        let now = Utc::now();
        let counts = count(&outcome.facts);
        let notice = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // First the run itself: a run another worker finished (a redelivered job) is done.
            let claimed = sqlx::query("UPDATE enrichments SET status = 'completed', extractor = $2, facts = $3, completed_at = $4
                                       WHERE id = $1 AND status IN ('queued', 'running')")
                .bind(work.id).bind(&outcome.extractor).bind(Json(&counts)).bind(now)
                .execute(&mut *tx).await?.rows_affected();
            if claimed == 0 {
                return Ok(true);
            }
            // Taking the persona's row (even unchanged) orders this run against other writers
            // and numbers its event.
            let version: Option<i64> = match &outcome.profile {
                Some(profile) => {
                    let stored = seal_profile(profile, &key, persona_id);
                    sqlx::query_scalar("UPDATE personas SET profile = $3, sealed = $4, version = version + 1, updated_at = $5
                                        WHERE id = $1 AND version = $2 RETURNING version")
                        .bind(persona_id).bind(work.persona.version).bind(&stored.public).bind(&stored.sealed).bind(now)
                        .fetch_optional(&mut *tx).await?
                }
                None => sqlx::query_scalar("UPDATE personas SET version = version WHERE id = $1 AND version = $2 RETURNING version")
                    .bind(persona_id).bind(work.persona.version)
                    .fetch_optional(&mut *tx).await?,
            };
            let Some(version) = version else {
                return Ok(false);
            };
            if let Some(profile) = &outcome.profile {
                sync_graph!(tx, self.blind_index(), work.brokerage_id, persona_id, &profile.knowledge_graph);
                sync_digests!(tx, self.blind_index(), work.brokerage_id, persona_id, profile);
                record_version!(tx, persona_id, work.requested_by, "enriched")?;
            }
            for fact in &outcome.facts {
                let applied = (fact.status == FactStatus::Applied).then_some(version);
                let content = FactContent { slot: fact.slot.clone(), value: fact.value.clone() };
                let stored = seal_fact(&key, self.blind_index(), work.brokerage_id, fact.id, &content);
                sqlx::query(
                    "INSERT INTO persona_facts (id, persona_id, brokerage_id, enrichment_id, source_id, kind, slot, value, effect, confidence, status, reason, version, observed_on, evidence, created_at, sealed_fact, slot_digest, key_tag)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'null', $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)")
                    .bind(fact.id).bind(persona_id).bind(work.brokerage_id).bind(work.id).bind(fact.source_id)
                    .bind(fact.kind.as_str()).bind(&stored.topic).bind(fact.effect.as_str())
                    .bind(fact.confidence).bind(fact.status.as_str()).bind(&fact.reason).bind(applied)
                    .bind(fact.observed_on).bind(key.seal(Purpose::FactEvidence, fact.id, fact.quote.as_bytes())).bind(now)
                    .bind(&stored.sealed).bind(&stored.digest).bind(&stored.key_tag)
                    .execute(&mut *tx).await?;
            }
            for old in &outcome.superseded {
                sqlx::query("UPDATE persona_facts SET status = 'superseded', superseded_by = $2, reason = $3 WHERE id = $1")
                    .bind(old.fact_id).bind(old.by).bind(&old.reason)
                    .execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE enrichments SET version = $2 WHERE id = $1")
                .bind(work.id).bind(version)
                .execute(&mut *tx).await?;
            // Receivers get what was learned, not the client's words (those stay sealed).
            let facts: Vec<Value> = outcome.facts.iter().map(|f| serde_json::json!({
                "id": f.id, "kind": f.kind, "slot": f.slot, "value": f.value, "effect": f.effect,
                "confidence": f.confidence, "status": f.status, "source_id": f.source_id,
            })).collect();
            let payload = serde_json::json!({
                "persona_id": persona_id, "enrichment_id": work.id, "version": version,
                "extractor": outcome.extractor, "counts": counts, "facts": facts,
            });
            let notice = record_event!(tx, &key, work.brokerage_id, "persona.enriched", persona_id, &payload)?;
            tx.commit().await?;
            notice
        });
        self.announce(&[notice]).await;
        Ok(true)
    }

    pub async fn fail_enrichment(&self, id: Uuid, error: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE enrichments SET status = 'failed', error = $2, completed_at = $3 WHERE id = $1 AND status <> 'completed'")
                .bind(id).bind(error).bind(Utc::now())
                .execute(pool).await.map(drop)
        })?;
        Ok(())
    }

    async fn source_text(&self, id: Uuid, sealed: &[u8]) -> StoreResult<String> {
        let text = self.open(Purpose::SourceText, id, sealed).await?;
        String::from_utf8(text)
            .map_err(|_| super::StoreError::Corrupt(format!("source {id} is not text")))
    }

    /// Every source learned from about a persona, with its text, oldest first (for an export:
    /// the caller's visibility was checked on the persona).
    pub async fn persona_sources(&self, persona_id: Uuid) -> StoreResult<Vec<SourceText>> {
        self.sources_with_text("persona_id", persona_id).await
    }

    /// The sources whose `column` (a run's or a persona's id) is `id`, opened, oldest first.
    async fn sources_with_text(&self, column: &str, id: Uuid) -> StoreResult<Vec<SourceText>> {
        let rows: Vec<SourceRowWithText> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SOURCE_COLUMNS}, content FROM enrichment_sources WHERE {column} = $1 ORDER BY id")))
                .bind(id).fetch_all(pool).await
        })?;
        let mut sources = Vec::with_capacity(rows.len());
        for row in rows {
            let content = self.source_text(row.source.id, &row.content).await?;
            sources.push(SourceText {
                source: row.source.try_into()?,
                content,
            });
        }
        Ok(sources)
    }

    /// Every fact about a persona the caller may see, oldest first (by when it was observed).
    pub async fn persona_facts(
        &self,
        caller: &Principal,
        persona_id: Uuid,
    ) -> StoreResult<Vec<Fact>> {
        let visible: Option<Uuid> = with_pool!(self, pool => {
            sqlx::query_scalar(concat!("SELECT p.id FROM personas p WHERE p.brokerage_id = $1 AND p.id = $4 AND ", visible_persona!()))
                .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(persona_id)
                .fetch_optional(pool).await
        })?;
        match visible {
            Some(id) => self.facts_of(id).await,
            None => Ok(Vec::new()),
        }
    }

    pub(super) async fn facts_of(&self, persona_id: Uuid) -> StoreResult<Vec<Fact>> {
        let rows: Vec<FactRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {FACT_COLUMNS} FROM persona_facts f JOIN enrichment_sources s ON s.id = f.source_id
                 WHERE f.persona_id = $1 ORDER BY f.observed_on, f.id")))
                .bind(persona_id).fetch_all(pool).await
        })?;
        let mut facts = Vec::with_capacity(rows.len());
        for row in rows {
            let quote = self
                .open(Purpose::FactEvidence, row.id, &row.evidence)
                .await?;
            let content = self
                .open_fact(row.id, row.slot, row.value.0, row.sealed_fact.as_deref())
                .await?;
            facts.push(Fact {
                id: row.id,
                kind: parse_column(&row.kind, FactKind::parse, "persona_facts.kind")?,
                slot: content.slot,
                value: content.value,
                effect: parse_column(&row.effect, FactEffect::parse, "persona_facts.effect")?,
                confidence: row.confidence,
                status: parse_column(&row.status, FactStatus::parse, "persona_facts.status")?,
                reason: row.reason,
                superseded_by: row.superseded_by,
                version: row.version,
                source: SourceRow {
                    id: row.source_id,
                    kind: row.source_kind,
                    occurred_on: row.source_occurred_on,
                    author: row.source_author,
                    title: row.source_title,
                    bytes: row.source_bytes,
                }
                .try_into()?,
                quote: String::from_utf8_lossy(&quote).into_owned(),
                observed_on: row.observed_on,
                created_at: row.created_at,
            });
        }
        Ok(facts)
    }

    /// The interest and preference timelines of the visible clients who hold (or held) one of
    /// `slots`, for predicting what a client takes up next: `(persona, slot, effect,
    /// observed_on)`, oldest first. One indexed query per slot, so an insight reads the clients
    /// that share an interest, not the whole brokerage.
    pub async fn interest_timeline(
        &self,
        caller: &Principal,
        slots: &[String],
    ) -> StoreResult<Vec<(Uuid, String, String, NaiveDate)>> {
        type Found = (
            Uuid,
            Uuid,
            String,
            Json<Value>,
            Option<Vec<u8>>,
            String,
            NaiveDate,
        );
        let mut rows: HashMap<Uuid, (Uuid, String, String, NaiveDate)> = HashMap::new();
        for slot in slots {
            // Slots are sealed: clients who share one are found by its keyed hash.
            let digest = slot_digest(self.blind_index(), caller.brokerage_id, slot);
            let found: Vec<Found> = with_pool!(self, pool => {
                sqlx::query_as(concat!(
                    "SELECT f.id, f.persona_id, f.slot, f.value, f.sealed_fact, f.effect, f.observed_on FROM persona_facts f JOIN personas p ON p.id = f.persona_id
                     WHERE p.brokerage_id = $1 AND ", visible_persona!(), " AND f.kind IN ('preference', 'interest')
                       AND f.status IN ('applied', 'superseded')
                       AND f.persona_id IN (SELECT g.persona_id FROM persona_facts g WHERE g.brokerage_id = $1 AND g.slot_digest = $4)"))
                    .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(digest)
                    .fetch_all(pool).await
            })?;
            for (id, persona, topic, Json(value), sealed, effect, on) in found {
                if rows.contains_key(&id) {
                    continue;
                }
                let content = self.open_fact(id, topic, value, sealed.as_deref()).await?;
                rows.insert(id, (persona, content.slot, effect, on));
            }
        }
        let mut timeline: Vec<(Uuid, (Uuid, String, String, NaiveDate))> =
            rows.into_iter().collect();
        timeline.sort_by_key(|(id, (_, _, _, on))| (*on, *id));
        Ok(timeline.into_iter().map(|(_, row)| row).collect())
    }
}

fn count(facts: &[FactRecord]) -> FactCounts {
    let mut counts = FactCounts::default();
    for fact in facts {
        match fact.status {
            FactStatus::Applied => counts.applied += 1,
            FactStatus::Superseded => counts.superseded += 1,
            FactStatus::Outweighed => counts.outweighed += 1,
            FactStatus::Rejected => counts.rejected += 1,
        }
    }
    counts
}
