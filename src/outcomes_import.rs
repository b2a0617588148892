//! `troupe outcomes import`: outcomes from a CSV file (a campaign export, a showing log, a CRM's
//! activities) recorded through the API, so the same rules, visibility and audit hold as for any
//! other caller. Every line is either recorded or refused with its line number and reason.
//!
//! The file has a header row naming the columns below; a cell left empty is a field left out. A
//! row's `type` (or `--type` for files of one kind) says which columns apply to it.

use std::{collections::HashMap, io::Read};

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Map, Value, json};
use troupe_shared::domain::OutcomeIn;

use crate::client::ApiClient;

/// How a column's cells are read.
#[derive(Clone, Copy)]
enum Cell {
    Text,
    Integer,
    Number,
    Boolean,
}

/// Every column a file may have: its JSON field, how it is read, and the outcome types it
/// applies to (`None`: all of them).
const COLUMNS: &[(&str, Cell, Option<&[&str]>)] = &[
    ("type", Cell::Text, None),
    ("occurred_on", Cell::Text, None),
    ("external_id", Cell::Text, None),
    (
        "property_id",
        Cell::Text,
        Some(&["showing", "offer", "sale"]),
    ),
    (
        "persona_id",
        Cell::Text,
        Some(&["showing", "offer", "outreach"]),
    ),
    (
        "simulation_id",
        Cell::Text,
        Some(&["campaign", "outreach", "scenario"]),
    ),
    ("reaction", Cell::Integer, Some(&["showing"])),
    ("comment", Cell::Text, Some(&["showing"])),
    ("amount", Cell::Number, Some(&["offer"])),
    ("price", Cell::Number, Some(&["sale"])),
    ("buyer_persona_id", Cell::Text, Some(&["sale"])),
    ("days_on_market", Cell::Integer, Some(&["sale"])),
    ("material", Cell::Text, Some(&["campaign"])),
    ("channel", Cell::Text, Some(&["campaign"])),
    ("segment", Cell::Text, Some(&["campaign"])),
    ("sent", Cell::Integer, Some(&["campaign"])),
    ("opened", Cell::Integer, Some(&["campaign"])),
    ("clicked", Cell::Integer, Some(&["campaign"])),
    ("replied", Cell::Integer, Some(&["campaign"])),
    ("variant", Cell::Text, Some(&["outreach"])),
    ("responded_at_touch", Cell::Integer, Some(&["outreach"])),
    ("positive", Cell::Boolean, Some(&["scenario"])),
    ("interest", Cell::Integer, Some(&["scenario"])),
];

/// Outcomes per batch request (the API takes up to 1,000).
const BATCH: usize = 500;

/// What an import did.
#[derive(Debug, Default)]
pub struct Imported {
    pub rows: usize,
    pub recorded: usize,
    /// Recorded before under the same external id (a re-run of the same file).
    pub already: usize,
    /// (line, why), in file order.
    pub refused: Vec<(u64, String)>,
}

impl Imported {
    /// The report printed after an import.
    pub fn report(&self, file: &str) -> String {
        let rows = if self.rows == 1 { "row" } else { "rows" };
        let mut out = format!(
            "{file}: {} {rows} — {} recorded, {} recorded before under their external ids, {} refused",
            self.rows,
            self.recorded,
            self.already,
            self.refused.len()
        );
        for (line, why) in &self.refused {
            out.push_str(&format!("\n  line {line}: {why}"));
        }
        out
    }
}

/// Reads `input` as CSV and records its outcomes through `api`; `default_type` fills rows
/// without a `type`. Fails only when the file cannot be read as a whole (no header, an unknown
/// column); a bad row is refused and the rest recorded.
pub async fn import(
    api: &ApiClient,
    input: impl Read,
    default_type: Option<&str>,
) -> anyhow::Result<Imported> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let header: Vec<String> = reader
        .headers()
        .context("reading the header row")?
        .iter()
        .map(str::to_owned)
        .collect();
    let columns = header
        .iter()
        .map(|name| {
            COLUMNS
                .iter()
                .find(|(known, ..)| known == name)
                .copied()
                .ok_or_else(|| {
                    let known: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
                    anyhow::anyhow!(
                        "unknown column {name:?}; the columns are {}",
                        known.join(", ")
                    )
                })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if default_type.is_none() && !header.iter().any(|h| h == "type") {
        bail!("the file has no `type` column: add one, or pass --type for a file of one kind");
    }
    let mut imported = Imported::default();
    let mut valid: Vec<(u64, Value)> = Vec::new();
    for record in reader.records() {
        imported.rows += 1;
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                imported.refused.push((line, format!("not a CSV row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        match outcome(&columns, &record, default_type) {
            Ok(outcome) => valid.push((line, outcome)),
            Err(why) => imported.refused.push((line, why)),
        }
    }
    for chunk in valid.chunks(BATCH) {
        record(api, chunk, &mut imported).await?;
    }
    imported.refused.sort_by_key(|(line, _)| *line);
    Ok(imported)
}

/// One row as the API's outcome, or why it cannot be one.
fn outcome(
    columns: &[(&str, Cell, Option<&[&str]>)],
    record: &csv::StringRecord,
    default_type: Option<&str>,
) -> Result<Value, String> {
    let cells: HashMap<&str, (&str, Cell, Option<&[&str]>)> = columns
        .iter()
        .zip(record.iter())
        .filter(|(_, value)| !value.is_empty())
        .map(|(&(name, cell, applies), value)| (name, (value, cell, applies)))
        .collect();
    let kind = cells
        .get("type")
        .map(|c| c.0)
        .or(default_type)
        .ok_or("`type` is empty")?;
    let mut fields = Map::new();
    for (name, (value, cell, applies)) in &cells {
        if applies.is_some_and(|types| !types.contains(&kind)) {
            return Err(format!("`{name}` does not apply to `{kind}` outcomes"));
        }
        let bad = |what: &str| format!("`{name}` is {value:?}, not {what}");
        let json = match cell {
            Cell::Text => json!(value),
            Cell::Integer => json!(value.parse::<u64>().map_err(|_| bad("a whole number"))?),
            Cell::Number => json!(value.parse::<f64>().map_err(|_| bad("a number"))?),
            Cell::Boolean => json!(match value.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => true,
                "false" | "no" | "0" => false,
                _ => return Err(bad("true or false")),
            }),
        };
        fields.insert((*name).to_owned(), json);
    }
    fields.insert("type".into(), json!(kind));
    let outcome = Value::Object(fields);
    // The API would say the same; saying it here names the line without a round trip.
    serde_json::from_value::<OutcomeIn>(outcome.clone()).map_err(|e| e.to_string())?;
    Ok(outcome)
}

/// Records a chunk in one batch; when the API refuses the batch (all or nothing), each outcome
/// is sent alone so that every bad line is named and every good one recorded.
async fn record(
    api: &ApiClient,
    chunk: &[(u64, Value)],
    imported: &mut Imported,
) -> anyhow::Result<()> {
    let outcomes: Vec<&Value> = chunk.iter().map(|(_, o)| o).collect();
    let body = json!({ "outcomes": outcomes });
    let (status, answer) = api
        .send(Method::POST, "/api/v1/outcomes/batch", Some(&body))
        .await?;
    if status.is_success() {
        let created = answer["created"].as_u64().unwrap_or(0) as usize;
        imported.recorded += created;
        imported.already += chunk.len() - created;
        return Ok(());
    }
    if !status.is_client_error() {
        bail!("the API answered {status}: {answer}");
    }
    for (line, outcome) in chunk {
        let (status, answer) = api
            .send(Method::POST, "/api/v1/outcomes", Some(outcome))
            .await?;
        match status.as_u16() {
            201 => imported.recorded += 1,
            200 => imported.already += 1,
            400..=499 => imported.refused.push((*line, problem_text(&answer))),
            _ => bail!("line {line}: the API answered {status}: {answer}"),
        }
    }
    Ok(())
}

/// A problem's detail with each field error's pointer and reason.
fn problem_text(problem: &Value) -> String {
    let errors: Vec<String> = problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let at = e["pointer"].as_str().unwrap_or_default();
                    let detail = e["detail"].as_str().unwrap_or_default();
                    if at.is_empty() || detail.contains(at) {
                        detail.to_owned()
                    } else {
                        format!("{detail} ({at})")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if errors.is_empty() {
        problem["detail"]
            .as_str()
            .map_or_else(|| problem.to_string(), str::to_owned)
    } else {
        errors.join("; ")
    }
}
