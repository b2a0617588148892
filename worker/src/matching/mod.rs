//! Property–client matching: a run scores clients against listings (hard constraints, then a
//! decomposed soft score), keeps the best, and writes each one's explanation, highlights and
//! outreach. On demand for one listing or one client; nightly for what changed since the last
//! nightly run, reporting only new or materially changed matches.

mod embedding;
mod explain;
mod prepared;
mod rerank;
mod score;

use std::{collections::HashMap, ops::Range, sync::Arc};

use troupe_shared::{
    Store, StoreError,
    config::MatchingConfig,
    domain::{FeedbackOutcome, MatchDetail, MatchDirection, MatchRun, Persona, Property},
    jobs::MatchingJob,
    store::{NewRecommendation, NightlyScores, PairFeedback},
};
use uuid::Uuid;

use prepared::{PreparedPersona, PreparedProperty, feedback_by_persona};

use crate::{
    engine::Responder,
    llm::{Ledger, LlmError},
};

/// A nightly score that moved less than this since the last run is not reported again.
const MATERIAL_CHANGE: f64 = 0.05;

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("embeddings: {0}")]
    Llm(#[from] LlmError),
    #[error("scoring task failed: {0}")]
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
    let outcome = match run.direction {
        MatchDirection::Nightly => nightly(job.brokerage_id, deps).await,
        _ => on_demand(&run, job.brokerage_id, deps).await,
    };
    match outcome {
        Ok(Some(result)) => {
            store
                .complete_match_run(
                    run.id,
                    job.brokerage_id,
                    result.pairs_scored,
                    &result.recommendations,
                    result.nightly.as_ref(),
                )
                .await?;
            tracing::info!(run = %run.id, pairs = result.pairs_scored, kept = result.recommendations.len(), "match run completed");
            Ok(())
        }
        Ok(None) => {
            store
                .fail_match_run(run.id, "the listing or client to match was deleted")
                .await?;
            Ok(())
        }
        Err(e @ (MatchError::Llm(_) | MatchError::Model(_))) => {
            store.fail_match_run(run.id, &e.to_string()).await?;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

struct RunResult {
    pairs_scored: i64,
    recommendations: Vec<NewRecommendation>,
    nightly: Option<NightlyScores>,
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
        let clients = store
            .clients_for_matching(brokerage_id, caller, None)
            .await?;
        (clients, vec![property])
    } else {
        let clients = store.personas_for_run(brokerage_id, &[subject]).await?;
        if clients.is_empty() {
            return Ok(None);
        }
        (clients, store.active_properties(brokerage_id, None).await?)
    };
    let world = World::prepare(deps, brokerage_id, &clients, &listings).await?;
    let blocks = vec![(0..world.personas.len(), 0..world.properties.len())];
    let tolerance = deps.config.budget_tolerance;
    let min_score = run.params.min_score;
    let (world, pairs_scored, mut found) = world.score(blocks, tolerance, min_score).await?;
    found.sort_by(|a, b| b.2.total_cmp(&a.2));
    found.truncate(run.params.limit as usize);
    let mut recommendations: Vec<NewRecommendation> = found
        .iter()
        .filter_map(|&(persona, property, _)| world.recommend(persona, property, tolerance, None))
        .collect();
    if let (true, Responder::Llm(gateway)) = (run.params.rerank, &deps.responder) {
        let ledger = Ledger::new(deps.token_budget);
        let clients: HashMap<Uuid, &Persona> = clients.iter().map(|p| (p.id, p)).collect();
        let listings: HashMap<Uuid, &Property> = listings.iter().map(|p| (p.id, p)).collect();
        let judged = futures::future::join_all(recommendations.iter_mut().map(|rec| {
            let (client, listing) = (clients[&rec.persona_id], listings[&rec.property_id]);
            rerank::rerank_one(gateway, &ledger, client, listing, rec)
        }))
        .await;
        if let Some(Err(e)) = judged.into_iter().find(Result::is_err) {
            return Err(MatchError::Model(e.to_string()));
        }
        recommendations.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    Ok(Some(RunResult {
        pairs_scored,
        recommendations,
        nightly: None,
    }))
}

/// Every pair involving a client or listing changed since the last completed nightly run (all
/// pairs on the first run); reports, per listing, the best new or materially changed matches.
async fn nightly(
    brokerage_id: Uuid,
    deps: &MatchingDeps,
) -> Result<Option<RunResult>, MatchError> {
    let store = &deps.store;
    let since = store.last_nightly_start(brokerage_id).await?;
    let changed_clients = store
        .clients_for_matching(brokerage_id, None, since)
        .await?;
    let changed_listings = store.active_properties(brokerage_id, since).await?;
    let changed_client_ids: Vec<Uuid> = changed_clients.iter().map(|p| p.id).collect();
    let changed_listing_ids: Vec<Uuid> = changed_listings.iter().map(|p| p.id).collect();
    // The clients and listings the changed ones are matched against, changed ones first.
    let mut clients = changed_clients;
    let mut listings = changed_listings;
    if since.is_some() && !changed_client_ids.is_empty() {
        let all = store.active_properties(brokerage_id, None).await?;
        listings.extend(
            all.into_iter()
                .filter(|p| !changed_listing_ids.contains(&p.id)),
        );
    }
    if since.is_some() && !changed_listing_ids.is_empty() {
        let all = store.clients_for_matching(brokerage_id, None, None).await?;
        clients.extend(
            all.into_iter()
                .filter(|p| !changed_client_ids.contains(&p.id)),
        );
    }
    let world = World::prepare(deps, brokerage_id, &clients, &listings).await?;
    let (changed_c, changed_l) = (changed_client_ids.len(), changed_listing_ids.len());
    let blocks = vec![
        (0..changed_c, 0..world.properties.len()),
        (changed_c..world.personas.len(), 0..changed_l),
    ];
    let tolerance = deps.config.budget_tolerance;
    let threshold = deps.config.report_threshold;
    let (world, pairs_scored, found) = world.score(blocks, tolerance, threshold).await?;
    let previous = store.nightly_scores(brokerage_id).await?;
    let mut reported: Vec<(usize, usize, f64, Option<f64>)> = found
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
            world.recommend(persona, property, tolerance, Some(before))
        })
        .collect();
    let scores = found
        .iter()
        .map(|&(persona, property, score)| {
            (
                world.personas[persona].id,
                world.properties[property].id,
                score,
            )
        })
        .collect();
    Ok(Some(RunResult {
        pairs_scored,
        recommendations,
        nightly: Some(NightlyScores {
            personas: changed_client_ids,
            properties: changed_listing_ids,
            scores,
        }),
    }))
}

/// The prepared clients and listings of one run.
struct World {
    personas: Vec<PreparedPersona>,
    properties: Vec<PreparedProperty>,
}

impl World {
    async fn prepare(
        deps: &MatchingDeps,
        brokerage_id: Uuid,
        clients: &[Persona],
        listings: &[Property],
    ) -> Result<World, MatchError> {
        let store = &deps.store;
        let texts = clients
            .iter()
            .map(|p| (p.id, prepared::persona_text(p)))
            .chain(listings.iter().map(|p| (p.id, prepared::property_text(p))))
            .collect();
        let mut vectors = embedding::embed_all(store, &deps.responder, brokerage_id, texts).await?;
        let feedback = store.pair_feedback(brokerage_id).await?;
        let liked = liked_texts(store, brokerage_id, &feedback).await?;
        let by_persona = feedback_by_persona(&feedback);
        let personas = clients
            .iter()
            .map(|p| {
                let theirs = by_persona.get(&p.id).map(Vec::as_slice).unwrap_or_default();
                let liked = liked.get(&p.id).map(Vec::as_slice).unwrap_or_default();
                PreparedPersona::new(p, vectors.remove(&p.id).unwrap_or_default(), theirs, liked)
            })
            .collect();
        let properties = listings
            .iter()
            .map(|p| PreparedProperty::new(p, vectors.remove(&p.id).unwrap_or_default()))
            .collect();
        Ok(World {
            personas,
            properties,
        })
    }

    /// Scores every pair of the blocks (client range × listing range) on the blocking pool,
    /// split across the cores; returns the pairs scoring at least `min_score` and how many
    /// pairs were scored.
    async fn score(
        self,
        blocks: Vec<(Range<usize>, Range<usize>)>,
        tolerance: f64,
        min_score: f64,
    ) -> Result<(World, i64, Vec<(usize, usize, f64)>), MatchError> {
        let world = Arc::new(self);
        let scoring = Arc::clone(&world);
        let (pairs, found) = tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut pairs = 0i64;
            let mut found = Vec::new();
            for (clients, listings) in blocks {
                pairs += (clients.len() * listings.len()) as i64;
                let chunk = clients.len().div_ceil(threads).max(1);
                let scoring = &scoring;
                std::thread::scope(|scope| {
                    let handles: Vec<_> = clients
                        .clone()
                        .step_by(chunk)
                        .map(|start| {
                            let end = (start + chunk).min(clients.end);
                            let listings = listings.clone();
                            scope.spawn(move || {
                                let mut found = Vec::new();
                                for c in start..end {
                                    for l in listings.clone() {
                                        let s = score::quick_score(
                                            &scoring.personas[c],
                                            &scoring.properties[l],
                                            tolerance,
                                        );
                                        if let Some(s) = s.filter(|s| *s >= min_score) {
                                            found.push((c, l, s));
                                        }
                                    }
                                }
                                found
                            })
                        })
                        .collect();
                    for handle in handles {
                        found.extend(handle.join().expect("scoring thread"));
                    }
                });
            }
            (pairs, found)
        })
        .await?;
        let world = Arc::try_unwrap(world).unwrap_or_else(|_| unreachable!("scoring is done"));
        Ok((world, pairs, found))
    }

    fn recommend(
        &self,
        persona: usize,
        property: usize,
        tolerance: f64,
        nightly_before: Option<Option<f64>>,
    ) -> Option<NewRecommendation> {
        let (client, listing) = (&self.personas[persona], &self.properties[property]);
        let scored = score::explain(client, listing, tolerance)?;
        let highlights = explain::highlights(client, listing);
        Some(NewRecommendation {
            persona_id: client.id,
            property_id: listing.id,
            score: scored.score,
            detail: MatchDetail {
                persona_name: client.name.clone(),
                property_title: listing.title.clone(),
                explanation: explain::explanation(
                    client,
                    listing,
                    scored.score,
                    &scored.components,
                ),
                outreach: explain::outreach(client, listing, &highlights),
                highlights,
                components: scored.components,
                constraints_passed: scored.constraints,
                explained_by: "rules".to_owned(),
                change: nightly_before
                    .map(|before| if before.is_some() { "changed" } else { "new" }.to_owned()),
                previous_score: nightly_before.flatten(),
            },
        })
    }
}

/// The texts of listings each client showed interest in (interested, viewed, made an offer).
async fn liked_texts(
    store: &Store,
    brokerage_id: Uuid,
    feedback: &[PairFeedback],
) -> Result<HashMap<Uuid, Vec<String>>, MatchError> {
    let mut liked: HashMap<Uuid, Vec<String>> = HashMap::new();
    for item in feedback.iter().filter(|f| {
        matches!(
            f.outcome,
            FeedbackOutcome::Interested | FeedbackOutcome::Viewed | FeedbackOutcome::Offer
        )
    }) {
        if let Some(property) = store.get_property(brokerage_id, item.property_id).await? {
            liked
                .entry(item.persona_id)
                .or_default()
                .push(prepared::property_text(&property));
        }
    }
    Ok(liked)
}
