use chrono::{DateTime, Utc};
use poem_openapi::Object;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::Location;

text_enum! {
    pub enum Visibility {
        /// Only the owning agent.
        Private => "private",
        /// The owning agent's team.
        Team => "team",
        /// Everyone in the brokerage.
        Brokerage => "brokerage",
    }
}

/// What a brokerage knows about a client: the PRD's persona model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct PersonaProfile {
    /// How agents refer to the client (a name or an alias).
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// A population label such as `tech_founders`, used to pick focus-group participants.
    #[oai(validator(max_length = 100))]
    #[serde(default)]
    pub segment: Option<String>,
    #[serde(default)]
    #[oai(default)]
    pub demographics: Demographics,
    #[serde(default)]
    #[oai(default)]
    pub preferences: Preferences,
    #[serde(default)]
    #[oai(default)]
    pub personality_traits: PersonalityTraits,
    #[serde(default)]
    #[oai(default)]
    pub knowledge_graph: KnowledgeGraph,
    #[serde(default)]
    #[oai(default, validator(max_items = 500))]
    pub interaction_history: Vec<Value>,
    #[serde(default)]
    #[oai(default, validator(max_items = 200))]
    pub enrichment_sources: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct Demographics {
    #[oai(validator(max_length = 50))]
    pub age_range: Option<String>,
    #[oai(validator(max_length = 200))]
    pub occupation: Option<String>,
    #[oai(validator(max_length = 100))]
    pub net_worth_range: Option<String>,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct Preferences {
    #[serde(default)]
    #[oai(default, validator(max_items = 50, max_length = 200))]
    pub property_types: Vec<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50, max_length = 200))]
    pub locations: Vec<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 100, max_length = 200))]
    pub features: Vec<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50, max_length = 200))]
    pub deal_breakers: Vec<String>,
    /// The price range the client will consider, in the listing currency.
    pub budget: Option<Budget>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct Budget {
    #[oai(validator(minimum(value = "0")))]
    pub min: Option<f64>,
    #[oai(validator(minimum(value = "0")))]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct PersonalityTraits {
    /// 0 (conventional) to 1 (novelty-seeking).
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub openness: Option<f64>,
    #[oai(validator(max_length = 200))]
    pub decision_style: Option<String>,
    #[oai(validator(max_length = 200))]
    pub communication_preference: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
pub struct KnowledgeGraph {
    #[serde(default)]
    #[oai(default, validator(max_items = 200))]
    pub relationships: Vec<Value>,
    #[serde(default)]
    #[oai(default, validator(max_items = 100, max_length = 200))]
    pub interests: Vec<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 100))]
    pub past_properties: Vec<Value>,
}

/// A stored persona: the profile plus who owns it and who may see it.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
pub struct Persona {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    /// The agent who owns the relationship.
    pub agent_id: Uuid,
    pub team_id: Option<Uuid>,
    pub visibility: Visibility,
    /// Incremented by every change.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub profile: PersonaProfile,
}
