//! The offline persona model: rule-based, deterministic, free. It judges every kind of stimulus
//! from the persona's wanted features, deal-breakers, budget, locations, communication
//! preference and temperament, and writes a templated reply. It lets the service run with no
//! provider, and it is the baseline that LLM simulations must beat; results say
//! `provider: offline`.

mod engagement;
mod listing;
mod scenario;
mod touch;
mod typed;

use std::collections::BTreeSet;

use rand::{Rng, SeedableRng, rngs::StdRng};
use troupe_shared::domain::{Channel, Persona};

use super::{
    prompt::{Stimulus, Turn},
    reply::StepAnswer,
    text::{phrase_in, words},
};

/// Raised whenever its judgements change (3: typed answers, willingness to pay from the budget,
/// modifications against the intent held), so stored predictions and accuracy reports keep one
/// baseline apart from the next.
pub const MODEL_VERSION: &str = "troupe-offline-3";

pub fn answer(turn: &Turn<'_>, seed: u64) -> StepAnswer {
    let mut rng = StdRng::seed_from_u64(seed);
    match &turn.stimulus {
        Stimulus::Listing { listing, ask } => listing::answer(turn.persona, listing, ask, &mut rng),
        Stimulus::Material { material, channel } => {
            engagement::answer(turn.persona, material, *channel, &mut rng)
        }
        Stimulus::Touch {
            goal,
            touch,
            days_since_previous,
            state,
            ..
        } => touch::answer(
            turn.persona,
            *goal,
            touch,
            *days_since_previous,
            state.as_ref(),
            &mut rng,
        ),
        Stimulus::Scenario {
            scenario,
            enrichment,
        } => scenario::answer(turn.persona, scenario, *enrichment, &mut rng),
    }
}

/// How a text speaks to a persona: the wants it mentions and the deal-breakers it trips.
struct Fit {
    liked: Vec<String>,
    breakers: Vec<String>,
    /// Share of the persona's wants the text mentions (0.4 when the persona has none).
    want_share: f64,
}

fn fit(persona: &Persona, text: &str) -> Fit {
    let prefs = &persona.profile.preferences;
    let text_words = words(text);
    let liked: Vec<String> = prefs
        .features
        .iter()
        .chain(&persona.profile.knowledge_graph.interests)
        .filter(|f| phrase_in(f, &text_words))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let breakers: Vec<String> = prefs
        .deal_breakers
        .iter()
        .filter(|d| phrase_in(d, &text_words))
        .cloned()
        .collect();
    let wants = prefs.features.len() + persona.profile.knowledge_graph.interests.len();
    let want_share = if wants == 0 {
        0.4
    } else {
        (liked.len() as f64 / wants.min(6) as f64).min(1.0)
    };
    Fit {
        liked,
        breakers,
        want_share,
    }
}

/// 1.0 when the persona prefers the channel, 0.3 when they prefer another, 0.6 when unknown.
fn channel_fit(persona: &Persona, channel: Channel) -> f64 {
    let Some(preference) = &persona.profile.personality_traits.communication_preference else {
        return 0.6;
    };
    let preference = preference.to_lowercase();
    let cues: &[&str] = match channel {
        Channel::Email => &["email", "e-mail"],
        Channel::Sms | Channel::Whatsapp => &["text", "sms", "whatsapp", "message"],
        Channel::Phone => &["phone", "call"],
        Channel::DirectMail | Channel::Print => &["mail", "letter", "print", "handwritten"],
        Channel::Instagram | Channel::Linkedin => &["social", "instagram", "linkedin"],
        Channel::Event => &["event", "in person", "in-person", "private"],
    };
    if cues.iter().any(|c| preference.contains(c)) {
        1.0
    } else {
        0.3
    }
}

/// Open personas vary more from run to run; the seed keeps each run reproducible.
fn jitter(persona: &Persona, rng: &mut StdRng, scale: f64) -> f64 {
    let openness = persona.profile.personality_traits.openness.unwrap_or(0.5);
    rng.random_range(-scale..=scale) * (0.5 + openness)
}
