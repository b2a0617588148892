//! The offline model's answers to typed questions, from the persona and the listing: options
//! scored by the wants they speak to and the deal-breakers they trip, numbers only where the
//! persona's record holds one (a price it would pay), sentences from what the listing has and
//! lacks for this persona. Ties go to the option shown first, the bias a real model shows too
//! and the results measure.

use troupe_shared::domain::{
    AnswerType, ChoiceAnswer, ChoicesAnswer, NumberAnswer, Persona, PointAnswer, PropertyDetails,
    RankingAnswer, TextAnswer, TypedAnswer, TypedQuestion, YesNoAnswer,
};

use super::Fit;
use crate::engine::text::words;

/// What the persona holds while answering: its intent now, the price it would pay, and how
/// the listing fits it.
pub struct Stance<'a> {
    pub intent: u8,
    pub willingness_to_pay: Option<f64>,
    pub fit: &'a Fit,
}

/// `None` when the offline model has nothing to answer from (a number it does not know).
pub fn answer(
    persona: &Persona,
    listing: &PropertyDetails,
    question: &TypedQuestion,
    shown: &[&str],
    stance: &Stance<'_>,
) -> Option<TypedAnswer> {
    Some(match question.answer {
        AnswerType::Likert => TypedAnswer::Likert(PointAnswer {
            point: stance.intent,
        }),
        AnswerType::YesNo => TypedAnswer::YesNo(YesNoAnswer {
            yes: stance.intent >= 3,
        }),
        AnswerType::SingleChoice => TypedAnswer::SingleChoice(ChoiceAnswer {
            option: ranked(persona, shown).first()?.to_string(),
        }),
        AnswerType::MultiChoice => {
            let scored = scored(persona, shown);
            let mut picked: Vec<&str> = scored
                .iter()
                .filter(|(_, s)| *s > 0.0)
                .map(|(o, _)| *o)
                .collect();
            if picked.is_empty() {
                picked.push(scored.first()?.0);
            }
            TypedAnswer::MultiChoice(ChoicesAnswer {
                options: question
                    .options()
                    .iter()
                    .filter(|o| picked.contains(&o.as_str()))
                    .cloned()
                    .collect(),
            })
        }
        AnswerType::Ranking => TypedAnswer::Ranking(RankingAnswer {
            order: ranked(persona, shown)
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }),
        AnswerType::Numeric => TypedAnswer::Numeric(NumberAnswer {
            value: price_answer(persona, listing, question, stance)?,
        }),
        AnswerType::FreeText => TypedAnswer::FreeText(TextAnswer {
            text: sentence(persona, &question.text, stance),
        }),
    })
}

/// Options best first; equal scores keep the order shown.
fn ranked<'a>(persona: &Persona, shown: &[&'a str]) -> Vec<&'a str> {
    scored(persona, shown).into_iter().map(|(o, _)| o).collect()
}

fn scored<'a>(persona: &Persona, shown: &[&'a str]) -> Vec<(&'a str, f64)> {
    let mut scored: Vec<(&str, f64)> = shown.iter().map(|o| (*o, appeal(persona, o))).collect();
    // A stable sort: ties stay in the order shown.
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

/// The share of each want's words an option mentions, less twice that of each deal-breaker.
fn appeal(persona: &Persona, option: &str) -> f64 {
    let option = words(option);
    let touched = |phrase: &String| {
        let phrase = words(phrase);
        if phrase.is_empty() {
            return 0.0;
        }
        phrase.iter().filter(|w| option.contains(*w)).count() as f64 / phrase.len() as f64
    };
    let p = &persona.profile;
    let wants: f64 = p
        .preferences
        .features
        .iter()
        .chain(&p.knowledge_graph.interests)
        .chain(&p.preferences.locations)
        .chain(&p.preferences.property_types)
        .map(touched)
        .sum();
    let breakers: f64 = p.preferences.deal_breakers.iter().map(touched).sum();
    wants - 2.0 * breakers
}

/// A price, when the question asks for one: what the persona would pay, or (not wanting to buy)
/// what it would take to change its mind, never above its budget ceiling.
fn price_answer(
    persona: &Persona,
    listing: &PropertyDetails,
    question: &TypedQuestion,
    stance: &Stance<'_>,
) -> Option<f64> {
    let asked = format!(
        "{} {}",
        question.text.to_lowercase(),
        question.unit.as_deref().unwrap_or("").to_lowercase()
    );
    let about_money = [
        "price", "pay", "offer", "worth", "spend", "budget", "cost", "$",
    ]
    .iter()
    .any(|cue| asked.contains(cue))
        || asked.contains(&listing.currency.to_lowercase());
    if !about_money {
        return None;
    }
    let ceiling = persona.profile.preferences.budget_ceiling();
    let price = stance.willingness_to_pay.unwrap_or_else(|| {
        // Not a buyer at this price: the price at which it would reconsider.
        listing.price * (0.55 + 0.1 * f64::from(stance.intent))
    });
    Some(ceiling.map_or(price, |c| price.min(c)).round())
}

/// One sentence in answer to an open question, from what the listing has and lacks for the
/// persona, chosen by what the question is about.
fn sentence(persona: &Persona, question: &str, stance: &Stance<'_>) -> String {
    let asked = question.to_lowercase();
    let about = |cues: &[&str]| cues.iter().any(|c| asked.contains(c));
    let fit = stance.fit;
    let missing: Vec<&String> = persona
        .profile
        .preferences
        .features
        .iter()
        .filter(|f| !fit.liked.contains(f))
        .collect();
    if about(&[
        "change",
        "improve",
        "must-have",
        "must have",
        "missing",
        "add",
        "wish",
    ]) {
        if let Some(breaker) = fit.breakers.first() {
            return format!("Take away the {breaker}; as it is, that rules it out for me.");
        }
        return match missing.first() {
            Some(want) => format!("It would need {want} to be a must-have for me."),
            None => "Nothing: it already has what I look for.".to_owned(),
        };
    }
    if about(&[
        "concern", "worry", "hold", "put off", "dislike", "risk", "downside", "hesitat",
    ]) {
        return match (fit.breakers.first(), missing.first()) {
            (Some(breaker), _) => format!("The {breaker}: that is a deal-breaker for me."),
            (None, Some(want)) => format!("It lacks {want}, which I care about."),
            (None, None) => "Nothing serious; my questions are about the details.".to_owned(),
        };
    }
    match (fit.liked.first(), fit.breakers.first()) {
        (Some(liked), _) if stance.intent >= 3 => {
            format!("The {liked} is what speaks to me here.")
        }
        (_, Some(breaker)) => format!("The {breaker} rules it out for me."),
        (Some(liked), None) => format!("I like the {liked}, but it is not enough."),
        (None, None) => "It does not speak to what I am looking for.".to_owned(),
    }
}
