//! Individual simulations: one persona, one scenario, one round (per iteration), so an agent
//! gets an answer in about one model call.

use troupe_shared::domain::{IndividualPlan, Persona};

use super::{
    agent::{RunContext, StepRequest, Transcript, panel, step},
    prompt::Stimulus,
    responder::StepError,
};

pub async fn run(
    plan: &IndividualPlan,
    persona: &Persona,
    ctx: &RunContext<'_>,
) -> Result<Transcript, StepError> {
    let mut agents = panel(
        std::slice::from_ref(persona),
        plan.settings.iterations,
        plan.settings.seed,
    );
    let steps: Vec<_> = agents
        .iter_mut()
        .map(|agent| {
            let request = StepRequest {
                round: 0,
                step: "scenario".to_owned(),
                prompt: plan.scenario.kind.as_str().replace('_', " "),
                stimulus: Stimulus::Scenario {
                    scenario: &plan.scenario,
                    enrichment: plan.enrichment_data.as_ref(),
                },
                remember: false,
            };
            step(ctx, agent, request)
        })
        .collect();
    let mut transcript = Transcript::default();
    transcript.round(ctx, steps).await?;
    Ok(transcript)
}
