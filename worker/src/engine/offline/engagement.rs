//! Marketing: the channel against the persona's communication preference decides opening; how
//! much the material speaks to their wants decides clicks and replies; deal-breakers it mentions
//! become objections.

use rand::rngs::StdRng;
use troupe_shared::domain::{Channel, EngagementJudgement, Judgement, Material, Persona};

use super::{channel_fit, fit, jitter};
use crate::engine::reply::StepAnswer;

pub fn answer(
    persona: &Persona,
    material: &Material,
    channel: Channel,
    rng: &mut StdRng,
) -> StepAnswer {
    let text = format!(
        "{} {} {}",
        material.subject.as_deref().unwrap_or(""),
        material.body,
        material.creative_description.as_deref().unwrap_or("")
    );
    let fit = fit(persona, &text);
    let by_channel = channel_fit(persona, channel);
    let tripped = fit.breakers.len() as f64;
    let open = (0.15 + 0.55 * by_channel + jitter(persona, rng, 0.05)).clamp(0.02, 0.98);
    let click = (0.1 + 0.6 * fit.want_share - 0.2 * tripped).clamp(0.01, 0.95);
    let reply = (0.05 + 0.35 * fit.want_share * by_channel - 0.1 * tripped).clamp(0.01, 0.9);
    let sentiment =
        (fit.want_share - 0.3 - 0.4 * tripped + 0.2 * (by_channel - 0.6)).clamp(-1.0, 1.0);
    let mut objections = fit.breakers.clone();
    if by_channel < 0.5 {
        objections.push(format!(
            "{} is not how I like to be reached",
            channel.as_str().replace('_', " ")
        ));
    }
    if fit.liked.is_empty() {
        objections.push("nothing in it speaks to what I want".to_owned());
    }
    let mut answer = if fit.liked.is_empty() {
        "This does not speak to me.".to_owned()
    } else {
        format!("The {} caught my eye.", fit.liked.join(", "))
    };
    if !objections.is_empty() {
        answer.push_str(&format!(" But: {}.", objections.join("; ")));
    }
    StepAnswer {
        judgement: Judgement::Engagement(EngagementJudgement {
            open_probability: round2(open),
            click_probability: round2(click),
            reply_probability: round2(reply),
            sentiment: round2(sentiment),
            objections,
        }),
        answer,
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
