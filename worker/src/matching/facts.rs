//! What a listing is, read once when it is prepared: which concepts of the lexicon it has or
//! says it lacks (and where it says so), its numbers, kind, styles and place. Conditions are then
//! checked against these facts, structured fields first and the text after.

use troupe_shared::{
    criteria::{
        conditions::{Condition, Field, NEW_CONSTRUCTION_YEARS, Test},
        kinds::{self, Kind},
        lexicon::{CONCEPTS, Concept, ON_A_ROAD, ROAD_SUFFIXES, patterns, sort_label},
        places::{Placed, gazetteer},
        tokens::{negated, occurrences, tokens},
    },
    domain::Property,
};

use super::prepared::WordSet;

/// What the listing says of one concept.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence {
    Unsaid,
    /// Where it says so: `features: "heated 4-car garage"`.
    Has(String),
    Lacks(String),
}

#[derive(Debug)]
pub struct ListingFacts {
    /// By the concept's index in [`CONCEPTS`].
    concepts: Vec<Presence>,
    /// By the concept's index, then the sort's.
    sorts: Vec<Vec<Presence>>,
    /// Where the text calls it new ("newly built"), for a listing without its year.
    described_new: Option<String>,
    bedrooms: Option<f64>,
    bathrooms: Option<f64>,
    lot_acres: Option<f64>,
    living_area_sqft: Option<f64>,
    year_built: Option<f64>,
    pub kind: Option<Kind>,
    pub styles: Vec<&'static str>,
    pub placed: Placed,
}

/// A condition's truth on a listing, with the reason in words.
#[derive(Debug, Clone, PartialEq)]
pub enum Truth {
    Holds(String),
    Fails(String),
    Unknown(String),
}

impl Truth {
    pub fn reason(&self) -> &str {
        match self {
            Truth::Holds(r) | Truth::Fails(r) | Truth::Unknown(r) => r,
        }
    }
}

impl ListingFacts {
    pub fn of(property: &Property) -> ListingFacts {
        let d = &property.details;
        let mut segments: Vec<(String, &str)> = vec![("title".to_owned(), d.title.as_str())];
        segments.extend(
            d.features
                .iter()
                .map(|f| ("features".to_owned(), f.as_str())),
        );
        segments.extend(
            d.description
                .split_terminator(['.', '!', '?', ';', '\n'])
                .filter(|s| !s.trim().is_empty())
                .map(|s| ("description".to_owned(), s.trim())),
        );
        segments.extend(
            d.photos
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("photo {}", i + 1), p.description.as_str())),
        );
        let read: Vec<(String, &str, Vec<String>)> = segments
            .into_iter()
            .map(|(source, text)| (source, text, tokens(text)))
            .collect();
        // The concept is present when any of its synonyms or sorts is; a sort, when it is.
        let (concepts, sorts): (Vec<Presence>, Vec<Vec<Presence>>) = CONCEPTS
            .iter()
            .zip(patterns())
            .map(|(concept, p)| {
                let any = presence(concept, p.synonyms.iter().chain(&p.sorts), &read);
                let sorts = p
                    .sorts
                    .iter()
                    .map(|sort| presence(concept, std::iter::once(sort), &read))
                    .collect();
                (any, sorts)
            })
            .unzip();
        let described_new = CONCEPTS
            .iter()
            .zip(&concepts)
            .find_map(|(concept, presence)| match presence {
                Presence::Has(at) if concept.key == "new_construction" => Some(at.clone()),
                _ => None,
            });
        let all_words: Vec<String> = read
            .iter()
            .flat_map(|(_, _, w)| w.iter().cloned())
            .collect();
        let type_words = tokens(
            &d.property_type
                .clone()
                .unwrap_or_default()
                .replace('_', " "),
        );
        let mut styles = kinds::styles_in(&type_words);
        for style in kinds::styles_in(&all_words) {
            if !styles.contains(&style) {
                styles.push(style);
            }
        }
        ListingFacts {
            concepts,
            sorts,
            described_new,
            bedrooms: d.bedrooms.map(f64::from),
            bathrooms: d.bathrooms,
            lot_acres: d.lot_size_acres,
            living_area_sqft: d.living_area_sqft,
            year_built: d.year_built.map(f64::from),
            kind: d.property_type.as_deref().and_then(kinds::listing_kind),
            styles,
            placed: gazetteer().place_listing(&d.location, d.coordinates),
        }
    }

    fn field(&self, field: Field) -> Option<f64> {
        match field {
            Field::Bedrooms => self.bedrooms,
            Field::Bathrooms => self.bathrooms,
            Field::LotAcres => self.lot_acres,
            Field::LivingAreaSqft => self.living_area_sqft,
            Field::YearBuilt => self.year_built,
        }
    }

    fn presence(&self, index: usize, sort: Option<usize>) -> &Presence {
        match sort {
            Some(sort) => &self.sorts[index][sort],
            None => &self.concepts[index],
        }
    }

    /// Whether `condition` holds, cheaply (no words): `None` when the listing does not say.
    pub fn holds(
        &self,
        condition: &Condition,
        words: &WordSet,
        listing_words: &WordSet,
    ) -> Option<bool> {
        match &condition.test {
            Test::Concept {
                index,
                sort,
                present,
                ..
            } => match self.presence(*index, *sort) {
                Presence::Has(_) => Some(*present),
                Presence::Lacks(_) => Some(!*present),
                Presence::Unsaid => None,
            },
            Test::Range { field, min, max } => self
                .field(*field)
                .map(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v < m)),
            Test::NewConstruction => match self.year_built {
                Some(year) => Some(year >= f64::from(new_construction_since())),
                None => self.described_new.as_ref().map(|_| true),
            },
            Test::Words => Some(listing_words.has_all(words)),
        }
    }

    /// [`Self::holds`] with its reason.
    pub fn truth(&self, condition: &Condition, words: &WordSet, listing_words: &WordSet) -> Truth {
        let holds = self.holds(condition, words, listing_words);
        let reason = match &condition.test {
            Test::Concept {
                concept,
                index,
                sort,
                ..
            } => match self.presence(*index, *sort) {
                Presence::Has(at) => format!("has {} ({at})", named(concept, *sort)),
                Presence::Lacks(at) => format!("has no {} ({at})", bare(concept, *sort)),
                Presence::Unsaid => {
                    format!(
                        "the listing does not say whether it has {}",
                        named(concept, *sort)
                    )
                }
            },
            Test::Range { field, .. } => match self.field(*field) {
                Some(v) => field.say(v),
                None => format!("{} not on record", field.name()),
            },
            Test::NewConstruction => match (self.year_built, &self.described_new) {
                (Some(year), _) => Field::YearBuilt.say(year),
                (None, Some(at)) => format!("described as new ({at})"),
                (None, None) => "year built not on record".to_owned(),
            },
            Test::Words => {
                if holds == Some(true) {
                    format!("mentions \"{}\" (matched as words)", condition.text)
                } else {
                    format!("does not mention \"{}\" (matched as words)", condition.text)
                }
            }
        };
        match holds {
            Some(true) => Truth::Holds(reason),
            Some(false) => Truth::Fails(reason),
            None => Truth::Unknown(reason),
        }
    }
}

/// "a sauna", or the concept's label.
fn named(concept: &Concept, sort: Option<usize>) -> String {
    sort.map_or_else(
        || concept.label.to_owned(),
        |s| sort_label(concept.sorts[s]),
    )
}

/// "sauna", or the concept's label without its article.
fn bare(concept: &Concept, sort: Option<usize>) -> &'static str {
    sort.map_or_else(|| concept.bare_label(), |s| concept.sorts[s])
}

/// The first year that counts as new construction.
fn new_construction_since() -> i32 {
    use chrono::Datelike;
    chrono::Utc::now().year() - NEW_CONSTRUCTION_YEARS
}

/// Where the listing's text says it has or lacks one of `patterns`; a mention that is denied
/// ("no HOA") is a lack, and any plain mention outweighs it.
fn presence<'a>(
    concept: &Concept,
    patterns: impl Iterator<Item = &'a Vec<String>> + Clone,
    read: &[(String, &str, Vec<String>)],
) -> Presence {
    let mut lacks = None;
    for (source, text, words) in read {
        for pattern in patterns.clone() {
            for at in occurrences(words, pattern) {
                if negated(words, at, pattern.len()) {
                    lacks.get_or_insert_with(|| quote(source, text));
                } else if !(concept.key == "public_road" && private_road(words, at)) {
                    return Presence::Has(quote(source, text));
                }
            }
        }
        if concept.key == "public_road" && fronts_named_road(words) {
            return Presence::Has(quote(source, text));
        }
    }
    lacks.map_or(Presence::Unsaid, Presence::Lacks)
}

/// "on Broad Beach Road", "facing Ocean Avenue": a named road after a word that puts the
/// listing on it (not "a private road").
fn fronts_named_road(words: &[String]) -> bool {
    words.iter().enumerate().any(|(i, w)| {
        ON_A_ROAD.contains(&w.as_str())
            && (2..=5).any(|len| {
                words
                    .get(i + len)
                    .is_some_and(|end| ROAD_SUFFIXES.contains(&end.as_str()))
                    && !words[i + 1..i + len]
                        .iter()
                        .any(|w| w == "private" || w == "the")
            })
    })
}

fn private_road(words: &[String], at: usize) -> bool {
    words[at.saturating_sub(2)..at]
        .iter()
        .any(|w| w == "private")
}

/// `description: "…facade on Broad Beach Road…"`, at most 80 characters of it.
fn quote(source: &str, text: &str) -> String {
    let text = text.trim();
    let short: String = text.chars().take(80).collect();
    let ellipsis = if short.len() < text.len() { "…" } else { "" };
    format!("{source}: \"{short}{ellipsis}\"")
}

#[cfg(test)]
mod tests {
    use troupe_shared::domain::{Location, PropertyDetails};

    use super::*;

    fn listing(details: PropertyDetails) -> ListingFacts {
        let property = Property {
            id: uuid::Uuid::nil(),
            brokerage_id: uuid::Uuid::nil(),
            created_by: uuid::Uuid::nil(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            details,
        };
        ListingFacts::of(&property)
    }

    impl Truth {
        fn holds(&self) -> bool {
            matches!(self, Truth::Holds(_))
        }
    }

    fn check(facts: &ListingFacts, condition: &Condition) -> Truth {
        let words = WordSet::of(&condition.text);
        facts.truth(condition, &words, &WordSet::default())
    }

    #[test]
    fn the_traps_of_the_issue() {
        let chalet = listing(PropertyDetails {
            description: "Ski-in ski-out chalet. Heated 4-car garage and boot room.".into(),
            year_built: Some(2008),
            ..PropertyDetails::default()
        });
        assert!(!check(&chalet, &Condition::deal_breaker("no garage")).holds());
        let beach = listing(PropertyDetails {
            description: "A modern beach house open to the ocean. The street facade on Broad Beach Road is screened by hedges.".into(),
            year_built: Some(2019),
            location: Location { city: Some("Malibu".into()), ..Location::default() },
            ..PropertyDetails::default()
        });
        assert!(check(&beach, &Condition::want("ocean views")).holds());
        let frontage = check(&beach, &Condition::deal_breaker("public road frontage"));
        assert!(
            frontage.holds() && frontage.reason().contains("Broad Beach Road"),
            "{frontage:?}"
        );
        let new = check(&beach, &Condition::deal_breaker("new construction"));
        assert_eq!(new, Truth::Holds("built 2019".into()));
        assert!(!check(&beach, &Condition::deal_breaker("HOA")).holds());
        let gated = listing(PropertyDetails {
            description: "Reached by a private road. No HOA.".into(),
            ..PropertyDetails::default()
        });
        assert!(!check(&gated, &Condition::deal_breaker("public road frontage")).holds());
        assert!(matches!(
            check(&gated, &Condition::deal_breaker("HOA")),
            Truth::Fails(_)
        ));
    }

    #[test]
    fn a_sort_is_not_its_kin() {
        let spa = listing(PropertyDetails {
            features: vec!["steam room".into(), "lap pool".into()],
            ..PropertyDetails::default()
        });
        assert!(!check(&spa, &Condition::deal_breaker("sauna")).holds());
        assert!(check(&spa, &Condition::want("spa")).holds());
        assert!(check(&spa, &Condition::want("a pool")).holds());
        let infinity = check(&spa, &Condition::want("infinity pool"));
        assert_eq!(
            infinity,
            Truth::Unknown("the listing does not say whether it has an infinity pool".into())
        );
    }

    #[test]
    fn numbers_come_from_the_fields() {
        let estate = listing(PropertyDetails {
            bedrooms: Some(5),
            lot_size_acres: Some(2.6),
            ..PropertyDetails::default()
        });
        assert!(!check(&estate, &Condition::want("at least 6 bedrooms")).holds());
        assert!(check(&estate, &Condition::want("more than 2 acres")).holds());
        let unknown = check(&estate, &Condition::deal_breaker("built before 1950"));
        assert_eq!(unknown, Truth::Unknown("year built not on record".into()));
    }
}
