//! From a request to a plan: every id resolved against what the caller may see, every limit
//! checked, every default fixed, so that a bad request fails here with a 4xx and nothing is
//! enqueued.

use std::collections::BTreeSet;

use troupe_shared::{
    auth::Principal,
    domain::{
        FocusGroupPlan, IndividualPlan, InterventionPlan, MarketingPlan, Panel, Question,
        RunSettings, SegmentDraw, SimulationPlan,
    },
};
use uuid::Uuid;

use super::requests::{
    FocusGroupRequest, IndividualRequest, InterventionRequest, MarketingRequest, SimulationParams,
};
use crate::{ApiState, contract::Violation, problem::ApiError};

const DEFAULT_AGENTS: u32 = 20;
const DEFAULT_QUESTIONS: [&str; 2] = [
    "What is your first impression of this property?",
    "Would you buy it at the asking price? What would change your mind?",
];

pub async fn focus_group(
    state: &ApiState,
    caller: &Principal,
    request: FocusGroupRequest,
) -> Result<SimulationPlan, ApiError> {
    let questions = match request.questions {
        Some(questions) => askable(questions)?,
        None => DEFAULT_QUESTIONS.map(Question::from).to_vec(),
    };
    let property = match (request.property_id, request.property) {
        (Some(id), None) => {
            state
                .store
                .get_property(caller.brokerage_id, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("property {id}")))?
                .details
        }
        (None, Some(mut inline)) => {
            inline.title_if_untitled();
            inline
        }
        _ => {
            return Err(ApiError::Validation(
                "give exactly one of property_id and property".into(),
            ));
        }
    };
    let params = &request.simulation_params;
    let panel = panel(
        state,
        caller,
        &request.persona_ids,
        &request.persona_segments,
        params,
    )
    .await?;
    let plan = SimulationPlan::FocusGroup(FocusGroupPlan {
        property_id: request.property_id,
        modifications: request
            .modifications_to_test
            .unwrap_or_else(|| property.candidate_modifications.clone()),
        property,
        panel,
        questions,
        discussion_rounds: request.discussion_rounds.unwrap_or(0),
        settings: settings(state, params)?,
    });
    within_steps(state, plan)
}

pub async fn marketing(
    state: &ApiState,
    caller: &Principal,
    request: MarketingRequest,
) -> Result<SimulationPlan, ApiError> {
    unique(
        "materials",
        request.materials.iter().map(|m| m.name.as_str()),
    )?;
    unique("channels", request.channels.iter().map(|c| c.as_str()))?;
    let params = &request.simulation_params;
    let panel = panel(
        state,
        caller,
        &request.persona_ids,
        &request.persona_segments,
        params,
    )
    .await?;
    within_steps(
        state,
        SimulationPlan::Marketing(MarketingPlan {
            panel,
            materials: request.materials,
            channels: request.channels,
            settings: settings(state, params)?,
        }),
    )
}

pub async fn intervention(
    state: &ApiState,
    caller: &Principal,
    request: InterventionRequest,
) -> Result<SimulationPlan, ApiError> {
    unique("variants", request.variants.iter().map(|v| v.name.as_str()))?;
    for variant in &request.variants {
        if let Some(pair) = variant
            .touches
            .windows(2)
            .find(|pair| pair[1].day < pair[0].day)
        {
            return Err(ApiError::Validation(format!(
                "variant {:?}: touches must be in day order (day {} comes after day {})",
                variant.name, pair[1].day, pair[0].day
            )));
        }
    }
    let params = &request.simulation_params;
    let panel = panel(
        state,
        caller,
        &request.persona_ids,
        &request.persona_segments,
        params,
    )
    .await?;
    within_steps(
        state,
        SimulationPlan::Intervention(InterventionPlan {
            panel,
            goal: request.goal,
            variants: request.variants,
            settings: settings(state, params)?,
        }),
    )
}

pub async fn individual(
    state: &ApiState,
    caller: &Principal,
    request: IndividualRequest,
) -> Result<SimulationPlan, ApiError> {
    state
        .store
        .get_persona(caller, request.persona_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("persona {}", request.persona_id)))?;
    if !request.scenario.context.is_object() {
        return Err(ApiError::Validation(
            "scenario.context must be a JSON object".into(),
        ));
    }
    if request.simulation_params.num_agents.is_some() {
        return Err(ApiError::Validation(
            "num_agents does not apply to an individual simulation".into(),
        ));
    }
    within_steps(
        state,
        SimulationPlan::Individual(IndividualPlan {
            persona_id: request.persona_id,
            scenario: request.scenario,
            enrichment_data: request.enrichment_data,
            settings: settings(state, &request.simulation_params)?,
        }),
    )
}

/// Stored personas the caller can see, and draws from the named segments: a defined segment
/// (by id or name) gives synthetic personas; otherwise the name is the label of stored ones.
async fn panel(
    state: &ApiState,
    caller: &Principal,
    persona_ids: &[Uuid],
    segments: &[String],
    params: &SimulationParams,
) -> Result<Panel, ApiError> {
    let mut panel = Panel::default();
    let mut seen = BTreeSet::new();
    for &id in persona_ids {
        if seen.insert(id) {
            state
                .store
                .get_persona(caller, id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("persona {id}")))?;
            panel.persona_ids.push(id);
        }
    }
    if !segments.is_empty() {
        let agents = params.num_agents.unwrap_or(DEFAULT_AGENTS);
        for (name, asked) in segments.iter().zip(split(agents, segments.len())) {
            if asked == 0 {
                panel.warnings.push(format!(
                    "{agents} agents over {} segments leave none for {name}",
                    segments.len()
                ));
                continue;
            }
            if let Some(segment) = state.store.find_segment(caller.brokerage_id, name).await? {
                panel.synthetic.push(SegmentDraw {
                    segment_id: segment.id,
                    segment: segment.definition.name,
                    count: asked,
                });
                continue;
            }
            let ids = state
                .store
                .persona_ids_in_segment(caller, name, asked)
                .await?;
            if ids.is_empty() {
                return Err(ApiError::NotFound(format!("segment {name:?}")));
            }
            if ids.len() < asked as usize {
                panel.warnings.push(format!(
                    "asked for {asked} from {name}, {} available (define the segment with \
                     POST /api/v1/segments to fill the rest with synthetic personas)",
                    ids.len()
                ));
            }
            panel
                .persona_ids
                .extend(ids.into_iter().filter(|id| seen.insert(*id)));
        }
    }
    let size = panel.size();
    if size == 0 {
        return Err(ApiError::Validation(
            "name the participants with persona_ids or persona_segments".into(),
        ));
    }
    if size > u64::from(state.limits.max_agents) {
        return Err(ApiError::Validation(format!(
            "{size} agents exceed the limit of {}",
            state.limits.max_agents
        )));
    }
    Ok(panel)
}

/// `agents` split as evenly as whole personas allow: the first segments take one more.
fn split(agents: u32, segments: usize) -> Vec<u32> {
    let n = segments.max(1) as u32;
    (0..n)
        .map(|i| agents / n + u32::from(i < agents % n))
        .collect()
}

fn settings(state: &ApiState, params: &SimulationParams) -> Result<RunSettings, ApiError> {
    let token_budget = params.token_budget.unwrap_or(state.token_budgets.0);
    if token_budget > state.token_budgets.1 {
        return Err(ApiError::Validation(format!(
            "token_budget may be at most {}",
            state.token_budgets.1
        )));
    }
    Ok(RunSettings {
        iterations: params.iterations.unwrap_or(1),
        temperature: params.temperature.unwrap_or(0.7),
        seed: params.seed.unwrap_or_else(rand_seed),
        token_budget,
    })
}

fn within_steps(state: &ApiState, plan: SimulationPlan) -> Result<SimulationPlan, ApiError> {
    let steps = plan.agent_steps();
    if steps > state.limits.max_agent_steps {
        return Err(ApiError::Validation(format!(
            "{steps} agent steps (agents × steps per agent × iterations) exceed the limit of {}",
            state.limits.max_agent_steps
        )));
    }
    Ok(plan)
}

/// The questions as given, when each can be asked; else every problem, each at its question.
fn askable(questions: Vec<Question>) -> Result<Vec<Question>, ApiError> {
    let problems: Vec<Violation> = questions
        .iter()
        .enumerate()
        .filter_map(|(i, q)| {
            q.problem().map(|detail| Violation {
                pointer: format!("/questions/{i}"),
                detail: format!("question {}: {detail}", i + 1),
            })
        })
        .collect();
    if problems.is_empty() {
        Ok(questions)
    } else {
        Err(ApiError::BrokenRule(problems))
    }
}

fn unique<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ApiError::Validation(format!(
                "{what}: {name:?} is listed twice"
            )));
        }
    }
    Ok(())
}

fn rand_seed() -> u64 {
    // UUIDv4 bits are from the OS RNG; no separate RNG dependency for one number.
    Uuid::new_v4().as_u64_pair().0
}
