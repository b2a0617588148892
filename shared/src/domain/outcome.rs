//! What really happened after a simulation — showings, offers, sales, campaign counts, outreach
//! responses, a scenario's result — and what each simulation predicted of it.

use chrono::{DateTime, NaiveDate, Utc};
use poem_openapi::{Object, Union};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Channel, SimulationKind};

text_enum! {
    pub enum OutcomeKind {
        Showing => "showing",
        Offer => "offer",
        Sale => "sale",
        Campaign => "campaign",
        Outreach => "outreach",
        Scenario => "scenario",
    }
}

/// What every recorded outcome carries: when it happened and, from a CRM or a flow, its own id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutcomeBasis {
    /// The day it happened (not in the future).
    pub occurred_on: NaiveDate,
    /// The id the sender knows it by (a CRM activity's id): recording it again with the same
    /// fields returns what was recorded; with other fields it is a 409.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub external_id: Option<String>,
}

/// A client viewed a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ShowingIn {
    #[oai(flatten)]
    #[serde(flatten)]
    pub basis: OutcomeBasis,
    pub property_id: Uuid,
    pub persona_id: Uuid,
    /// How the client took it: 1 (not for them) to 5 (wants it).
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub reaction: u8,
    /// What they said (stored encrypted, erased with the client).
    #[oai(validator(max_length = 2000))]
    pub comment: Option<String>,
}

/// An offer on a listing, by a client when one is named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OfferIn {
    #[oai(flatten)]
    #[serde(flatten)]
    pub basis: OutcomeBasis,
    pub property_id: Uuid,
    pub persona_id: Option<Uuid>,
    /// In the listing's currency.
    #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100000000000")))]
    pub amount: f64,
}

/// The listing sold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SaleIn {
    #[oai(flatten)]
    #[serde(flatten)]
    pub basis: OutcomeBasis,
    pub property_id: Uuid,
    /// In the listing's currency.
    #[oai(validator(minimum(value = "0", exclusive), maximum(value = "100000000000")))]
    pub price: f64,
    /// The buyer, when they are one of the brokerage's clients.
    pub buyer_persona_id: Option<Uuid>,
    #[oai(validator(maximum(value = "10000")))]
    pub days_on_market: Option<u32>,
}

/// A tested material really sent on one channel (to one segment, when the export splits them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CampaignIn {
    #[oai(flatten)]
    #[serde(flatten)]
    pub basis: OutcomeBasis,
    /// The marketing simulation that tested it.
    pub simulation_id: Uuid,
    /// A material's name as the simulation had it.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub material: String,
    pub channel: Channel,
    /// A segment the simulation reported on; the whole audience when left out.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub segment: Option<String>,
    #[oai(validator(minimum(value = "1"), maximum(value = "100000000")))]
    pub sent: u64,
    #[oai(validator(maximum(value = "100000000")))]
    pub opened: u64,
    #[oai(validator(maximum(value = "100000000")))]
    pub clicked: u64,
    #[oai(validator(maximum(value = "100000000")))]
    pub replied: u64,
}

/// A client who really received a tested outreach sequence, and whether they answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutreachIn {
    #[oai(flatten)]
    #[serde(flatten)]
    pub basis: OutcomeBasis,
    /// The intervention simulation that tested it.
    pub simulation_id: Uuid,
    /// A sequence's name as the simulation had it.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub variant: String,
    pub persona_id: Uuid,
    /// The 1-based touch they first responded to; left out when they never did.
    #[oai(validator(minimum(value = "1"), maximum(value = "50")))]
    pub responded_at_touch: Option<u32>,
}

/// How the scenario of an individual simulation really went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ScenarioIn {
    #[oai(flatten)]
    #[serde(flatten)]
    pub basis: OutcomeBasis,
    pub simulation_id: Uuid,
    /// It ended well for the agent (a second viewing, a reply, a meeting).
    pub positive: bool,
    /// The client's interest afterwards, 1 to 5, when the agent judged it.
    #[oai(validator(minimum(value = "1"), maximum(value = "5")))]
    pub interest: Option<u8>,
}

/// One outcome to record, tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[oai(discriminator_name = "type", one_of)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutcomeIn {
    #[oai(mapping = "showing")]
    Showing(ShowingIn),
    #[oai(mapping = "offer")]
    Offer(OfferIn),
    #[oai(mapping = "sale")]
    Sale(SaleIn),
    #[oai(mapping = "campaign")]
    Campaign(CampaignIn),
    #[oai(mapping = "outreach")]
    Outreach(OutreachIn),
    #[oai(mapping = "scenario")]
    Scenario(ScenarioIn),
}

impl OutcomeIn {
    pub fn kind(&self) -> OutcomeKind {
        match self {
            OutcomeIn::Showing(_) => OutcomeKind::Showing,
            OutcomeIn::Offer(_) => OutcomeKind::Offer,
            OutcomeIn::Sale(_) => OutcomeKind::Sale,
            OutcomeIn::Campaign(_) => OutcomeKind::Campaign,
            OutcomeIn::Outreach(_) => OutcomeKind::Outreach,
            OutcomeIn::Scenario(_) => OutcomeKind::Scenario,
        }
    }

    pub fn basis(&self) -> &OutcomeBasis {
        match self {
            OutcomeIn::Showing(o) => &o.basis,
            OutcomeIn::Offer(o) => &o.basis,
            OutcomeIn::Sale(o) => &o.basis,
            OutcomeIn::Campaign(o) => &o.basis,
            OutcomeIn::Outreach(o) => &o.basis,
            OutcomeIn::Scenario(o) => &o.basis,
        }
    }

    /// The listing it is about, for the listing's outcomes.
    pub fn property_id(&self) -> Option<Uuid> {
        match self {
            OutcomeIn::Showing(o) => Some(o.property_id),
            OutcomeIn::Offer(o) => Some(o.property_id),
            OutcomeIn::Sale(o) => Some(o.property_id),
            _ => None,
        }
    }

    /// The client it is about, when one is named.
    pub fn persona_id(&self) -> Option<Uuid> {
        match self {
            OutcomeIn::Showing(o) => Some(o.persona_id),
            OutcomeIn::Offer(o) => o.persona_id,
            OutcomeIn::Sale(o) => o.buyer_persona_id,
            OutcomeIn::Outreach(o) => Some(o.persona_id),
            _ => None,
        }
    }

    /// The simulation it answers, for outcomes of a tested campaign, sequence or scenario.
    pub fn simulation_id(&self) -> Option<Uuid> {
        match self {
            OutcomeIn::Campaign(o) => Some(o.simulation_id),
            OutcomeIn::Outreach(o) => Some(o.simulation_id),
            OutcomeIn::Scenario(o) => Some(o.simulation_id),
            _ => None,
        }
    }
}

/// Outcomes to record together: all of them, or (one being wrong) none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
pub struct OutcomeBatch {
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub outcomes: Vec<OutcomeIn>,
}

/// A recorded outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Outcome {
    pub id: Uuid,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// As it was recorded, `type` and all.
    pub outcome: OutcomeIn,
}

/// What a list of outcomes can be narrowed to.
#[derive(Debug, Clone, Default)]
pub struct OutcomeFilter {
    pub kind: Option<OutcomeKind>,
    pub property_id: Option<Uuid>,
    pub persona_id: Option<Uuid>,
    pub simulation_id: Option<Uuid>,
    /// Happened on or after.
    pub since: Option<NaiveDate>,
    /// The last id of the previous page (lists run newest first).
    pub before: Option<Uuid>,
    pub limit: u32,
}

/// One thing a completed simulation predicted that an outcome can later be held against.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub kind: SimulationKind,
    pub persona_id: Option<Uuid>,
    pub property_id: Option<Uuid>,
    pub segment: Option<String>,
    pub material: Option<String>,
    pub channel: Option<Channel>,
    pub variant: Option<String>,
    /// A 1–5 point: purchase intent (focus groups), interest (individual).
    pub score: Option<f64>,
    /// Of buying (focus groups), responding at least once (interventions), the scenario ending
    /// well (individual).
    pub probability: Option<f64>,
    /// Marketing: open, click and reply per delivered material.
    pub rates: Option<[f64; 3]>,
    /// A focus group's suggested price for the listing (its row names no persona).
    pub price: Option<f64>,
}
