//! Merging checked facts into a persona. Each fact is about a slot (the budget, one feature, one
//! relationship); the slot's current fact is the applied one. A new fact about a slot wins if it
//! was observed later, or on the same day with at least the same confidence; the fact it
//! replaces is marked superseded (it stays, with the version that held it, in history), and a
//! fact that loses is kept as outweighed without touching the persona.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Value, json};
use troupe_shared::{
    domain::{
        CandidateFact, Fact, FactEffect, FactKind, FactStatus, LifeEvent, PersonaProfile,
        PreferenceStrength, SourceRef,
    },
    store::{FactRecord, Supersession},
};
use uuid::Uuid;

/// A fact read in a source, with the verdict of its checks.
#[derive(Clone)]
pub struct Checked {
    pub source: SourceRef,
    pub fact: CandidateFact,
    pub verdict: Result<(), String>,
}

pub struct Merged {
    /// The new profile, if any fact changed it.
    pub profile: Option<PersonaProfile>,
    pub facts: Vec<FactRecord>,
    pub superseded: Vec<Supersession>,
}

/// The applied fact currently holding a slot.
#[derive(Clone)]
struct Holder {
    id: Uuid,
    observed_on: NaiveDate,
    confidence: f64,
    value: Value,
    effect: FactEffect,
}

/// Merges the facts, and adds logged interactions to the persona's (sealed) history.
pub fn merge(
    profile: &PersonaProfile,
    existing: &[Fact],
    mut candidates: Vec<Checked>,
    interactions: &[(SourceRef, &str)],
) -> Merged {
    let mut holders: HashMap<String, Holder> = existing
        .iter()
        .filter(|f| f.status == FactStatus::Applied)
        .map(|f| {
            let holder = Holder {
                id: f.id,
                observed_on: f.observed_on,
                confidence: f.confidence,
                value: f.value.clone(),
                effect: f.effect,
            };
            (f.slot.clone(), holder)
        })
        .collect();
    // Oldest first, so that within one run the most recent source has the last word.
    candidates.sort_by(|a, b| {
        (a.source.occurred_on, a.fact.confidence)
            .partial_cmp(&(b.source.occurred_on, b.fact.confidence))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut next = profile.clone();
    for (source, text) in interactions {
        next.interaction_history.push(json!({
            "date": source.occurred_on, "summary": text, "source_id": source.id,
        }));
    }
    let mut facts = Vec::new();
    let mut superseded = Vec::new();
    for Checked {
        source,
        fact,
        verdict,
    } in candidates
    {
        let id = Uuid::now_v7();
        let slot = slot_of(&fact);
        let mut record = FactRecord {
            id,
            source_id: source.id,
            kind: fact.kind,
            slot: slot.clone(),
            value: fact.value.clone(),
            effect: fact.effect,
            confidence: fact.confidence,
            status: FactStatus::Applied,
            reason: None,
            observed_on: source.occurred_on,
            quote: fact.quote.clone(),
        };
        if let Err(reason) = verdict {
            record.status = FactStatus::Rejected;
            record.reason = Some(reason);
            facts.push(record);
            continue;
        }
        // A deal-breaker displaces the same thing liked, and a liking the same thing refused.
        let rivals = rival_slots(&fact);
        let current = std::iter::once(&slot)
            .chain(&rivals)
            .filter_map(|s| holders.get(s).map(|h| (s.clone(), h.clone())))
            .max_by_key(|(_, h)| h.observed_on);
        if let Some((_, holder)) = &current
            && (source.occurred_on, fact.confidence) < (holder.observed_on, holder.confidence)
        {
            record.status = FactStatus::Outweighed;
            record.reason = Some(format!(
                "fact {} (observed {}, confidence {:.2}) is more recent or more certain",
                holder.id, holder.observed_on, holder.confidence
            ));
            facts.push(record);
            continue;
        }
        apply(&mut next, &fact, source.id, source.occurred_on);
        remember(&mut next, &record);
        for rival in std::iter::once(&slot).chain(&rivals) {
            if let Some(holder) = holders.remove(rival)
                && (holder.value != fact.value || holder.effect != fact.effect || rival != &slot)
            {
                superseded.push(Supersession {
                    fact_id: holder.id,
                    by: id,
                    reason: format!("replaced by the source of {}", source.occurred_on),
                });
            }
        }
        holders.insert(
            slot,
            Holder {
                id,
                observed_on: source.occurred_on,
                confidence: fact.confidence,
                value: fact.value.clone(),
                effect: fact.effect,
            },
        );
        facts.push(record);
    }
    Merged {
        profile: (next != *profile).then_some(next),
        facts,
        superseded,
    }
}

/// The persona's semantic memory: applied facts join `enrichment_sources`, which simulation
/// prompts draw on. The list is bounded (the profile's own limit); the oldest learned fact makes
/// room, and every fact stays in the fact store.
const MEMORY_LIMIT: usize = 200;

fn remember(profile: &mut PersonaProfile, fact: &FactRecord) {
    let memory = &mut profile.enrichment_sources;
    if memory.len() >= MEMORY_LIMIT
        && let Some(oldest) = memory.iter().position(|m| m["kind"] == "fact")
    {
        memory.remove(oldest);
    }
    if memory.len() < MEMORY_LIMIT {
        let value = match &fact.value {
            Value::String(text) => text.clone(),
            Value::Object(fields) => fields
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    format!(
                        "{k} {}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        let topic = fact.slot.split(':').next().unwrap_or_default();
        let topic = topic.rsplit('.').next().unwrap_or(topic).replace('_', " ");
        memory.push(json!({
            "kind": "fact",
            "fact": format!("{topic} {}: {value}", fact.effect.as_str()),
            "date": fact.observed_on,
            "source_id": fact.source_id,
            "fact_id": fact.id,
        }));
    }
}

fn key(value: &Value) -> String {
    value.as_str().unwrap_or_default().trim().to_lowercase()
}

/// What a fact is about: `preferences.budget`, `preferences.features:wine cellar`, …
pub fn slot_of(fact: &CandidateFact) -> String {
    let v = &fact.value;
    match fact.kind {
        FactKind::Preference => format!(
            "preferences.{}:{}",
            fact.category.as_deref().unwrap_or("features"),
            key(v)
        ),
        FactKind::DealBreaker => format!("preferences.deal_breakers:{}", key(v)),
        FactKind::Budget => "preferences.budget".into(),
        FactKind::NetWorth => "demographics.net_worth_range".into(),
        FactKind::Occupation => "demographics.occupation".into(),
        FactKind::CommunicationPreference => "personality_traits.communication_preference".into(),
        FactKind::LifeEvent => format!("life_events:{}", key(v)),
        FactKind::Relationship => format!("knowledge_graph.relationships:{}", key(&v["name"])),
        FactKind::Interest => format!("knowledge_graph.interests:{}", key(v)),
        FactKind::PastProperty => format!("knowledge_graph.past_properties:{}", key(&v["title"])),
    }
}

fn rival_slots(fact: &CandidateFact) -> Vec<String> {
    let item = key(&fact.value);
    match fact.kind {
        FactKind::DealBreaker => ["property_types", "locations", "features"]
            .iter()
            .map(|c| format!("preferences.{c}:{item}"))
            .collect(),
        FactKind::Preference => vec![format!("preferences.deal_breakers:{item}")],
        _ => Vec::new(),
    }
}

fn apply(profile: &mut PersonaProfile, fact: &CandidateFact, source: Uuid, on: NaiveDate) {
    let text = fact.value.as_str().unwrap_or_default().trim().to_owned();
    let gained = matches!(fact.effect, FactEffect::Added | FactEffect::Strengthened);
    let prefs = &mut profile.preferences;
    match fact.kind {
        FactKind::Preference | FactKind::DealBreaker => {
            let category = match fact.kind {
                FactKind::DealBreaker => "deal_breakers",
                _ => fact.category.as_deref().unwrap_or("features"),
            };
            if fact.kind == FactKind::DealBreaker && gained {
                for liked in ["property_types", "locations", "features"] {
                    set_listed(prefs_list(prefs, liked), &text, false);
                    prefs
                        .strengths
                        .retain(|s| !(s.category == liked && same(&s.value, &text)));
                }
            }
            if fact.kind == FactKind::Preference && gained {
                set_listed(&mut prefs.deal_breakers, &text, false);
                prefs
                    .strengths
                    .retain(|s| !(s.category == "deal_breakers" && same(&s.value, &text)));
            }
            let strength = adjust_strength(prefs, category, &text, fact, source);
            set_listed(prefs_list(prefs, category), &text, strength.is_some());
        }
        FactKind::Budget => {
            let budget = prefs.budget.get_or_insert_with(Default::default);
            if let Some(min) = fact.value["min"].as_f64() {
                budget.min = Some(min);
            }
            if let Some(max) = fact.value["max"].as_f64() {
                budget.max = Some(max);
            }
        }
        FactKind::NetWorth => profile.demographics.net_worth_range = Some(text),
        FactKind::Occupation => profile.demographics.occupation = Some(text),
        FactKind::CommunicationPreference => {
            profile.personality_traits.communication_preference = Some(text);
        }
        FactKind::LifeEvent => {
            if !profile
                .life_events
                .iter()
                .any(|e| same(&e.description, &text))
            {
                profile.life_events.push(LifeEvent {
                    description: text,
                    occurred_on: Some(on),
                    source_id: Some(source),
                });
            }
        }
        FactKind::Interest => set_listed(&mut profile.knowledge_graph.interests, &text, gained),
        FactKind::Relationship => {
            let name = fact.value["name"].as_str().unwrap_or_default();
            let graph = &mut profile.knowledge_graph.relationships;
            graph.retain(|r| !same(r["name"].as_str().unwrap_or_default(), name));
            if fact.effect != FactEffect::Contradicted {
                graph.push(json!({ "name": name, "relation": fact.value["relation"], "source_id": source }));
            }
        }
        FactKind::PastProperty => {
            let title = fact.value["title"].as_str().unwrap_or_default();
            let past = &mut profile.knowledge_graph.past_properties;
            past.retain(|p| !same(p["title"].as_str().unwrap_or_default(), title));
            let mut entry = fact.value.clone();
            entry["source_id"] = json!(source);
            past.push(entry);
        }
    }
}

fn prefs_list<'a>(
    prefs: &'a mut troupe_shared::domain::Preferences,
    category: &str,
) -> &'a mut Vec<String> {
    match category {
        "property_types" => &mut prefs.property_types,
        "locations" => &mut prefs.locations,
        "deal_breakers" => &mut prefs.deal_breakers,
        _ => &mut prefs.features,
    }
}

/// The preference's new strength (none: no longer held). Added starts from the fact's
/// confidence; strengthened and weakened move it; contradicted drops it.
fn adjust_strength(
    prefs: &mut troupe_shared::domain::Preferences,
    category: &str,
    value: &str,
    fact: &CandidateFact,
    source: Uuid,
) -> Option<f64> {
    let at = prefs
        .strengths
        .iter()
        .position(|s| s.category == category && same(&s.value, value));
    let before = at.map(|i| prefs.strengths[i].strength);
    let after = match fact.effect {
        FactEffect::Added => before.unwrap_or(0.0).max(0.4 + 0.4 * fact.confidence),
        FactEffect::Strengthened => (before.unwrap_or(0.5) + 0.25).min(1.0),
        FactEffect::Weakened => before.unwrap_or(0.5) - 0.3,
        FactEffect::Contradicted => 0.0,
    };
    let after = (after > 0.2).then_some((after * 100.0).round() / 100.0);
    match (at, after) {
        (Some(i), Some(strength)) => {
            prefs.strengths[i].strength = strength;
            prefs.strengths[i].source_id = Some(source);
        }
        (Some(i), None) => {
            prefs.strengths.remove(i);
        }
        (None, Some(strength)) => prefs.strengths.push(PreferenceStrength {
            category: category.to_owned(),
            value: value.to_owned(),
            strength,
            source_id: Some(source),
        }),
        (None, None) => {}
    }
    after
}

fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Puts `item` in the list (keeping an existing spelling) or takes it out.
fn set_listed(list: &mut Vec<String>, item: &str, present: bool) {
    let found = list.iter().position(|i| same(i, item));
    match (found, present) {
        (None, true) => list.push(item.to_owned()),
        (Some(i), false) => {
            list.remove(i);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use troupe_shared::domain::SourceKind;

    use super::*;

    fn source(day: u32) -> SourceRef {
        SourceRef {
            id: Uuid::now_v7(),
            kind: SourceKind::Transcript,
            occurred_on: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            author: None,
            title: None,
            bytes: 1,
        }
    }

    fn budget(max: f64, day: u32) -> Checked {
        Checked {
            source: source(day),
            fact: CandidateFact {
                kind: FactKind::Budget,
                category: None,
                value: json!({ "min": null, "max": max }),
                effect: FactEffect::Contradicted,
                quote: "budget".into(),
                confidence: 0.8,
            },
            verdict: Ok(()),
        }
    }

    fn stored(record: &FactRecord) -> Fact {
        Fact {
            id: record.id,
            kind: record.kind,
            slot: record.slot.clone(),
            value: record.value.clone(),
            effect: record.effect,
            confidence: record.confidence,
            status: record.status,
            reason: None,
            superseded_by: None,
            version: Some(2),
            source: source(record.observed_on.day0() + 1),
            quote: record.quote.clone(),
            observed_on: record.observed_on,
            created_at: chrono::Utc::now(),
        }
    }

    use chrono::Datelike;

    #[test]
    fn a_newer_fact_supersedes_and_an_older_one_is_outweighed() {
        let first = merge(&PersonaProfile::default(), &[], vec![budget(3e7, 2)], &[]);
        let profile = first.profile.unwrap();
        assert_eq!(profile.preferences.budget.as_ref().unwrap().max, Some(3e7));
        let known = vec![stored(&first.facts[0])];

        let newer = merge(&profile, &known, vec![budget(4e7, 9)], &[]);
        assert_eq!(
            newer.profile.unwrap().preferences.budget.unwrap().max,
            Some(4e7)
        );
        assert_eq!(newer.superseded.len(), 1);
        assert_eq!(newer.superseded[0].fact_id, known[0].id);

        let older = merge(&profile, &known, vec![budget(1e7, 1)], &[]);
        assert!(older.profile.is_none());
        assert_eq!(older.facts[0].status, FactStatus::Outweighed);
    }

    #[test]
    fn a_deal_breaker_displaces_the_same_liking() {
        let mut profile = PersonaProfile::default();
        profile.preferences.features.push("Pool".into());
        let refused = Checked {
            source: source(3),
            fact: CandidateFact {
                kind: FactKind::DealBreaker,
                category: None,
                value: json!("pool"),
                effect: FactEffect::Added,
                quote: "no pool".into(),
                confidence: 0.7,
            },
            verdict: Ok(()),
        };
        let merged = merge(&profile, &[], vec![refused], &[]).profile.unwrap();
        assert!(merged.preferences.features.is_empty());
        assert_eq!(merged.preferences.deal_breakers, ["pool"]);
        assert_eq!(merged.preferences.strengths[0].category, "deal_breakers");
    }
}
