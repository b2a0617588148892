//! What a client asks of a listing, read from their own words: deal-breakers and wants as
//! conditions ([`conditions`]), property kinds apart from styles ([`kinds`]), and places from a
//! gazetteer ([`places`]). The worker checks listings against these; the API shows them beside
//! the words they were read from.

pub mod conditions;
pub mod kinds;
pub mod lexicon;
pub mod places;
pub mod tokens;

use poem_openapi::Object;
use serde::Serialize;

use crate::domain::{BrokeragePlace, Preferences};

use self::{
    conditions::Condition,
    kinds::read_type,
    places::{PlaceKind, gazetteer},
};

/// One of a client's preferences as matching reads it, shown beside their words.
#[derive(Debug, Clone, PartialEq, Serialize, Object)]
pub struct ConditionReading {
    /// `deal_breaker`, `feature`, `property_type` or `location`.
    pub of: String,
    /// The client's words.
    pub text: String,
    /// What matching checks: "excludes a listing that has no garage".
    pub reading: String,
    /// False when the words could not be read as a condition and are matched as a phrase.
    pub read: bool,
}

/// How matching reads each of a client's deal-breakers, wants, property types and places (the
/// brokerage's own places first).
pub fn readings(preferences: &Preferences, own_places: &[BrokeragePlace]) -> Vec<ConditionReading> {
    let reading = |of: &str, text: &str, reading: String, read: bool| ConditionReading {
        of: of.to_owned(),
        text: text.to_owned(),
        reading,
        read,
    };
    let mut out = Vec::new();
    for text in &preferences.deal_breakers {
        let c = Condition::deal_breaker(text);
        out.push(reading("deal_breaker", text, c.excludes(), c.is_read()));
    }
    for text in &preferences.features {
        let c = Condition::want(text);
        let read = c.is_read();
        let what = if read {
            format!("scores a listing that {}", c.describe())
        } else {
            format!(
                "scores a listing that mentions \"{text}\" (not read as a condition; matched as words)"
            )
        };
        out.push(reading("feature", text, what, read));
    }
    for text in &preferences.property_types {
        let t = read_type(text);
        let kinds: Vec<&str> = t.kinds.iter().map(|k| k.label()).collect();
        let what = match (kinds.is_empty(), t.style) {
            (false, Some(style)) => {
                format!("accepts {}; likes the {style} style", kinds.join(" or "))
            }
            (false, None) => format!("accepts {}", kinds.join(" or ")),
            (true, Some(style)) => format!("likes the {style} style (a want, not a limit)"),
            (true, None) => format!(
                "accepts a listing whose type is \"{text}\" (not read as a kind; matched as words)"
            ),
        };
        out.push(reading(
            "property_type",
            text,
            what,
            !kinds.is_empty() || t.style.is_some(),
        ));
    }
    for text in &preferences.locations {
        let places = gazetteer().resolve_with(text, own_places);
        let what = match places.first() {
            None => {
                format!("accepts a listing whose location names \"{text}\" (not in the gazetteer)")
            }
            Some(place) => {
                let region = [place.country.as_str(), place.admin1.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty() && **s != "00")
                    .copied()
                    .collect::<Vec<_>>()
                    .join("-");
                let kind = match place.kind {
                    PlaceKind::Town => "the town",
                    PlaceKind::Neighbourhood => "the neighbourhood",
                    PlaceKind::Region => "the region",
                    PlaceKind::State => "the state",
                    PlaceKind::Country => "the country",
                    PlaceKind::Brokerage => "the brokerage's place",
                };
                let reach = if place.centre.is_some() {
                    format!(", up to {:.1} km from its centre", place.radius_km)
                } else {
                    String::new()
                };
                let others = match places.len() {
                    1 => String::new(),
                    n => format!(" (or any of {} other places of that name)", n - 1),
                };
                let region = if region.is_empty() {
                    String::new()
                } else {
                    format!(" ({region})")
                };
                format!(
                    "accepts a listing in {kind} {}{region}{reach}{others}",
                    place.name
                )
            }
        };
        out.push(reading("location", text, what, !places.is_empty()));
    }
    out
}
