//! Scoring one client against one listing: hard constraints first (a listing that breaks one is
//! never recommended, whatever else it offers), then a soft score of weighted components that
//! add up to the score. [`quick_score`] does only the arithmetic, for every pair of a run;
//! [`explain`] also says in words why, for the pairs that are kept.

use troupe_shared::domain::{ConstraintCheck, ScoreComponent};

use super::{
    embedding::cosine,
    prepared::{Phrase, PreparedPersona, PreparedProperty},
};

/// The soft score's components and weights; without feedback the weights add up to 1, and
/// feedback moves a score by at most its weight either way.
const WEIGHTS: [(&str, f64); 7] = [
    ("features", 0.35),
    ("past_properties", 0.20),
    ("text_similarity", 0.15),
    ("interests", 0.10),
    ("location", 0.10),
    ("budget_fit", 0.10),
    ("feedback", 0.20),
];

/// Where a listing's price sits best in a client's budget: a little under the top of it.
const BUDGET_SWEET_SPOT: f64 = 0.85;

pub struct Scored {
    pub score: f64,
    pub components: Vec<ScoreComponent>,
    pub constraints: Vec<ConstraintCheck>,
}

/// The pair's score, or `None` when it breaks a hard constraint.
pub fn quick_score(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    tolerance: f64,
) -> Option<f64> {
    passes(persona, property, tolerance).then(|| weighted(&values(persona, property)))
}

/// The pair's score with its components and the constraints it passed, in words.
pub fn explain(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    tolerance: f64,
) -> Option<Scored> {
    if !passes(persona, property, tolerance) {
        return None;
    }
    let values = values(persona, property);
    let details = details(persona, property);
    let components = WEIGHTS
        .iter()
        .zip(values)
        .zip(details)
        .map(|((&(name, weight), value), detail)| ScoreComponent {
            name: name.to_owned(),
            value: round3(value),
            weight,
            contribution: round3(value * weight),
            detail,
        })
        .collect();
    Some(Scored {
        score: weighted(&values),
        components,
        constraints: constraints_passed(persona, property, tolerance),
    })
}

fn weighted(values: &[f64; 7]) -> f64 {
    let sum: f64 = WEIGHTS.iter().zip(values).map(|((_, w), v)| w * v).sum();
    round3(sum.clamp(0.0, 1.0))
}

fn passes(persona: &PreparedPersona, property: &PreparedProperty, tolerance: f64) -> bool {
    let (min, max) = persona.budget;
    !persona.rejected.contains(&property.id)
        && !max.is_some_and(|max| property.price > max * (1.0 + tolerance))
        && !min.is_some_and(|min| property.price < min * (1.0 - tolerance))
        && !persona
            .deal_breakers
            .iter()
            .any(|d| property.words.has_all(&d.words))
        && (persona.locations.is_empty() || wanted_location(persona, property).is_some())
        && (persona.property_types.is_empty()
            || property.type_words.is_empty()
            || wanted_type(persona, property).is_some())
}

fn wanted_location<'a>(
    persona: &'a PreparedPersona,
    property: &PreparedProperty,
) -> Option<&'a Phrase> {
    persona
        .locations
        .iter()
        .find(|l| property.location.has_all(&l.words))
}

fn wanted_type<'a>(
    persona: &'a PreparedPersona,
    property: &PreparedProperty,
) -> Option<&'a Phrase> {
    persona
        .property_types
        .iter()
        .find(|t| t.words.has_all(&property.type_words) || property.type_words.has_all(&t.words))
}

fn found<'a>(
    phrases: &'a [Phrase],
    property: &PreparedProperty,
    all_words: bool,
) -> impl Iterator<Item = &'a Phrase> {
    phrases.iter().filter(move |p| {
        if all_words {
            property.words.has_all(&p.words)
        } else {
            property.words.overlap(&p.words) > 0
        }
    })
}

fn share(found: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        found as f64 / of as f64
    }
}

/// A disliked reason bears on a listing when a third of its words are in it ("too close to the
/// road" and a listing "on the main road").
fn disliked<'a>(
    persona: &'a PreparedPersona,
    property: &'a PreparedProperty,
) -> impl Iterator<Item = &'a Phrase> {
    persona
        .dislikes
        .iter()
        .filter(|d| 3 * property.words.overlap(&d.words) >= d.words.len())
}

fn values(persona: &PreparedPersona, property: &PreparedProperty) -> [f64; 7] {
    let features = share(
        found(&persona.features, property, true).count(),
        persona.features.len(),
    );
    // A past home is described more briefly than a listing: sharing a dozen of its words is a
    // full match.
    let past = &persona.past_properties;
    let past_properties = share(property.words.overlap(past), past.len().min(12)).min(1.0);
    let text = f64::from(cosine(&persona.embedding, &property.embedding)).max(0.0);
    let interests = share(
        found(&persona.interests, property, false).count(),
        persona.interests.len(),
    );
    let location = if persona.locations.is_empty() {
        0.5
    } else {
        1.0
    };
    let budget_fit = match persona.budget.1.filter(|max| *max > 0.0) {
        Some(max) => (1.0 - (property.price / max - BUDGET_SWEET_SPOT).abs() / BUDGET_SWEET_SPOT)
            .clamp(0.0, 1.0),
        None => 0.5,
    };
    let liked = share(
        property.words.overlap(&persona.liked),
        persona.liked.len().min(20),
    )
    .min(1.0);
    let feedback = if disliked(persona, property).next().is_some() {
        -1.0
    } else {
        0.0
    } + 0.5 * liked;
    [
        features,
        past_properties,
        text,
        interests,
        location,
        budget_fit,
        feedback,
    ]
}

fn details(persona: &PreparedPersona, property: &PreparedProperty) -> [String; 7] {
    let features: Vec<&str> = found(&persona.features, property, true)
        .map(|p| p.text.as_str())
        .collect();
    let interests: Vec<&str> = found(&persona.interests, property, false)
        .map(|p| p.text.as_str())
        .collect();
    let disliked: Vec<&str> = disliked(persona, property)
        .map(|p| p.text.as_str())
        .collect();
    [
        if persona.features.is_empty() {
            "no wanted features on record".to_owned()
        } else {
            format!(
                "has {} of {} wanted features: {}",
                features.len(),
                persona.features.len(),
                or_none(&features)
            )
        },
        if persona.past_properties.is_empty() {
            "no past properties on record".to_owned()
        } else {
            format!(
                "shares {} descriptive words with homes the client owned or viewed",
                property.words.overlap(&persona.past_properties)
            )
        },
        "embedding similarity of the client's profile and the listing".to_owned(),
        format!("speaks to interests: {}", or_none(&interests)),
        if persona.locations.is_empty() {
            "no preferred locations on record"
        } else {
            "in a preferred location"
        }
        .to_owned(),
        match persona.budget.1 {
            Some(max) if max > 0.0 => format!(
                "priced at {:.0}% of the budget ceiling",
                100.0 * property.price / max
            ),
            _ => "no budget ceiling on record".to_owned(),
        },
        if !disliked.is_empty() {
            format!(
                "the client turned listings down for: {}",
                disliked.join("; ")
            )
        } else if !persona.liked.is_empty() && property.words.overlap(&persona.liked) > 0 {
            "resembles listings the client was interested in".to_owned()
        } else {
            "no feedback that bears on this listing".to_owned()
        },
    ]
}

fn constraints_passed(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    tolerance: f64,
) -> Vec<ConstraintCheck> {
    let check = |name: &str, detail: String| ConstraintCheck {
        name: name.to_owned(),
        detail,
    };
    let mut passed = vec![check(
        "deal_breakers",
        if persona.deal_breakers.is_empty() {
            "no deal-breakers on record".to_owned()
        } else {
            let listed: Vec<&str> = persona
                .deal_breakers
                .iter()
                .map(|d| d.text.as_str())
                .collect();
            format!("none of: {}", listed.join(", "))
        },
    )];
    passed.push(check(
        "budget",
        match persona.budget {
            (_, Some(max)) => format!(
                "{} within a budget up to {} (tolerance {:.0}%)",
                money(property.price),
                money(max),
                tolerance * 100.0
            ),
            (Some(min), None) => format!("{} above {}", money(property.price), money(min)),
            (None, None) => "no budget on record".to_owned(),
        },
    ));
    if let Some(location) = wanted_location(persona, property) {
        passed.push(check("location", format!("in {}", location.text)));
    }
    if let Some(kind) = wanted_type(persona, property).filter(|_| !property.type_words.is_empty()) {
        passed.push(check(
            "property_type",
            format!("wanted type: {}", kind.text),
        ));
    }
    passed.push(check(
        "not_declined",
        "the client has not turned this listing down".to_owned(),
    ));
    passed
}

fn or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// "$24.5M".
pub fn money(amount: f64) -> String {
    format!("${:.1}M", amount / 1e6)
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
