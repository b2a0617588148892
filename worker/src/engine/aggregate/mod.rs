//! From individual answers to insights with honest uncertainty. Every mean comes with a 95%
//! percentile-bootstrap interval that resamples personas and then one of each persona's
//! iterations, so both panel composition and run-to-run variation widen it. Confidence scores
//! combine the interval's width with the panel's size (see [`confidence`]). An effect whose
//! interval spans zero is reported as inconclusive, never as a recommendation.

mod focus_group;
mod individual;
mod intervention;
#[cfg(test)]
mod invariants;
mod marketing;
mod questions;
mod themes;

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng, rngs::StdRng};
use troupe_shared::domain::{
    AgentResponse, Estimate, Mention, Recommendation, SimulationPlan, SimulationResults,
};
use uuid::Uuid;

use super::copywriter::Rewrite;
use crate::sentence_model::SentenceModel;

const BOOTSTRAP_SAMPLES: usize = 1000;
const TOP_MENTIONS: usize = 5;

/// `rewrites`: the copywriter's advice for a marketing run (empty for other kinds); `model`:
/// the sentence-embedding model free-text themes are grouped with, when one is installed.
pub fn aggregate(
    plan: &SimulationPlan,
    responses: Vec<AgentResponse>,
    rewrites: &[Rewrite],
    model: Option<&SentenceModel>,
) -> SimulationResults {
    let mut rng = StdRng::seed_from_u64(plan.settings().seed);
    let mut results = match plan {
        SimulationPlan::FocusGroup(p) => focus_group::aggregate(p, &responses, model, &mut rng),
        SimulationPlan::Marketing(p) => marketing::aggregate(p, &responses, rewrites, &mut rng),
        SimulationPlan::Intervention(p) => intervention::aggregate(p, &responses, &mut rng),
        SimulationPlan::Individual(p) => individual::aggregate(p, &responses),
    };
    rank(&mut results.recommendations);
    results.raw_responses = responses;
    // The plan's warnings (a short panel) come first; a reader of the summary alone must see
    // them too.
    let mut warnings = plan.warnings().to_vec();
    warnings.append(&mut results.warnings);
    results.warnings = warnings;
    if !results.warnings.is_empty() {
        results.summary = format!("Note: {} {}", results.warnings.join("; "), results.summary);
    }
    results
}

/// Conclusive recommendations first, then by effect size, then by confidence.
fn rank(recommendations: &mut [Recommendation]) {
    recommendations.sort_by(|a, b| {
        let inconclusive = |r: &Recommendation| r.title.starts_with("Inconclusive");
        inconclusive(a)
            .cmp(&inconclusive(b))
            .then_with(|| {
                let size = |r: &Recommendation| r.effect.map_or(0.0, f64::abs);
                size(b).total_cmp(&size(a))
            })
            .then_with(|| b.confidence.total_cmp(&a.confidence))
    });
}

/// Values grouped by persona, one per iteration (or per unit within an iteration).
#[derive(Default)]
struct Samples(BTreeMap<Uuid, Vec<f64>>);

impl Samples {
    fn add(&mut self, persona: Uuid, value: f64) {
        self.0.entry(persona).or_default().push(value);
    }

    fn personas(&self) -> usize {
        self.0.len()
    }

    fn values(&self) -> Vec<f64> {
        self.0.values().flatten().copied().collect()
    }

    /// Each persona's mean over its values.
    fn persona_means(&self) -> Vec<f64> {
        self.0
            .values()
            .filter(|v| !v.is_empty())
            .map(|v| v.iter().sum::<f64>() / v.len() as f64)
            .collect()
    }

    /// The mean of all values and its 95% bootstrap interval.
    fn estimate(&self, rng: &mut StdRng) -> Estimate {
        Estimate {
            mean: mean(&self.values()),
            ci95: bootstrap(&self.0.values().cloned().collect::<Vec<_>>(), rng),
        }
    }
}

/// 95% percentile interval of the mean, resampling personas, then one of each persona's values.
fn bootstrap(per_persona: &[Vec<f64>], rng: &mut StdRng) -> [f64; 2] {
    let usable: Vec<&Vec<f64>> = per_persona.iter().filter(|v| !v.is_empty()).collect();
    if usable.is_empty() {
        return [0.0, 0.0];
    }
    let mut means: Vec<f64> = (0..BOOTSTRAP_SAMPLES)
        .map(|_| {
            let sum: f64 = (0..usable.len())
                .map(|_| {
                    let persona = usable[rng.random_range(0..usable.len())];
                    persona[rng.random_range(0..persona.len())]
                })
                .sum();
            sum / usable.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| round2(means[((means.len() - 1) as f64 * q).round() as usize]);
    [at(0.025), at(0.975)]
}

/// Confidence in a conclusion drawn from an interval: `(1 − width / range) × (1 − 1/√n)`, where
/// `range` is the scale's span (4 Likert points, 1 for rates) and `n` the personas behind it.
/// A narrow interval from a large panel approaches 1; one persona gives 0.
fn confidence(ci: [f64; 2], range: f64, panel: usize) -> f64 {
    round2((1.0 - (ci[1] - ci[0]) / range).clamp(0.0, 1.0) * sample_factor(panel))
}

/// Small panels earn less confidence: 0 for one persona, 0.5 at 4, 0.9 at 100.
fn sample_factor(panel: usize) -> f64 {
    1.0 - 1.0 / (panel.max(1) as f64).sqrt()
}

/// How clearly the best of two estimates leads: 1 when the intervals do not overlap, 0.5 when
/// they do, or when a single persona stands behind it (its interval has no width to overlap).
fn separation(best: &Estimate, runner_up: Option<&Estimate>, panel: usize) -> f64 {
    match runner_up {
        _ if panel < 2 => 0.5,
        Some(second) if best.ci95[0] <= second.ci95[1] => 0.5,
        _ => 1.0,
    }
}

/// How an inconclusive finding describes two contenders: equal, or merely near.
fn level_or_close(equal: bool) -> &'static str {
    if equal { "level" } else { "close" }
}

fn top_mentions<'a>(items: impl Iterator<Item = &'a String>) -> Vec<Mention> {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for item in items {
        *counts.entry(normalize(item)).or_default() += 1;
    }
    let mut ranked: Vec<Mention> = counts
        .into_iter()
        .map(|(text, count)| Mention { text, count })
        .collect();
    ranked.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.text.cmp(&b.text)));
    ranked.truncate(TOP_MENTIONS);
    ranked
}

fn normalize(text: &str) -> String {
    text.trim().trim_end_matches('.').to_lowercase()
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        round2(values.iter().sum::<f64>() / values.len() as f64)
    }
}

fn stddev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = values.iter().sum::<f64>() / values.len() as f64;
    round2((values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt())
}

fn share(values: &[f64], pred: impl Fn(f64) -> bool) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        round2(values.iter().filter(|v| pred(**v)).count() as f64 / values.len() as f64)
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn percent(value: f64) -> String {
    format!("{:.0}%", value * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_samples_give_known_intervals() {
        let mut rng = StdRng::seed_from_u64(1);
        let constant = Samples(BTreeMap::from([
            (Uuid::from_u128(1), vec![3.0]),
            (Uuid::from_u128(2), vec![3.0]),
        ]));
        assert_eq!(
            constant.estimate(&mut rng),
            Estimate {
                mean: 3.0,
                ci95: [3.0, 3.0]
            }
        );
        // Half the personas at 1, half at 5: the mean is 3 and the interval is wide but inside
        // [1, 5]; with 40 personas it is about ±0.6 (2 × 2/√40).
        let split = Samples(
            (0..40)
                .map(|i| (Uuid::from_u128(i), vec![if i % 2 == 0 { 1.0 } else { 5.0 }]))
                .collect(),
        );
        let e = split.estimate(&mut rng);
        assert_eq!(e.mean, 3.0);
        assert!(e.ci95[0] > 2.2 && e.ci95[0] < 2.6, "{e:?}");
        assert!(e.ci95[1] > 3.4 && e.ci95[1] < 3.8, "{e:?}");
    }

    #[test]
    fn confidence_follows_the_documented_formula() {
        assert_eq!(
            confidence([3.0, 3.0], 4.0, 1),
            0.0,
            "one persona earns nothing"
        );
        assert_eq!(confidence([3.0, 3.0], 4.0, 4), 0.5);
        assert_eq!(confidence([2.0, 4.0], 4.0, 100), 0.45);
        assert_eq!(confidence([0.2, 0.4], 1.0, 25), 0.64);
    }
}
