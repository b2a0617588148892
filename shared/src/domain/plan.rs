//! A simulation's input, fixed at submission: what a worker runs and what `input_params` shows.
//! The queue carries only the simulation id. Personas are referenced by id and loaded at run
//! time, so a persona deleted in between is simply left out.

use poem_openapi::{Object, Union};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{PropertyDetails, Question, SimulationKind};

// One plan exists per simulation being submitted or run: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Union)]
#[oai(discriminator_name = "type", one_of)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SimulationPlan {
    #[oai(mapping = "focus_group")]
    FocusGroup(FocusGroupPlan),
    #[oai(mapping = "marketing")]
    Marketing(MarketingPlan),
    #[oai(mapping = "intervention")]
    Intervention(InterventionPlan),
    #[oai(mapping = "individual")]
    Individual(IndividualPlan),
}

impl SimulationPlan {
    pub fn kind(&self) -> SimulationKind {
        match self {
            SimulationPlan::FocusGroup(_) => SimulationKind::FocusGroup,
            SimulationPlan::Marketing(_) => SimulationKind::Marketing,
            SimulationPlan::Intervention(_) => SimulationKind::Intervention,
            SimulationPlan::Individual(_) => SimulationKind::Individual,
        }
    }

    pub fn settings(&self) -> &RunSettings {
        match self {
            SimulationPlan::FocusGroup(p) => &p.settings,
            SimulationPlan::Marketing(p) => &p.settings,
            SimulationPlan::Intervention(p) => &p.settings,
            SimulationPlan::Individual(p) => &p.settings,
        }
    }

    /// The stored listing a focus group is about, when it names one.
    pub fn property_id(&self) -> Option<Uuid> {
        match self {
            SimulationPlan::FocusGroup(p) => p.property_id,
            _ => None,
        }
    }

    /// The stored personas the plan names (synthetic ones are drawn at run time), each once.
    pub fn stored_persona_ids(&self) -> Vec<Uuid> {
        let mut ids = match self {
            SimulationPlan::FocusGroup(p) => p.panel.persona_ids.clone(),
            SimulationPlan::Marketing(p) => p.panel.persona_ids.clone(),
            SimulationPlan::Intervention(p) => p.panel.persona_ids.clone(),
            SimulationPlan::Individual(p) => vec![p.persona_id],
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// What the panel's planning had to warn of.
    pub fn warnings(&self) -> &[String] {
        match self {
            SimulationPlan::FocusGroup(p) => &p.panel.warnings,
            SimulationPlan::Marketing(p) => &p.panel.warnings,
            SimulationPlan::Intervention(p) => &p.panel.warnings,
            SimulationPlan::Individual(_) => &[],
        }
    }

    /// Agent steps the run will take: the progress total.
    pub fn agent_steps(&self) -> u64 {
        let iterations = u64::from(self.settings().iterations);
        let per_agent = match self {
            SimulationPlan::FocusGroup(p) => {
                p.questions.len() as u64
                    + u64::from(p.discussion_rounds)
                    + p.modifications.len() as u64
            }
            SimulationPlan::Marketing(p) => (p.materials.len() * p.channels.len()) as u64,
            SimulationPlan::Intervention(p) => {
                p.variants.iter().map(|v| v.touches.len() as u64).sum()
            }
            SimulationPlan::Individual(_) => 1,
        };
        let agents = match self {
            SimulationPlan::FocusGroup(p) => p.panel.size(),
            SimulationPlan::Marketing(p) => p.panel.size(),
            SimulationPlan::Intervention(p) => p.panel.size(),
            SimulationPlan::Individual(_) => 1,
        };
        agents * per_agent * iterations
    }
}

/// Who takes part: stored personas, plus synthetic personas the factory draws from segments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Panel {
    pub persona_ids: Vec<Uuid>,
    #[serde(default)]
    #[oai(default)]
    pub synthetic: Vec<SegmentDraw>,
    /// Where the panel falls short of what was asked ("asked for 20 from tech_founders, 2
    /// available"): shown with the status, the results and their summary.
    #[serde(default)]
    #[oai(default)]
    pub warnings: Vec<String>,
}

impl Panel {
    pub fn size(&self) -> u64 {
        self.persona_ids.len() as u64
            + self
                .synthetic
                .iter()
                .map(|d| u64::from(d.count))
                .sum::<u64>()
    }
}

/// `count` synthetic personas from a defined segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct SegmentDraw {
    pub segment_id: Uuid,
    pub segment: String,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RunSettings {
    /// Repetitions with different seeds.
    pub iterations: u32,
    pub temperature: f64,
    /// Same seed and inputs give the same simulation; with the response cache, at no cost.
    pub seed: u64,
    /// Tokens the run may spend; it fails cleanly rather than exceed them.
    pub token_budget: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct FocusGroupPlan {
    pub property_id: Option<Uuid>,
    pub property: PropertyDetails,
    #[oai(flatten)]
    #[serde(flatten)]
    pub panel: Panel,
    pub questions: Vec<Question>,
    /// Presented one by one after the questions; intent is measured before and after each.
    pub modifications: Vec<String>,
    /// Rounds after the questions in which each persona hears a digest of the others.
    #[serde(default)]
    #[oai(default)]
    pub discussion_rounds: u32,
    #[oai(flatten)]
    #[serde(flatten)]
    pub settings: RunSettings,
}

text_enum! {
    pub enum Channel {
        Email => "email",
        Sms => "sms",
        Whatsapp => "whatsapp",
        Phone => "phone",
        DirectMail => "direct_mail",
        Instagram => "instagram",
        Linkedin => "linkedin",
        Print => "print",
        Event => "event",
    }
}

/// A piece of marketing: what the recipient sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Material {
    /// How results refer to it.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    #[oai(validator(max_length = 300))]
    pub subject: Option<String>,
    #[oai(validator(min_length = 1, max_length = 10000))]
    pub body: String,
    /// What the creative shows (the images or video), in words.
    #[oai(validator(max_length = 2000))]
    pub creative_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct MarketingPlan {
    #[oai(flatten)]
    #[serde(flatten)]
    pub panel: Panel,
    pub materials: Vec<Material>,
    pub channels: Vec<Channel>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub settings: RunSettings,
}

/// One contact in an outreach sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Touch {
    /// Days after the sequence starts, 0 to 365; a sequence's days never decrease.
    #[oai(validator(maximum(value = "365")))]
    pub day: u32,
    pub channel: Channel,
    #[oai(validator(min_length = 1, max_length = 5000))]
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct OutreachSequence {
    #[oai(validator(min_length = 1, max_length = 100))]
    pub name: String,
    #[oai(validator(min_items = 1, max_items = 12))]
    pub touches: Vec<Touch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct InterventionPlan {
    #[oai(flatten)]
    #[serde(flatten)]
    pub panel: Panel,
    /// What the outreach is for (e.g. "book a private viewing of the Aspen estate").
    pub goal: Option<String>,
    pub variants: Vec<OutreachSequence>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub settings: RunSettings,
}

impl InterventionPlan {
    /// Which sequence an agent step (`variant "Soft" touch 3 (day 7)`) belongs to.
    pub fn variant_of_step(&self, step: &str) -> Option<usize> {
        let name = step.strip_prefix("variant \"")?.rsplit_once("\" touch ")?.0;
        self.variants.iter().position(|v| v.name == name)
    }
}

text_enum! {
    pub enum ScenarioType {
        PropertyViewing => "property_viewing",
        EmailResponse => "email_response",
        Call => "call",
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Scenario {
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: ScenarioType,
    /// What happens: the property shown, the email sent, the call's purpose (any JSON object).
    pub context: Value,
}

/// Extra facts for one run, not stored on the persona.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct EnrichmentData {
    pub public_info: Option<Value>,
    #[oai(validator(max_length = 10000))]
    pub internal_notes: Option<String>,
    #[serde(default)]
    #[oai(default, validator(max_items = 50))]
    pub interaction_history: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct IndividualPlan {
    pub persona_id: Uuid,
    pub scenario: Scenario,
    pub enrichment_data: Option<EnrichmentData>,
    #[oai(flatten)]
    #[serde(flatten)]
    pub settings: RunSettings,
}
