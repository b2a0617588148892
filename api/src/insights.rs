//! Predictive interest, computed from enrichment facts. A trend is the recency-weighted sum of a
//! client's facts about one interest (taken up or strengthened counts for it, weakened or
//! dropped against it; weight halves every 180 days). The next likely interests come from the
//! brokerage's other clients: of those who held an interest this client holds, how many later
//! took up another one (a Laplace-smoothed share, with the counts as evidence).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use troupe_shared::domain::{
    Fact, FactEffect, FactKind, FactStatus, InterestTrend, LikelyInterest, PersonaInsights,
};
use uuid::Uuid;

const HALF_LIFE_DAYS: f64 = 180.0;
/// Momentum below this either way is noise.
const TREND_THRESHOLD: f64 = 0.2;
/// A prediction needs this many clients who went the same way.
const MIN_FOLLOWERS: u32 = 2;
const MAX_PREDICTIONS: usize = 5;

/// `preferences.features:wine cellar` → `features:wine cellar`.
fn item_of(slot: &str) -> &str {
    slot.strip_prefix("preferences.")
        .or_else(|| slot.strip_prefix("knowledge_graph."))
        .unwrap_or(slot)
}

fn direction(effect: FactEffect) -> f64 {
    match effect {
        FactEffect::Added => 1.0,
        FactEffect::Strengthened => 1.5,
        FactEffect::Weakened => -1.0,
        FactEffect::Contradicted => -1.5,
    }
}

/// Rising and fading interests from the client's own facts (`next_likely` left empty, see
/// [`predict`]), and the slots of the interests the client holds now.
pub fn trends(
    persona_id: Uuid,
    facts: &[Fact],
    today: NaiveDate,
) -> (PersonaInsights, Vec<String>) {
    let considered: Vec<&Fact> = facts
        .iter()
        .filter(|f| matches!(f.kind, FactKind::Preference | FactKind::Interest))
        .filter(|f| matches!(f.status, FactStatus::Applied | FactStatus::Superseded))
        .collect();
    let mut by_slot: HashMap<&str, Vec<&Fact>> = HashMap::new();
    for fact in &considered {
        by_slot.entry(&fact.slot).or_default().push(fact);
    }
    let (mut rising, mut fading) = (Vec::new(), Vec::new());
    let mut held = Vec::new();
    for (slot, mut facts) in by_slot {
        facts.sort_by_key(|f| (f.observed_on, f.created_at));
        let momentum: f64 = facts
            .iter()
            .map(|f| {
                let age = (today - f.observed_on).num_days().max(0) as f64;
                direction(f.effect) * f.confidence * 0.5f64.powf(age / HALF_LIFE_DAYS)
            })
            .sum();
        let latest = facts.last().expect("grouped facts are never empty");
        let trend = InterestTrend {
            item: item_of(slot).to_owned(),
            momentum: (momentum * 1000.0).round() / 1000.0,
            last_seen: latest.observed_on,
            evidence: facts.iter().rev().map(|f| f.id).collect(),
        };
        if direction(latest.effect) > 0.0 {
            held.push(slot.to_owned());
        }
        if direction(latest.effect) < 0.0 || momentum < -TREND_THRESHOLD {
            fading.push(trend);
        } else if momentum > TREND_THRESHOLD {
            rising.push(trend);
        }
    }
    rising.sort_by(|a, b| b.momentum.total_cmp(&a.momentum));
    fading.sort_by(|a, b| a.momentum.total_cmp(&b.momentum));
    let insights = PersonaInsights {
        persona_id,
        rising,
        fading,
        next_likely: Vec::new(),
        facts_considered: considered.len() as u32,
    };
    (insights, held)
}

/// What clients holding one of `held` later took up, that this client does not hold.
/// `timeline` is theirs (see `Store::interest_timeline`), oldest first.
pub fn predict(
    persona_id: Uuid,
    held_slots: &[String],
    timeline: &[(Uuid, String, String, NaiveDate)],
) -> Vec<LikelyInterest> {
    let held: HashSet<&str> = held_slots.iter().map(|slot| item_of(slot)).collect();
    // When each other client first took up each item (the timeline is oldest first).
    let mut taken_up: HashMap<Uuid, HashMap<&str, NaiveDate>> = HashMap::new();
    for (persona, slot, effect, on) in timeline {
        if *persona == persona_id {
            continue;
        }
        let positive = FactEffect::parse(effect).is_some_and(|e| direction(e) > 0.0);
        if positive {
            taken_up
                .entry(*persona)
                .or_default()
                .entry(item_of(slot))
                .or_insert(*on);
        }
    }
    let mut holders: HashMap<&str, u32> = HashMap::new();
    let mut followed: HashMap<(&str, &str), u32> = HashMap::new();
    for items in taken_up.values() {
        for (antecedent, first) in items {
            if !held.contains(antecedent) {
                continue;
            }
            *holders.entry(antecedent).or_default() += 1;
            for (next, then) in items {
                if then > first && !held.contains(next) {
                    *followed.entry((antecedent, next)).or_default() += 1;
                }
            }
        }
    }
    let mut best: HashMap<&str, LikelyInterest> = HashMap::new();
    for ((antecedent, next), count) in followed {
        if count < MIN_FOLLOWERS {
            continue;
        }
        let with = holders[antecedent];
        let confidence = (count as f64 + 1.0) / (with as f64 + 2.0);
        let candidate = LikelyInterest {
            item: next.to_owned(),
            confidence: (confidence * 1000.0).round() / 1000.0,
            because_of: antecedent.to_owned(),
            clients_with_antecedent: with,
            clients_who_followed: count,
        };
        let better = best
            .get(next)
            .is_none_or(|b| candidate.confidence > b.confidence);
        if better {
            best.insert(next, candidate);
        }
    }
    let mut predictions: Vec<LikelyInterest> = best.into_values().collect();
    predictions.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.item.cmp(&b.item))
    });
    predictions.truncate(MAX_PREDICTIONS);
    predictions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(d.into())
    }

    #[test]
    fn clients_who_went_the_same_way_predict_the_next_interest() {
        let me = Uuid::now_v7();
        let mut timeline = Vec::new();
        for _ in 0..3 {
            let other = Uuid::now_v7();
            timeline.push((
                other,
                "knowledge_graph.interests:sailing".into(),
                "added".into(),
                day(1),
            ));
            timeline.push((
                other,
                "preferences.features:marina access".into(),
                "added".into(),
                day(40),
            ));
        }
        let lone = Uuid::now_v7();
        timeline.push((
            lone,
            "knowledge_graph.interests:sailing".into(),
            "added".into(),
            day(1),
        ));
        let held = ["knowledge_graph.interests:sailing".to_owned()];
        let predicted = predict(me, &held, &timeline);
        assert_eq!(predicted.len(), 1);
        assert_eq!(predicted[0].item, "features:marina access");
        assert_eq!(
            (
                predicted[0].clients_with_antecedent,
                predicted[0].clients_who_followed
            ),
            (4, 3)
        );
        assert!((predicted[0].confidence - 4.0 / 6.0).abs() < 1e-3);
    }
}
