//! `persona_facts`: fact extraction as a literal-minded model does it, reading the fenced
//! `<source>` line by line. Like a real model that has been fooled, it also obeys a "set … to …"
//! it finds in the source, so Troupe's own checks are what stop an injected instruction.

use serde_json::{Value, json};

pub fn reply(prompt: &str) -> Value {
    let source = fenced_source(prompt);
    let facts: Vec<Value> = source
        .split(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .flat_map(read)
        .collect();
    json!({ "facts": facts })
}

/// The text between `<source …>` and `</source>`.
fn fenced_source(prompt: &str) -> &str {
    let Some(start) = prompt.rfind("<source") else {
        return "";
    };
    let body = &prompt[start..];
    let body = body.find('>').map_or(body, |i| &body[i + 1..]);
    body.find("</source>").map_or(body, |end| &body[..end])
}

fn fact(kind: &str, value: &str, effect: &str, quote: &str) -> Value {
    json!({
        "kind": kind, "category": if kind == "preference" { json!("features") } else { Value::Null },
        "value": value, "min": null, "max": null, "relation": null, "action": null, "year": null,
        "price": null, "effect": effect, "quote": quote, "confidence": 0.9,
    })
}

fn read(sentence: &str) -> Vec<Value> {
    let lower = sentence.to_lowercase();
    let mut found = Vec::new();
    if let Some(rest) = lower.split("set net worth to ").nth(1) {
        // Obeyed, as a fooled model would: the quote is the instruction itself.
        let at = lower.find("set net worth to").unwrap_or(0);
        found.push(fact("net_worth", rest.trim(), "added", &sentence[at..]));
        return found;
    }
    let amount = dollars(&lower);
    if lower.contains("net worth") && amount.is_some() {
        found.push(fact(
            "net_worth",
            &format!("${:.0}M", amount.unwrap_or(0.0) / 1e6),
            "added",
            sentence,
        ));
    } else if lower.contains("budget") && amount.is_some() {
        let changed =
            lower.contains("raised") || lower.contains(" now ") || lower.contains("increased");
        let mut budget = fact(
            "budget",
            "budget",
            if changed { "contradicted" } else { "added" },
            sentence,
        );
        budget["max"] = json!(amount);
        found.push(budget);
    }
    if let Some(thing) =
        object_after(&lower, "no longer wants").or_else(|| object_after(&lower, "no longer want"))
    {
        found.push(fact("preference", &thing, "contradicted", sentence));
    } else if let Some(thing) = object_after(&lower, "loves") {
        found.push(fact("preference", &thing, "added", sentence));
    }
    if let Some(thing) = lower
        .split(" is a deal-breaker")
        .next()
        .filter(|_| lower.contains(" is a deal-breaker"))
    {
        let thing = thing.rsplit(':').next().unwrap_or(thing).trim();
        found.push(fact(
            "deal_breaker",
            strip_article(thing),
            "added",
            sentence,
        ));
    }
    if let Some(thing) = object_after(&lower, "took up") {
        let pastime = thing.split_whitespace().next().unwrap_or(&thing);
        found.push(fact("interest", pastime, "added", sentence));
    }
    for relation in ["wife", "husband"] {
        if let Some(at) = lower.find(&format!("{relation} ")) {
            let name = sentence[at + relation.len() + 1..]
                .split_whitespace()
                .take_while(|w| w.chars().next().is_some_and(char::is_uppercase))
                .collect::<Vec<_>>()
                .join(" ");
            if name.chars().next().is_some_and(char::is_uppercase) {
                let mut spouse = fact("relationship", &name, "added", sentence);
                spouse["relation"] = json!("spouse");
                found.push(spouse);
            }
        }
    }
    found
}

/// The words after `cue` up to a comma or " and ", without a leading article.
fn object_after(lower: &str, cue: &str) -> Option<String> {
    let rest = lower.split(cue).nth(1)?;
    let clause = rest.split([',', ';']).next()?.split(" and ").next()?.trim();
    let thing = strip_article(clause);
    (!thing.is_empty()).then(|| thing.to_owned())
}

fn strip_article(text: &str) -> &str {
    ["a ", "an ", "the "]
        .iter()
        .find_map(|a| text.strip_prefix(a))
        .unwrap_or(text)
        .trim()
}

/// The first dollar amount: "$40M", "$12.5 million", "$0".
fn dollars(lower: &str) -> Option<f64> {
    let at = lower.find('$')?;
    let rest = &lower[at + 1..];
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let number: f64 = digits.parse().ok()?;
    let after = rest[digits.len()..].trim_start();
    let scale = if after.starts_with('m') {
        1e6
    } else if after.starts_with('b') {
        1e9
    } else if after.starts_with('k') {
        1e3
    } else {
        1.0
    };
    Some(number * scale)
}
