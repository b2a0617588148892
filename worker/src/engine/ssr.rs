//! Semantic similarity rating: a free-text reaction mapped to a distribution over the five
//! Likert points by its similarity to anchor statements for each point (after Maier et al.,
//! "LLMs reproduce human purchase intent via semantic similarity elicitation", 2025). Asked for
//! a single number, LLM personas crowd the middle of the scale; the wording of their answers
//! keeps the spread that a point score loses.
//!
//! Similarity is measured locally (hashed words and word pairs with negation marked, cosine), so
//! calibration costs no model calls and no latency. The chosen point is blended in, so the
//! distribution never contradicts what the persona said it would do.

use std::collections::HashMap;

/// Anchor statements for purchase intent (focus groups).
const PURCHASE: [&[&str]; 5] = [
    &[
        "I would never buy this property.",
        "This is definitely not for me; I am not interested at all.",
        "No. It has deal-breakers and I would walk away.",
    ],
    &[
        "I probably would not buy it.",
        "It is unlikely to be for me; too many drawbacks.",
        "I doubt I would pursue this one.",
    ],
    &[
        "I might buy it, but I am undecided.",
        "I could be persuaded, but I am not sold.",
        "It has merits and drawbacks; maybe.",
    ],
    &[
        "I would probably buy it.",
        "This is a serious contender for me.",
        "I like it a lot and would likely make an offer.",
    ],
    &[
        "I would definitely buy this property.",
        "I love it and would move quickly to buy it.",
        "This is exactly what I want; I would make an offer right away.",
    ],
];

/// Anchor statements for interest in proceeding (individual scenarios).
const INTEREST: [&[&str]; 5] = [
    &[
        "I am not interested and do not want to continue.",
        "Please do not contact me about this again.",
    ],
    &[
        "I am probably not interested.",
        "It does not really appeal to me; I doubt I will follow up.",
    ],
    &[
        "I am somewhat interested; I need to think about it.",
        "Perhaps; send me more details and I will see.",
    ],
    &[
        "I am interested and would like to take the next step.",
        "This appeals to me; let us arrange a follow-up.",
    ],
    &[
        "I am very interested and want to proceed right away.",
        "This is exactly what I am looking for; let us move forward now.",
    ],
];

#[derive(Debug, Clone, Copy)]
pub enum Scale {
    Purchase,
    Interest,
}

/// Weight of the chosen point against the wording.
const CHOSEN_WEIGHT: f64 = 0.5;
/// Keeps every point possible: wording never rules an answer out entirely.
const FLOOR: f64 = 0.02;

/// The distribution over points 1–5 for an answer whose chosen point is `chosen`.
pub fn distribution(scale: Scale, answer: &str, chosen: u8) -> [f64; 5] {
    let anchors = match scale {
        Scale::Purchase => &PURCHASE,
        Scale::Interest => &INTEREST,
    };
    let answer = embed(answer);
    let similarity: Vec<f64> = anchors
        .iter()
        .map(|statements| {
            statements
                .iter()
                .map(|s| cosine(&answer, &embed(s)))
                .fold(0.0, f64::max)
        })
        .collect();
    let floor = similarity.iter().copied().fold(f64::INFINITY, f64::min);
    let raised: Vec<f64> = similarity.iter().map(|s| s - floor + FLOOR).collect();
    let total: f64 = raised.iter().sum();
    let chosen = usize::from(chosen.clamp(1, 5)) - 1;
    let mut pmf = [0.0; 5];
    for (k, p) in pmf.iter_mut().enumerate() {
        let kernel = match k.abs_diff(chosen) {
            0 => 0.6,
            1 => 0.2,
            _ => 0.0,
        };
        *p = (1.0 - CHOSEN_WEIGHT) * raised[k] / total + CHOSEN_WEIGHT * kernel;
    }
    let sum: f64 = pmf.iter().sum();
    pmf.map(|p| p / sum)
}

pub fn expected(pmf: &[f64; 5]) -> f64 {
    pmf.iter()
        .enumerate()
        .map(|(k, p)| (k + 1) as f64 * p)
        .sum()
}

pub fn stddev(pmf: &[f64; 5]) -> f64 {
    let mean = expected(pmf);
    pmf.iter()
        .enumerate()
        .map(|(k, p)| p * ((k + 1) as f64 - mean).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// A sparse bag of lower-cased words and adjacent word pairs. Words after a negation ("not",
/// "never", "no", "n't") up to the next punctuation are marked, so "would not buy" and "would
/// buy" differ.
fn embed(text: &str) -> HashMap<String, f64> {
    let text = text.to_lowercase().replace("n't", " not");
    let mut features: HashMap<String, f64> = HashMap::new();
    for clause in text.split(|c: char| ".,;:!?".contains(c)) {
        let mut negated = false;
        let mut previous: Option<String> = None;
        for word in clause
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            if matches!(word, "not" | "never" | "no" | "nothing" | "neither" | "nor") {
                negated = true;
                continue;
            }
            let token = if negated {
                format!("not_{word}")
            } else {
                word.to_owned()
            };
            if let Some(previous) = previous.replace(token.clone()) {
                *features.entry(format!("{previous} {token}")).or_default() += 1.0;
            }
            *features.entry(token).or_default() += 1.0;
        }
    }
    features
}

fn cosine(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> f64 {
    let dot: f64 = a.iter().filter_map(|(k, x)| b.get(k).map(|y| x * y)).sum();
    let norm = |v: &HashMap<String, f64>| v.values().map(|x| x * x).sum::<f64>().sqrt();
    let denominator = norm(a) * norm(b);
    if denominator == 0.0 {
        0.0
    } else {
        dot / denominator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_moves_the_distribution_the_right_way() {
        let keen = distribution(
            Scale::Purchase,
            "I love it; I would make an offer right away.",
            4,
        );
        let cold = distribution(
            Scale::Purchase,
            "I would not buy it; the road noise rules it out.",
            4,
        );
        assert!((keen.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(expected(&keen) > expected(&cold), "{keen:?} vs {cold:?}");
        assert!(keen[4] > cold[4] && cold[0] + cold[1] > keen[0] + keen[1]);
    }

    #[test]
    fn the_chosen_point_anchors_and_the_wording_spreads() {
        let pmf = distribution(Scale::Interest, "Perhaps; I will think about it.", 3);
        let mode = (0..5).max_by(|&a, &b| pmf[a].total_cmp(&pmf[b])).unwrap();
        assert_eq!(mode, 2, "{pmf:?}");
        assert!(stddev(&pmf) > 0.6, "a point score has spread 0; {pmf:?}");
    }
}
