//! What the persona reacts to, one kind per simulation type.

use std::fmt::Write;

use troupe_shared::domain::{
    AnswerType, Channel, EnrichmentData, Material, PropertyDetails, Question, Scenario, Touch,
    TouchJudgement, TypedQuestion,
};

use super::{Task, excerpt, line, list, money};
use crate::engine::memory::describe;
use crate::engine::reply::Shape;

/// Photos beyond this many are not shown (each rating costs completion tokens).
pub const RATED_PHOTOS: usize = 20;

/// The photos a persona can judge: the first [`RATED_PHOTOS`] with a caption, by their
/// 1-based number in the listing. The model reads captions only, so a photo without one cannot
/// be judged and is left unrated rather than scored on nothing.
pub fn judgeable_photos(listing: &PropertyDetails) -> Vec<u32> {
    listing
        .photos
        .iter()
        .enumerate()
        .take(RATED_PHOTOS)
        .filter(|(_, photo)| !photo.description.trim().is_empty())
        .map(|(i, _)| i as u32 + 1)
        .collect()
}

pub enum Stimulus<'a> {
    Listing {
        listing: &'a PropertyDetails,
        ask: ListingAsk<'a>,
    },
    Material {
        material: &'a Material,
        channel: Channel,
    },
    Touch {
        goal: Option<&'a str>,
        touch: &'a Touch,
        /// 1-based position in the sequence.
        number: usize,
        days_since_previous: Option<u32>,
        /// The persona's state after the previous touch.
        state: Option<TouchJudgement>,
    },
    Scenario {
        scenario: &'a Scenario,
        enrichment: Option<&'a EnrichmentData>,
    },
}

pub enum ListingAsk<'a> {
    Question {
        question: &'a Question,
        /// The photos to rate with this answer, by number, in the order this persona sees them
        /// (see [`crate::engine::order`]); empty when none are asked about.
        photo_order: Vec<u32>,
        /// A typed question's options in the order this persona sees them (see
        /// [`crate::engine::order`]); empty for other questions.
        shown_options: Vec<&'a str>,
    },
    /// A discussion round: what the others said, and may the persona change its mind.
    Discussion(Digest),
    /// "If the seller did this, would you be more or less likely to buy?", against the intent
    /// the persona held just before.
    Modification { change: &'a str, intent_before: u8 },
}

/// What the rest of the panel said in the last round, for a discussion round.
#[derive(Debug, Clone, Default)]
pub struct Digest {
    pub others: usize,
    pub mean_intent: f64,
    pub likes: Vec<String>,
    pub dislikes: Vec<String>,
    pub quotes: Vec<String>,
}

pub const DISCUSSION_PROMPT: &str =
    "You have heard the others. Has your view changed? Give your purchase intent now.";

impl Stimulus<'_> {
    pub fn task(&self) -> Task {
        match self {
            Stimulus::Listing { .. } => Task::Listing,
            Stimulus::Material { .. } => Task::Engagement,
            Stimulus::Touch { .. } => Task::Touch,
            Stimulus::Scenario { .. } => Task::Scenario,
        }
    }

    /// What the step's reply must hold.
    pub fn reply_shape(&self) -> Shape<'_> {
        let typed = match self {
            Stimulus::Listing {
                ask: ListingAsk::Question { question, .. },
                ..
            } => question.typed(),
            _ => None,
        };
        Shape {
            task: self.task(),
            photos: self.photos_rated(),
            typed,
        }
    }

    /// The photos the persona is asked to rate at this step, by number.
    fn photos_rated(&self) -> Vec<u32> {
        match self {
            Stimulus::Listing {
                ask: ListingAsk::Question { photo_order, .. },
                ..
            } => {
                let mut rated = photo_order.clone();
                rated.sort_unstable();
                rated
            }
            _ => Vec::new(),
        }
    }

    /// The words memory relevance is judged against.
    pub fn text(&self) -> String {
        match self {
            Stimulus::Listing { listing, ask } => {
                let asked = match ask {
                    ListingAsk::Question { question, .. } => question.text(),
                    ListingAsk::Discussion(_) => "",
                    ListingAsk::Modification { change, .. } => change,
                };
                format!(
                    "{} {} {} {asked}",
                    listing.title,
                    listing.features.join(" "),
                    listing.property_type.as_deref().unwrap_or("")
                )
            }
            Stimulus::Material { material, channel } => format!(
                "{} {} {} {}",
                channel.as_str(),
                material.subject.as_deref().unwrap_or(""),
                material.body,
                material.creative_description.as_deref().unwrap_or("")
            ),
            Stimulus::Touch { goal, touch, .. } => {
                format!(
                    "{} {} {}",
                    goal.unwrap_or(""),
                    touch.channel.as_str(),
                    touch.message
                )
            }
            Stimulus::Scenario { scenario, .. } => {
                format!(
                    "{} {}",
                    scenario.kind.as_str(),
                    describe(&scenario.context, 600)
                )
            }
        }
    }

    pub fn render(&self, out: &mut String) {
        match self {
            Stimulus::Listing { listing, ask } => render_listing(out, listing, ask),
            Stimulus::Material { material, channel } => {
                out.push_str("<material>\n");
                let _ = writeln!(out, "Channel: {}", channel.as_str());
                line(out, "Subject", material.subject.as_deref());
                let _ = writeln!(out, "Body: {}", excerpt(&material.body, 1500));
                line(out, "Creative", material.creative_description.as_deref());
                out.push_str("</material>\nHow do you respond to this?");
            }
            Stimulus::Touch {
                goal,
                touch,
                number,
                days_since_previous,
                state,
            } => {
                out.push_str("<outreach>\n");
                line(out, "The agent wants to", *goal);
                let _ = writeln!(
                    out,
                    "Contact {number}, day {}, by {}",
                    touch.day,
                    touch.channel.as_str()
                );
                if let Some(gap) = days_since_previous {
                    let _ = writeln!(out, "Days since the previous contact: {gap}");
                }
                if let Some(state) = state {
                    let _ = writeln!(
                        out,
                        "Your state after it: interest {:.2}, annoyance {:.2}",
                        state.interest, state.annoyance
                    );
                }
                let _ = writeln!(out, "Message: {}", excerpt(&touch.message, 1200));
                out.push_str("</outreach>\nDo you respond, and how do you feel now?");
            }
            Stimulus::Scenario {
                scenario,
                enrichment,
            } => {
                if let Some(extra) = enrichment {
                    render_enrichment(out, extra);
                }
                out.push_str("<scenario>\n");
                let _ = writeln!(out, "Type: {}", scenario.kind.as_str().replace('_', " "));
                let _ = writeln!(out, "{}", describe(&scenario.context, 1500));
                out.push_str("</scenario>\nHow do you react?");
            }
        }
    }
}

fn render_listing(out: &mut String, listing: &PropertyDetails, ask: &ListingAsk<'_>) {
    out.push_str("<listing>\n");
    let _ = writeln!(out, "Title: {}", excerpt(&listing.title, 200));
    let _ = writeln!(out, "Price: {} {}", listing.currency, money(listing.price));
    let location = listing.location.display();
    line(out, "Location", Some(&location));
    line(out, "Type", listing.property_type.as_deref());
    list(out, "Features", &listing.features);
    // Photos to rate come in the persona's own order; otherwise in the listing's.
    let shown = match ask {
        ListingAsk::Question { photo_order, .. } if !photo_order.is_empty() => photo_order.clone(),
        _ => judgeable_photos(listing),
    };
    for &n in &shown {
        let photo = &listing.photos[n as usize - 1];
        let _ = writeln!(out, "Photo {n}: {}", excerpt(&photo.description, 100));
    }
    if !listing.description.trim().is_empty() {
        let _ = writeln!(out, "Description: {}", excerpt(&listing.description, 800));
    }
    out.push_str("</listing>\n");
    match ask {
        ListingAsk::Question {
            question,
            photo_order,
            shown_options,
        } => {
            let _ = write!(out, "Moderator: {}", excerpt(question.text(), 600));
            if let Some(typed) = question.typed() {
                let _ = write!(out, " {}", typed_hint(typed, shown_options));
            }
            if !photo_order.is_empty() {
                let mut rated = photo_order.clone();
                rated.sort_unstable();
                let _ = write!(out, " Also rate photos {}.", runs(&rated));
            }
        }
        ListingAsk::Discussion(digest) => {
            out.push_str("<discussion>\n");
            let _ = writeln!(
                out,
                "{} others; their mean intent {:.1} of 5",
                digest.others, digest.mean_intent
            );
            list(out, "They liked", &digest.likes);
            list(out, "They disliked", &digest.dislikes);
            for quote in &digest.quotes {
                let _ = writeln!(out, "- \"{}\"", excerpt(quote, 200));
            }
            out.push_str("</discussion>\n");
            let _ = write!(out, "Moderator: {DISCUSSION_PROMPT}");
        }
        ListingAsk::Modification {
            change,
            intent_before,
        } => {
            let _ = write!(
                out,
                "Moderator: suppose the seller made this change: \"{}\". Your purchase intent \
                 before it was {intent_before} of 5. What is it now?",
                excerpt(change, 300)
            );
        }
    }
}

/// Ascending numbers as runs: `1-3, 5, 7-9`.
fn runs(numbers: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut start = 0;
    for i in 0..numbers.len() {
        if i + 1 == numbers.len() || numbers[i + 1] != numbers[i] + 1 {
            parts.push(match i - start {
                0 => numbers[i].to_string(),
                _ => format!("{}-{}", numbers[start], numbers[i]),
            });
            start = i + 1;
        }
    }
    parts.join(", ")
}

/// How the moderator asks for a typed answer; options in the order this persona sees them.
fn typed_hint(question: &TypedQuestion, options: &[&str]) -> String {
    let listed = || {
        options
            .iter()
            .map(|o| format!("\"{}\"", excerpt(o, 200)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let shape = match question.answer {
        AnswerType::Likert => "a point from 1 (not at all) to 5 (completely)".to_owned(),
        AnswerType::YesNo => "true for yes, false for no".to_owned(),
        AnswerType::SingleChoice => format!("exactly one of {}", listed()),
        AnswerType::MultiChoice => format!("each that applies (at least one) of {}", listed()),
        AnswerType::Ranking => format!("all of {}, best first", listed()),
        AnswerType::Numeric => match &question.unit {
            Some(unit) => format!("a number, in {}", excerpt(unit, 40)),
            None => "a number".to_owned(),
        },
        AnswerType::FreeText => "one sentence in your own words".to_owned(),
    };
    format!("Give typed_answer as {shape}, consistent with your other fields.")
}

fn render_enrichment(out: &mut String, extra: &EnrichmentData) {
    out.push_str("<notes>\n");
    if let Some(public) = &extra.public_info {
        let _ = writeln!(out, "Public: {}", describe(public, 600));
    }
    line(out, "Agent's notes", extra.internal_notes.as_deref());
    for item in extra.interaction_history.iter().rev().take(5) {
        let _ = writeln!(out, "- {}", describe(item, 200));
    }
    out.push_str("</notes>\n");
}

#[cfg(test)]
mod tests {
    use troupe_shared::domain::{Photo, PropertyDetails, Question};

    use super::{ListingAsk, Stimulus, runs};

    #[test]
    fn photos_to_rate_are_listed_in_the_persona_s_order() {
        let photo = |description: &str| Photo {
            url: format!("https://example.com/{description}.jpg"),
            description: description.into(),
        };
        let listing = PropertyDetails {
            title: "House".into(),
            photos: vec![photo("pool"), photo("cellar"), photo("garden")].into(),
            ..PropertyDetails::default()
        };
        let question = Question::from("First impression?");
        let stimulus = Stimulus::Listing {
            listing: &listing,
            ask: ListingAsk::Question {
                question: &question,
                photo_order: vec![3, 1, 2],
                shown_options: Vec::new(),
            },
        };
        let mut out = String::new();
        stimulus.render(&mut out);
        let listed: Vec<&str> = out.lines().filter(|l| l.starts_with("Photo ")).collect();
        assert_eq!(
            listed,
            ["Photo 3: garden", "Photo 1: pool", "Photo 2: cellar"]
        );
        assert!(out.contains("Also rate photos 1-3."), "{out}");
        assert_eq!(stimulus.reply_shape().photos, [1, 2, 3]);
    }

    #[test]
    fn photo_numbers_read_as_runs() {
        assert_eq!(runs(&[1, 2, 3, 5, 7, 8, 9]), "1-3, 5, 7-9");
        assert_eq!(runs(&[4]), "4");
        assert_eq!(runs(&[]), "");
    }
}
