//! Scoring one client against one listing: hard constraints first (a listing that breaks one is
//! never recommended, whatever else it offers), then a soft score of weighted components that
//! add up to the score. A pair that breaks exactly one constraint is a near miss: scored all the
//! same, and reported with the constraint and how far off it was, for a broker to decide.
//! [`verdict`] does only the arithmetic, for every pair of a run; [`explain`] also says in
//! words why, for the pairs that are kept.

use troupe_shared::{
    criteria::{
        kinds::Kind,
        places::{Place, PointSource, Reach},
    },
    domain::{ConstraintCheck, ScoreComponent},
};

use super::{
    embedding::cosine,
    prepared::{Phrase, PreparedPersona, PreparedProperty, WantedPlace},
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

/// The limits a run applies.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// How far over (or under) the budget a price may be: 0.1 = 10%.
    pub budget_tolerance: f64,
    /// How far outside a place's reach a listing still counts as in it.
    pub place_allowance_km: f64,
}

/// A hard constraint a pair breaks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Miss {
    Budget,
    /// By the deal-breaker's index.
    DealBreaker(usize),
    Location,
    PropertyType,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    Match(f64),
    /// Breaks exactly this one constraint; scored as if it did not.
    NearMiss(f64, Miss),
    Out,
}

pub struct Scored {
    pub score: f64,
    pub components: Vec<ScoreComponent>,
    pub constraints: Vec<ConstraintCheck>,
    /// The constraint a near miss breaks, and by how much.
    pub missed: Option<ConstraintCheck>,
}

/// How far past the limit a near miss may be: a broker calls a client about a house 10 km
/// outside the town they named, or 20% over their budget, not about one across the country.
const NEAR_MISS_KM: f64 = 25.0;
const NEAR_MISS_BUDGET: f64 = 0.25;

/// The pair's verdict and score. A listing the client turned down is out, never a near miss;
/// so is one too far past a place or a budget (see [`NEAR_MISS_KM`]). Most pairs are out on
/// place or price, and leave before the soft score is computed.
pub fn verdict(persona: &PreparedPersona, property: &PreparedProperty, rules: Rules) -> Verdict {
    if persona.rejected.contains(&property.id) {
        return Verdict::Out;
    }
    let mut missed = None;
    let mut misses = 0;
    let mut note = |miss: Miss| {
        misses += 1;
        missed.get_or_insert(miss);
        misses > 1
    };
    if let Some(gap) = budget_gap(persona, property, rules)
        && (gap.abs() > rules.budget_tolerance + NEAR_MISS_BUDGET || note(Miss::Budget))
    {
        return Verdict::Out;
    }
    if let Some(fit) = place_fit(persona, property, rules, false)
        && !fit.passes()
        && (!fit.near(rules) || note(Miss::Location))
    {
        return Verdict::Out;
    }
    for (i, breaker) in persona.deal_breakers.iter().enumerate() {
        let fires = property
            .facts
            .holds(&breaker.condition, &breaker.words, &property.words);
        if fires == Some(true) && note(Miss::DealBreaker(i)) {
            return Verdict::Out;
        }
    }
    if !type_fit(persona, property).passes() && note(Miss::PropertyType) {
        return Verdict::Out;
    }
    let score = weighted(&values(persona, property));
    match missed {
        None => Verdict::Match(score),
        Some(miss) => Verdict::NearMiss(score, miss),
    }
}

/// The pair's score with its components and constraints in words; `None` when it is out.
pub fn explain(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    rules: Rules,
    similarity_by: &str,
) -> Option<Scored> {
    let (score, miss) = match verdict(persona, property, rules) {
        Verdict::Match(score) => (score, None),
        Verdict::NearMiss(score, miss) => (score, Some(miss)),
        Verdict::Out => return None,
    };
    let values = values(persona, property);
    let details = details(persona, property, similarity_by);
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
        score,
        components,
        constraints: constraints_passed(persona, property, rules, miss),
        missed: miss.map(|miss| missed(persona, property, rules, miss)),
    })
}

fn weighted(values: &[f64; 7]) -> f64 {
    let sum: f64 = WEIGHTS.iter().zip(values).map(|((_, w), v)| w * v).sum();
    round3(sum.clamp(0.0, 1.0))
}

/// How far outside the budget the price is, as a share of the limit it breaks: positive above
/// the ceiling, negative below the floor; `None` within it (tolerance included).
fn budget_gap(persona: &PreparedPersona, property: &PreparedProperty, rules: Rules) -> Option<f64> {
    let (min, max) = persona.budget;
    let price = property.price;
    if let Some(max) = max.filter(|max| price > max * (1.0 + rules.budget_tolerance)) {
        return Some(price / max - 1.0);
    }
    min.filter(|min| price < min * (1.0 - rules.budget_tolerance))
        .map(|min| price / min - 1.0)
}

/// How a listing stands to the places a client named.
#[derive(Debug, Clone, Copy)]
enum PlaceFit<'a> {
    /// The listing's location (or, for a listing without coordinates, its text) names it.
    Named(&'a WantedPlace, &'static str),
    /// Inside the place's reach, or within the allowance past it.
    Near(&'a Place, Reach),
    /// Outside every place; the closest.
    Outside(&'a Place, Reach),
    /// Where the listing is cannot be told against any of them.
    Unplaced,
}

impl PlaceFit<'_> {
    fn passes(&self) -> bool {
        matches!(self, PlaceFit::Named(..) | PlaceFit::Near(..))
    }

    /// Outside, but close enough to be a near miss.
    fn near(&self, rules: Rules) -> bool {
        matches!(self, PlaceFit::Outside(place, reach) if reach.beyond_km <= allowance(place, rules) + NEAR_MISS_KM)
    }
}

/// How far past a place's reach a listing still counts as in it: the configured allowance, but
/// never more than the place's own reach — 5 km past a city of 25 km is its suburbs, 5 km past
/// a neighbourhood of 3 km is the next neighbourhood.
fn allowance(place: &Place, rules: Rules) -> f64 {
    rules.place_allowance_km.min(place.radius_km)
}

/// `None` when the client named no place. Only `detailed` finds the closest of the places a
/// listing is outside of; without it, places too far for a near miss by latitude alone are
/// not measured.
fn place_fit<'a>(
    persona: &'a PreparedPersona,
    property: &PreparedProperty,
    rules: Rules,
    detailed: bool,
) -> Option<PlaceFit<'a>> {
    if persona.places.is_empty() {
        return None;
    }
    let mut best_pass: Option<PlaceFit<'a>> = None;
    let mut closest: Option<PlaceFit<'a>> = None;
    for wanted in &persona.places {
        if property.location.has_all(&wanted.words) {
            return Some(PlaceFit::Named(wanted, "its location"));
        }
        for place in &wanted.places {
            let bound = allowance(place, rules) + NEAR_MISS_KM;
            if !detailed && place.surely_beyond(&property.facts.placed, bound) {
                continue;
            }
            let Some(reach) = place.reach(&property.facts.placed) else {
                continue;
            };
            if reach.beyond_km <= allowance(place, rules) {
                if best_pass.is_none_or(
                    |b| matches!(b, PlaceFit::Near(_, r) if reach.beyond_km < r.beyond_km),
                ) {
                    best_pass = Some(PlaceFit::Near(place, reach));
                }
            } else if closest.is_none_or(
                |c| matches!(c, PlaceFit::Outside(_, r) if reach.beyond_km < r.beyond_km),
            ) {
                closest = Some(PlaceFit::Outside(place, reach));
            }
        }
    }
    if best_pass.is_some() {
        return best_pass;
    }
    // A listing placed only by its town may still say it is in the neighbourhood.
    let placed_exactly = property.facts.placed.point_source == Some(PointSource::Coordinates);
    if !placed_exactly
        && let Some(wanted) = persona
            .places
            .iter()
            .find(|w| property.words.has_all(&w.words))
    {
        return Some(PlaceFit::Named(wanted, "its description"));
    }
    Some(closest.unwrap_or(PlaceFit::Unplaced))
}

#[derive(Debug, Clone, Copy)]
enum TypeFit<'a> {
    /// The client named no kind, or the listing's cannot be told.
    Any,
    Kind(Kind),
    WrongKind(Kind),
    Words(&'a Phrase),
    WrongWords,
}

impl TypeFit<'_> {
    fn passes(&self) -> bool {
        !matches!(self, TypeFit::WrongKind(_) | TypeFit::WrongWords)
    }
}

fn type_fit<'a>(persona: &'a PreparedPersona, property: &PreparedProperty) -> TypeFit<'a> {
    if let (false, Some(kind)) = (persona.kinds.is_empty(), property.facts.kind) {
        return if persona.kinds.contains(&kind) {
            TypeFit::Kind(kind)
        } else {
            TypeFit::WrongKind(kind)
        };
    }
    if !persona.kinds.is_empty()
        || persona.unread_types.is_empty()
        || property.type_words.is_empty()
    {
        return TypeFit::Any;
    }
    persona
        .unread_types
        .iter()
        .find(|t| t.words.has_all(&property.type_words) || property.type_words.has_all(&t.words))
        .map_or(TypeFit::WrongWords, TypeFit::Words)
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

/// The wants the listing meets, and the styles of those the client likes that it has.
fn wants_met<'a>(
    persona: &'a PreparedPersona,
    property: &'a PreparedProperty,
) -> (Vec<&'a str>, Vec<&'static str>) {
    let features = persona
        .features
        .iter()
        .filter(|w| {
            property
                .facts
                .holds(&w.condition, &w.words, &property.words)
                == Some(true)
        })
        .map(|w| w.condition.text.as_str())
        .collect();
    let styles = persona
        .styles
        .iter()
        .copied()
        .filter(|s| property.facts.styles.contains(s))
        .collect();
    (features, styles)
}

fn values(persona: &PreparedPersona, property: &PreparedProperty) -> [f64; 7] {
    // Counted, not collected: this runs for every pair.
    let features_met = persona
        .features
        .iter()
        .filter(|w| {
            property
                .facts
                .holds(&w.condition, &w.words, &property.words)
                == Some(true)
        })
        .count();
    let styles_met = persona
        .styles
        .iter()
        .filter(|s| property.facts.styles.contains(s))
        .count();
    let features = share(
        features_met + styles_met,
        persona.features.len() + persona.styles.len(),
    );
    // A past home is described more briefly than a listing: sharing a dozen of its words is a
    // full match.
    let past = &persona.past_properties;
    let past_properties = share(property.words.overlap(past), past.len().min(12)).min(1.0);
    let text = f64::from(cosine(&persona.embedding, &property.embedding)).max(0.0);
    let interests = share(
        interests_found(persona, property).count(),
        persona.interests.len(),
    );
    let location = if persona.places.is_empty() { 0.5 } else { 1.0 };
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

fn interests_found<'a>(
    persona: &'a PreparedPersona,
    property: &'a PreparedProperty,
) -> impl Iterator<Item = &'a Phrase> {
    persona
        .interests
        .iter()
        .filter(|p| property.words.overlap(&p.words) > 0)
}

fn details(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    similarity_by: &str,
) -> [String; 7] {
    let (features, styles) = wants_met(persona, property);
    let met: Vec<&str> = features
        .iter()
        .copied()
        .chain(styles.iter().copied())
        .collect();
    let interests: Vec<&str> = interests_found(persona, property)
        .map(|p| p.text.as_str())
        .collect();
    let disliked: Vec<&str> = disliked(persona, property)
        .map(|p| p.text.as_str())
        .collect();
    let wanted = persona.features.len() + persona.styles.len();
    [
        if wanted == 0 {
            "no wanted features on record".to_owned()
        } else {
            format!(
                "has {} of {wanted} wanted features: {}",
                met.len(),
                or_none(&met)
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
        format!("{similarity_by} of the client's profile and the listing"),
        format!("speaks to interests: {}", or_none(&interests)),
        if persona.places.is_empty() {
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

fn check(name: &str, detail: String) -> ConstraintCheck {
    ConstraintCheck {
        name: name.to_owned(),
        detail,
    }
}

fn constraints_passed(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    rules: Rules,
    miss: Option<Miss>,
) -> Vec<ConstraintCheck> {
    let mut passed = Vec::new();
    if !matches!(miss, Some(Miss::DealBreaker(_))) {
        passed.push(check(
            "deal_breakers",
            if persona.deal_breakers.is_empty() {
                "no deal-breakers on record".to_owned()
            } else {
                let each: Vec<String> = persona
                    .deal_breakers
                    .iter()
                    .map(|d| {
                        let truth = property
                            .facts
                            .truth(&d.condition, &d.words, &property.words);
                        format!("\"{}\": {}", d.condition.text, truth.reason())
                    })
                    .collect();
                format!("none applies — {}", each.join("; "))
            },
        ));
    }
    if miss != Some(Miss::Budget) {
        passed.push(check(
            "budget",
            match persona.budget {
                (_, Some(max)) => format!(
                    "{} within a budget up to {} (tolerance {:.0}%)",
                    money(property.price),
                    money(max),
                    rules.budget_tolerance * 100.0
                ),
                (Some(min), None) => format!("{} above {}", money(property.price), money(min)),
                (None, None) => "no budget on record".to_owned(),
            },
        ));
    }
    if let Some(fit) = place_fit(persona, property, rules, true).filter(PlaceFit::passes) {
        passed.push(check("location", place_words(fit, property, rules)));
    }
    match type_fit(persona, property) {
        TypeFit::Kind(kind) => passed.push(check(
            "property_type",
            format!("{}, a kind the client wants", kind.label()),
        )),
        TypeFit::Words(phrase) => passed.push(check(
            "property_type",
            format!("wanted type: {} (matched as words)", phrase.text),
        )),
        _ => {}
    }
    passed.push(check(
        "not_declined",
        "the client has not turned this listing down".to_owned(),
    ));
    passed
}

/// The one constraint a near miss breaks, and how far off it is.
fn missed(
    persona: &PreparedPersona,
    property: &PreparedProperty,
    rules: Rules,
    miss: Miss,
) -> ConstraintCheck {
    match miss {
        Miss::Budget => {
            let gap = budget_gap(persona, property, rules).unwrap_or_default();
            let detail = match persona.budget {
                (_, Some(max)) if gap > 0.0 => format!(
                    "priced {:.0}% above the budget ceiling ({} against {})",
                    gap * 100.0,
                    money(property.price),
                    money(max)
                ),
                (Some(min), _) => format!(
                    "priced {:.0}% below the budget floor ({} against {})",
                    -gap * 100.0,
                    money(property.price),
                    money(min)
                ),
                _ => "priced outside the budget".to_owned(),
            };
            check("budget", detail)
        }
        Miss::DealBreaker(i) => {
            let breaker = &persona.deal_breakers[i];
            let truth = property
                .facts
                .truth(&breaker.condition, &breaker.words, &property.words);
            check(
                "deal_breakers",
                format!(
                    "deal-breaker \"{}\" ({}): {}",
                    breaker.condition.text,
                    breaker.condition.excludes(),
                    truth.reason()
                ),
            )
        }
        Miss::Location => {
            let detail = match place_fit(persona, property, rules, true) {
                Some(fit @ PlaceFit::Outside(..)) => place_words(fit, property, rules),
                _ => {
                    let named: Vec<&str> = persona.places.iter().map(|p| p.text.as_str()).collect();
                    format!(
                        "not in a place the client named ({}), as far as its location tells",
                        named.join(", ")
                    )
                }
            };
            check("location", detail)
        }
        Miss::PropertyType => {
            let wanted: Vec<&str> = persona.kinds.iter().map(|k| k.label()).collect();
            let detail = match type_fit(persona, property) {
                TypeFit::WrongKind(kind) => {
                    format!("{}; the client wants {}", kind.label(), wanted.join(" or "))
                }
                _ => {
                    let types: Vec<&str> = persona
                        .unread_types
                        .iter()
                        .map(|p| p.text.as_str())
                        .collect();
                    format!("its type is none the client named ({})", types.join(", "))
                }
            };
            check("property_type", detail)
        }
    }
}

fn place_words(fit: PlaceFit<'_>, property: &PreparedProperty, rules: Rules) -> String {
    let source = property
        .facts
        .placed
        .point_source
        .as_ref()
        .map_or_else(|| "its location".to_owned(), PointSource::describe);
    match fit {
        PlaceFit::Named(wanted, at) => format!("in {} (named in {at})", wanted.text),
        PlaceFit::Near(place, reach) if reach.inside => match reach.distance_km {
            Some(d) => format!(
                "in {}, {d:.1} km from its centre (placed by {source})",
                place.name
            ),
            None => format!("in {}", place.name),
        },
        PlaceFit::Near(place, reach) => format!(
            "{:.1} km outside {}, within its {:.1} km allowance (placed by {source})",
            reach.beyond_km,
            place.name,
            allowance(place, rules)
        ),
        PlaceFit::Outside(place, reach) if reach.beyond_km.is_finite() => format!(
            "{:.1} km outside {} (placed by {source})",
            reach.beyond_km, place.name
        ),
        PlaceFit::Outside(place, _) => format!("not in {}", place.name),
        PlaceFit::Unplaced => "its place cannot be told".to_owned(),
    }
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
