//! A brokerage's own places, matched beside the shipped gazetteer's.

use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Coordinates;

/// A place to add: a name clients use, its centre and how far it reaches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PlaceIn {
    /// As clients write it, e.g. "Beverly Park" (unique in the brokerage, ignoring case,
    /// accents and punctuation).
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// Other names for it.
    #[serde(default)]
    #[oai(default, validator(max_items = 20, min_length = 1, max_length = 200))]
    pub aliases: Vec<String>,
    pub centre: Coordinates,
    /// A listing this close to the centre is in the place.
    #[oai(validator(minimum(value = "0.05"), maximum(value = "500")))]
    pub radius_km: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BrokeragePlace {
    pub id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub place: PlaceIn,
}
