//! Domain types shared by the API (as its documented schema), the store and the worker.

/// An enum sent as snake_case JSON and stored as the same text: `as_str` for the database,
/// `parse` back.
macro_rules! text_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, poem_openapi::Enum)]
        #[serde(rename_all = "snake_case")]
        #[oai(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &[$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

mod accuracy;
mod deletion;
mod directory;
mod enrichment;
mod graph;
mod insight;
mod matching;
mod merge;
mod outcome;
mod persona;
mod photos;
mod place;
mod plan;
mod property;
mod question;
mod schedule;
mod segment;
mod simulation;
mod webhook;

pub use accuracy::*;
pub use deletion::*;
pub use directory::*;
pub use enrichment::*;
pub use graph::*;
pub use insight::*;
pub use matching::*;
pub use outcome::*;
pub use persona::*;
pub use photos::Photos;
pub use place::*;
pub use plan::*;
pub use property::*;
pub use question::*;
pub use schedule::*;
pub use segment::*;
pub use simulation::*;
pub use webhook::*;

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

text_enum! {
    pub enum Role {
        Agent => "agent",
        TeamLead => "team_lead",
        BrokerageAdmin => "brokerage_admin",
    }
}

/// A place: as precise as the source knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Location {
    #[oai(validator(max_length = 200))]
    pub city: Option<String>,
    #[oai(validator(max_length = 200))]
    pub region: Option<String>,
    #[oai(validator(max_length = 200))]
    pub country: Option<String>,
}

impl Location {
    /// "Aspen, Colorado, USA" from whatever parts are known.
    pub fn display(&self) -> String {
        [&self.city, &self.region, &self.country]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Copy + PartialEq + std::fmt::Debug + Serialize>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &value in all {
            assert_eq!(
                serde_json::to_value(value).unwrap(),
                as_str(value),
                "JSON and stored text agree"
            );
            assert_eq!(parse(as_str(value)), Some(value));
        }
    }

    #[test]
    fn stored_text_matches_the_json_names() {
        round_trips(Role::ALL, Role::as_str, Role::parse);
        round_trips(Visibility::ALL, Visibility::as_str, Visibility::parse);
        round_trips(
            SimulationKind::ALL,
            SimulationKind::as_str,
            SimulationKind::parse,
        );
        round_trips(Channel::ALL, Channel::as_str, Channel::parse);
        round_trips(ScenarioType::ALL, ScenarioType::as_str, ScenarioType::parse);
        round_trips(
            SimulationStatus::ALL,
            SimulationStatus::as_str,
            SimulationStatus::parse,
        );
        round_trips(
            PropertyStatus::ALL,
            PropertyStatus::as_str,
            PropertyStatus::parse,
        );
        round_trips(
            MatchDirection::ALL,
            MatchDirection::as_str,
            MatchDirection::parse,
        );
        round_trips(
            MatchRunStatus::ALL,
            MatchRunStatus::as_str,
            MatchRunStatus::parse,
        );
        round_trips(
            FeedbackOutcome::ALL,
            FeedbackOutcome::as_str,
            FeedbackOutcome::parse,
        );
        assert_eq!(Role::parse("root"), None);
    }
}
