//! Erasure (GDPR/CCPA): when a persona is deleted, what other records hold of it goes too. Its
//! answers are cut out of past simulations (whose aggregates stay), its id and name out of
//! stored plans, outbox events and webhook deliveries, and the SQLite response cache is emptied
//! (its entries cannot be traced to the personas they were made for). The audit log keeps the
//! persona's id, never its content.

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// What replaces the persona's id and name in what remains.
pub(super) const REDACTED: &str = "[deleted persona]";

/// Removes the persona from `value`: array entries that are its id, or objects about it (their
/// `persona_id` is its id), are dropped; a `persona_id` field that is its id becomes the nil
/// UUID; its id elsewhere, and its name as a word in any text, become [`REDACTED`]. Returns
/// whether anything changed.
pub(super) fn redact(value: &mut Value, id: &str, name: &str) -> bool {
    match value {
        Value::Array(items) => {
            let before = items.len();
            items.retain(|item| !is_about(item, id));
            let mut changed = items.len() != before;
            for item in items {
                changed |= redact(item, id, name);
            }
            changed
        }
        Value::Object(fields) => {
            let mut changed = false;
            for (key, field) in fields.iter_mut() {
                // A field that must hold a UUID (an individual plan's `persona_id`) keeps one:
                // the nil UUID, which names no one, so the record still reads.
                if key == "persona_id" && field.as_str() == Some(id) {
                    *field = Value::String(Uuid::nil().to_string());
                    changed = true;
                    continue;
                }
                changed |= redact(field, id, name);
            }
            changed
        }
        Value::String(text) if text == id => {
            *text = REDACTED.to_owned();
            true
        }
        Value::String(text) => match replace_word(text, name) {
            Some(replaced) => {
                *text = replaced;
                true
            }
            None => false,
        },
        _ => false,
    }
}

fn is_about(item: &Value, id: &str) -> bool {
    item.as_str() == Some(id) || item["persona_id"].as_str() == Some(id)
}

/// `text` with every whole-word occurrence of `name` replaced, if there is one.
fn replace_word(text: &str, name: &str) -> Option<String> {
    // ASCII case folding keeps byte offsets, so positions found in the folded text cut the
    // original.
    let (folded, needle) = (text.to_ascii_lowercase(), name.to_ascii_lowercase());
    if needle.is_empty() || !folded.contains(&needle) {
        return None;
    }
    let is_word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    let mut replaced = false;
    while let Some(found) = folded[from..].find(&needle) {
        let at = from + found;
        let end = at + needle.len();
        let before = text[..at].chars().last();
        let after = text[end..].chars().next();
        out.push_str(&text[from..at]);
        if is_word(before) || is_word(after) {
            out.push_str(&text[at..end]);
        } else {
            out.push_str(REDACTED);
            replaced = true;
        }
        from = end;
    }
    out.push_str(&text[from..]);
    replaced.then_some(out)
}

/// Rows of `(id, document)` to redact.
pub(super) type Documents = Vec<(Uuid, Json<Value>)>;

/// A past simulation to redact: its plan, and its results sealed (or, from earlier releases, in
/// the clear).
#[derive(sqlx::FromRow)]
pub(super) struct StoredRun {
    pub id: Uuid,
    pub plan: Json<Value>,
    pub results: Option<Json<Value>>,
    pub sealed_results: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_go_and_mentions_are_redacted() {
        let id = "0192f3a4-5b6c-7d8e-9f00-112233445566";
        let mut results = json!({
            "summary": "Ben liked the cellar; Bench seating was noted.",
            "raw_responses": [
                { "persona_id": id, "persona_name": "Ben", "answer": "Yes" },
                { "persona_id": "other", "persona_name": "Ada", "answer": "No" }
            ],
            "persona_ids": [id, "other"],
            "subject": id,
            "score": 0.5
        });
        assert!(redact(&mut results, id, "Ben"));
        assert_eq!(
            results,
            json!({
                "summary": "[deleted persona] liked the cellar; Bench seating was noted.",
                "raw_responses": [{ "persona_id": "other", "persona_name": "Ada", "answer": "No" }],
                "persona_ids": ["other"],
                "subject": "[deleted persona]",
                "score": 0.5
            })
        );
        assert!(!redact(&mut results, id, "Ben"), "nothing left to redact");
    }

    #[test]
    fn a_persona_id_field_keeps_a_uuid() {
        let id = "0192f3a4-5b6c-7d8e-9f00-112233445566";
        let mut plan = json!({ "type": "individual", "persona_id": id });
        assert!(redact(&mut plan, id, "Ben"));
        assert_eq!(plan["persona_id"], Uuid::nil().to_string());
    }
}
