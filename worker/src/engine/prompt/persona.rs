//! The persona, compactly: who they are, what they want and refuse, and how they decide. Long
//! lists keep the items the stimulus touches first and are cut; facts and history go to the
//! memory section, which picks the relevant ones.

use std::{collections::BTreeSet, fmt::Write};

use troupe_shared::domain::PersonaProfile;

use super::{excerpt, line, list, money};
use crate::engine::text::words;

/// Items of one list shown at most.
const LIST_ITEMS: usize = 10;

/// Renders the persona; `topic` holds the content words of what it is about to react to.
pub fn render(out: &mut String, p: &PersonaProfile, topic: &BTreeSet<String>) {
    let d = &p.demographics;
    out.push_str("<persona>\n");
    let _ = writeln!(out, "Name: {}", excerpt(&p.name, 100));
    line(out, "Segment", p.segment.as_deref());
    let who: Vec<String> = [
        d.age_range.as_deref().map(|a| format!("age {a}")),
        d.occupation.clone(),
        d.net_worth_range
            .as_deref()
            .map(|n| format!("net worth {n}")),
        d.location
            .as_ref()
            .map(|l| format!("lives in {}", l.display())),
    ]
    .into_iter()
    .flatten()
    .collect();
    list(out, "Profile", &who);
    line(out, "About", p.biography.as_deref());
    let prefs = &p.preferences;
    list(
        out,
        "Property types",
        &relevant(&prefs.property_types, topic),
    );
    list(
        out,
        "Preferred locations",
        &relevant(&prefs.locations, topic),
    );
    list(out, "Wants", &relevant(&prefs.features, topic));
    list(out, "Deal-breakers", &relevant(&prefs.deal_breakers, topic));
    if let Some(budget) = &prefs.budget {
        let bound = |v: Option<f64>| v.map_or("open".to_owned(), money);
        let _ = writeln!(
            out,
            "Budget: {} to {}",
            bound(budget.min),
            bound(budget.max)
        );
    }
    let t = &p.personality_traits;
    let temperament: Vec<String> = [
        t.openness.map(|o| format!("openness {o:.1}")),
        t.decision_style.as_deref().map(|s| format!("decides {s}")),
        t.communication_preference
            .as_deref()
            .map(|s| format!("prefers {s}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    list(out, "Temperament", &temperament);
    list(
        out,
        "Interests",
        &relevant(&p.knowledge_graph.interests, topic),
    );
    out.push_str("</persona>\n");
}

/// At most [`LIST_ITEMS`] items, those sharing a word with the topic first, else in order.
fn relevant(items: &[String], topic: &BTreeSet<String>) -> Vec<String> {
    let mut ranked: Vec<(bool, usize, &String)> = items
        .iter()
        .enumerate()
        .map(|(i, item)| (words(item).is_disjoint(topic), i, item))
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(LIST_ITEMS)
        .map(|(_, _, item)| item.clone())
        .collect()
}
