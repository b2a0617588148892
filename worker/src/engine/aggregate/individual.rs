//! Individual simulations: the persona's reaction, its interest distribution, the likely next
//! step (the most frequent over iterations), and what to prepare for.

use std::collections::{BTreeMap, BTreeSet};

use troupe_shared::domain::{
    AgentResponse, IndividualPlan, Insight, Judgement, OutcomeInsight, Recommendation,
    ScenarioJudgement, SimulationResults,
};

use super::{mean, percent, round2};
use crate::engine::ssr;

pub fn aggregate(plan: &IndividualPlan, responses: &[AgentResponse]) -> SimulationResults {
    let judgements: Vec<&ScenarioJudgement> = responses
        .iter()
        .filter_map(|r| match &r.judgement {
            Judgement::Scenario(j) => Some(j),
            _ => None,
        })
        .collect();
    let n = judgements.len().max(1) as f64;
    let mut pmf = [0.0; 5];
    for j in &judgements {
        for (k, p) in j.interest_distribution.iter().enumerate() {
            pmf[k] += p / n;
        }
    }
    let pmf = pmf.map(round2);
    let mut next_steps: BTreeMap<&str, usize> = BTreeMap::new();
    for j in &judgements {
        *next_steps.entry(j.likely_next_step.as_str()).or_default() += 1;
    }
    let (next, agreeing) = next_steps
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map_or(("", 0), |(s, c)| (*s, *c));
    let union = |pick: fn(&ScenarioJudgement) -> &Vec<String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        judgements
            .iter()
            .flat_map(|j| pick(j).iter())
            .filter(|s| seen.insert(s.to_lowercase()))
            .take(5)
            .cloned()
            .collect()
    };
    let outcome = OutcomeInsight {
        persona_id: plan.persona_id,
        scenario: plan.scenario.kind,
        expected_interest: round2(ssr::expected(&pmf)),
        interest_distribution: pmf,
        likely_next_step: next.to_owned(),
        positive_outcome_probability: mean(
            &judgements
                .iter()
                .map(|j| j.positive_outcome_probability)
                .collect::<Vec<_>>(),
        ),
        objections: union(|j| &j.objections),
        questions: union(|j| &j.questions),
    };
    // Agreement across iterations, discounted when there was only one to agree with.
    let agreement = agreeing as f64 / n * (1.0 - 1.0 / (n + 1.0).sqrt());
    let mut recommendations = vec![Recommendation {
        kind: "next_step".to_owned(),
        title: format!("Expect the client to {next}"),
        detail: format!(
            "Positive outcome probability {}; interest {:.1}/5.",
            percent(outcome.positive_outcome_probability),
            outcome.expected_interest
        ),
        effect: None,
        confidence: round2(agreement),
    }];
    if !outcome.objections.is_empty() || !outcome.questions.is_empty() {
        recommendations.push(Recommendation {
            kind: "next_step".to_owned(),
            title: "Prepare answers before the conversation".to_owned(),
            detail: outcome
                .objections
                .iter()
                .map(|o| format!("Objection: {o}"))
                .chain(outcome.questions.iter().map(|q| format!("Question: {q}")))
                .collect::<Vec<_>>()
                .join(" · "),
            effect: None,
            confidence: round2(agreement),
        });
    }
    let summary = format!(
        "{} scenario: interest {:.1}/5 (distribution {}); most likely next step: {}; positive outcome probability {}.",
        plan.scenario.kind.as_str().replace('_', " "),
        outcome.expected_interest,
        pmf.iter()
            .map(|p| percent(*p))
            .collect::<Vec<_>>()
            .join("/"),
        next,
        percent(outcome.positive_outcome_probability),
    );
    SimulationResults {
        summary,
        recommendations,
        confidence_scores: BTreeMap::from([("overall".to_owned(), round2(agreement))]),
        detailed_insights: vec![Insight::Outcome(outcome)],
        raw_responses: Vec::new(),
        warnings: Vec::new(),
        failed_steps: Vec::new(),
    }
}
