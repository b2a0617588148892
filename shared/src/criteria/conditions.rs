//! A client's deal-breakers and wants read as conditions on a listing: a feature present or
//! absent, a number in a range, an age, or — when none of these can be read — the words
//! themselves, matched as a phrase (and said to be).

use super::{
    lexicon::{CONCEPTS, Concept, patterns, sort_label},
    tokens::{negated, occurrences, tokens},
};

/// A listing's measurable fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bedrooms,
    Bathrooms,
    LotAcres,
    LivingAreaSqft,
    YearBuilt,
}

impl Field {
    fn unit(self, value: f64) -> String {
        let plural = |one: &str, many: &str| {
            if value == 1.0 {
                one.to_owned()
            } else {
                many.to_owned()
            }
        };
        match self {
            Field::Bedrooms => format!("{} {}", number(value), plural("bedroom", "bedrooms")),
            Field::Bathrooms => format!("{} {}", number(value), plural("bathroom", "bathrooms")),
            Field::LotAcres => format!("{} {}", number(value), plural("acre", "acres")),
            Field::LivingAreaSqft => format!("{} sq ft", number(value)),
            Field::YearBuilt => format!("{value:.0}"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Bedrooms => "bedrooms",
            Field::Bathrooms => "bathrooms",
            Field::LotAcres => "lot size",
            Field::LivingAreaSqft => "living area",
            Field::YearBuilt => "year built",
        }
    }

    /// The field's value said with its unit: "7 bedrooms", "built 1998".
    pub fn say(self, value: f64) -> String {
        match self {
            Field::YearBuilt => format!("built {value:.0}"),
            _ => self.unit(value),
        }
    }

    fn counts_whole(self) -> bool {
        matches!(self, Field::Bedrooms | Field::YearBuilt)
    }
}

/// What a phrase asks of a listing.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// The listing has (or, `present: false`, lacks) the concept.
    Concept {
        concept: &'static Concept,
        /// Its index in [`CONCEPTS`], so a listing's facts are looked up without a search.
        index: usize,
        /// The sort named ("sauna" of spa), by its index in the concept's sorts; `None` for the
        /// concept itself, which any of its sorts satisfies.
        sort: Option<usize>,
        present: bool,
    },
    /// The field is at least `min` and below `max`.
    Range {
        field: Field,
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Built within [`NEW_CONSTRUCTION_YEARS`] of today, or described as new.
    NewConstruction,
    /// Not read: the phrase's words, all of which must be in the listing.
    Words,
}

/// A listing built this many years ago or less counts as new construction. Generous on purpose:
/// a client whose deal-breaker is new construction wants an established home (mature planting,
/// a build with a history), and a house of seven years is not that yet.
pub const NEW_CONSTRUCTION_YEARS: i32 = 10;

/// A client's phrase and what it was read as.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub text: String,
    pub test: Test,
}

impl Condition {
    /// A deal-breaker: the listing is excluded when the test holds. "no garage" is a missing
    /// garage; "no HOA" is still the HOA (nobody's deal-breaker is the absence of a burden).
    pub fn deal_breaker(text: &str) -> Condition {
        let mut test = read(text);
        if let Test::Concept {
            concept, present, ..
        } = &mut test
            && concept.burden
        {
            *present = true;
        }
        Condition {
            text: text.to_owned(),
            test,
        }
    }

    /// A want: the listing scores when the test holds.
    pub fn want(text: &str) -> Condition {
        Condition {
            text: text.to_owned(),
            test: read(text),
        }
    }

    pub fn is_read(&self) -> bool {
        self.test != Test::Words
    }

    /// What a listing must be for the test to hold, in words: "has no garage", "has at least 6
    /// bedrooms", "was built before 1950".
    pub fn describe(&self) -> String {
        match &self.test {
            Test::Concept {
                concept,
                sort,
                present,
                ..
            } => {
                let named = match sort {
                    Some(sort) => sort_label(concept.sorts[*sort]),
                    None if *present => concept.label.to_owned(),
                    None => concept.bare_label().to_owned(),
                };
                if *present {
                    format!("has {named}")
                } else {
                    format!(
                        "has no {}",
                        named.trim_start_matches("a ").trim_start_matches("an ")
                    )
                }
            }
            Test::Range { field, min, max } => describe_range(*field, *min, *max),
            Test::NewConstruction => {
                format!("is new construction (built within {NEW_CONSTRUCTION_YEARS} years)")
            }
            Test::Words => format!(
                "mentions \"{}\" (not read as a condition; matched as words)",
                self.text
            ),
        }
    }

    /// The reading shown beside a deal-breaker: what excludes a listing.
    pub fn excludes(&self) -> String {
        match &self.test {
            Test::Words => format!(
                "excludes listings that mention all of \"{}\" (not read as a condition; matched as words)",
                self.text
            ),
            _ => format!("excludes a listing that {}", self.describe()),
        }
    }
}

fn describe_range(field: Field, min: Option<f64>, max: Option<f64>) -> String {
    let span = match (min, max) {
        (Some(min), None) => format!("at least {}", field.unit(min)),
        (None, Some(max)) => format!("under {}", field.unit(max)),
        (Some(min), Some(max)) => format!("{} to under {}", field.unit(min), field.unit(max)),
        (None, None) => format!("any {}", field.name()),
    };
    match (field, min, max) {
        (Field::YearBuilt, Some(min), None) => format!("was built in {min:.0} or later"),
        (Field::YearBuilt, None, Some(max)) => format!("was built before {max:.0}"),
        (Field::YearBuilt, _, _) => format!("was built {span}"),
        (Field::LotAcres, None, Some(_)) => format!("has a lot {span}"),
        (Field::LotAcres, _, _) => format!("has a lot of {span}"),
        _ => format!("has {span}"),
    }
}

/// "2", "2.5", "10,000".
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value >= 10_000.0 {
        let digits = format!("{value:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

fn read(text: &str) -> Test {
    let words = tokens(text);
    if let Some(test) = range_in(text, &words) {
        return test;
    }
    if occurrences(&words, &tokens("new construction"))
        .next()
        .is_some()
        || [
            "newly built",
            "new build",
            "newly constructed",
            "brand new",
            "new built",
        ]
        .iter()
        .any(|p| occurrences(&words, &tokens(p)).next().is_some())
    {
        return Test::NewConstruction;
    }
    concept_in(&words).unwrap_or(Test::Words)
}

/// The concept (or sort of one) whose longest phrase occurs in `words`, and whether it is
/// denied.
fn concept_in(words: &[String]) -> Option<Test> {
    // (length of the phrase, concept, sort, present)
    let mut best: Option<(usize, usize, Option<usize>, bool)> = None;
    for (index, read) in patterns().iter().enumerate() {
        let phrases = read.synonyms.iter().map(|p| (p, None));
        let sorts = read.sorts.iter().enumerate().map(|(i, p)| (p, Some(i)));
        for (pattern, sort) in phrases.chain(sorts) {
            if let Some(at) = occurrences(words, pattern).next()
                && best.is_none_or(|(len, ..)| pattern.len() > len)
            {
                best = Some((
                    pattern.len(),
                    index,
                    sort,
                    !negated(words, at, pattern.len()),
                ));
            }
        }
    }
    best.map(|(_, index, sort, present)| Test::Concept {
        concept: &CONCEPTS[index],
        index,
        sort,
        present,
    })
}

const AT_LEAST: &[&str] = &[
    "least",
    "minimum",
    "min",
    "more",
    "over",
    "above",
    "greater",
    "larger",
    "bigger",
    "plus",
    "after",
    "post",
    "since",
    "newer",
    "exceeding",
];
const BELOW: &[&str] = &[
    "under", "less", "fewer", "below", "smaller", "max", "maximum", "most", "before", "pre",
    "prior", "older", "within", "upto",
];

/// "at least 6 bedrooms", "under 2 acres", "built before 1950", "5+ bedrooms", "10,000 sq ft".
fn range_in(text: &str, words: &[String]) -> Option<Test> {
    // "10,000" is one number.
    let joined: Vec<String> = tokens(&text.replace(',', ""));
    let words: &[String] = if joined.len() < words.len() {
        &joined
    } else {
        words
    };
    for (i, word) in words.iter().enumerate() {
        let Ok(value) = word.parse::<f64>() else {
            continue;
        };
        let unit = words.get(i + 1).map(String::as_str).unwrap_or_default();
        let after = words.get(i + 2).map(String::as_str).unwrap_or_default();
        let before = &words[i.saturating_sub(3)..i];
        let (field, value) = match unit {
            "bedroom" | "bed" | "br" | "bd" | "bdr" => (Field::Bedrooms, value),
            "bathroom" | "bath" | "ba" => (Field::Bathrooms, value),
            "acre" | "ac" => (Field::LotAcres, value),
            "hectare" | "ha" => (Field::LotAcres, value * 2.471),
            "sq" | "sqft" | "square" | "sf" => (Field::LivingAreaSqft, value),
            _ if (1000.0..=2100.0).contains(&value)
                && before.iter().any(|w| {
                    [
                        "built", "before", "after", "pre", "post", "since", "older", "newer",
                        "prior", "than",
                    ]
                    .contains(&w.as_str())
                }) =>
            {
                (Field::YearBuilt, value)
            }
            _ => continue,
        };
        let plus = text.contains(&format!("{word}+"))
            || after == "plus"
            || (after == "or" && words.get(i + 3).is_some_and(|w| w == "more"));
        let strict = before.iter().any(|w| {
            [
                "more",
                "over",
                "above",
                "greater",
                "larger",
                "bigger",
                "after",
                "post",
                "newer",
                "exceeding",
            ]
            .contains(&w.as_str())
        });
        let at_most = before
            .iter()
            .any(|w| ["max", "maximum", "most", "upto"].contains(&w.as_str()))
            || before.windows(2).any(|w| w[0] == "up" && w[1] == "to")
            || before.windows(2).any(|w| w[0] == "no" && w[1] == "more");
        // "more than 10 acres" is read as 10 or more: a lot of exactly 10.0 is rare, and an error
        // of one in the last place would read oddly.
        let step = if field.counts_whole() { 1.0 } else { 0.0 };
        let floor = before
            .windows(2)
            .any(|w| w[0] == "no" && (w[1] == "fewer" || w[1] == "less"));
        let test =
            if floor || plus || before.iter().any(|w| AT_LEAST.contains(&w.as_str())) && !at_most {
                Test::Range {
                    field,
                    min: Some(if strict { value + step } else { value }),
                    max: None,
                }
            } else if at_most {
                Test::Range {
                    field,
                    min: None,
                    max: Some(value + step),
                }
            } else if before.iter().any(|w| BELOW.contains(&w.as_str())) {
                Test::Range {
                    field,
                    min: None,
                    max: Some(value),
                }
            } else if field == Field::YearBuilt {
                continue;
            } else {
                // A bare "6 bedrooms" asks for at least six.
                Test::Range {
                    field,
                    min: Some(value),
                    max: None,
                }
            };
        return Some(test);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal_breaker(text: &str) -> String {
        Condition::deal_breaker(text).excludes()
    }

    #[test]
    fn negation_decides_what_a_deal_breaker_excludes() {
        assert_eq!(
            deal_breaker("no garage"),
            "excludes a listing that has no garage"
        );
        assert_eq!(
            deal_breaker("HOA"),
            "excludes a listing that has a homeowners' association"
        );
        assert_eq!(
            deal_breaker("no HOA"),
            "excludes a listing that has a homeowners' association"
        );
        assert_eq!(
            deal_breaker("lack of privacy"),
            "excludes a listing that has no privacy"
        );
        assert_eq!(
            deal_breaker("public road frontage"),
            "excludes a listing that has public road frontage"
        );
        assert_eq!(
            deal_breaker("under a flight path"),
            "excludes a listing that has a flight path"
        );
    }

    #[test]
    fn numbers_ages_and_sizes() {
        assert_eq!(
            deal_breaker("new construction"),
            "excludes a listing that is new construction (built within 10 years)"
        );
        assert_eq!(
            deal_breaker("built before 1950"),
            "excludes a listing that was built before 1950"
        );
        assert_eq!(
            deal_breaker("under 2 acres"),
            "excludes a listing that has a lot under 2 acres"
        );
        assert_eq!(
            deal_breaker("fewer than 5 bedrooms"),
            "excludes a listing that has under 5 bedrooms"
        );
        let want = |t: &str| Condition::want(t).describe();
        assert_eq!(want("at least 6 bedrooms"), "has at least 6 bedrooms");
        assert_eq!(want("5+ bedrooms"), "has at least 5 bedrooms");
        assert_eq!(want("more than 10 acres"), "has a lot of at least 10 acres");
        assert_eq!(want("over 10,000 sq ft"), "has at least 10,000 sq ft");
        assert_eq!(want("no more than 4 bedrooms"), "has under 5 bedrooms");
        assert_eq!(want("built after 2000"), "was built in 2001 or later");
        assert_eq!(want("ocean views"), "has ocean views");
        assert_eq!(want("no HOA"), "has no homeowners' association");
    }

    #[test]
    fn unreadable_phrases_fall_back_to_words_and_say_so() {
        let c = Condition::deal_breaker("bad feng shui");
        assert!(!c.is_read());
        assert!(c.excludes().contains("not read as a condition"));
    }
}
