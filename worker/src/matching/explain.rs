//! The words of a recommendation: why it fits, what to show the client first, and how to reach
//! out in the way the client prefers. Written from the score's parts, so they never claim more
//! than the score found.

use troupe_shared::domain::{ConstraintCheck, Outreach, ScoreComponent};

use super::{
    prepared::{PreparedPersona, PreparedProperty},
    score::money,
};

pub fn explanation(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    score: f64,
    components: &[ScoreComponent],
    constraints: &[ConstraintCheck],
    missed: Option<&ConstraintCheck>,
) -> String {
    let mut strongest: Vec<&ScoreComponent> =
        components.iter().filter(|c| c.contribution > 0.0).collect();
    strongest.sort_by(|a, b| b.contribution.total_cmp(&a.contribution));
    let reasons: Vec<String> = strongest
        .iter()
        .take(3)
        .map(|c| format!("{} ({})", c.detail, c.name.replace('_', " ")))
        .collect();
    let place = property
        .city
        .as_deref()
        .map(|city| format!(" in {city}"))
        .unwrap_or_default();
    let mut text = missed
        .map(|m| format!("Would match except: {}. ", m.detail))
        .unwrap_or_default();
    text += &format!(
        "{} scores {score:.2} for {}{place} at {}: {}.",
        persona.name,
        property.title,
        money(property.price),
        reasons.join("; ")
    );
    if let Some(place) = constraints.iter().find(|c| c.name == "location") {
        text.push_str(&format!(" Location: {}.", place.detail));
    }
    if let Some(warning) = components.iter().find(|c| c.contribution < 0.0) {
        text.push_str(&format!(" Caution: {}.", warning.detail));
    }
    text
}

/// What the client asked for that this listing has, then photos that show it.
pub fn highlights(persona: &PreparedPersona, property: &PreparedProperty) -> Vec<String> {
    let mut highlights: Vec<String> = property
        .features
        .iter()
        .filter(|feature| {
            persona
                .features
                .iter()
                .map(|w| &w.words)
                .chain(persona.interests.iter().map(|p| &p.words))
                .any(|wanted| feature.words.overlap(wanted) > 0)
        })
        .map(|feature| feature.text.clone())
        .collect();
    for (number, photo) in &property.photos {
        let shows_a_want = persona
            .features
            .iter()
            .any(|wanted| photo.words.has_all(&wanted.words));
        if shows_a_want {
            highlights.push(format!("Photo {number}: {}", photo.text));
        }
    }
    if highlights.is_empty() {
        highlights.extend(property.features.iter().take(3).map(|f| f.text.clone()));
    }
    highlights.truncate(6);
    highlights
}

pub fn outreach(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    highlights: &[String],
) -> Outreach {
    let preference = persona
        .communication_preference
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    let channel = if preference.contains("text") || preference.contains("sms") {
        "sms"
    } else if preference.contains("call") || preference.contains("phone") {
        "phone"
    } else if preference.contains("person") || preference.contains("meet") {
        "in_person"
    } else {
        "email"
    };
    let style = persona
        .decision_style
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    let timing =
        if style.contains("impulsive") || style.contains("quick") || style.contains("decisive") {
            "today, before the listing is marketed publicly"
        } else if style.contains("analytic") || style.contains("deliberate") {
            "within two days, with the disclosures and comparable sales attached"
        } else {
            "within the week, ahead of the first open house"
        };
    let first_name = persona.name.split_whitespace().next().unwrap_or("Hello");
    let hook = highlights
        .iter()
        .find(|h| !h.starts_with("Photo "))
        .map(|h| h.to_lowercase())
        .unwrap_or_else(|| "what you told us you are looking for".to_owned());
    let place = property.city.as_deref().unwrap_or("the market");
    Outreach {
        channel: channel.to_owned(),
        timing: timing.to_owned(),
        opening_line: format!(
            "{first_name}, \"{}\" in {place} just came to us, and its {hook} made us think of you first.",
            property.title
        ),
    }
}
