//! The offline persona model: rule-based, deterministic, free. It scores a listing from the
//! persona's wanted features, deal-breakers, budget, locations and temperament, and writes a
//! templated reply. It lets the service run with no provider, and it is the baseline that LLM
//! simulations must beat; results say `provider: offline`.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng, rngs::StdRng};
use troupe_shared::domain::Judgement;

use super::{
    prompt::Turn,
    responder::StepAnswer,
    text::{overlap, phrase_in, words},
};

pub const MODEL_VERSION: &str = "troupe-offline-1";

pub fn answer(turn: &Turn<'_>, seed: u64) -> StepAnswer {
    let persona = &turn.persona.profile;
    let prefs = &persona.preferences;
    let listing = turn.listing;
    let listing_words = words(&listing_text(turn));

    let liked: Vec<String> = prefs
        .features
        .iter()
        .filter(|f| phrase_in(f, &listing_words))
        .cloned()
        .collect();
    let mut disliked: Vec<String> = prefs
        .deal_breakers
        .iter()
        .filter(|d| phrase_in(d, &listing_words))
        .cloned()
        .collect();
    let wanted_share = if prefs.features.is_empty() {
        0.5
    } else {
        liked.len() as f64 / prefs.features.len() as f64
    };

    let mut score = 2.0 + 2.0 * wanted_share;
    let location_words = words(&listing.location.display());
    if prefs
        .locations
        .iter()
        .any(|l| phrase_in(l, &location_words))
    {
        score += 0.5;
    }
    if let Some(kind) = &listing.property_type {
        let kind_words = words(kind);
        if prefs
            .property_types
            .iter()
            .any(|t| phrase_in(t, &kind_words))
        {
            score += 0.5;
        }
    }
    let budget_max = prefs.budget.as_ref().and_then(|b| b.max);
    if let Some(max) = budget_max.filter(|max| listing.price > *max) {
        // Each 10% over budget costs a Likert point.
        score -= 10.0 * (listing.price / max - 1.0);
        disliked.push("price above my budget".to_owned());
    }
    score -= 2.0
        * prefs
            .deal_breakers
            .iter()
            .filter(|d| phrase_in(d, &listing_words))
            .count() as f64;

    // Open personas vary more between runs; the seed keeps every run reproducible.
    let openness = persona.personality_traits.openness.unwrap_or(0.5);
    let mut rng = StdRng::seed_from_u64(seed);
    score += rng.random_range(-0.3..=0.3) * (0.5 + openness);
    let intent = score.round().clamp(1.0, 5.0) as u8;

    let interests: BTreeSet<String> = prefs
        .features
        .iter()
        .chain(&persona.knowledge_graph.interests)
        .flat_map(|f| words(f))
        .collect();
    let breakers: BTreeSet<String> = prefs.deal_breakers.iter().flat_map(|d| words(d)).collect();
    let modification_effects: BTreeMap<String, i8> = turn
        .modifications
        .iter()
        .map(|m| {
            let gain = overlap(m, &interests).min(2) as i8;
            let loss = overlap(m, &breakers).min(2) as i8;
            (m.clone(), (gain - loss).clamp(-2, 2))
        })
        .collect();

    let willingness_to_pay = (intent >= 3).then(|| {
        let ceiling = budget_max.unwrap_or(listing.price * 1.1);
        (listing.price * (0.80 + 0.05 * f64::from(intent))).min(ceiling)
    });
    let judgement = Judgement {
        purchase_intent: intent,
        purchase_probability: (f64::from(intent) - 1.0) / 4.0 * 0.8,
        willingness_to_pay,
        likes: liked,
        dislikes: disliked,
        modification_effects,
    };
    StepAnswer {
        answer: reply_text(turn, &judgement),
        judgement,
    }
}

fn listing_text(turn: &Turn<'_>) -> String {
    let l = turn.listing;
    let photos = l.photos.iter().map(|p| p.description.as_str());
    [l.title.as_str(), l.description.as_str()]
        .into_iter()
        .chain(l.features.iter().map(String::as_str))
        .chain(photos)
        .collect::<Vec<_>>()
        .join(" . ")
}

fn reply_text(turn: &Turn<'_>, judgement: &Judgement) -> String {
    let verdict = match judgement.purchase_intent {
        5 => "I would move quickly on this one",
        4 => "this is a serious contender for me",
        3 => "I could be persuaded, but I am not sold",
        2 => "it is unlikely to be for me",
        _ => "this is not for me",
    };
    let mut reply = format!("On \"{}\": {verdict}.", turn.question.trim());
    if !judgement.likes.is_empty() {
        reply.push_str(&format!(" I value the {}.", judgement.likes.join(", ")));
    }
    if !judgement.dislikes.is_empty() {
        reply.push_str(&format!(
            " What holds me back: {}.",
            judgement.dislikes.join(", ")
        ));
    }
    reply
}

#[cfg(test)]
mod tests {
    use troupe_shared::domain::{
        Budget, Persona, PersonaProfile, Preferences, PropertyDetails, Visibility,
    };
    use uuid::Uuid;

    use super::*;

    fn persona(features: &[&str], deal_breakers: &[&str], max: f64) -> Persona {
        Persona {
            id: Uuid::nil(),
            brokerage_id: Uuid::nil(),
            agent_id: Uuid::nil(),
            team_id: None,
            visibility: Visibility::Brokerage,
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            profile: PersonaProfile {
                name: "Test".into(),
                preferences: Preferences {
                    features: features.iter().map(|s| s.to_string()).collect(),
                    deal_breakers: deal_breakers.iter().map(|s| s.to_string()).collect(),
                    budget: Some(Budget {
                        min: None,
                        max: Some(max),
                    }),
                    ..Default::default()
                },
                ..Default::default()
            },
        }
    }

    fn listing() -> PropertyDetails {
        PropertyDetails {
            title: "Oceanfront estate".into(),
            price: 20_000_000.0,
            features: vec![
                "wine cellar".into(),
                "ocean views".into(),
                "guest house".into(),
            ],
            ..Default::default()
        }
    }

    fn intent(p: &Persona, modifications: &[String]) -> Judgement {
        let listing = listing();
        let turn = Turn {
            persona: p,
            listing: &listing,
            modifications,
            memory: &[],
            question: "Would you buy it?",
        };
        answer(&turn, 7).judgement
    }

    #[test]
    fn a_good_fit_within_budget_scores_high_and_a_deal_breaker_scores_low() {
        let fit = intent(&persona(&["wine cellar", "ocean view"], &[], 30e6), &[]);
        let breaker = intent(&persona(&["wine cellar"], &["guest house"], 30e6), &[]);
        let over_budget = intent(&persona(&["wine cellar", "ocean view"], &[], 15e6), &[]);
        assert!(fit.purchase_intent >= 4, "{fit:?}");
        assert!(breaker.purchase_intent <= 2, "{breaker:?}");
        assert!(over_budget.purchase_intent <= 2, "{over_budget:?}");
        assert!(over_budget.dislikes.iter().any(|d| d.contains("budget")));
    }

    #[test]
    fn modifications_follow_interests_and_deal_breakers() {
        let mods = vec![
            "Add a heated pool".to_owned(),
            "Convert the guest house to a gym".to_owned(),
        ];
        let j = intent(&persona(&["pool"], &["gym"], 30e6), &mods);
        assert_eq!(j.modification_effects["Add a heated pool"], 1);
        assert_eq!(
            j.modification_effects["Convert the guest house to a gym"],
            -1
        );
    }
}
