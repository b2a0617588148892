//! Segments: a population described as attribute distributions, from which the persona factory
//! draws synthetic focus-group participants.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SegmentDefinition {
    /// Unique in the brokerage; synthetic personas carry it as their `segment`.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    #[oai(validator(max_length = 2000))]
    #[serde(default)]
    #[oai(default)]
    pub description: String,
    #[serde(default)]
    #[oai(default)]
    pub attributes: SegmentAttributes,
}

/// Single-valued attributes (age range, occupation, net worth, home, decision style,
/// communication preference) take one value per persona, drawn in proportion to the weights.
/// List attributes (property types, locations, features, deal-breakers, interests) include each
/// value independently with its weight as the probability.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SegmentAttributes {
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub age_ranges: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub occupations: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub net_worth_ranges: Vec<Weighted>,
    /// Where members live ("Miami, Florida, USA").
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub homes: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub decision_styles: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub communication_preferences: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 20))]
    pub property_types: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub locations: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 100))]
    pub features: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub deal_breakers: Vec<Weighted>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub interests: Vec<Weighted>,
    /// Range of the budget ceiling, drawn log-uniformly.
    pub budget_max: Option<Range>,
    /// Range of openness (0–1), drawn uniformly.
    pub openness: Option<Range>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Weighted {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub value: String,
    /// A relative frequency (single-valued attributes) or a probability in (0, 1] (lists).
    #[oai(validator(minimum(value = "0", exclusive), maximum(value = "1000")))]
    pub weight: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Range {
    #[oai(validator(minimum(value = "0")))]
    pub min: f64,
    #[oai(validator(minimum(value = "0")))]
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Segment {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub definition: SegmentDefinition,
}
