//! The persona, compactly: who they are, what they want and refuse, and how they decide. Long
//! lists are cut; facts and history go to the memory section, which picks the relevant ones.

use std::fmt::Write;

use troupe_shared::domain::PersonaProfile;

use super::{excerpt, line, list, money};

pub fn render(out: &mut String, p: &PersonaProfile) {
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
    list(out, "Property types", &prefs.property_types);
    list(out, "Preferred locations", &prefs.locations);
    list(out, "Wants", &prefs.features);
    list(out, "Deal-breakers", &prefs.deal_breakers);
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
    list(out, "Interests", &p.knowledge_graph.interests);
    out.push_str("</persona>\n");
}
