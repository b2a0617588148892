//! The `enrichment` queue's jobs: read each new source (with the model, or the offline rules),
//! check every fact, merge the survivors into the persona as a new version, and announce it.

mod extract;
mod guard;
mod merge;
mod rules;

use std::time::Instant;
use troupe_shared::causes::Causes;

use troupe_shared::{
    Store, StoreError,
    domain::SourceKind,
    jobs::EnrichmentJob,
    store::{EnrichmentOutcome, EnrichmentWork},
};

use crate::{
    engine::{Responder, StepError},
    llm::Ledger,
};

pub use extract::SCHEMA_NAME;

/// Facts kept from one source: a source (or a model) producing more is not describing one
/// client, and the rest are dropped.
const MAX_FACTS_PER_SOURCE: usize = 100;

/// A persona written by someone else while a run merged is merged again this many times.
const MERGE_ATTEMPTS: usize = 5;

pub struct EnrichmentDeps {
    pub store: Store,
    pub responder: Responder,
    /// Tokens one run may spend.
    pub token_budget: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum EnrichmentError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn run_enrichment(
    job: &EnrichmentJob,
    deps: &EnrichmentDeps,
) -> Result<(), EnrichmentError> {
    let Some(work) = deps
        .store
        .start_enrichment(job.brokerage_id, job.enrichment_id)
        .await?
    else {
        return Ok(());
    };
    let started = Instant::now();
    let outcome = learn(work, deps).await?;
    metrics::counter!("troupe_enrichments_total", "outcome" => outcome).increment(1);
    metrics::histogram!("troupe_enrichment_duration_seconds")
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

/// Reads, checks and merges; `completed` or `failed`.
async fn learn(
    mut work: EnrichmentWork,
    deps: &EnrichmentDeps,
) -> Result<&'static str, EnrichmentError> {
    let store = &deps.store;
    let (extractor, candidates) = match read_sources(&work, deps).await {
        Ok(read) => read,
        Err(e) => {
            let reason = Causes(&e).to_string();
            tracing::warn!(enrichment = %work.id, error = %reason, "enrichment failed");
            store.fail_enrichment(work.id, &reason).await?;
            return Ok("failed");
        }
    };
    for _ in 0..MERGE_ATTEMPTS {
        let interactions: Vec<_> = work
            .sources
            .iter()
            .filter(|(source, _)| source.kind == SourceKind::Interaction)
            .map(|(source, text)| (source.clone(), text.as_str()))
            .collect();
        let merged = merge::merge(
            &work.persona.profile,
            &work.facts,
            candidates.clone(),
            &interactions,
        );
        let outcome = EnrichmentOutcome {
            extractor: extractor.clone(),
            profile: merged.profile,
            facts: merged.facts,
            superseded: merged.superseded,
        };
        if store.finish_enrichment(&work, &outcome).await? {
            return Ok("completed");
        }
        // The persona changed under us: merge into what it is now.
        match store.start_enrichment(work.brokerage_id, work.id).await? {
            Some(fresh) => work = fresh,
            None => return Ok("completed"),
        }
    }
    store
        .fail_enrichment(
            work.id,
            "the persona kept changing while the facts were merged; submit again",
        )
        .await?;
    Ok("failed")
}

/// Every source's facts, each with its checks' verdict.
async fn read_sources(
    work: &EnrichmentWork,
    deps: &EnrichmentDeps,
) -> Result<(String, Vec<merge::Checked>), StepError> {
    let ledger = Ledger::new(deps.token_budget);
    let extractor = match &deps.responder {
        Responder::Llm(gateway) => format!("llm:{}", gateway.model()),
        Responder::Offline => "offline-rules".to_owned(),
    };
    let mut checked = Vec::new();
    for (source, text) in &work.sources {
        let mut facts = match &deps.responder {
            Responder::Llm(gateway) => {
                extract::extract(gateway, &work.persona, source, text, &ledger).await?
            }
            Responder::Offline => rules::extract(text),
        };
        if facts.len() > MAX_FACTS_PER_SOURCE {
            tracing::warn!(enrichment = %work.id, source = %source.id, facts = facts.len(),
                "kept the first {MAX_FACTS_PER_SOURCE} facts of a source");
            facts.truncate(MAX_FACTS_PER_SOURCE);
        }
        checked.extend(facts.into_iter().map(|fact| merge::Checked {
            verdict: guard::check(&fact, text),
            source: source.clone(),
            fact,
        }));
    }
    Ok((extractor, checked))
}
