use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Location, Photos};

text_enum! {
    /// Where a listing stands in the market; only active listings are matched.
    #[derive(Default)]
    pub enum PropertyStatus {
        #[default]
        Active => "active",
        UnderContract => "under_contract",
        Sold => "sold",
        Withdrawn => "withdrawn",
    }
}

/// Listing data, as entered by an agent or carried inline in a simulation request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PropertyDetails {
    /// Optional, as in the PRD: when left out, the description's first sentence (or the type
    /// and the place) stands in.
    #[oai(default, validator(max_length = 300))]
    #[serde(default)]
    pub title: String,
    #[oai(validator(max_length = 20000))]
    #[serde(default)]
    #[oai(default)]
    pub description: String,
    /// List price, in `currency`.
    #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100000000000")))]
    pub price: f64,
    #[oai(validator(pattern = "^[A-Z]{3}$"))]
    #[serde(default = "default_currency")]
    #[oai(default = "default_currency")]
    pub currency: String,
    #[serde(default)]
    #[oai(default)]
    pub location: Location,
    #[oai(validator(max_length = 100))]
    pub property_type: Option<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 100, max_length = 200))]
    pub features: Vec<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub photos: Photos,
    /// Changes the seller is considering (e.g. "add a pool"), for focus groups to test.
    #[serde(default)]
    #[oai(default, validator(max_items = 20, max_length = 500))]
    pub candidate_modifications: Vec<String>,
    /// The MLS or brokerage listing number; unique within the brokerage, and the key of imports.
    #[oai(validator(min_length = 1, max_length = 100))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_id: Option<String>,
    #[serde(default)]
    #[oai(default)]
    pub status: PropertyStatus,
    #[oai(validator(maximum(value = "1000")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bedrooms: Option<u32>,
    #[oai(validator(minimum(value = "0"), maximum(value = "1000")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bathrooms: Option<f64>,
    /// Interior living area in square feet.
    #[oai(validator(minimum(value = "0"), maximum(value = "10000000")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub living_area_sqft: Option<f64>,
    #[oai(validator(minimum(value = "0"), maximum(value = "1000000")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot_size_acres: Option<f64>,
    #[oai(validator(minimum(value = "1000"), maximum(value = "2100")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year_built: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<Coordinates>,
    /// The listing's ids in other systems, by system: `{"mls": "A-1", "salesforce": "a0B…"}`.
    /// An id of a system names one listing in the brokerage.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[oai(default, skip_serializing_if_is_empty)]
    pub external_ids: super::ExternalIds,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Coordinates {
    #[oai(validator(minimum(value = "-90"), maximum(value = "90")))]
    pub latitude: f64,
    #[oai(validator(minimum(value = "-180"), maximum(value = "180")))]
    pub longitude: f64,
}

fn default_currency() -> String {
    "USD".to_owned()
}

impl PropertyDetails {
    /// Gives a listing without a title one from its description's first sentence, or its type
    /// and place.
    pub fn title_if_untitled(&mut self) {
        if !self.title.trim().is_empty() {
            return;
        }
        let first_sentence = self
            .description
            .split_terminator(['.', '!', '?', '\n'])
            .map(str::trim)
            .find(|s| !s.is_empty());
        let place = [
            &self.location.city,
            &self.location.region,
            &self.location.country,
        ]
        .into_iter()
        .flatten()
        .find(|p| !p.trim().is_empty());
        let title = match (first_sentence, &self.property_type, place) {
            (Some(sentence), _, _) => shortened(sentence, 80),
            (None, Some(kind), Some(place)) => format!("{kind} in {place}"),
            (None, None, Some(place)) => format!("Listing in {place}"),
            (None, Some(kind), None) => kind.clone(),
            (None, None, None) => "Untitled listing".to_owned(),
        };
        self.title = title;
    }
}

/// At most `max` characters, cut at a word with an ellipsis.
fn shortened(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let at_word = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
    format!("{}…", at_word.trim_end_matches([',', ';', ':']))
}

/// A listing photo; the description is what a persona "sees".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Photo {
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub url: String,
    #[oai(validator(max_length = 2000))]
    #[serde(default)]
    #[oai(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Property {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub details: PropertyDetails,
}
