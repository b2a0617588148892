//! Outreach: interest grows with messages that speak to the persona's wants; contacts that come
//! too close together, or on a channel they dislike, build annoyance, which suppresses responses.

use rand::rngs::StdRng;
use troupe_shared::domain::{Judgement, Persona, Touch, TouchJudgement};

use super::{channel_fit, fit, jitter};
use crate::engine::reply::StepAnswer;

pub fn answer(
    persona: &Persona,
    goal: Option<&str>,
    touch: &Touch,
    days_since_previous: Option<u32>,
    state: Option<&TouchJudgement>,
    rng: &mut StdRng,
) -> StepAnswer {
    let fit = fit(
        persona,
        &format!("{} {}", goal.unwrap_or(""), touch.message),
    );
    let by_channel = channel_fit(persona, touch.channel);
    let (interest, annoyance) = state.map_or((0.3 + 0.3 * fit.want_share, 0.0), |s| {
        (s.interest, s.annoyance)
    });
    let pressure = match days_since_previous {
        None => 0.0,
        Some(0..=1) => 0.3,
        Some(2..=3) => 0.15,
        Some(4..=7) => 0.05,
        Some(_) => 0.0,
    };
    let annoyance = (annoyance * 0.8
        + pressure
        + if by_channel < 0.5 { 0.1 } else { 0.0 }
        + 0.15 * fit.breakers.len() as f64)
        .clamp(0.0, 1.0);
    let interest = (interest + 0.25 * fit.want_share - 0.1 * annoyance
        + jitter(persona, rng, 0.03))
    .clamp(0.0, 1.0);
    let response = (interest * (0.4 + 0.6 * by_channel) * (1.0 - annoyance)).clamp(0.0, 1.0);
    let answer = match (response >= 0.4, annoyance >= 0.4) {
        (true, _) => "I would reply to this one.",
        (false, true) => "This is too much contact; I would ignore it.",
        (false, false) => "I would read it but probably not reply yet.",
    };
    StepAnswer {
        judgement: Judgement::Touch(TouchJudgement {
            response_probability: round2(response),
            sentiment: round2((interest - annoyance - 0.2).clamp(-1.0, 1.0)),
            interest: round2(interest),
            annoyance: round2(annoyance),
        }),
        answer: answer.to_owned(),
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
