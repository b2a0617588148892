//! One-to-one scenarios: interest from what the scenario offers against wants, deal-breakers and
//! budget; the next step follows the scenario type and the interest.

use rand::rngs::StdRng;
use serde_json::Value;
use troupe_shared::domain::{
    EnrichmentData, Judgement, Persona, Scenario, ScenarioJudgement, ScenarioType,
};

use super::{fit, jitter};
use crate::engine::{
    memory::describe,
    reply::StepAnswer,
    ssr::{self, Scale},
};

pub fn answer(
    persona: &Persona,
    scenario: &Scenario,
    enrichment: Option<&EnrichmentData>,
    rng: &mut StdRng,
) -> StepAnswer {
    let notes = enrichment
        .and_then(|e| e.internal_notes.as_deref())
        .unwrap_or("");
    let text = format!("{} {notes}", describe(&scenario.context, 4000));
    let fit = fit(persona, &text);
    let mut objections = fit.breakers.clone();
    let mut score = 2.0 + 3.0 * fit.want_share - 2.0 * fit.breakers.len() as f64;
    let budget_max = persona.profile.preferences.budget_ceiling();
    if let (Some(price), Some(max)) = (find_price(&scenario.context), budget_max)
        && price > max
    {
        score -= 10.0 * (price / max - 1.0);
        objections.push("the price is above my budget".to_owned());
    }
    score += jitter(persona, rng, 0.3);
    let interest = score.round().clamp(1.0, 5.0) as u8;
    let next = match (scenario.kind, interest) {
        (ScenarioType::PropertyViewing, 4..) => "ask for a second viewing",
        (ScenarioType::PropertyViewing, 3) => "ask for the disclosures and think it over",
        (ScenarioType::PropertyViewing, _) => "decline politely",
        (ScenarioType::EmailResponse, 4..) => "reply to arrange a call",
        (ScenarioType::EmailResponse, 3) => "reply asking for details",
        (ScenarioType::EmailResponse, _) => "leave the email unanswered",
        (ScenarioType::Call, 4..) => "agree to meet",
        (ScenarioType::Call, 3) => "ask to be sent details",
        (ScenarioType::Call, _) => "end the call",
    };
    let text_words = crate::engine::text::words(&text);
    let questions: Vec<String> = persona
        .profile
        .preferences
        .features
        .iter()
        // Only what the scenario says nothing of: a client just shown the wine cellar does not
        // ask whether there is one.
        .filter(|f| crate::engine::text::overlap(f, &text_words) == 0)
        .take(3)
        .map(|f| format!("Does it have {f}?"))
        .collect();
    let verdict = match interest {
        5 => "This is exactly what I am looking for; let us move forward now.",
        4 => "I am interested and would like to take the next step.",
        3 => "Perhaps; send me more details and I will see.",
        2 => "It does not really appeal to me; I doubt I will follow up.",
        _ => "I am not interested and do not want to continue.",
    };
    let answer = if objections.is_empty() {
        verdict.to_owned()
    } else {
        format!("{verdict} My concerns: {}.", objections.join("; "))
    };
    StepAnswer {
        judgement: Judgement::Scenario(ScenarioJudgement {
            interest,
            interest_distribution: ssr::distribution(Scale::Interest, &answer, interest),
            likely_next_step: next.to_owned(),
            positive_outcome_probability: ((f64::from(interest) - 1.0) / 4.0 * 85.0 + 5.0).round()
                / 100.0,
            sentiment: ((f64::from(interest) - 3.0) / 2.0).clamp(-1.0, 1.0),
            objections,
            questions,
        }),
        answer,
    }
}

/// The first number under a key named like a price, anywhere in the context.
fn find_price(value: &Value) -> Option<f64> {
    match value {
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let k = k.to_lowercase();
            if k.contains("price") || k == "list_price" {
                v.as_f64()
            } else {
                find_price(v)
            }
        }),
        Value::Array(items) => items.iter().find_map(find_price),
        _ => None,
    }
}
