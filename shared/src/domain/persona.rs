use std::collections::BTreeMap;

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
#[oai(skip_serializing_if_is_none)]
pub struct PersonaProfile {
    /// How agents refer to the client (a name or an alias). Optional, as in the PRD's model:
    /// until one is given, a label made from the profile ("Hedge fund partner, Greenwich").
    #[oai(default, validator(max_length = 200))]
    #[serde(default)]
    pub name: String,
    /// A population label such as `tech_founders`, used to pick focus-group participants.
    #[oai(validator(max_length = 100))]
    #[serde(default)]
    pub segment: Option<String>,
    /// A few sentences on who the client is, in the agent's words.
    #[oai(validator(max_length = 4000))]
    #[serde(default)]
    pub biography: Option<String>,
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
    #[oai(default, validator(max_items = 200))]
    pub life_events: Vec<LifeEvent>,
    #[serde(default)]
    #[oai(default, validator(max_items = 500))]
    pub interaction_history: Vec<Value>,
    #[serde(default)]
    #[oai(default, validator(max_items = 200))]
    pub enrichment_sources: Vec<Value>,
    /// How to reach the client. Sealed at rest with the other private fields; likely duplicates
    /// are found through keyed hashes of it, never by reading it.
    #[serde(default, skip_serializing_if = "Contact::is_empty")]
    #[oai(default, skip_serializing_if = "Contact::is_empty")]
    pub contact: Contact,
    /// The client's ids in other systems (a CRM), by system: `{"hubspot": "51"}`. An id of a
    /// system names one client in the brokerage; `PUT /personas/by-external-id/{source}/{id}`
    /// keeps the record in step by it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[oai(default, skip_serializing_if_is_empty)]
    pub external_ids: ExternalIds,
}

/// Ids in other systems, by system name (`hubspot`, `salesforce`, `mls`).
pub type ExternalIds = BTreeMap<String, String>;

/// Systems one record may name.
pub const MAX_EXTERNAL_IDS: usize = 20;

/// What is wrong with `ids` (as found at `pointer`), in words, each with the member's pointer.
pub fn external_id_problems(ids: &ExternalIds, pointer: &str) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if ids.len() > MAX_EXTERNAL_IDS {
        problems.push((
            pointer.to_owned(),
            format!(
                "`{pointer}` names {} systems; at most {MAX_EXTERNAL_IDS}",
                ids.len()
            ),
        ));
    }
    for (source, id) in ids {
        let at = format!("{pointer}/{source}");
        if let Some(why) = source_problem(source) {
            problems.push((at.clone(), format!("`{at}`: {why}")));
        }
        if let Some(why) = external_id_problem(id) {
            problems.push((at.clone(), format!("`{at}`: {why}")));
        }
    }
    problems
}

/// Why `source` cannot name a system: lower-case letters, digits, `_`, `-` or `.`, starting with
/// a letter, 1–40 characters.
pub fn source_problem(source: &str) -> Option<String> {
    let fits = source.len() <= 40
        && source.starts_with(|c: char| c.is_ascii_lowercase())
        && source
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c));
    (!fits).then(|| {
        format!(
            "the system name {source:?} must be 1 to 40 lower-case letters, digits, `_`, `-` or \
             `.`, starting with a letter (e.g. `hubspot`)"
        )
    })
}

/// Why `id` cannot be an id in another system: 1–200 characters, no control characters, not
/// blank.
pub fn external_id_problem(id: &str) -> Option<String> {
    if id.trim().is_empty() {
        Some("the id is blank".into())
    } else if id.chars().count() > 200 {
        Some("the id is longer than 200 characters".into())
    } else if id.chars().any(char::is_control) {
        Some("the id holds a control character".into())
    } else {
        None
    }
}

/// A client's email address and phone number.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Contact {
    #[oai(validator(max_length = 254))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[oai(validator(max_length = 40))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }

    /// The address as compared: trimmed, lower case; `None` unless it looks like one
    /// (`name@domain`).
    pub fn normalised_email(&self) -> Option<String> {
        let email = self.email.as_deref()?.trim().to_lowercase();
        let (local, domain) = email.split_once('@')?;
        (!local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace))
            .then_some(email)
    }

    /// The number as compared: its digits, the last ten of a longer one (so "+1 (310) 555-0100"
    /// and "310.555.0100" are one number); `None` with fewer than seven digits.
    pub fn normalised_phone(&self) -> Option<String> {
        let digits: String = self
            .phone
            .as_deref()?
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        match digits.len() {
            0..7 => None,
            n if n > 10 => Some(digits[n - 10..].to_owned()),
            _ => Some(digits),
        }
    }
}

impl PersonaProfile {
    /// Gives a persona without a name a readable label from what the profile says of them: the
    /// occupation and the city, else the segment, else the net worth.
    pub fn label_if_unnamed(&mut self) {
        if !self.name.trim().is_empty() {
            return;
        }
        let d = &self.demographics;
        let occupation = d
            .occupation
            .as_deref()
            .map(str::trim)
            .filter(|o| !o.is_empty());
        let place = d
            .location
            .as_ref()
            .and_then(|l| {
                l.city
                    .as_deref()
                    .or(l.region.as_deref())
                    .or(l.country.as_deref())
            })
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let segment = self.segment.as_deref().map(|s| s.replace('_', " "));
        let label = match (occupation, place) {
            (Some(o), Some(p)) => format!("{}, {p}", capitalised(o)),
            (Some(o), None) => capitalised(o),
            (None, Some(p)) => format!("Client in {p}"),
            (None, None) => match (segment, d.net_worth_range.as_deref()) {
                (Some(s), _) if !s.trim().is_empty() => format!("{} client", capitalised(&s)),
                (_, Some(w)) if !w.trim().is_empty() => format!("Client worth {w}"),
                _ => "Unnamed client".to_owned(),
            },
        };
        self.name = label.chars().take(200).collect();
    }
}

/// `text` with its first letter in upper case.
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
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
    /// How strongly the client holds each preference above, and where that was learned.
    #[serde(default)]
    #[oai(default, validator(max_items = 300))]
    pub strengths: Vec<PreferenceStrength>,
}

impl Preferences {
    /// The most the client will pay, when a budget says so.
    pub fn budget_ceiling(&self) -> Option<f64> {
        self.budget.as_ref().and_then(|b| b.max)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PreferenceStrength {
    /// `property_types`, `locations`, `features` or `deal_breakers`.
    #[oai(validator(max_length = 50))]
    pub category: String,
    #[oai(validator(max_length = 200))]
    pub value: String,
    /// 0 (barely) to 1 (insists).
    #[oai(validator(minimum(value = "0"), maximum(value = "1")))]
    pub strength: f64,
    /// The enrichment source it was learned from (none: entered by an agent).
    pub source_id: Option<Uuid>,
}

/// Something that happened in the client's life (a sale of a company, a new child).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LifeEvent {
    #[oai(validator(max_length = 500))]
    pub description: String,
    pub occurred_on: Option<chrono::NaiveDate>,
    pub source_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Budget {
    #[oai(validator(minimum(value = "0")))]
    pub min: Option<f64>,
    #[oai(validator(minimum(value = "0")))]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
pub struct Persona {
    pub id: Uuid,
    pub brokerage_id: Uuid,
    /// The agent who owns the relationship.
    pub agent_id: Uuid,
    pub team_id: Option<Uuid>,
    pub visibility: Visibility,
    /// Incremented by every change.
    pub version: i64,
    /// Generated by the persona factory from a segment, not a real client.
    pub synthetic: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub profile: PersonaProfile,
}

/// A persona as it was at one version.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PersonaVersion {
    pub version: i64,
    /// `created`, `updated`, `enriched`, `feedback`, `reassigned` or `redacted` (another record
    /// erased).
    pub change: String,
    pub changed_by: Uuid,
    pub owner_id: Uuid,
    pub visibility: String,
    pub created_at: DateTime<Utc>,
    pub profile: Value,
}

/// One step of a persona's timeline: what changed from the version before.
#[derive(Debug, Clone, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct VersionChange {
    pub version: i64,
    pub change: String,
    pub changed_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    /// For an `enriched` version: the facts merged in it, each with its source and quoted span.
    #[serde(default)]
    #[oai(default)]
    pub evidence: Vec<super::Fact>,
}

/// A field's value before and after (absent: not set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FieldChange {
    /// A dotted path into the persona: `preferences.budget.max`, `visibility`.
    pub field: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
}
