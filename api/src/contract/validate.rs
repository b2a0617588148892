//! Checks a JSON value against the OpenAPI 3.0 schemas poem-openapi publishes, and says what is
//! wrong in words a person reads: each violation names its place by JSON pointer
//! (`/simulation_params/num_agents`) and the rule (`must be between 1 and 200`), never a parser's
//! type name. An unknown member is a violation, with the field the caller probably meant.

use serde_json::{Map, Value};

/// One thing wrong with a request body.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// An RFC 6901 JSON pointer into the body (`""` for the body itself).
    pub pointer: String,
    pub detail: String,
}

/// The schemas of one document, for checking values against them.
pub struct Schemas<'a> {
    components: &'a Map<String, Value>,
}

/// How deep `$ref`s and nesting are followed; poem's schemas are far shallower.
const MAX_DEPTH: usize = 32;

impl<'a> Schemas<'a> {
    pub fn new(spec: &'a Value) -> Self {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let components = spec
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        Schemas { components }
    }

    /// Every violation of `schema` in `value`, in document order.
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        self.visit(schema, value, "", 0, &mut out);
        out
    }

    fn resolve<'v>(&'v self, schema: &'v Value) -> &'v Value {
        let mut current = schema;
        for _ in 0..MAX_DEPTH {
            match current["$ref"].as_str() {
                Some(reference) => {
                    let name = reference.trim_start_matches("#/components/schemas/");
                    match self.components.get(name) {
                        Some(target) => current = target,
                        None => return current,
                    }
                }
                None => return current,
            }
        }
        current
    }

    /// The parts of a schema that say something about the value: itself and its `allOf`s,
    /// references followed (poem wraps a `$ref` in `allOf` to add a default or description).
    fn parts<'v>(&'v self, schema: &'v Value) -> Vec<&'v Value> {
        let mut parts = Vec::new();
        let mut pending = vec![(schema, 0)];
        while let Some((part, depth)) = pending.pop() {
            let part = self.resolve(part);
            parts.push(part);
            if depth < MAX_DEPTH {
                for inner in part["allOf"].as_array().into_iter().flatten() {
                    pending.push((inner, depth + 1));
                }
            }
        }
        parts
    }

    fn visit<'v>(
        &'v self,
        schema: &'v Value,
        value: &Value,
        pointer: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        let parts = self.parts(schema);
        let say = |detail: String| Violation {
            pointer: pointer.to_owned(),
            detail: format!("{} {detail}", place(pointer)),
        };
        if let Some(choices) = parts
            .iter()
            .find_map(|p| p["oneOf"].as_array().or(p["anyOf"].as_array()))
        {
            self.one_of(&parts, choices, value, pointer, depth, out);
            return;
        }
        if let Some(allowed) = parts.iter().find_map(|p| p["enum"].as_array()) {
            if !allowed.contains(value) {
                out.push(say(not_one_of(allowed, value)));
            }
            return;
        }
        let Some(kind) = parts.iter().find_map(|p| p["type"].as_str()) else {
            return; // any JSON value
        };
        if !is_kind(kind, value) {
            out.push(say(format!(
                "must be {}, not {}",
                noun(kind, &parts),
                describe(value)
            )));
            return;
        }
        match value {
            Value::Object(members) => self.object(&parts, members, pointer, depth, out),
            Value::Array(items) => {
                if let Some(detail) = count_rule(&parts, items.len()) {
                    out.push(say(detail));
                }
                if let Some(item) = parts.iter().find_map(|p| p.get("items")) {
                    for (i, element) in items.iter().enumerate() {
                        self.visit(item, element, &format!("{pointer}/{i}"), depth + 1, out);
                    }
                }
            }
            Value::String(text) => {
                if let Some(detail) = string_rule(&parts, text) {
                    out.push(say(detail));
                }
            }
            Value::Number(_) => {
                if let Some(detail) = number_rule(&parts, kind, value) {
                    out.push(say(detail));
                }
            }
            _ => {}
        }
    }

    fn object<'v>(
        &'v self,
        parts: &[&'v Value],
        members: &Map<String, Value>,
        pointer: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let mut properties: Vec<(&String, &Value)> = Vec::new();
        let mut required: Vec<&str> = Vec::new();
        let mut declares_members = false;
        for part in parts {
            if let Some(declared) = part["properties"].as_object() {
                declares_members = true;
                properties.extend(declared.iter());
            }
            required.extend(
                part["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            );
            if part.get("additionalProperties").is_some() {
                declares_members = false;
            }
        }
        for name in &required {
            if !members.contains_key(*name) || members[*name].is_null() {
                let at = format!("{pointer}/{}", escape(name));
                out.push(Violation {
                    detail: format!("{} is required", place(&at)),
                    pointer: at,
                });
            }
        }
        for (name, member) in members {
            let at = format!("{pointer}/{}", escape(name));
            match properties.iter().find(|(declared, _)| *declared == name) {
                // An optional member may be null: the same as leaving it out.
                Some(_) if member.is_null() => {}
                Some((_, schema)) => self.visit(schema, member, &at, depth + 1, out),
                None if declares_members => {
                    let names: Vec<&str> = properties.iter().map(|(n, _)| n.as_str()).collect();
                    let nested = self
                        .nested(&properties, name, 0)
                        .map(|path| format!("{pointer}{path}"));
                    out.push(Violation {
                        detail: unknown_member(&at, name, &names, nested.as_deref(), parts),
                        pointer: at,
                    });
                }
                None => {}
            }
        }
    }

    /// Where a member called `name` lives inside these properties' objects (`/preferences/budget`
    /// for `budget` on a persona), nearest first.
    fn nested(&self, properties: &[(&String, &Value)], name: &str, depth: usize) -> Option<String> {
        if depth >= 3 {
            return None;
        }
        let objects: Vec<(&String, Vec<(&String, &Value)>)> = properties
            .iter()
            .map(|(field, schema)| {
                let inner = self
                    .parts(schema)
                    .into_iter()
                    .filter_map(|p| p["properties"].as_object())
                    .flat_map(|m| m.iter())
                    .collect();
                (*field, inner)
            })
            .collect();
        for (field, inner) in &objects {
            if inner.iter().any(|(n, _)| *n == name) {
                return Some(format!("/{}/{}", escape(field), escape(name)));
            }
        }
        objects.iter().find_map(|(field, inner)| {
            self.nested(inner, name, depth + 1)
                .map(|rest| format!("/{}{rest}", escape(field)))
        })
    }

    /// A value that must match one of several shapes: the discriminator's, or the first that
    /// fits; when none does, the violations of the closest.
    fn one_of<'v>(
        &'v self,
        parts: &[&'v Value],
        choices: &'v [Value],
        value: &Value,
        pointer: &str,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let Some(discriminator) = parts.iter().find_map(|p| p.get("discriminator")) {
            let property = discriminator["propertyName"].as_str().unwrap_or("type");
            let mapping = discriminator["mapping"].as_object();
            let tag = value.get(property).and_then(Value::as_str);
            let chosen = tag.and_then(|tag| mapping?.get(tag)).map(json_ref);
            match chosen {
                Some(schema) => {
                    // The tag is the discriminator's: a branch that does not declare it (poem
                    // wraps input unions' branches in one that does) must not see it.
                    let declared = self
                        .parts(&schema)
                        .iter()
                        .any(|part| part["properties"].get(property).is_some());
                    let mut rest = value.clone();
                    if let (false, Some(members)) = (declared, rest.as_object_mut()) {
                        members.remove(property);
                    }
                    self.visit(&schema, &rest, pointer, depth + 1, out);
                }
                None => {
                    let allowed: Vec<Value> = mapping
                        .map(|m| m.keys().map(|k| Value::String(k.clone())).collect())
                        .unwrap_or_default();
                    let at = format!("{pointer}/{}", escape(property));
                    let got = value.get(property).cloned().unwrap_or(Value::Null);
                    out.push(Violation {
                        detail: format!("{} {}", place(&at), not_one_of(&allowed, &got)),
                        pointer: at,
                    });
                }
            }
            return;
        }
        let mut closest: Option<Vec<Violation>> = None;
        for choice in choices {
            let found = {
                let mut found = Vec::new();
                self.visit(choice, value, pointer, depth + 1, &mut found);
                found
            };
            if found.is_empty() {
                return;
            }
            if closest.as_ref().is_none_or(|c| found.len() < c.len()) {
                closest = Some(found);
            }
        }
        out.extend(closest.unwrap_or_default());
    }
}

/// A `$ref` string as a schema that refers to it.
fn json_ref(reference: &Value) -> Value {
    serde_json::json!({ "$ref": reference })
}

/// How a pointer is named in a sentence.
fn place(pointer: &str) -> String {
    if pointer.is_empty() {
        "the body".to_owned()
    } else {
        format!("`{pointer}`")
    }
}

/// RFC 6901: `~` and `/` in a member name.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn is_kind(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    }
}

/// What a schema's type is called in a sentence.
fn noun(kind: &str, parts: &[&Value]) -> String {
    let format = parts.iter().find_map(|p| p["format"].as_str());
    match (kind, format) {
        ("string", Some("uuid")) => "an id (a UUID as text)".into(),
        ("string", Some("date-time")) => "a date and time as text (RFC 3339)".into(),
        ("string", Some("date")) => "a date as text (YYYY-MM-DD)".into(),
        ("string", _) => "text".into(),
        ("integer", _) => "a whole number".into(),
        ("number", _) => "a number".into(),
        ("boolean", _) => "true or false".into(),
        ("array", _) => "a list".into(),
        ("object", _) => "an object".into(),
        (other, _) => format!("a {other}"),
    }
}

/// What a value is, in a sentence.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => format!("the fraction {n}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {}", quote(s)),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn quote(text: &str) -> String {
    let short: String = text.chars().take(60).collect();
    let more = if short.len() < text.len() { "…" } else { "" };
    format!("\"{short}{more}\"")
}

fn not_one_of(allowed: &[Value], got: &Value) -> String {
    let names: Vec<String> = allowed
        .iter()
        .map(|v| {
            format!(
                "`{}`",
                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
            )
        })
        .collect();
    let mut detail = format!("must be one of {}, not {}", names.join(", "), describe(got));
    if let Some(text) = got.as_str() {
        let folded = text.trim().to_lowercase().replace([' ', '-'], "_");
        if let Some(hit) = allowed
            .iter()
            .filter_map(Value::as_str)
            .find(|a| **a == folded)
        {
            detail.push_str(&format!(" (did you mean `{hit}`?)"));
        }
    }
    detail
}

fn number_of<'v>(parts: &[&'v Value], key: &str) -> Option<&'v Value> {
    parts
        .iter()
        .find_map(|p| p.get(key))
        .filter(|v| v.is_number())
}

/// `min`–`max` with the plain words for a count of things.
fn range_words(min: Option<f64>, max: Option<f64>, unit: &str) -> Option<String> {
    let n = |v: f64| format!("{v}");
    match (min, max) {
        (Some(min), Some(max)) if min == max => Some(format!("exactly {} {unit}", n(min))),
        (Some(min), Some(max)) => Some(format!("{} to {} {unit}", n(min), n(max))),
        (Some(min), None) => Some(format!("at least {} {unit}", n(min))),
        (None, Some(max)) => Some(format!("at most {} {unit}", n(max))),
        (None, None) => None,
    }
}

fn count_rule(parts: &[&Value], len: usize) -> Option<String> {
    let min = number_of(parts, "minItems").and_then(Value::as_f64);
    let max = number_of(parts, "maxItems").and_then(Value::as_f64);
    let len = len as f64;
    let broken = min.is_some_and(|m| len < m) || max.is_some_and(|m| len > m);
    broken.then(|| {
        let words = range_words(min, max, "items").unwrap_or_default();
        format!("must hold {words}, not {len}")
    })
}

fn string_rule(parts: &[&Value], text: &str) -> Option<String> {
    let chars = text.chars().count() as f64;
    let min = number_of(parts, "minLength").and_then(Value::as_f64);
    let max = number_of(parts, "maxLength").and_then(Value::as_f64);
    if min.is_some_and(|m| chars < m) || max.is_some_and(|m| chars > m) {
        if min == Some(1.0) && max.is_none() || chars == 0.0 && min == Some(1.0) {
            return Some("must not be empty".into());
        }
        let words = range_words(min, max, "characters").unwrap_or_default();
        return Some(format!("must be {words} long, not {chars}"));
    }
    let format = parts.iter().find_map(|p| p["format"].as_str());
    let well_formed = match format {
        Some("uuid") => uuid::Uuid::try_parse(text).is_ok(),
        Some("date-time") => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
        Some("date") => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        _ => true,
    };
    if !well_formed {
        let kind = noun("string", parts);
        return Some(format!(
            "must be {kind}, not {}",
            describe(&Value::String(text.into()))
        ));
    }
    if let Some(pattern) = parts.iter().find_map(|p| p["pattern"].as_str())
        && let Ok(re) = regex::Regex::new(pattern)
        && !re.is_match(text)
    {
        return Some(format!(
            "must match the pattern `{pattern}`, not {}",
            quote(text)
        ));
    }
    None
}

fn number_rule(parts: &[&Value], kind: &str, value: &Value) -> Option<String> {
    let x = value.as_f64()?;
    let format = parts.iter().find_map(|p| p["format"].as_str());
    // poem's unsigned formats reject what does not fit: say it in the schema's terms.
    let (floor, ceiling) = match format {
        Some("uint32") => (Some(0.0), Some(f64::from(u32::MAX))),
        Some("uint64" | "uint") => (Some(0.0), None),
        Some("int32") => (Some(f64::from(i32::MIN)), Some(f64::from(i32::MAX))),
        _ => (None, None),
    };
    let min = number_of(parts, "minimum")
        .and_then(Value::as_f64)
        .or(floor);
    let max = number_of(parts, "maximum")
        .and_then(Value::as_f64)
        .or(ceiling);
    let exclusive_min = parts.iter().any(|p| p["exclusiveMinimum"] == true);
    let exclusive_max = parts.iter().any(|p| p["exclusiveMaximum"] == true);
    let below = min.is_some_and(|m| if exclusive_min { x <= m } else { x < m });
    let above = max.is_some_and(|m| if exclusive_max { x >= m } else { x > m });
    if !(below || above) {
        return None;
    }
    let n = |v: f64| {
        if kind == "integer" || v.fract() == 0.0 && v.abs() < 1e15 {
            format!("{}", v as i64)
        } else {
            format!("{v}")
        }
    };
    let rule = match (min, max) {
        (Some(lo), Some(hi)) if !exclusive_min && !exclusive_max => {
            format!("must be between {} and {}", n(lo), n(hi))
        }
        (Some(lo), Some(hi)) => format!(
            "must be {} {} and {} {}",
            if exclusive_min {
                "more than"
            } else {
                "at least"
            },
            n(lo),
            if exclusive_max {
                "less than"
            } else {
                "at most"
            },
            n(hi)
        ),
        (Some(lo), None) if exclusive_min => format!("must be more than {}", n(lo)),
        (Some(lo), None) => format!("must be at least {}", n(lo)),
        (None, Some(hi)) if exclusive_max => format!("must be less than {}", n(hi)),
        (None, Some(hi)) => format!("must be at most {}", n(hi)),
        (None, None) => return None,
    };
    Some(format!("{rule}, not {value}"))
}

/// `"budget" is not a field of a persona; did you mean …?`
fn unknown_member(
    at: &str,
    name: &str,
    known: &[&str],
    nested: Option<&str>,
    parts: &[&Value],
) -> String {
    let owner = parts
        .iter()
        .find_map(|p| p["title"].as_str())
        .map(|title| format!(" of {}", with_article(&words_of(title))))
        .unwrap_or_default();
    // A near spelling, or a field with the name as one of its words (`agents` → `num_agents`),
    // words compared without a plural `s` (`events` → `event_types`).
    let stem = |w: &str| w.strip_suffix('s').unwrap_or(w).to_owned();
    let words_of_field = |k: &str| {
        k.split('_').any(|w| stem(w) == stem(name)) || name.split('_').any(|w| stem(w) == stem(k))
    };
    let near = known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(k, name), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) || words_of_field(k))
        .min();
    let hint = match (nested, near) {
        (Some(path), _) => format!("; did you mean `{path}`?"),
        (None, Some((_, k))) => format!("; did you mean `{}`?", sibling(at, k)),
        (None, None) if known.is_empty() => String::new(),
        (None, None) => {
            let mut listed: Vec<&str> = known.to_vec();
            listed.sort_unstable();
            format!(
                "; it has {}",
                listed
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    format!("`{at}` is not a field{owner}{hint}")
}

/// The pointer of another member of the same object.
fn sibling(at: &str, name: &str) -> String {
    let parent = &at[..at.rfind('/').unwrap_or(0)];
    format!("{parent}/{}", escape(name))
}

/// `FocusGroupRequest` → `focus group request`; an `In` suffix (a request body) is dropped.
fn words_of(title: &str) -> String {
    let title = title.strip_suffix("In").unwrap_or(title);
    let mut words = String::new();
    for (i, c) in title.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    words
}

fn with_article(noun: &str) -> String {
    let plural = noun.ends_with('s') && !noun.ends_with("ss");
    match noun.chars().next() {
        _ if plural => noun.to_owned(),
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {noun}"),
        _ => format!("a {noun}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec() -> Value {
        json!({ "components": { "schemas": {
            "PersonaIn": { "type": "object", "title": "PersonaIn", "required": ["name"], "properties": {
                "name": { "type": "string", "minLength": 1, "maxLength": 200 },
                "preferences": { "allOf": [{ "$ref": "#/components/schemas/Preferences" }, { "default": {} }] },
                "visibility": { "$ref": "#/components/schemas/Visibility" },
                "notes": {}
            } },
            "Preferences": { "type": "object", "title": "Preferences", "properties": {
                "budget": { "type": "object", "properties": { "max": { "type": "number", "minimum": 0.0 } } },
                "features": { "type": "array", "maxItems": 2, "items": { "type": "string" } }
            } },
            "Visibility": { "type": "string", "enum": ["private", "team", "brokerage"] },
            "Params": { "type": "object", "title": "SimulationParams", "properties": {
                "num_agents": { "type": "integer", "format": "uint32", "minimum": 1.0, "maximum": 200.0 },
                "id": { "type": "string", "format": "uuid" }
            } }
        } } })
    }

    fn check(schema: &str, value: Value) -> Vec<(String, String)> {
        let spec = spec();
        let schemas = Schemas::new(&spec);
        let schema = json!({ "$ref": format!("#/components/schemas/{schema}") });
        schemas
            .check(&schema, &value)
            .into_iter()
            .map(|v| (v.pointer, v.detail))
            .collect()
    }

    #[test]
    fn a_valid_body_passes_and_free_form_members_take_anything() {
        let body = json!({ "name": "Ada", "preferences": { "features": ["pool"] }, "notes": { "any": [1] }, "visibility": null });
        assert_eq!(check("PersonaIn", body), vec![]);
    }

    #[test]
    fn an_unknown_member_is_named_with_the_field_meant() {
        let found = check(
            "PersonaIn",
            json!({ "name": "Ada", "preferences": { "budjet": {} } }),
        );
        assert_eq!(
            found,
            vec![(
                "/preferences/budjet".into(),
                "`/preferences/budjet` is not a field of preferences; did you mean `/preferences/budget`?".into()
            )]
        );
        let found = check(
            "PersonaIn",
            json!({ "name": "Ada", "budget": { "max": 1 } }),
        );
        assert_eq!(
            found[0].1,
            "`/budget` is not a field of a persona; did you mean `/preferences/budget`?"
        );
        let found = check("PersonaIn", json!({ "name": "Ada", "colour": "blue" }));
        assert_eq!(
            found[0].1,
            "`/colour` is not a field of a persona; it has `name`, `notes`, `preferences`, `visibility`"
        );
    }

    #[test]
    fn rules_are_said_in_plain_words() {
        let found = check("Params", json!({ "num_agents": 1001, "id": "abc" }));
        assert_eq!(
            found,
            vec![
                (
                    "/id".into(),
                    "`/id` must be an id (a UUID as text), not the text \"abc\"".into()
                ),
                (
                    "/num_agents".into(),
                    "`/num_agents` must be between 1 and 200, not 1001".into()
                ),
            ]
        );
        let found = check("Params", json!({ "num_agents": "ten" }));
        assert_eq!(
            found[0].1,
            "`/num_agents` must be a whole number, not the text \"ten\""
        );
        let found = check(
            "PersonaIn",
            json!({ "name": "", "visibility": "Team", "preferences": { "features": ["a", "b", "c"], "budget": { "max": -1 } } }),
        );
        let details: Vec<&str> = found.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(
            details,
            [
                "`/name` must not be empty",
                "`/preferences/budget/max` must be at least 0, not -1",
                "`/preferences/features` must hold at most 2 items, not 3",
                "`/visibility` must be one of `private`, `team`, `brokerage`, not the text \"Team\" (did you mean `team`?)",
            ]
        );
    }

    #[test]
    fn a_missing_required_member_is_named() {
        assert_eq!(
            check("PersonaIn", json!({})),
            vec![("/name".into(), "`/name` is required".into())]
        );
        assert_eq!(
            check("PersonaIn", json!([]))[0].1,
            "the body must be an object, not a list"
        );
    }
}
