//! Text as the criteria read it: lower case, accents folded, split into words, plurals folded
//! ("views" is "view"), so "Ocean Views", "ocean view" and "océan-view" are the same words.

/// The words of `text`, in order.
pub fn tokens(text: &str) -> Vec<String> {
    folded(text)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(singular)
        .collect()
}

/// `text` in lower case with Latin accents taken off ("Côte" is "cote"); apostrophes go, so
/// "Billionaires' Row" and "Billionaires Row" read alike.
pub fn folded(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '\'' | '’' | '`'))
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

fn singular(word: &str) -> String {
    match word.strip_suffix('s') {
        Some(stem) if word.len() > 3 && !stem.ends_with('s') && !stem.ends_with('u') => {
            stem.to_owned()
        }
        _ => word.to_owned(),
    }
}

/// Where `pattern` (already tokens) occurs in `words`, as start positions.
pub fn occurrences<'a>(
    words: &'a [String],
    pattern: &'a [String],
) -> impl Iterator<Item = usize> + 'a {
    (0..words.len().saturating_sub(pattern.len() - 1))
        .filter(move |&i| !pattern.is_empty() && words[i..i + pattern.len()] == *pattern)
}

/// Words that deny what follows them: "no garage", "without an HOA", "not on a main road".
pub const NEGATORS: &[&str] = &[
    "no", "without", "not", "lack", "lacking", "lacks", "missing", "non", "never", "nor", "absence",
];

/// Whether the words just before position `at` (up to three) deny it, or the word after the
/// phrase does ("HOA-free").
pub fn negated(words: &[String], at: usize, len: usize) -> bool {
    let before = words[at.saturating_sub(3)..at]
        .iter()
        .any(|w| NEGATORS.contains(&w.as_str()));
    let after = words.get(at + len).is_some_and(|w| w == "free");
    before || after
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_accents_plurals_and_apostrophes() {
        assert_eq!(tokens("Côte d'Azur"), ["cote", "dazur"]);
        assert_eq!(
            tokens("Ocean Views, 4-car garages"),
            ["ocean", "view", "4", "car", "garage"]
        );
        assert_eq!(tokens("glass walls"), ["glass", "wall"]);
        assert_eq!(tokens("Billionaires' Row"), tokens("billionaires row"));
    }

    #[test]
    fn negation_looks_a_little_way_back_and_at_free() {
        let words = tokens("a home without an attached garage");
        let at = words.iter().position(|w| w == "garage").unwrap();
        assert!(negated(&words, at, 1));
        let words = tokens("hoa free community");
        assert!(negated(&words, 0, 1));
        let words = tokens("heated 4 car garage");
        assert!(!negated(&words, 3, 1));
    }
}
