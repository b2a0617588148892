//! `POST /api/v1/personas/import`: a client book in from a CRM export, in one request. A CSV
//! (HubSpot's contacts export, Salesforce's Contact export, Troupe's own column names, or a
//! mapping given in the request) or a JSON array of personas. Each row is matched to a stored
//! client by its external id, else by email address, and created, updated or left unchanged, so
//! an import can be repeated; a bad row is reported by line while the good ones load. Columns no
//! field takes are kept as a `public_info` source and the notes column as a note: both are
//! learned from by enrichment, never dropped.

use std::{collections::BTreeMap, sync::Arc};

use poem::web::Data;
use poem_openapi::{
    ApiRequest, Object, OpenApi,
    param::Query,
    payload::{Json, PlainText},
};
use serde_json::{Map, Value, json};
use troupe_shared::{
    auth::Principal,
    domain::{Contact, EnrichmentRequest, Persona},
    duplicates::Book,
    store::{Holder, PersonaFilter},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::ApiKey,
    contract::Contract,
    duplicates::DuplicateWarning,
    enrichment::learn,
    external_ids::{Upserted, upsert_persona},
    problem::ApiError,
    properties::import::RowError,
};

/// Rows one import may carry.
const MAX_ROWS: usize = 5000;

/// What a column of a CSV becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// The record's id in the source system.
    Id,
    Name,
    FirstName,
    LastName,
    Email,
    Phone,
    City,
    Region,
    Country,
    Occupation,
    NetWorth,
    Segment,
    /// Learned from as a note.
    Notes,
    /// Dropped on purpose (a mapping's `ignore`).
    Ignore,
}

impl Field {
    fn parse(name: &str) -> Option<Field> {
        Some(match name {
            "id" | "external_id" => Field::Id,
            "name" => Field::Name,
            "first_name" => Field::FirstName,
            "last_name" => Field::LastName,
            "email" => Field::Email,
            "phone" => Field::Phone,
            "city" => Field::City,
            "region" => Field::Region,
            "country" => Field::Country,
            "occupation" => Field::Occupation,
            "net_worth_range" => Field::NetWorth,
            "segment" => Field::Segment,
            "notes" => Field::Notes,
            "ignore" => Field::Ignore,
            _ => return None,
        })
    }
}

const FIELD_NAMES: &str = "id, name, first_name, last_name, email, phone, city, region, country, \
                           occupation, net_worth_range, segment, notes, ignore";

/// A CRM's export columns (its labels and its API names, compared without case), and the system
/// name its ids are kept under.
struct Preset {
    name: &'static str,
    columns: &'static [(&'static str, Field)],
}

const HUBSPOT: Preset = Preset {
    name: "hubspot",
    columns: &[
        ("Record ID", Field::Id),
        ("hs_object_id", Field::Id),
        ("First Name", Field::FirstName),
        ("firstname", Field::FirstName),
        ("Last Name", Field::LastName),
        ("lastname", Field::LastName),
        ("Email", Field::Email),
        ("Phone Number", Field::Phone),
        ("phone", Field::Phone),
        ("Mobile Phone Number", Field::Phone),
        ("mobilephone", Field::Phone),
        ("City", Field::City),
        ("State/Region", Field::Region),
        ("state", Field::Region),
        ("Country/Region", Field::Country),
        ("country", Field::Country),
        ("Job Title", Field::Occupation),
        ("jobtitle", Field::Occupation),
        ("Notes", Field::Notes),
    ],
};

const SALESFORCE: Preset = Preset {
    name: "salesforce",
    columns: &[
        ("Contact ID", Field::Id),
        ("Id", Field::Id),
        ("Full Name", Field::Name),
        ("Name", Field::Name),
        ("First Name", Field::FirstName),
        ("FirstName", Field::FirstName),
        ("Last Name", Field::LastName),
        ("LastName", Field::LastName),
        ("Email", Field::Email),
        ("Phone", Field::Phone),
        ("Mobile", Field::Phone),
        ("MobilePhone", Field::Phone),
        ("Mailing City", Field::City),
        ("MailingCity", Field::City),
        ("Mailing State/Province", Field::Region),
        ("MailingState", Field::Region),
        ("Mailing Country", Field::Country),
        ("MailingCountry", Field::Country),
        ("Title", Field::Occupation),
        ("Description", Field::Notes),
    ],
};

/// Troupe's own column names: the field names themselves.
const TROUPE: Preset = Preset {
    name: "troupe",
    columns: &[],
};

impl Preset {
    fn field(&self, column: &str) -> Option<Field> {
        if self.name == TROUPE.name {
            return Field::parse(&column.trim().to_lowercase());
        }
        self.columns
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column.trim()))
            .map(|(_, field)| *field)
    }

    /// The preset whose id column the header has: a CRM's export names its record id column.
    fn detect(header: &[String]) -> &'static Preset {
        let has = |names: &[&str]| {
            header
                .iter()
                .any(|h| names.iter().any(|n| n.eq_ignore_ascii_case(h.trim())))
        };
        if has(&["Record ID", "hs_object_id"]) {
            &HUBSPOT
        } else if has(&["Contact ID", "MailingCity", "Mailing City", "OwnerId"]) {
            &SALESFORCE
        } else {
            &TROUPE
        }
    }
}

#[derive(ApiRequest)]
pub enum ImportBody {
    /// An array of personas, each as for `POST /personas` (with `external_ids` and `contact` to
    /// be matched by), and optionally `notes`: text to learn from.
    #[oai(content_type = "application/json")]
    Json(Json<Vec<Value>>),
    /// A header row, then one client per row.
    #[oai(content_type = "text/csv")]
    Csv(PlainText<String>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PersonaImportReport {
    /// The column mapping used: `hubspot`, `salesforce`, `troupe` or `custom`.
    pub(crate) mapping: String,
    /// The system whose ids the rows carry (`external_ids` key), when they carry one.
    pub(crate) source: Option<String>,
    pub(crate) created: u32,
    pub(crate) updated: u32,
    /// Already stored exactly as imported.
    pub(crate) unchanged: u32,
    pub(crate) failed: u32,
    /// Columns no field takes, kept as a `public_info` source of each row's client.
    pub(crate) kept_as_public_info: Vec<String>,
    pub(crate) imported: Vec<ImportedClient>,
    pub(crate) errors: Vec<RowError>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct ImportedClient {
    pub(crate) line: u64,
    pub(crate) persona_id: Uuid,
    pub(crate) name: String,
    /// `created`, `updated` or `unchanged`.
    pub(crate) outcome: String,
    pub(crate) external_id: Option<String>,
    /// The enrichment run learning from the row's notes and other columns (none when there was
    /// nothing new to learn).
    pub(crate) enrichment_id: Option<Uuid>,
    /// Clients you can see who are probably the same person.
    #[oai(default, skip_serializing_if_is_empty)]
    pub(crate) warnings: Vec<DuplicateWarning>,
}

/// One row, ready to store.
struct Row {
    line: u64,
    /// The persona's JSON: only the members the row gives.
    document: Value,
    /// (system, id) the row is matched by first.
    key: Option<(String, String)>,
    public_info: Map<String, Value>,
    notes: Option<String>,
}

pub struct PersonaImportApi;

#[OpenApi(prefix_path = "/personas", tag = "ApiTags::Personas")]
impl PersonaImportApi {
    /// Import clients: a CRM's CSV export or a JSON array of personas, in one request.
    /// `mapping` is `hubspot` (a HubSpot contacts export), `salesforce` (a Salesforce Contact
    /// export), `troupe` (columns named as fields) or `custom` with `columns`; left out, it is
    /// read from the header. Rows match stored clients by external id, then email address:
    /// each is `created`, `updated` (only the fields the row gives change) or `unchanged`, so
    /// the same file can be imported again. Notes columns and the columns no field takes become
    /// sources enrichment learns from. Bad rows are reported by line; the good ones load.
    #[oai(path = "/import", method = "post")]
    #[allow(clippy::too_many_arguments)]
    async fn import(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: ImportBody,
        /// `hubspot`, `salesforce`, `troupe` or `custom`.
        mapping: Query<Option<String>>,
        /// For `custom`: `Column=field` pairs separated by commas, e.g.
        /// `Client=name,E-mail=email,Town=city,Remarks=notes,CRM no.=id`. Fields: id, name,
        /// first_name, last_name, email, phone, city, region, country, occupation,
        /// net_worth_range, segment, notes, ignore.
        #[oai(validator(max_length = 4000))]
        columns: Query<Option<String>>,
        /// The system the rows' ids belong to (the `external_ids` key): the preset's name by
        /// default (`troupe` and `custom` files need it to match by id).
        #[oai(validator(max_length = 40))]
        source: Query<Option<String>>,
        contract: Data<&Arc<Contract>>,
    ) -> Result<Json<PersonaImportReport>, ApiError> {
        let input = match body {
            ImportBody::Csv(PlainText(text)) => Input::Csv {
                text,
                mapping: mapping.0,
                columns: columns.0,
            },
            ImportBody::Json(Json(items)) => {
                if mapping.0.is_some() || columns.0.is_some() {
                    return Err(ApiError::Validation(
                        "`mapping` and `columns` are for CSV; a JSON import takes personas".into(),
                    ));
                }
                Input::Json(items)
            }
        };
        run(&state, &auth.0, &contract, input, source.0)
            .await
            .map(Json)
    }
}

/// What an import reads: a CSV with how to read its columns, or personas as JSON.
pub(crate) enum Input {
    Csv {
        text: String,
        /// `hubspot`, `salesforce`, `troupe`, `custom`, or `None` to read it from the header.
        mapping: Option<String>,
        /// `Column=field,…` for `custom`.
        columns: Option<String>,
    },
    Json(Vec<Value>),
}

/// Imports `input` for `caller`: the API's `POST /personas/import` and the workspace's import
/// page. `source` names the system the rows' ids belong to.
pub(crate) async fn run(
    state: &ApiState,
    caller: &Principal,
    contract: &Contract,
    input: Input,
    source: Option<String>,
) -> Result<PersonaImportReport, ApiError> {
    let (mapping_name, source, kept, rows) = match input {
        Input::Csv {
            text,
            mapping,
            columns,
        } => {
            let (mapping_name, columns) =
                column_fields(&text, mapping.as_deref(), columns.as_deref())?;
            let source = source.or_else(|| {
                ["hubspot", "salesforce"]
                    .contains(&mapping_name.as_str())
                    .then(|| mapping_name.clone())
            });
            let kept = columns
                .iter()
                .filter(|(_, field)| field.is_none())
                .map(|(name, _)| name.clone())
                .collect();
            let rows = csv_rows(&text, &columns, source.as_deref())?;
            (mapping_name, source, kept, rows)
        }
        Input::Json(items) => {
            let rows = json_rows(items, source.as_deref());
            ("troupe".to_owned(), source, Vec::new(), rows)
        }
    };
    if let Some(source) = &source
        && let Some(why) = troupe_shared::domain::source_problem(source)
    {
        return Err(ApiError::Validation(format!("`source`: {why}")));
    }
    if rows.len() > MAX_ROWS {
        return Err(ApiError::Validation(format!(
            "an import carries at most {MAX_ROWS} rows; this one has {}: split it",
            rows.len()
        )));
    }
    let mut report = PersonaImportReport {
        mapping: mapping_name,
        source,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        kept_as_public_info: kept,
        imported: Vec::new(),
        errors: Vec::new(),
    };
    let mut book = Book::new(state.store.book_entries(caller).await?);
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                report.failed += 1;
                report.errors.push(error);
                continue;
            }
        };
        let line = row.line;
        match import_row(state, caller, contract, row, &mut book).await {
            Ok(client) => {
                match client.outcome.as_str() {
                    "created" => report.created += 1,
                    "updated" => report.updated += 1,
                    _ => report.unchanged += 1,
                }
                report.imported.push(client);
            }
            Err(RowFailure::Refused(reason)) => {
                report.failed += 1;
                report.errors.push(RowError { line, reason });
            }
            Err(RowFailure::Fatal(e)) => return Err(e),
        }
    }
    Ok(report)
}

/// Why a row did not load: the row's fault (reported, the import goes on), or the service's (the
/// import stops, answering as any request would).
enum RowFailure {
    Refused(String),
    Fatal(ApiError),
}

impl From<ApiError> for RowFailure {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::InvalidBody(v) | ApiError::BrokenRule(v) => RowFailure::Refused(
                v.iter()
                    .map(|v| v.detail.clone())
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ApiError::Internal(_) | ApiError::Unavailable(_) => RowFailure::Fatal(error),
            refused => RowFailure::Refused(refused.to_string()),
        }
    }
}

async fn import_row(
    state: &ApiState,
    caller: &Principal,
    contract: &Contract,
    row: Row,
    book: &mut Book,
) -> Result<ImportedClient, RowFailure> {
    let existing = match &row.key {
        Some((system, id)) => match state
            .store
            .persona_holder(caller, system, id)
            .await
            .map_err(ApiError::from)?
        {
            Holder::Visible(id) => state
                .store
                .get_persona(caller, id)
                .await
                .map_err(ApiError::from)?,
            Holder::Unseen => {
                return Err(RowFailure::Refused(format!(
                    "the {system} id {id:?} names a client of the brokerage you cannot see"
                )));
            }
            Holder::Deleted => {
                return Err(RowFailure::Refused(format!(
                    "the {system} id {id:?} names a deleted client waiting for erasure; an admin \
                     can restore them, or erase them now to free the id"
                )));
            }
            Holder::Nobody => None,
        },
        None => None,
    };
    let existing = match existing {
        Some(found) => Some(found),
        None => by_email(state, caller, &row.document).await?,
    };
    let done = upsert_persona(state, caller, contract, existing, row.document, book).await?;
    let outcome = done.outcome().to_owned();
    let (persona, warnings) = match done {
        Upserted::Created(persona, warnings) => (persona, warnings),
        Upserted::Updated(persona) | Upserted::Unchanged(persona) => (persona, Vec::new()),
    };
    let enrichment_id =
        learn_from_row(state, caller, persona.id, row.public_info, row.notes).await?;
    Ok(ImportedClient {
        line: row.line,
        persona_id: persona.id,
        name: persona.profile.name,
        outcome,
        external_id: row.key.map(|(_, id)| id),
        enrichment_id,
        warnings,
    })
}

/// The stored client the caller may see with the row's email address.
async fn by_email(
    state: &ApiState,
    caller: &Principal,
    document: &Value,
) -> Result<Option<Persona>, ApiError> {
    let email = document
        .pointer("/contact/email")
        .and_then(Value::as_str)
        .and_then(|email| {
            Contact {
                email: Some(email.to_owned()),
                phone: None,
            }
            .normalised_email()
        });
    let Some(email) = email else {
        return Ok(None);
    };
    let filter = PersonaFilter {
        email: Some(email),
        limit: 1,
        ..PersonaFilter::default()
    };
    Ok(state.store.list_personas(caller, &filter).await?.pop())
}

/// Hands the row's unmapped columns and notes to enrichment; a source learned before is not
/// learned again (`None`).
async fn learn_from_row(
    state: &ApiState,
    caller: &Principal,
    persona_id: Uuid,
    public_info: Map<String, Value>,
    notes: Option<String>,
) -> Result<Option<Uuid>, ApiError> {
    if public_info.is_empty() && notes.is_none() {
        return Ok(None);
    }
    let request = EnrichmentRequest {
        public_info: (!public_info.is_empty()).then_some(Value::Object(public_info)),
        internal_notes: notes,
        ..EnrichmentRequest::default()
    };
    let (run, queued) = learn(state, caller, persona_id, request).await?;
    Ok(queued.then_some(run.id))
}

/// Each column of a CSV's header, and the field it becomes (`None`: kept as public information).
type Columns = Vec<(String, Option<Field>)>;

/// Each column of the header and the field it becomes (`None`: kept as public information),
/// with the mapping's name.
fn column_fields(
    text: &str,
    mapping: Option<&str>,
    columns: Option<&str>,
) -> Result<(String, Columns), ApiError> {
    let header: Vec<String> = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .headers()
        .map_err(|e| ApiError::Validation(format!("the CSV header row cannot be read: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.iter().all(String::is_empty) {
        return Err(ApiError::Validation("the CSV has no header row".into()));
    }
    let custom = match (mapping, columns) {
        (Some("custom"), Some(pairs)) | (None, Some(pairs)) => {
            Some(custom_columns(pairs, &header)?)
        }
        (Some("custom"), None) => {
            return Err(ApiError::Validation(
                "`mapping=custom` needs `columns`: `Column=field` pairs separated by commas".into(),
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::Validation(
                "`columns` goes with `mapping=custom` (or no `mapping`)".into(),
            ));
        }
        _ => None,
    };
    let (name, fields): (String, Vec<Option<Field>>) = match custom {
        Some(custom) => (
            "custom".into(),
            header
                .iter()
                .map(|h| custom.get(&h.to_lowercase()).copied())
                .collect(),
        ),
        None => {
            let preset = match mapping {
                Some("hubspot") => &HUBSPOT,
                Some("salesforce") => &SALESFORCE,
                Some("troupe") => &TROUPE,
                None => Preset::detect(&header),
                Some(other) => {
                    return Err(ApiError::Validation(format!(
                        "`mapping` {other:?} is not one of hubspot, salesforce, troupe, custom"
                    )));
                }
            };
            (
                preset.name.into(),
                header.iter().map(|h| preset.field(h)).collect(),
            )
        }
    };
    let names = |wanted: &[Field]| {
        fields
            .iter()
            .any(|f| f.is_some_and(|f| wanted.contains(&f)))
    };
    if !names(&[
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::Id,
    ]) {
        return Err(ApiError::Validation(format!(
            "with the {name} mapping no column of this file gives a client's name, email or id \
             (its columns: {}); choose `mapping`, or map the columns with `columns` \
             (`Column=field`, fields: {FIELD_NAMES})",
            header.join(", ")
        )));
    }
    Ok((name, header.into_iter().zip(fields).collect()))
}

/// `Column=field,…` as lower-cased column names to fields, each column one in the header.
fn custom_columns(pairs: &str, header: &[String]) -> Result<BTreeMap<String, Field>, ApiError> {
    let mut mapped = BTreeMap::new();
    for pair in pairs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((column, field)) = pair.rsplit_once('=') else {
            return Err(ApiError::Validation(format!(
                "`columns`: {pair:?} is not `Column=field`"
            )));
        };
        let field = Field::parse(field.trim()).ok_or_else(|| {
            ApiError::Validation(format!(
                "`columns`: {:?} is not a field; fields: {FIELD_NAMES}",
                field.trim()
            ))
        })?;
        let column = column.trim().to_lowercase();
        if !header.iter().any(|h| h.to_lowercase() == column) {
            return Err(ApiError::Validation(format!(
                "`columns`: the file has no column {column:?} (its columns: {})",
                header.join(", ")
            )));
        }
        mapped.insert(column, field);
    }
    Ok(mapped)
}

/// Each CSV record as a row, keyed by its line.
fn csv_rows(
    text: &str,
    columns: &Columns,
    source: Option<&str>,
) -> Result<Vec<Result<Row, RowError>>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let cells: Vec<(&(String, Option<Field>), &str)> = columns
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                rows.push(csv_row(line, &cells, source));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                rows.push(Err(RowError {
                    line,
                    reason: format!("unreadable CSV row: {e}"),
                }));
            }
        }
    }
    Ok(rows)
}

/// One record's cells as a persona's JSON (only what it gives), its key and what enrichment
/// learns from.
fn csv_row(
    line: u64,
    cells: &[(&(String, Option<Field>), &str)],
    source: Option<&str>,
) -> Result<Row, RowError> {
    let get = |wanted: Field| {
        cells
            .iter()
            .find(|((_, field), _)| *field == Some(wanted))
            .map(|(_, value)| value.to_string())
    };
    let mut document = Map::new();
    let name = get(Field::Name).or_else(|| {
        let parts: Vec<String> = [get(Field::FirstName), get(Field::LastName)]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    if let Some(name) = name {
        document.insert("name".into(), json!(name));
    }
    let mut contact = Map::new();
    for (field, key) in [(Field::Email, "email"), (Field::Phone, "phone")] {
        if let Some(value) = get(field) {
            contact.insert(key.into(), json!(value));
        }
    }
    if !contact.is_empty() {
        document.insert("contact".into(), Value::Object(contact));
    }
    let mut location = Map::new();
    for (field, key) in [
        (Field::City, "city"),
        (Field::Region, "region"),
        (Field::Country, "country"),
    ] {
        if let Some(value) = get(field) {
            location.insert(key.into(), json!(value));
        }
    }
    let mut demographics = Map::new();
    if !location.is_empty() {
        demographics.insert("location".into(), Value::Object(location));
    }
    for (field, key) in [
        (Field::Occupation, "occupation"),
        (Field::NetWorth, "net_worth_range"),
    ] {
        if let Some(value) = get(field) {
            demographics.insert(key.into(), json!(value));
        }
    }
    if !demographics.is_empty() {
        document.insert("demographics".into(), Value::Object(demographics));
    }
    if let Some(segment) = get(Field::Segment) {
        document.insert("segment".into(), json!(segment));
    }
    let key = match (get(Field::Id), source) {
        (Some(id), Some(source)) => {
            document.insert("external_ids".into(), json!({ source: id }));
            Some((source.to_owned(), id))
        }
        (Some(_), None) => {
            return Err(RowError {
                line,
                reason: "the row has an id but the import names no `source` system to keep it \
                         under; add `source=` to the request"
                    .into(),
            });
        }
        (None, _) => None,
    };
    let public_info: Map<String, Value> = cells
        .iter()
        .filter(|((_, field), _)| field.is_none())
        .map(|((column, _), value)| (column.clone(), json!(value)))
        .collect();
    Ok(Row {
        line,
        document: Value::Object(document),
        key,
        public_info,
        notes: get(Field::Notes),
    })
}

/// Each element of a JSON import as a row: a persona, matched by its `external_ids` (the
/// `source` system's first) and email; its `notes` member learned from.
fn json_rows(items: Vec<Value>, source: Option<&str>) -> Vec<Result<Row, RowError>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            let line = i as u64 + 1;
            let Some(fields) = item.as_object_mut() else {
                return Err(RowError {
                    line,
                    reason: "each element is a persona: a JSON object".into(),
                });
            };
            let notes = match fields.remove("notes") {
                None | Some(Value::Null) => None,
                Some(Value::String(text)) => Some(text),
                Some(_) => {
                    return Err(RowError {
                        line,
                        reason: "`notes` is text to learn from".into(),
                    });
                }
            };
            let ids = fields.get("external_ids").and_then(Value::as_object);
            let key = ids.and_then(|ids| {
                source
                    .and_then(|s| ids.get(s).map(|id| (s, id)))
                    .or_else(|| ids.iter().next().map(|(s, id)| (s.as_str(), id)))
                    .and_then(|(s, id)| Some((s.to_owned(), id.as_str()?.to_owned())))
            });
            Ok(Row {
                line,
                document: item,
                key,
                public_info: Map::new(),
                notes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hubspot_export_is_recognised_and_mapped() {
        let csv = "Record ID,First Name,Last Name,Email,Phone Number,City,Contact owner,Lifecycle Stage,Notes\n\
                   51,Harrison,Vale,H.Vale@example.com,+1 310 555 0100,Malibu,Jane Agent,customer,Wants a wine cellar\n";
        let (mapping, columns) = column_fields(csv, None, None).unwrap();
        assert_eq!(mapping, "hubspot");
        let rows = csv_rows(csv, &columns, Some("hubspot")).unwrap();
        let row = rows
            .into_iter()
            .next()
            .unwrap()
            .unwrap_or_else(|e| panic!("{}", e.reason));
        assert_eq!(row.line, 2);
        assert_eq!(row.document["name"], "Harrison Vale");
        assert_eq!(row.document["contact"]["email"], "H.Vale@example.com");
        assert_eq!(row.document["demographics"]["location"]["city"], "Malibu");
        assert_eq!(row.document["external_ids"]["hubspot"], "51");
        assert_eq!(row.key, Some(("hubspot".into(), "51".into())));
        assert_eq!(row.notes.as_deref(), Some("Wants a wine cellar"));
        assert_eq!(row.public_info["Contact owner"], "Jane Agent");
        assert_eq!(row.public_info["Lifecycle Stage"], "customer");
    }

    #[test]
    fn a_salesforce_export_and_a_custom_mapping_are_read() {
        let csv =
            "Contact ID,FirstName,LastName,MailingCity,Description\n003A,Ada,Stone,Aspen,Skis\n";
        let (mapping, columns) = column_fields(csv, None, None).unwrap();
        assert_eq!(mapping, "salesforce");
        assert_eq!(columns[3].1, Some(Field::City));
        let custom = "Client,Town,Remarks\nAda Stone,Aspen,Skis\n";
        let (mapping, columns) =
            column_fields(custom, None, Some("Client=name, Town=city, Remarks=notes")).unwrap();
        assert_eq!(mapping, "custom");
        assert!(columns.iter().all(|(_, f)| f.is_some()));
        let unmappable = column_fields("Foo,Bar\n1,2\n", None, None).unwrap_err();
        assert!(
            unmappable.to_string().contains("its columns: Foo, Bar"),
            "{unmappable}"
        );
        let wrong = column_fields(custom, None, Some("Client=nom")).unwrap_err();
        assert!(wrong.to_string().contains("is not a field"), "{wrong}");
    }
}
