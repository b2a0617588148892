//! Marketing tests: every persona meets every material on every channel, each exposure judged
//! on its own (no memory of the other variants), so the comparison is a clean A/B. All
//! exposures are one round; then the copywriter rewrites what the panel objected to.

use troupe_shared::domain::{MarketingPlan, Persona};

use super::{
    agent::{Agent, RunContext, StepRequest, Transcript, step},
    copywriter,
    prompt::Stimulus,
    responder::StepError,
};

pub async fn run(
    plan: &MarketingPlan,
    personas: &[Persona],
    ctx: &RunContext<'_>,
) -> Result<Transcript, StepError> {
    let exposures: Vec<_> = plan
        .materials
        .iter()
        .flat_map(|m| plan.channels.iter().map(move |c| (m, *c)))
        .collect();
    let mut agents: Vec<Agent<'_>> = Vec::new();
    for iteration in 0..plan.settings.iterations {
        for (p, persona) in personas.iter().enumerate() {
            for e in 0..exposures.len() {
                agents.push(Agent::new(
                    persona,
                    iteration,
                    p * exposures.len() + e,
                    plan.settings.seed,
                ));
            }
        }
    }
    let steps: Vec<_> = agents
        .iter_mut()
        .zip(exposures.iter().cycle())
        .map(|(agent, (material, channel))| {
            let request = StepRequest {
                round: 0,
                step: format!("material \"{}\" via {}", material.name, channel.as_str()),
                prompt: material
                    .subject
                    .clone()
                    .unwrap_or_else(|| material.name.clone()),
                stimulus: Stimulus::Material {
                    material,
                    channel: *channel,
                },
                remember: false,
            };
            step(ctx, agent, request)
        })
        .collect();
    let mut transcript = Transcript::default();
    transcript.round(ctx, steps).await?;
    transcript.rewrites = copywriter::rewrites(plan, personas, &transcript.responses, ctx).await;
    Ok(transcript)
}
