//! Property–client matching: a run scores clients against listings (hard constraints, then a
//! decomposed soft score), keeps the best, and writes each one's explanation, highlights and
//! outreach. On demand for one listing or one client; nightly for what changed since the last
//! nightly run, reporting only new or materially changed matches.

mod embedding;
mod explain;
mod facts;
mod prepared;
mod rerank;
mod score;
mod world;

use std::{collections::HashMap, sync::Arc};
use troupe_shared::causes::Causes;

use chrono::{DateTime, Utc};

use troupe_shared::{
    Store, StoreError,
    config::MatchingConfig,
    domain::{MatchDirection, MatchRun, Persona, Property},
    jobs::MatchingJob,
    store::{NewRecommendation, NightlyScores},
};
use uuid::Uuid;

use embedding::Embedder;
use score::Rules;
pub use world::PreparedCache;
use world::World;

use crate::{
    engine::Responder,
    llm::{Gateway, Ledger, LlmError},
    sentence_model::{SentenceModel, SentenceModelError},
};

/// A nightly score that moved less than this since the last run is not reported again.
const MATERIAL_CHANGE: f64 = 0.05;

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("embeddings")]
    Llm(#[from] LlmError),
    #[error("the local embedding model")]
    Embedding(#[from] SentenceModelError),
    #[error("scoring task failed")]
    Join(#[from] tokio::task::JoinError),
    #[error("the model re-rank failed: {0}")]
    Model(String),
}

pub struct MatchingDeps {
    pub store: Store,
    pub responder: Responder,
    pub config: MatchingConfig,
    pub max_attempts: u32,
    /// Tokens one run's re-rank may spend.
    pub token_budget: u64,
    pub cache: PreparedCache,
    embedder: Embedder,
}

impl MatchingDeps {
    /// `model`: the local sentence-embedding model, when one is installed (used without a
    /// provider).
    pub fn new(
        store: Store,
        responder: Responder,
        config: MatchingConfig,
        max_attempts: u32,
        token_budget: u64,
        model: Option<Arc<SentenceModel>>,
    ) -> MatchingDeps {
        let embedder = Embedder::choose(&responder, model);
        tracing::info!(similarity = %embedder.describe(), "matching embeddings");
        MatchingDeps {
            store,
            responder,
            config,
            max_attempts,
            token_budget,
            cache: PreparedCache::default(),
            embedder,
        }
    }
}

/// Runs one match run to completion. Delivery is at least once: a run already final is left
/// alone, and the result is written in one transaction that only the first finisher wins.
pub async fn run_match(job: &MatchingJob, deps: &MatchingDeps) -> Result<(), MatchError> {
    let store = &deps.store;
    let Some((run, attempts)) = store.start_match_run(job.run_id).await? else {
        return Ok(());
    };
    if attempts as u32 > deps.max_attempts {
        let reason = format!("gave up after {} attempts", deps.max_attempts);
        store.fail_match_run(run.id, &reason).await?;
        return Ok(());
    }
    let started = std::time::Instant::now();
    let outcome = match run.direction {
        MatchDirection::Nightly => nightly(job.brokerage_id, deps).await,
        _ => on_demand(&run, job.brokerage_id, deps).await,
    };
    match outcome {
        Ok(Some(result)) => {
            let computed = started.elapsed();
            store
                .complete_match_run(
                    run.id,
                    job.brokerage_id,
                    result.pairs_scored,
                    &result.recommendations,
                    &result.near_misses,
                    result.nightly.as_ref(),
                )
                .await?;
            tracing::info!(
                run = %run.id,
                pairs = result.pairs_scored,
                kept = result.recommendations.len(),
                compute_ms = computed.as_millis() as u64,
                store_ms = (started.elapsed() - computed).as_millis() as u64,
                "match run completed"
            );
            Ok(())
        }
        Ok(None) => {
            store
                .fail_match_run(run.id, "the listing or client to match was deleted")
                .await?;
            Ok(())
        }
        Err(e @ (MatchError::Llm(_) | MatchError::Model(_))) => {
            let reason = Causes(&e).to_string();
            store.fail_match_run(run.id, &reason).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

struct RunResult {
    pairs_scored: i64,
    recommendations: Vec<NewRecommendation>,
    /// The best pairs that break exactly one hard constraint, best first.
    near_misses: Vec<NewRecommendation>,
    nightly: Option<NightlyScores>,
}

fn rules(config: &MatchingConfig) -> Rules {
    Rules {
        budget_tolerance: config.budget_tolerance,
        place_allowance_km: config.place_allowance_km,
    }
}

/// One listing against the clients the caller may see, or one client against every active
/// listing. `None` when the subject no longer exists.
async fn on_demand(
    run: &MatchRun,
    brokerage_id: Uuid,
    deps: &MatchingDeps,
) -> Result<Option<RunResult>, MatchError> {
    let store = &deps.store;
    let Some(subject) = run.subject_id else {
        return Ok(None);
    };
    let (clients, listings) = if run.direction == MatchDirection::PropertyToClients {
        let Some(property) = store.get_property(brokerage_id, subject).await? else {
            return Ok(None);
        };
        let caller = run.params.caller.as_ref().map(|c| (c.user_id, c.team_id));
        let clients = store.client_versions(brokerage_id, caller).await?;
        let clients = clients
            .into_iter()
            .map(|(id, version, _)| (id, version))
            .collect();
        (clients, vec![(property.id, property.updated_at)])
    } else {
        let Some(client) = store
            .personas_for_run(brokerage_id, &[subject])
            .await?
            .pop()
        else {
            return Ok(None);
        };
        let listings = store.active_listing_versions(brokerage_id).await?;
        (vec![(client.id, client.version)], listings)
    };
    let world = World::load(deps, brokerage_id, &clients, &listings).await?;
    let blocks = vec![(0..world.personas.len(), 0..world.properties.len())];
    let rules = rules(&deps.config);
    let min_score = run.params.min_score;
    let (world, pairs_scored, found) = world.score(blocks, rules, min_score).await?;
    let limit = run.params.limit as usize;
    let best = |mut pairs: Vec<(usize, usize, f64)>| -> Vec<NewRecommendation> {
        pairs.sort_by(|a, b| b.2.total_cmp(&a.2));
        pairs.truncate(limit);
        pairs
            .iter()
            .filter_map(|&(persona, property, _)| world.recommend(persona, property, rules, None))
            .collect()
    };
    let mut recommendations = best(found.matches);
    let near_misses = best(found.near_misses);
    if let (true, Responder::Llm(gateway)) = (run.params.rerank, &deps.responder) {
        rerank(gateway, deps, brokerage_id, &mut recommendations).await?;
    }
    Ok(Some(RunResult {
        pairs_scored,
        recommendations,
        near_misses,
        nightly: None,
    }))
}

/// Has the model judge each kept match (the full client and listing, loaded again: the world
/// holds only what scoring needs), then orders them by the new scores.
async fn rerank(
    gateway: &Gateway,
    deps: &MatchingDeps,
    brokerage_id: Uuid,
    recommendations: &mut [NewRecommendation],
) -> Result<(), MatchError> {
    let store = &deps.store;
    let ledger = Ledger::new(deps.token_budget);
    let mut clients: HashMap<Uuid, Persona> = HashMap::new();
    let mut listings: HashMap<Uuid, Property> = HashMap::new();
    for rec in recommendations.iter() {
        if !clients.contains_key(&rec.persona_id) {
            let found = store
                .personas_for_run(brokerage_id, &[rec.persona_id])
                .await?;
            clients.extend(found.into_iter().map(|p| (p.id, p)));
        }
        if !listings.contains_key(&rec.property_id) {
            let found = store.get_property(brokerage_id, rec.property_id).await?;
            listings.extend(found.map(|p| (p.id, p)));
        }
    }
    let judged = futures::future::join_all(recommendations.iter_mut().filter_map(|rec| {
        let client = clients.get(&rec.persona_id)?;
        let listing = listings.get(&rec.property_id)?;
        Some(rerank::rerank_one(gateway, &ledger, client, listing, rec))
    }))
    .await;
    if let Some(Err(e)) = judged.into_iter().find(Result::is_err) {
        return Err(MatchError::Model(e.to_string()));
    }
    recommendations.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(())
}

/// Every pair involving a client or listing changed since the last completed nightly run (all
/// pairs on the first run); reports, per listing, the best new or materially changed matches.
async fn nightly(brokerage_id: Uuid, deps: &MatchingDeps) -> Result<Option<RunResult>, MatchError> {
    let store = &deps.store;
    let clock = std::time::Instant::now();
    let since = store.last_nightly_start(brokerage_id).await?;
    let changed = |at: &DateTime<Utc>| since.is_none_or(|since| *at > since);
    let all_clients = store.client_versions(brokerage_id, None).await?;
    let all_listings = store.active_listing_versions(brokerage_id).await?;
    deps.cache.retain(
        &all_clients.iter().map(|c| c.0).collect(),
        &all_listings.iter().map(|l| l.0).collect(),
        brokerage_id,
    );
    // Changed ones first: a changed client meets every listing, an unchanged one only the
    // changed listings.
    let (changed_clients, other_clients): (Vec<_>, Vec<_>) =
        all_clients.into_iter().partition(|(_, _, at)| changed(at));
    let (changed_listings, other_listings): (Vec<_>, Vec<_>) =
        all_listings.into_iter().partition(|(_, at)| changed(at));
    let changed_client_ids: Vec<Uuid> = changed_clients.iter().map(|c| c.0).collect();
    let changed_listing_ids: Vec<Uuid> = changed_listings.iter().map(|l| l.0).collect();
    let mut clients: Vec<(Uuid, i64)> = changed_clients.iter().map(|c| (c.0, c.1)).collect();
    if !changed_listing_ids.is_empty() {
        clients.extend(other_clients.iter().map(|c| (c.0, c.1)));
    }
    let mut listings = changed_listings;
    if !changed_client_ids.is_empty() {
        listings.extend(other_listings);
    }
    let listed = clock.elapsed();
    let world = World::load(deps, brokerage_id, &clients, &listings).await?;
    let loaded = clock.elapsed();
    // Anything deleted since it was listed is missing from the world; the changed still lead.
    let changed_c = count_leading(world.personas.iter().map(|p| p.id), &changed_client_ids);
    let changed_l = count_leading(world.properties.iter().map(|p| p.id), &changed_listing_ids);
    let blocks = vec![
        (0..changed_c, 0..world.properties.len()),
        (changed_c..world.personas.len(), 0..changed_l),
    ];
    let rules = rules(&deps.config);
    let threshold = deps.config.report_threshold;
    let (world, pairs_scored, found) = world.score(blocks, rules, threshold).await?;
    let scored = clock.elapsed();
    let previous = store.nightly_scores(brokerage_id, since).await?;
    let mut reported: Vec<(usize, usize, f64, Option<f64>)> = found
        .matches
        .iter()
        .filter_map(|&(persona, property, score)| {
            let key = (world.personas[persona].id, world.properties[property].id);
            match previous.get(&key) {
                Some(&before) if (score - before).abs() < MATERIAL_CHANGE => None,
                before => Some((persona, property, score, before.copied())),
            }
        })
        .collect();
    reported.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut kept_per_listing: HashMap<usize, usize> = HashMap::new();
    reported.retain(|&(_, property, _, _)| {
        let kept = kept_per_listing.entry(property).or_default();
        *kept += 1;
        *kept <= deps.config.report_top_k
    });
    let recommendations = reported
        .iter()
        .filter_map(|&(persona, property, _, before)| {
            world.recommend(persona, property, rules, Some(before))
        })
        .collect();
    // Every pair scored tonight involves a change, so its near misses are new ones.
    let mut near_misses = found.near_misses;
    near_misses.sort_by(|a, b| b.2.total_cmp(&a.2));
    let mut kept_per_listing: HashMap<usize, usize> = HashMap::new();
    near_misses.retain(|&(_, property, _)| {
        let kept = kept_per_listing.entry(property).or_default();
        *kept += 1;
        *kept <= deps.config.report_top_k
    });
    let near_misses = near_misses
        .iter()
        .filter_map(|&(persona, property, _)| world.recommend(persona, property, rules, Some(None)))
        .collect();
    let scores = found
        .matches
        .iter()
        .map(|&(persona, property, score)| {
            (
                world.personas[persona].id,
                world.properties[property].id,
                score,
            )
        })
        .collect();
    tracing::debug!(
        list_ms = listed.as_millis() as u64,
        load_ms = (loaded - listed).as_millis() as u64,
        score_ms = (scored - loaded).as_millis() as u64,
        report_ms = (clock.elapsed() - scored).as_millis() as u64,
        "nightly run's phases"
    );
    Ok(Some(RunResult {
        pairs_scored,
        recommendations,
        near_misses,
        nightly: Some(NightlyScores {
            personas: changed_client_ids,
            properties: changed_listing_ids,
            scores,
        }),
    }))
}

/// How many of `ids` come first in `order`.
fn count_leading(order: impl Iterator<Item = Uuid>, ids: &[Uuid]) -> usize {
    let ids: std::collections::HashSet<&Uuid> = ids.iter().collect();
    order.take_while(|id| ids.contains(id)).count()
}
