//! The request bodies of the four simulation kinds (the PRD's parameters).

use poem_openapi::Object;
use serde::Serialize;
use troupe_shared::domain::{
    Channel, EnrichmentData, Material, OutreachSequence, PropertyDetails, Question, Scenario,
    SimulationKind,
};
use uuid::Uuid;

#[derive(Object, Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct FocusGroupRequest {
    /// The PRD's `simulation_type`: optional; when given, it must be this endpoint's kind.
    pub simulation_type: Option<SimulationKind>,
    /// A stored listing; give this or `property`.
    pub property_id: Option<Uuid>,
    /// A listing inline; give this or `property_id`.
    pub property: Option<PropertyDetails>,
    /// At most `TROUPE_SIMULATION_MAX_AGENTS` with the synthetic ones (the schema's bound is
    /// the setting's ceiling, `config::MAX_AGENTS_CEILING`).
    #[oai(default, validator(max_items = 5000))]
    pub persona_ids: Vec<Uuid>,
    /// Segments to draw participants from: a defined segment's id or name (synthetic personas
    /// from the factory), or the `segment` label of stored personas.
    #[oai(default, validator(max_items = 20, min_length = 1, max_length = 100))]
    pub persona_segments: Vec<String>,
    /// The moderator's questions (a first-impression and a purchase question when omitted):
    /// plain strings, answered in words with a purchase intent, or typed questions
    /// `{text, type, options?, unit?}` whose answers results aggregate per segment.
    #[oai(validator(min_items = 1, max_items = 20))]
    pub questions: Option<Vec<Question>>,
    /// Modifications to test, one at a time (the listing's candidate modifications when
    /// omitted).
    #[oai(validator(max_items = 20, min_length = 1, max_length = 500))]
    pub modifications_to_test: Option<Vec<String>>,
    /// Discussion rounds after the questions, 0 to 3 (default 0).
    #[oai(validator(maximum(value = "3")))]
    pub discussion_rounds: Option<u32>,
    #[oai(default)]
    pub simulation_params: SimulationParams,
}

#[derive(Object, Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct MarketingRequest {
    /// The PRD's `simulation_type`: optional; when given, it must be this endpoint's kind.
    pub simulation_type: Option<SimulationKind>,
    /// At most `TROUPE_SIMULATION_MAX_AGENTS` with the synthetic ones (the schema's bound is
    /// the setting's ceiling, `config::MAX_AGENTS_CEILING`).
    #[oai(default, validator(max_items = 5000))]
    pub persona_ids: Vec<Uuid>,
    /// Target segments (see the focus group's `persona_segments`).
    #[oai(default, validator(max_items = 20, min_length = 1, max_length = 100))]
    pub persona_segments: Vec<String>,
    #[oai(validator(min_items = 1, max_items = 10))]
    pub materials: Vec<Material>,
    #[oai(validator(min_items = 1, max_items = 9))]
    pub channels: Vec<Channel>,
    #[oai(default)]
    pub simulation_params: SimulationParams,
}

#[derive(Object, Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct InterventionRequest {
    /// The PRD's `simulation_type`: optional; when given, it must be this endpoint's kind.
    pub simulation_type: Option<SimulationKind>,
    /// At most `TROUPE_SIMULATION_MAX_AGENTS` with the synthetic ones (the schema's bound is
    /// the setting's ceiling, `config::MAX_AGENTS_CEILING`).
    #[oai(default, validator(max_items = 5000))]
    pub persona_ids: Vec<Uuid>,
    #[oai(default, validator(max_items = 20, min_length = 1, max_length = 100))]
    pub persona_segments: Vec<String>,
    /// What the outreach is for (e.g. "book a private viewing of the Aspen estate").
    #[oai(validator(max_length = 500))]
    pub goal: Option<String>,
    /// Outreach sequences to compare.
    #[oai(validator(min_items = 1, max_items = 5))]
    pub variants: Vec<OutreachSequence>,
    #[oai(default)]
    pub simulation_params: SimulationParams,
}

#[derive(Object, Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct IndividualRequest {
    /// The PRD's `simulation_type`: optional; when given, it must be this endpoint's kind.
    pub simulation_type: Option<SimulationKind>,
    pub persona_id: Uuid,
    pub scenario: Scenario,
    /// Facts for this run only; the stored persona is not changed.
    pub enrichment_data: Option<EnrichmentData>,
    #[oai(default)]
    pub simulation_params: SimulationParams,
}

#[derive(Object, Serialize, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct SimulationParams {
    /// Personas drawn from `persona_segments`, split evenly (default 20).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub num_agents: Option<u32>,
    /// Repetitions with different seeds, 1 to 10 (default 1).
    #[oai(validator(minimum(value = "1"), maximum(value = "10")))]
    pub iterations: Option<u32>,
    /// Sampling temperature, 0 to 2 (default 0.7).
    #[oai(validator(minimum(value = "0"), maximum(value = "2")))]
    pub temperature: Option<f64>,
    /// Same seed and inputs give the same simulation (random when omitted); with the response
    /// cache, a repeat costs no model calls.
    pub seed: Option<u64>,
    /// Tokens the simulation may spend (the service's default when omitted, at most its maximum).
    #[oai(validator(minimum(value = "1")))]
    pub token_budget: Option<u64>,
}
