//! Persona-aware replies: reads the persona's wants, deal-breakers and budget, and the listing's
//! text, price and modifications, from the tagged sections of Troupe's prompt.

use serde_json::{Value, json};

pub fn reply(prompt: &str) -> Value {
    let persona = section(prompt, "persona");
    let listing = section(prompt, "listing");
    let listing_lower = listing.to_lowercase();
    let wants = list_after(persona, "Wants:");
    let breakers = list_after(persona, "Deal-breakers:");
    let likes: Vec<&str> = wants
        .iter()
        .copied()
        .filter(|w| listing_lower.contains(&w.to_lowercase()))
        .collect();
    let mut dislikes: Vec<String> = breakers
        .iter()
        .filter(|b| listing_lower.contains(&b.to_lowercase()))
        .map(|b| b.to_string())
        .collect();
    let mut score = 2.0
        + if wants.is_empty() {
            1.5
        } else {
            3.0 * likes.len() as f64 / wants.len() as f64
        };
    score -= 2.0 * dislikes.len() as f64;
    let price = amount_after(listing, "Price:");
    let budget_max = persona
        .lines()
        .find_map(|l| l.strip_prefix("Budget:"))
        .and_then(|b| b.split(" to ").nth(1))
        .and_then(parse_amount);
    if let (Some(price), Some(max)) = (price, budget_max)
        && price > max
    {
        score -= 10.0 * (price / max - 1.0);
        dislikes.push("over budget".to_owned());
    }
    let intent = score.round().clamp(1.0, 5.0);
    let effects: Vec<Value> = section(prompt, "modifications")
        .lines()
        .filter_map(|l| l.split_once(". ").map(|(_, m)| m.trim()))
        .map(|m| {
            let m_lower = m.to_lowercase();
            let mentions = |items: &[&str]| {
                items.iter().any(|i| {
                    i.to_lowercase()
                        .split_whitespace()
                        .any(|w| w.len() > 3 && m_lower.contains(w))
                })
            };
            let effect = i64::from(mentions(&wants)) - i64::from(mentions(&breakers));
            json!({ "modification": m, "effect": effect })
        })
        .collect();
    let name = persona
        .lines()
        .find_map(|l| l.strip_prefix("Name: "))
        .unwrap_or("a buyer");
    json!({
        "answer": format!("Speaking as {name}: {} {}",
            if likes.is_empty() { "nothing here speaks to me." } else { "I like what I see." },
            if dislikes.is_empty() { "" } else { "But there are real drawbacks." }),
        "purchase_intent": intent,
        "purchase_probability": ((intent - 1.0) / 4.0 * 0.9),
        "willingness_to_pay": price.filter(|_| intent >= 3.0).map(|p| p * (0.8 + 0.05 * intent)),
        "likes": likes,
        "dislikes": dislikes,
        "modification_effects": effects,
    })
}

/// The body of the last `<tag>…</tag>` (the system prompt names the tags before they are used).
fn section<'a>(prompt: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    prompt
        .rfind(&open)
        .and_then(|start| {
            let body = &prompt[start + open.len()..];
            body.find(&close).map(|end| &body[..end])
        })
        .unwrap_or("")
}

fn list_after<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|rest| {
            rest.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn amount_after(text: &str, label: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .and_then(parse_amount)
}

fn parse_amount(text: &str) -> Option<f64> {
    let digits: String = text
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse().ok()
}

/// A 64-dimensional unit vector: each lower-cased word adds to the dimension its hash picks.
pub fn embedding(text: &str) -> Vec<f32> {
    use std::hash::{Hash, Hasher};
    let mut vector = vec![0f32; 64];
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        word.to_lowercase().hash(&mut hasher);
        vector[(hasher.finish() % 64) as usize] += 1.0;
    }
    let norm = vector
        .iter()
        .map(|v| v * v)
        .sum::<f32>()
        .sqrt()
        .max(f32::EPSILON);
    vector.iter().map(|v| v / norm).collect()
}
