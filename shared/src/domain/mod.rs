//! Domain types shared by the API (as its documented schema), the store and the worker.

mod persona;
mod property;
mod simulation;

pub use persona::*;
pub use property::*;
pub use simulation::*;

use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Enum)]
#[serde(rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum Role {
    Agent,
    TeamLead,
    BrokerageAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::TeamLead => "team_lead",
            Role::BrokerageAdmin => "brokerage_admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Role::Agent, Role::TeamLead, Role::BrokerageAdmin]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// A place: as precise as the source knows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Object)]
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
