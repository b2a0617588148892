//! Intervention tests: each persona lives through each outreach sequence separately, touch by
//! touch over simulated days, carrying its interest and annoyance from one touch to the next.
//! Round k is every sequence's k-th touch.

use troupe_shared::domain::{InterventionPlan, Judgement, Persona};

use super::{
    agent::{Agent, RunContext, StepRequest, Transcript, step},
    prompt::Stimulus,
    responder::StepError,
};

pub async fn run(
    plan: &InterventionPlan,
    personas: &[Persona],
    ctx: &RunContext<'_>,
) -> Result<Transcript, StepError> {
    let variants = plan.variants.len();
    let mut sessions: Vec<(usize, Agent<'_>)> = Vec::new();
    for iteration in 0..plan.settings.iterations {
        for (p, persona) in personas.iter().enumerate() {
            for v in 0..variants {
                sessions.push((
                    v,
                    Agent::new(persona, iteration, p * variants + v, plan.settings.seed),
                ));
            }
        }
    }
    let rounds = plan
        .variants
        .iter()
        .map(|v| v.touches.len())
        .max()
        .unwrap_or(0);
    let mut transcript = Transcript::default();
    for k in 0..rounds {
        let steps: Vec<_> = sessions
            .iter_mut()
            .filter(|(v, _)| k < plan.variants[*v].touches.len())
            .map(|(v, agent)| {
                let variant = &plan.variants[*v];
                let touch = &variant.touches[k];
                let state = match &agent.last {
                    Some((_, Judgement::Touch(state))) => Some(state.clone()),
                    _ => None,
                };
                let request = StepRequest {
                    round: k as u32,
                    step: format!(
                        "variant \"{}\" touch {} (day {})",
                        variant.name,
                        k + 1,
                        touch.day
                    ),
                    prompt: touch.message.clone(),
                    stimulus: Stimulus::Touch {
                        goal: plan.goal.as_deref(),
                        touch,
                        number: k + 1,
                        days_since_previous: k
                            .checked_sub(1)
                            .map(|j| touch.day - variant.touches[j].day),
                        state,
                    },
                    remember: true,
                };
                step(ctx, agent, request)
            })
            .collect();
        transcript.round(ctx, steps).await?;
    }
    Ok(transcript)
}
