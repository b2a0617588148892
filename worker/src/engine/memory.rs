//! A persona agent's memory. Episodic: what it said and heard earlier in this run, and its
//! earlier interactions with the brokerage (the persona's interaction history). Semantic: facts
//! from enrichment and the knowledge graph, each with its source. Only what fits is shown: the
//! facts most relevant to the stimulus, the latest interactions, and the run's recent exchanges
//! with older ones summarised, so a step's prompt stays small however much the persona knows.

use std::fmt::Write;

use serde_json::Value;
use troupe_shared::domain::Persona;

use super::{prompt::excerpt, text::words};

const FACTS_SHOWN: usize = 6;
const INTERACTIONS_SHOWN: usize = 3;
const EPISODES_VERBATIM: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct Memory {
    episodes: Vec<Episode>,
}

#[derive(Debug, Clone)]
struct Episode {
    heard: String,
    said: String,
    /// The Likert point the persona gave, where the step had one.
    score: Option<u8>,
}

impl Memory {
    pub fn remember(&mut self, heard: &str, said: &str, score: Option<u8>) {
        self.episodes.push(Episode {
            heard: heard.to_owned(),
            said: said.to_owned(),
            score,
        });
    }

    pub fn render(&self, out: &mut String, persona: &Persona, stimulus: &str) {
        let facts = relevant_facts(persona, stimulus);
        let history = &persona.profile.interaction_history;
        if facts.is_empty() && history.is_empty() && self.episodes.is_empty() {
            return;
        }
        out.push_str("<memory>\n");
        for fact in facts {
            let _ = writeln!(out, "Fact: {fact}");
        }
        for item in history.iter().rev().take(INTERACTIONS_SHOWN).rev() {
            let _ = writeln!(out, "Earlier: {}", describe(item, 160));
        }
        let older = self.episodes.len().saturating_sub(EPISODES_VERBATIM);
        if older > 0 {
            let scores: Vec<String> = self.episodes[..older]
                .iter()
                .filter_map(|e| e.score.map(|s| s.to_string()))
                .collect();
            let _ = writeln!(
                out,
                "Earlier in this session you answered {older} times (scores: {}).",
                if scores.is_empty() {
                    "none".to_owned()
                } else {
                    scores.join(", ")
                }
            );
        }
        for e in &self.episodes[older..] {
            let score = e.score.map(|s| format!(" ({s}/5)")).unwrap_or_default();
            let _ = writeln!(
                out,
                "Heard: {} | You said{score}: {}",
                excerpt(&e.heard, 120),
                excerpt(&e.said, 200)
            );
        }
        out.push_str("</memory>\n");
    }
}

/// Enrichment facts and knowledge-graph entries, most relevant to the stimulus first (shared
/// content words; newer first on ties).
fn relevant_facts(persona: &Persona, stimulus: &str) -> Vec<String> {
    let p = &persona.profile;
    let topic = words(stimulus);
    let candidates = p
        .enrichment_sources
        .iter()
        .chain(&p.knowledge_graph.relationships)
        .chain(&p.knowledge_graph.past_properties)
        .map(|v| describe(v, 160));
    let mut scored: Vec<(usize, usize, String)> = candidates
        .enumerate()
        .map(|(i, fact)| (words(&fact).intersection(&topic).count(), i, fact))
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    scored
        .into_iter()
        .take(FACTS_SHOWN)
        .map(|(_, _, fact)| fact)
        .collect()
}

/// A JSON value as one short line: an object's scalar fields as `key: value`, a string as is.
pub fn describe(value: &Value, max: usize) -> String {
    let text = match value {
        Value::Object(fields) => fields
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some(format!("{k}: {s}")),
                Value::Number(n) => Some(format!("{k}: {n}")),
                Value::Bool(b) => Some(format!("{k}: {b}")),
                Value::Array(items) if items.iter().all(|i| !i.is_object()) => Some(format!(
                    "{k}: {}",
                    items
                        .iter()
                        .map(|i| describe(i, 60))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    excerpt(&text, max)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn objects_become_one_line() {
        let fact = json!({"fact": "budget raised to $40M", "source": "call", "date": "2026-03-02", "nested": {"x": 1}});
        assert_eq!(
            describe(&fact, 200),
            "date: 2026-03-02; fact: budget raised to $40M; source: call"
        );
    }

    #[test]
    fn older_episodes_are_summarised() {
        let mut memory = Memory::default();
        for i in 0..6 {
            memory.remember(
                &format!("question {i}"),
                "an answer",
                Some(3 + (i % 2) as u8),
            );
        }
        let persona = Persona {
            id: uuid::Uuid::nil(),
            brokerage_id: uuid::Uuid::nil(),
            agent_id: uuid::Uuid::nil(),
            team_id: None,
            visibility: troupe_shared::domain::Visibility::Private,
            version: 1,
            synthetic: false,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            profile: Default::default(),
        };
        let mut out = String::new();
        memory.render(&mut out, &persona, "pool");
        assert!(out.contains("answered 3 times (scores: 3, 4, 3)"), "{out}");
        assert_eq!(out.matches("Heard:").count(), 3, "{out}");
    }
}
