//! The clients and listings of one run, prepared for scoring. Preparing is the costly part of a
//! run that scores little (parsing profiles, word sets, embeddings), so a worker keeps what it
//! prepared and reuses it while a client's version, or a listing's last change, is the same.

use std::{
    collections::{HashMap, HashSet},
    ops::Range,
    sync::{Arc, Mutex},
};

use chrono::{DateTime, Utc};
use troupe_shared::{
    Store,
    domain::{BrokeragePlace, FeedbackOutcome, MatchDetail},
    store::{NewRecommendation, PairFeedback},
};
use uuid::Uuid;

use super::{
    MatchError, MatchingDeps, embedding, explain,
    prepared::{self, PreparedPersona, PreparedProperty, feedback_by_persona},
    score::{self, Rules, Verdict},
};

/// What a run's scoring kept: (client, listing, score) by index into the world.
#[derive(Default)]
pub struct Found {
    pub matches: Vec<(usize, usize, f64)>,
    /// Pairs that break exactly one hard constraint.
    pub near_misses: Vec<(usize, usize, f64)>,
}

/// Prepared things by id, each with the version it was prepared from.
type Entries<V, T> = Mutex<HashMap<Uuid, (V, Arc<T>)>>;

/// What this worker prepared: clients by version, listings by last change, and the brokerage
/// places clients' locations were resolved against.
#[derive(Default)]
pub struct PreparedCache {
    clients: Entries<i64, PreparedPersona>,
    listings: Entries<DateTime<Utc>, PreparedProperty>,
    places: Mutex<HashMap<Uuid, Vec<BrokeragePlace>>>,
}

impl PreparedCache {
    /// Forgets everything of the brokerage not in these (complete) lists: deleted clients and
    /// withdrawn listings.
    pub fn retain(&self, clients: &HashSet<Uuid>, listings: &HashSet<Uuid>, brokerage_id: Uuid) {
        let mut cached = self.clients.lock().expect("cache lock");
        cached.retain(|id, (_, p)| p.brokerage_id != brokerage_id || clients.contains(id));
        let mut cached = self.listings.lock().expect("cache lock");
        cached.retain(|id, (_, p)| p.brokerage_id != brokerage_id || listings.contains(id));
    }
}

pub struct World {
    pub personas: Vec<Arc<PreparedPersona>>,
    pub properties: Vec<Arc<PreparedProperty>>,
    /// How the text similarity was measured, for explanations.
    similarity_by: String,
}

impl World {
    /// The run's clients (id, version) and listings (id, last change), in the order given,
    /// prepared or taken from the cache.
    pub async fn load(
        deps: &MatchingDeps,
        brokerage_id: Uuid,
        clients: &[(Uuid, i64)],
        listings: &[(Uuid, DateTime<Utc>)],
    ) -> Result<World, MatchError> {
        let store = &deps.store;
        let cache = &deps.cache;
        // Clients were placed against the brokerage's own places: when those change, every
        // client of the brokerage is prepared again.
        let places = store.list_places(brokerage_id).await?;
        {
            let mut seen = cache.places.lock().expect("cache lock");
            if seen.get(&brokerage_id) != Some(&places) {
                cache
                    .clients
                    .lock()
                    .expect("cache lock")
                    .retain(|_, (_, p)| p.brokerage_id != brokerage_id);
                seen.insert(brokerage_id, places.clone());
            }
        }
        let missing_clients: HashSet<Uuid> = {
            let cached = cache.clients.lock().expect("cache lock");
            clients
                .iter()
                .filter(|(id, v)| cached.get(id).is_none_or(|(cv, _)| cv != v))
                .map(|(id, _)| *id)
                .collect()
        };
        let missing_listings: HashSet<Uuid> = {
            let cached = cache.listings.lock().expect("cache lock");
            listings
                .iter()
                .filter(|(id, at)| cached.get(id).is_none_or(|(cat, _)| cat != at))
                .map(|(id, _)| *id)
                .collect()
        };
        let missing_clients: Vec<Uuid> = missing_clients.into_iter().collect();
        let missing_listings: Vec<Uuid> = missing_listings.into_iter().collect();
        let new_clients = store
            .personas_for_run(brokerage_id, &missing_clients)
            .await?;
        let new_listings = store
            .properties_by_ids(brokerage_id, &missing_listings)
            .await?;
        let texts = new_clients
            .iter()
            .map(|p| (p.id, prepared::persona_text(p)))
            .chain(
                new_listings
                    .iter()
                    .map(|p| (p.id, prepared::property_text(p))),
            )
            .collect();
        let mut vectors = embedding::embed_all(store, &deps.embedder, brokerage_id, texts).await?;
        if !new_clients.is_empty() {
            let feedback = store.pair_feedback(brokerage_id).await?;
            let liked = liked_texts(store, brokerage_id, &feedback).await?;
            let by_persona = feedback_by_persona(&feedback);
            let mut cached = cache.clients.lock().expect("cache lock");
            for p in &new_clients {
                let theirs = by_persona.get(&p.id).map(Vec::as_slice).unwrap_or_default();
                let liked = liked.get(&p.id).map(Vec::as_slice).unwrap_or_default();
                let vector = vectors.remove(&p.id).unwrap_or_default();
                let prepared = PreparedPersona::new(p, vector, theirs, liked, &places);
                cached.insert(p.id, (p.version, Arc::new(prepared)));
            }
        }
        {
            let mut cached = cache.listings.lock().expect("cache lock");
            for p in &new_listings {
                let vector = vectors.remove(&p.id).unwrap_or_default();
                cached.insert(
                    p.id,
                    (p.updated_at, Arc::new(PreparedProperty::new(p, vector))),
                );
            }
        }
        // A client or listing deleted between listing and loading is simply left out.
        let personas = {
            let cached = cache.clients.lock().expect("cache lock");
            clients
                .iter()
                .filter_map(|(id, _)| cached.get(id).map(|(_, p)| Arc::clone(p)))
                .collect()
        };
        let properties = {
            let cached = cache.listings.lock().expect("cache lock");
            listings
                .iter()
                .filter_map(|(id, _)| cached.get(id).map(|(_, p)| Arc::clone(p)))
                .collect()
        };
        Ok(World {
            personas,
            properties,
            similarity_by: deps.embedder.describe(),
        })
    }

    /// Scores every pair of the blocks (client range × listing range) on the blocking pool,
    /// split across the cores; returns how many pairs were scored, and the matches and near
    /// misses scoring at least `min_score`.
    pub async fn score(
        self,
        blocks: Vec<(Range<usize>, Range<usize>)>,
        rules: Rules,
        min_score: f64,
    ) -> Result<(World, i64, Found), MatchError> {
        let world = Arc::new(self);
        let scoring = Arc::clone(&world);
        let (pairs, found) = tokio::task::spawn_blocking(move || {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let mut pairs = 0i64;
            let mut found = Found::default();
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
                                let mut found = Found::default();
                                for c in start..end {
                                    for l in listings.clone() {
                                        let verdict = score::verdict(
                                            &scoring.personas[c],
                                            &scoring.properties[l],
                                            rules,
                                        );
                                        match verdict {
                                            Verdict::Match(s) if s >= min_score => {
                                                found.matches.push((c, l, s));
                                            }
                                            Verdict::NearMiss(s, _) if s >= min_score => {
                                                found.near_misses.push((c, l, s));
                                            }
                                            _ => {}
                                        }
                                    }
                                }
                                found
                            })
                        })
                        .collect();
                    for handle in handles {
                        let part = handle.join().expect("scoring thread");
                        found.matches.extend(part.matches);
                        found.near_misses.extend(part.near_misses);
                    }
                });
            }
            (pairs, found)
        })
        .await?;
        let world = Arc::try_unwrap(world).unwrap_or_else(|_| unreachable!("scoring is done"));
        Ok((world, pairs, found))
    }

    /// A kept match or near miss, explained.
    pub fn recommend(
        &self,
        persona: usize,
        property: usize,
        rules: Rules,
        nightly_before: Option<Option<f64>>,
    ) -> Option<NewRecommendation> {
        let (client, listing) = (&*self.personas[persona], &*self.properties[property]);
        let scored = score::explain(client, listing, rules, &self.similarity_by)?;
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
                    &scored.constraints,
                    scored.missed.as_ref(),
                ),
                outreach: explain::outreach(client, listing, &highlights),
                highlights,
                components: scored.components,
                constraints_passed: scored.constraints,
                missed: scored.missed,
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
