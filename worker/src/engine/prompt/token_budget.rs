//! The per-step token target: a fully enriched persona's agent step (prompt + the longest reply
//! the schema invites) stays within 2,500 tokens, however much the persona knows. TinyTroupe's
//! own example spends about 13,000 per call.

use chrono::Utc;
use serde_json::json;
use troupe_shared::domain::{
    Budget, Demographics, KnowledgeGraph, Location, Persona, PersonaProfile, PersonalityTraits,
    Photo, Preferences, PropertyDetails, Question, Visibility,
};
use uuid::Uuid;

use super::{ListingAsk, Stimulus, Turn, judgeable_photos, messages};
use crate::{engine::memory::Memory, llm::count_tokens};

const TARGET: usize = 2_500;
const MODEL: &str = "gpt-4o-mini";

/// `n` words of ordinary English prose (token counts depend on realistic text), tagged.
fn words(n: usize, tag: &str) -> String {
    const PROSE: &str = "the client asked about the ocean views and said the price was high \
        but the guest house and the wine cellar would suit the family when they visit in summer";
    let prose: Vec<&str> = PROSE.split_whitespace().collect();
    let mut text = vec![tag];
    text.extend(prose.iter().cycle().take(n.saturating_sub(1)));
    text.join(" ")
}

fn enriched() -> Persona {
    let facts = (0..120)
        .map(|i| json!({ "fact": format!("{} — noted on a call", words(25, "detail")), "source": format!("call-{i}"), "date": "2026-03-02", "confidence": 0.8 }))
        .collect();
    let history = (0..300)
        .map(|i| json!({ "kind": "email", "date": "2026-01-01", "summary": words(60, &format!("topic{i}x")) }))
        .collect();
    Persona {
        id: Uuid::nil(),
        brokerage_id: Uuid::nil(),
        agent_id: Uuid::nil(),
        team_id: None,
        visibility: Visibility::Private,
        version: 40,
        synthetic: false,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        profile: PersonaProfile {
            name: "Alexandra Whitmore-Castellano".into(),
            segment: Some("finance_executives".into()),
            biography: Some(words(600, "bio")),
            demographics: Demographics {
                age_range: Some("55-60".into()),
                occupation: Some("Managing partner, global macro fund".into()),
                net_worth_range: Some("$500M-$1B".into()),
                location: Some(Location { city: Some("Greenwich".into()), region: Some("Connecticut".into()), country: Some("USA".into()) }),
            },
            preferences: Preferences {
                property_types: (0..10).map(|i| format!("estate type {i}")).collect(),
                locations: (0..20).map(|i| format!("coastal town number {i}")).collect(),
                features: (0..60).map(|i| format!("wanted feature number {i}")).collect(),
                deal_breakers: (0..30).map(|i| format!("deal breaker number {i}")).collect(),
                budget: Some(Budget { min: Some(20e6), max: Some(45e6) }),
                strengths: Vec::new(),
            },
            personality_traits: PersonalityTraits {
                openness: Some(0.4),
                decision_style: Some("deliberate, consults the family office".into()),
                communication_preference: Some("email, never before 9am".into()),
            },
            knowledge_graph: KnowledgeGraph {
                relationships: (0..50).map(|i| json!({ "kind": "advisor", "name": format!("Advisor {i}"), "note": words(20, "rel") })).collect(),
                interests: (0..40).map(|i| format!("interest number {i}")).collect(),
                past_properties: (0..20).map(|i| json!({ "address": format!("{i} Ocean Drive"), "status": "bought", "price": 30e6 })).collect(),
            },
            life_events: Vec::new(),
            interaction_history: history,
            enrichment_sources: facts,
            ..PersonaProfile::default()
        },
    }
}

fn listing() -> PropertyDetails {
    PropertyDetails {
        title: "Carbon Beach Modern, Malibu".into(),
        description: words(3000, "prose"),
        price: 38.5e6,
        currency: "USD".into(),
        location: Location {
            city: Some("Malibu".into()),
            region: Some("California".into()),
            country: Some("USA".into()),
        },
        property_type: Some("single family estate".into()),
        features: (0..100).map(|i| format!("listing feature {i}")).collect(),
        photos: (0..50)
            .map(|i| Photo {
                url: format!("https://x/{i}.jpg"),
                description: words(300, "photo"),
            })
            .collect(),
        candidate_modifications: vec![],
        ..PropertyDetails::default()
    }
}

/// The longest reply the listing schema invites: an 80-word answer, a handful of likes and
/// dislikes, and a rating for each of the 20 rated photos.
fn longest_reply() -> String {
    let photos: Vec<_> = (1..=20)
        .map(|p| json!({ "photo": p, "appeal": 4 }))
        .collect();
    json!({
        "answer": words(80, "word"),
        "purchase_intent": 4, "purchase_probability": 0.62, "willingness_to_pay": 36500000,
        "likes": ["the ocean views", "the wine cellar", "privacy from the road", "the guest house", "the gym"],
        "dislikes": ["the price", "the street facade", "no tennis court"],
        "photo_appeal": photos,
    })
    .to_string()
}

#[test]
fn a_fully_enriched_persona_s_step_fits_the_target() {
    let persona = enriched();
    let listing = listing();
    let question = Question::from("Would you buy it at the asking price?");
    let mut memory = Memory::default();
    for i in 0..12 {
        memory.remember(
            &words(60, &format!("q{i}")),
            &words(80, &format!("a{i}")),
            Some(4),
        );
    }
    let turn = Turn {
        persona: &persona,
        memory: &memory,
        stimulus: Stimulus::Listing {
            listing: &listing,
            ask: ListingAsk::Question {
                question: &question,
                photo_order: judgeable_photos(&listing),
                shown_options: Vec::new(),
            },
        },
    };
    // Per-message overhead as the gateway counts it.
    let prompt: usize = messages(&turn)
        .iter()
        .map(|m| count_tokens(MODEL, &m.content) + 4)
        .sum();
    let completion = count_tokens(MODEL, &longest_reply());
    println!(
        "agent step tokens: prompt {prompt} + completion {completion} = {}",
        prompt + completion
    );
    assert!(
        prompt + completion <= TARGET,
        "{prompt} + {completion} tokens"
    );
}
