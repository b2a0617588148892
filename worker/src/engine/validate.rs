//! The check every model reply to a listing passes before it counts: a judgement must not
//! contradict its own words or the persona it speaks for. A reply that does is asked for once
//! more with the contradiction named (see [`super::responder`]), then counted as a failed step
//! with that reason.

use troupe_shared::domain::{Judgement, ListingJudgement, Persona, PropertyDetails};

use super::{
    prompt::{Stimulus, money},
    reply::StepAnswer,
    text::{phrase_in, words},
};

/// Words that say the persona means to go above its budget: a stated reason.
const STRETCH: &[&str] = &["stretch", "above my budget", "over my budget", "exceed"];

/// What is contradictory in `answer`, in words the model is shown when asked again.
pub fn contradiction(
    persona: &Persona,
    stimulus: &Stimulus<'_>,
    answer: &StepAnswer,
) -> Option<String> {
    match (stimulus, &answer.judgement) {
        (Stimulus::Listing { listing, .. }, Judgement::Listing(j)) => {
            listing_contradiction(persona, listing, &answer.answer, j)
        }
        _ => None,
    }
}

fn listing_contradiction(
    persona: &Persona,
    listing: &PropertyDetails,
    text: &str,
    j: &ListingJudgement,
) -> Option<String> {
    let said = words(&format!("{text} {}", j.dislikes.join(" ")));
    let budget_max = persona.profile.preferences.budget_ceiling();
    if j.purchase_intent >= 4
        && let Some(breaker) = persona
            .profile
            .preferences
            .deal_breakers
            .iter()
            .find(|d| phrase_in(d, &said))
    {
        return Some(format!(
            "purchase_intent is {} of 5, yet the reply names the deal-breaker \"{breaker}\"",
            j.purchase_intent
        ));
    }
    if j.purchase_intent == 5
        && let Some(max) = budget_max.filter(|max| listing.price > *max)
    {
        return Some(format!(
            "purchase_intent is 5 of 5, yet the price ({}) is above the budget ceiling ({})",
            money(listing.price),
            money(max)
        ));
    }
    let lower = text.to_lowercase();
    if let (Some(pay), Some(max)) = (j.willingness_to_pay, budget_max)
        && pay > max
        && !STRETCH.iter().any(|s| lower.contains(s))
    {
        return Some(format!(
            "willingness_to_pay ({}) is above the budget ceiling ({}) and the answer gives no reason",
            money(pay),
            money(max)
        ));
    }
    if j.purchase_intent <= 2
        && let Some(pay) = j.willingness_to_pay.filter(|pay| *pay >= listing.price)
    {
        return Some(format!(
            "purchase_intent is {} of 5 (you would not buy), yet willingness_to_pay ({}) is at or \
             above the asking price ({})",
            j.purchase_intent,
            money(pay),
            money(listing.price)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use troupe_shared::domain::Question;

    use super::*;
    use crate::engine::{fixtures, memory::Memory, offline, prompt::ListingAsk, prompt::Turn};

    fn persona(deal_breakers: &[&str], max: f64) -> Persona {
        fixtures::persona(&["wine cellar", "ocean views"], deal_breakers, max)
    }

    fn listing() -> PropertyDetails {
        PropertyDetails {
            title: "Oceanfront estate".into(),
            price: 20e6,
            features: vec![
                "wine cellar".into(),
                "ocean views".into(),
                "shared driveway".into(),
            ],
            ..Default::default()
        }
    }

    fn judged(intent: u8, pay: Option<f64>, dislikes: &[&str], text: &str) -> StepAnswer {
        StepAnswer {
            answer: text.into(),
            judgement: Judgement::Listing(ListingJudgement {
                purchase_intent: intent,
                intent_distribution: [0.2; 5],
                purchase_probability: 0.5,
                willingness_to_pay: pay,
                likes: Vec::new(),
                dislikes: dislikes.iter().map(|s| s.to_string()).collect(),
                photo_appeal: Vec::new(),
                typed_answer: None,
            }),
        }
    }

    #[test]
    fn contradictions_are_named_and_consistent_replies_pass() {
        let question = Question::from("Would you buy it?");
        let ask = || ListingAsk::Question {
            question: &question,
            photo_order: Vec::new(),
            shown_options: Vec::new(),
        };
        let listing = listing();
        let stimulus = Stimulus::Listing {
            listing: &listing,
            ask: ask(),
        };
        let check = |p: &Persona, a: &StepAnswer| contradiction(p, &stimulus, a);
        let fussy = persona(&["shared driveway"], 30e6);
        let said = check(
            &fussy,
            &judged(5, None, &["the shared driveway"], "I love it."),
        );
        assert!(said.unwrap().contains("deal-breaker \"shared driveway\""));
        let poor = persona(&[], 15e6);
        assert!(
            check(&poor, &judged(5, None, &[], "Perfect."))
                .unwrap()
                .contains("budget ceiling")
        );
        let rich = persona(&[], 30e6);
        assert!(
            check(&rich, &judged(4, Some(35e6), &[], "Great."))
                .unwrap()
                .contains("no reason")
        );
        assert_eq!(
            check(
                &rich,
                &judged(4, Some(35e6), &[], "I would stretch for it.")
            ),
            None
        );
        assert!(
            check(&rich, &judged(1, Some(25e6), &[], "Never."))
                .unwrap()
                .contains("would not buy")
        );
        assert_eq!(check(&rich, &judged(4, Some(19e6), &[], "Lovely.")), None);

        // The offline model holds itself to the same check.
        for p in [&fussy, &poor, &rich] {
            let memory = Memory::default();
            let turn = Turn {
                persona: p,
                memory: &memory,
                stimulus: Stimulus::Listing {
                    listing: &listing,
                    ask: ask(),
                },
            };
            for seed in 0..50 {
                let answer = offline::answer(&turn, seed);
                assert_eq!(check(p, &answer), None, "{:?}", answer.judgement);
            }
        }
    }
}
