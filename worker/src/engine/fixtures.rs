//! Test personas shared by the engine's unit tests.

use troupe_shared::domain::{Budget, Persona, PersonaProfile, Preferences, Visibility};
use uuid::Uuid;

/// A brokerage-visible persona who wants `features`, refuses `deal_breakers` and spends up to
/// `max`.
pub fn persona(features: &[&str], deal_breakers: &[&str], max: f64) -> Persona {
    Persona {
        id: Uuid::nil(),
        brokerage_id: Uuid::nil(),
        agent_id: Uuid::nil(),
        team_id: None,
        visibility: Visibility::Brokerage,
        version: 1,
        synthetic: false,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
        profile: PersonaProfile {
            name: "Test".into(),
            preferences: Preferences {
                features: features.iter().map(|s| s.to_string()).collect(),
                deal_breakers: deal_breakers.iter().map(|s| s.to_string()).collect(),
                budget: Some(Budget {
                    min: None,
                    max: Some(max),
                }),
                ..Default::default()
            },
            ..Default::default()
        },
    }
}
