//! Word-level helpers for the rule-based parts of the engine.

use std::collections::BTreeSet;

const STOPWORDS: &[&str] = &[
    "the", "and", "for", "with", "near", "from", "that", "this", "into", "over", "under", "very",
    "has", "have", "are", "was", "not", "any", "all", "its", "our", "your", "their", "fully",
    "new", "add", "adding", "home", "house", "property",
];

/// Lower-case content words of three letters or more, without stopwords, plurals folded
/// ("views" and "view" are one word).
pub fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.len() >= 3 && !STOPWORDS.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if w.len() > 3 && !stem.ends_with('s') => stem.to_owned(),
            _ => w,
        })
        .collect()
}

/// Whether a phrase's content words all occur in `haystack` (a phrase with none never matches).
pub fn phrase_in(phrase: &str, haystack: &BTreeSet<String>) -> bool {
    let phrase = words(phrase);
    !phrase.is_empty() && phrase.iter().all(|w| haystack.contains(w))
}

/// How many of a phrase's content words occur in `haystack`.
pub fn overlap(phrase: &str, haystack: &BTreeSet<String>) -> usize {
    words(phrase)
        .iter()
        .filter(|w| haystack.contains(*w))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_on_content_words() {
        let listing = words("Infinity pool, a 2,000-bottle wine cellar and ocean views");
        assert!(phrase_in("wine cellar", &listing));
        assert!(phrase_in("ocean view", &listing));
        assert!(!phrase_in("tennis court", &listing));
        assert_eq!(overlap("heated pool house", &listing), 1);
    }
}
