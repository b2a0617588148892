//! Free-text answers grouped into themes. Answers are compared by meaning when a sentence-
//! embedding model is installed (the cosine of their vectors), else by the words they share
//! (content words weighted by rarity, inverse document frequency, and compared by cosine), and
//! themes grow greedily around the answers most like the rest. By words, "no pool" and "a pool"
//! share a theme and "hedges hide it from the road" and "too exposed to passers-by" do not; the
//! label and the quotes show the reader which grouping was used.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rand::rngs::StdRng;
use troupe_shared::domain::Theme;
use uuid::Uuid;

use super::Samples;
use crate::engine::text::words;

/// Answers at least this similar (by words) to a theme's first answer join it.
const JOIN_SIMILARITY: f64 = 0.25;
/// The same by meaning. all-MiniLM-L6-v2 on short answers (scripts/reference-embeddings.py):
/// "The traffic noise is too loud", "It needs to be quieter; the road is noisy" and "Less noise
/// from the street" at 0.62–0.73; "A wine cellar would make it" and "Somewhere to keep my wine
/// collection" at 0.59; answers on other subjects at 0.42 and under.
const JOIN_MEANING: f64 = 0.45;
/// Themes beyond this many are reported together as "other answers".
const MAX_THEMES: usize = 8;
const QUOTES: usize = 2;
const LABEL_WORDS: usize = 3;

/// Words that carry no theme of their own in a spoken answer.
const FILLER: &[&str] = &[
    "would", "could", "should", "need", "needs", "what", "which", "there", "here", "about", "more",
    "less", "than", "them", "they", "been", "being", "also", "just", "really", "some", "such",
    "only", "other", "much", "many", "make", "made", "want", "look", "looking", "speak", "speaks",
    "thing", "things", "one", "it's", "i'm", "me", "you", "can", "will", "well", "like", "enough",
    "still", "most", "even", "because", "but", "out", "too", "who", "how", "why", "must",
    "already", "rule", "take", "away", "deal",
];

/// Distinct word sets and the answers that have them.
struct Group<'a> {
    words: BTreeSet<String>,
    answers: Vec<(Uuid, &'a str)>,
}

/// `vectors`: each answer's sentence embedding (unit length), when a model made them; answers
/// are then compared by meaning.
pub fn themes(
    answers: &[(Uuid, &str)],
    vectors: Option<&HashMap<String, Vec<f32>>>,
    rng: &mut StdRng,
) -> Vec<Theme> {
    if answers.is_empty() {
        return Vec::new();
    }
    let mut by_words: BTreeMap<BTreeSet<String>, Vec<(Uuid, &str)>> = BTreeMap::new();
    for (persona, text) in answers {
        let content: BTreeSet<String> = words(text)
            .into_iter()
            .filter(|w| !FILLER.contains(&w.as_str()))
            .collect();
        by_words.entry(content).or_default().push((*persona, text));
    }
    let groups: Vec<Group<'_>> = by_words
        .into_iter()
        .map(|(words, answers)| Group { words, answers })
        .collect();
    let idf = rarity(&groups, answers.len());
    // A group's answers share their content words; its first answer stands for its meaning.
    let vector_of = |g: &Group<'_>| vectors.and_then(|v| v.get(g.answers[0].1));
    let by_meaning = vectors.is_some() && groups.iter().all(|g| vector_of(g).is_some());
    let similarity: Vec<Vec<f64>> = groups
        .iter()
        .map(|a| {
            groups
                .iter()
                .map(|b| match (by_meaning, vector_of(a), vector_of(b)) {
                    (true, Some(x), Some(y)) => {
                        f64::from(x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>())
                    }
                    _ => cosine(&a.words, &b.words, &idf),
                })
                .collect()
        })
        .collect();
    let join = if by_meaning {
        JOIN_MEANING
    } else {
        JOIN_SIMILARITY
    };

    // The answers most like the others lead; each takes every unplaced answer close to it.
    let centrality: Vec<f64> = (0..groups.len())
        .map(|g| {
            (0..groups.len())
                .map(|h| groups[h].answers.len() as f64 * similarity[g][h])
                .sum::<f64>()
        })
        .collect();
    let mut leaders: Vec<usize> = (0..groups.len()).collect();
    leaders.sort_by(|&a, &b| centrality[b].total_cmp(&centrality[a]).then(a.cmp(&b)));
    let mut placed = vec![false; groups.len()];
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    for leader in leaders {
        if placed[leader] {
            continue;
        }
        let members: Vec<usize> = (0..groups.len())
            .filter(|&g| !placed[g] && (g == leader || similarity[leader][g] >= join))
            .collect();
        for &m in &members {
            placed[m] = true;
        }
        clusters.push(members);
    }
    let size = |c: &Vec<usize>| c.iter().map(|&g| groups[g].answers.len()).sum::<usize>();
    clusters.sort_by_key(|c| std::cmp::Reverse(size(c)));
    let merged = clusters.len() > MAX_THEMES;
    if merged {
        let rest: Vec<usize> = clusters.drain(MAX_THEMES - 1..).flatten().collect();
        clusters.push(rest);
    }
    let last = clusters.len() - 1;
    clusters
        .iter()
        .enumerate()
        .map(|(i, members)| {
            let other = merged && i == last;
            theme(&groups, members, answers, &similarity, &idf, other, rng)
        })
        .collect()
}

/// ln(1 + N / answers containing the word), over all answers.
fn rarity(groups: &[Group<'_>], total: usize) -> BTreeMap<String, f64> {
    let mut containing: BTreeMap<&str, usize> = BTreeMap::new();
    for g in groups {
        for w in &g.words {
            *containing.entry(w).or_default() += g.answers.len();
        }
    }
    containing
        .into_iter()
        .map(|(w, n)| (w.to_owned(), (1.0 + total as f64 / n as f64).ln()))
        .collect()
}

fn cosine(a: &BTreeSet<String>, b: &BTreeSet<String>, idf: &BTreeMap<String, f64>) -> f64 {
    let weight = |w: &String| idf.get(w).copied().unwrap_or(0.0);
    let norm = |s: &BTreeSet<String>| s.iter().map(|w| weight(w).powi(2)).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return f64::from(u8::from(a == b));
    }
    a.intersection(b).map(|w| weight(w).powi(2)).sum::<f64>() / (na * nb)
}

fn theme(
    groups: &[Group<'_>],
    members: &[usize],
    all: &[(Uuid, &str)],
    similarity: &[Vec<f64>],
    idf: &BTreeMap<String, f64>,
    other: bool,
    rng: &mut StdRng,
) -> Theme {
    let count: usize = members.iter().map(|&g| groups[g].answers.len()).sum();
    // Nearest the centre: most like the theme's other answers, weighted by how many gave each.
    let mut central: Vec<(usize, f64)> = members
        .iter()
        .map(|&g| {
            let pull = members
                .iter()
                .map(|&h| groups[h].answers.len() as f64 * similarity[g][h])
                .sum::<f64>();
            (g, pull)
        })
        .collect();
    central.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let quotes: Vec<String> = central
        .iter()
        .take(QUOTES)
        .map(|(g, _)| groups[*g].answers[0].1.to_owned())
        .collect();
    let label = if other {
        "other answers".to_owned()
    } else {
        label(
            groups,
            members,
            count,
            idf,
            quotes.first().map(String::as_str),
        )
    };
    let inside: BTreeSet<(Uuid, &str)> = members
        .iter()
        .flat_map(|&g| groups[g].answers.iter().copied())
        .collect();
    let mut samples = Samples::default();
    for answer in all {
        samples.add(answer.0, f64::from(u8::from(inside.contains(answer))));
    }
    let share = samples.estimate(rng);
    Theme {
        label,
        share: share.mean,
        ci95: share.ci95,
        answers: count as u32,
        quotes,
    }
}

/// The words at least half the theme's answers use, the rarest first, in the order the first
/// quote says them; the quote itself when they share none.
fn label(
    groups: &[Group<'_>],
    members: &[usize],
    count: usize,
    idf: &BTreeMap<String, f64>,
    quote: Option<&str>,
) -> String {
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for &g in members {
        for w in &groups[g].words {
            *uses.entry(w).or_default() += groups[g].answers.len();
        }
    }
    let mut shared: Vec<(&str, usize)> = uses.into_iter().filter(|(_, n)| 2 * n >= count).collect();
    shared.sort_by(|a, b| {
        b.1.cmp(&a.1).then_with(|| {
            let rarity = |w: &str| idf.get(w).copied().unwrap_or(0.0);
            rarity(b.0).total_cmp(&rarity(a.0))
        })
    });
    let chosen: BTreeSet<&str> = shared.iter().take(LABEL_WORDS).map(|(w, _)| *w).collect();
    let quote = quote.unwrap_or_default();
    if chosen.is_empty() {
        return quote.chars().take(60).collect();
    }
    // In the quote's order, so the label reads as a phrase ("wine cellar", not "cellar wine").
    let mut ordered: Vec<String> = Vec::new();
    for w in words_in_order(quote) {
        if chosen.contains(w.as_str()) && !ordered.contains(&w) {
            ordered.push(w);
        }
    }
    for w in chosen {
        if !ordered.iter().any(|o| o == w) {
            ordered.push(w.to_owned());
        }
    }
    ordered.join(" ")
}

/// The quote's content words as `words` spells them, in the order they occur.
fn words_in_order(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .flat_map(|token| words(token).into_iter())
        .collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// Each answer from a persona of its own.
    fn numbered<'a>(said: &[&'a str]) -> Vec<(Uuid, &'a str)> {
        said.iter()
            .enumerate()
            .map(|(i, t)| (Uuid::from_u128(i as u128), *t))
            .collect()
    }

    #[test]
    fn answers_saying_the_same_thing_share_a_theme() {
        let said = [
            "It would need a wine cellar to be a must-have.",
            "A proper wine cellar, nothing else.",
            "Only a wine cellar is missing.",
            "Take away the street frontage; it rules it out.",
            "The street frontage rules it out for me.",
            "A lower price.",
        ];
        let answers = numbered(&said);
        let themes = themes(&answers, None, &mut StdRng::seed_from_u64(1));
        assert_eq!(themes.len(), 3, "{themes:#?}");
        assert_eq!(themes[0].label, "wine cellar");
        assert_eq!(themes[0].answers, 3);
        assert_eq!(themes[0].share, 0.5);
        assert_eq!(themes[0].quotes.len(), 2);
        assert!(
            themes[1].label.contains("street frontage"),
            "{:?}",
            themes[1]
        );
        assert_eq!(themes[2].answers, 1);
        let shares: f64 = themes.iter().map(|t| t.share).sum();
        assert!((shares - 1.0).abs() < 1e-9, "every answer in one theme");
    }

    /// Answers that say one thing in different words, grouped by all-MiniLM-L6-v2 (fetched by
    /// scripts/fetch-embedding-model.sh), and not by words.
    #[test]
    fn a_model_groups_answers_by_what_they_mean() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/all-MiniLM-L6-v2");
        let model = crate::sentence_model::SentenceModel::load(&dir)
            .expect("the model: run scripts/fetch-embedding-model.sh");
        let said = [
            "The traffic noise is too loud.",
            "It needs to be quieter; the road is noisy.",
            "Less noise from the street.",
            "A wine cellar would make it.",
            "Somewhere to keep my wine collection.",
            "A lower price.",
        ];
        let answers = numbered(&said);
        let texts: Vec<String> = said.iter().map(|s| (*s).to_owned()).collect();
        let vectors: HashMap<String, Vec<f32>> = texts
            .iter()
            .cloned()
            .zip(model.embed(&texts).unwrap())
            .collect();
        let grouped = |vectors| {
            let themes = themes(&answers, vectors, &mut StdRng::seed_from_u64(1));
            themes.iter().map(|t| t.answers).collect::<Vec<_>>()
        };
        assert_eq!(grouped(Some(&vectors)), [3, 2, 1], "noise, wine, price");
        let by_words = grouped(None);
        assert!(
            by_words[0] < 3,
            "words alone split the noise answers: {by_words:?}"
        );
    }

    #[test]
    fn many_small_themes_end_in_other_answers() {
        let said: Vec<String> = (0..12).map(|i| format!("topic{i} alone")).collect();
        let answers: Vec<(Uuid, &str)> = said
            .iter()
            .enumerate()
            .map(|(i, t)| (Uuid::from_u128(i as u128), t.as_str()))
            .collect();
        let themes = themes(&answers, None, &mut StdRng::seed_from_u64(1));
        assert_eq!(themes.len(), MAX_THEMES);
        assert_eq!(themes.last().unwrap().label, "other answers");
        assert_eq!(themes.last().unwrap().answers, 5);
    }
}
