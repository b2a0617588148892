//! Bulk import of listings, as JSON or as CSV with RESO Data Dictionary column names. Every row is
//! validated like a single `POST /properties`; bad rows are reported and skipped.

use poem_openapi::{
    ApiRequest, Object,
    payload::{Json, PlainText},
    types::ParseFromJSON,
};
use serde_json::{Map, Value, json};
use troupe_shared::{auth::Principal, domain::PropertyDetails, store::Imported};
use uuid::Uuid;

use crate::{ApiState, problem::ApiError};

/// Rows one import may carry.
const MAX_ROWS: usize = 5000;

/// One row to import, by line: a listing's JSON, or why the row could not become one.
type Row = (u64, Result<Value, String>);

#[derive(ApiRequest)]
pub enum ImportBody {
    /// An array of listings, each as for `POST /properties`, with a `listing_id`.
    #[oai(content_type = "application/json")]
    Json(Json<Vec<Value>>),
    /// A header row of RESO names, then one listing per row.
    #[oai(content_type = "text/csv")]
    Csv(PlainText<String>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportReport {
    pub created: u32,
    pub updated: u32,
    /// Already stored exactly as imported.
    pub unchanged: u32,
    pub failed: u32,
    /// The listings stored, by line.
    pub imported: Vec<ImportedRow>,
    pub errors: Vec<RowError>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportedRow {
    pub line: u64,
    pub listing_id: String,
    pub property_id: Uuid,
    /// `created`, `updated` or `unchanged`.
    pub outcome: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RowError {
    /// The CSV line (the header is line 1), or the JSON array position (from 1).
    pub line: u64,
    pub reason: String,
}

pub async fn run(
    state: &ApiState,
    caller: &Principal,
    body: ImportBody,
) -> Result<ImportReport, ApiError> {
    let rows: Vec<Row> = match body {
        ImportBody::Json(Json(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| (i as u64 + 1, Ok(item)))
            .collect(),
        ImportBody::Csv(PlainText(text)) => csv_rows(&text)?,
    };
    if rows.len() > MAX_ROWS {
        return Err(ApiError::Validation(format!(
            "an import carries at most {MAX_ROWS} rows; split this one"
        )));
    }
    let mut report = ImportReport {
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        imported: Vec::new(),
        errors: Vec::new(),
    };
    for (line, row) in rows {
        let details = row.and_then(|value| {
            let mut details =
                PropertyDetails::parse_from_json(Some(value)).map_err(|e| e.into_message())?;
            if let Some(broken) = crate::personas::external_ids_rules(&details.external_ids).first()
            {
                return Err(broken.detail.clone());
            }
            details.title_if_untitled();
            if details.listing_id.is_none() {
                return Err(
                    "a listing id (listing_id, or ListingId in CSV) is required to import".into(),
                );
            }
            Ok(details)
        });
        let details = match details {
            Ok(details) => details,
            Err(reason) => {
                report.failed += 1;
                report.errors.push(RowError { line, reason });
                continue;
            }
        };
        let (outcome, property_id) = match state.store.import_property(caller, &details).await? {
            Imported::Created(id) => {
                report.created += 1;
                ("created", id)
            }
            Imported::Updated(id) => {
                report.updated += 1;
                ("updated", id)
            }
            Imported::Unchanged(id) => {
                report.unchanged += 1;
                ("unchanged", id)
            }
        };
        report.imported.push(ImportedRow {
            line,
            listing_id: details.listing_id.unwrap_or_default(),
            property_id,
            outcome: outcome.to_owned(),
        });
    }
    Ok(report)
}

/// Each CSV record as the JSON of a listing, keyed by its line.
fn csv_rows(text: &str) -> Result<Vec<Row>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ApiError::Validation(format!("the CSV header row cannot be read: {e}")))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let line = record.position().map_or(0, |p| p.line());
                let fields: Vec<(&str, &str)> = headers
                    .iter()
                    .zip(record.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                rows.push((line, reso_listing(&fields)));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                rows.push((line, Err(format!("unreadable CSV row: {e}"))));
            }
        }
    }
    Ok(rows)
}

/// Maps RESO Data Dictionary fields onto a listing's JSON.
fn reso_listing(fields: &[(&str, &str)]) -> Result<Value, String> {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let number = |name: &str| -> Result<Option<f64>, String> {
        get(name)
            .map(|v| {
                v.replace([',', '$'], "")
                    .parse::<f64>()
                    .map_err(|_| format!("{name}: {v:?} is not a number"))
            })
            .transpose()
    };
    let price = number("ListPrice")?.ok_or("ListPrice is required")?;
    let city = get("City");
    let property_type = get("PropertySubType").or(get("PropertyType"));
    let title = get("Title")
        .or(get("UnparsedAddress"))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            [property_type, city]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" in ")
        });
    let mut listing = Map::new();
    listing.insert("title".into(), json!(title));
    listing.insert("price".into(), json!(price));
    listing.insert(
        "location".into(),
        json!({ "city": city, "region": get("StateOrProvince"), "country": get("Country") }),
    );
    let text_fields = [
        ("listing_id", "ListingId"),
        ("description", "PublicRemarks"),
        ("currency", "CurrencyCode"),
    ];
    for (key, name) in text_fields {
        if let Some(value) = get(name) {
            listing.insert(key.into(), json!(value));
        }
    }
    if let Some(kind) = property_type {
        listing.insert("property_type".into(), json!(kind));
    }
    let numeric_fields = [
        ("bedrooms", "BedroomsTotal"),
        ("bathrooms", "BathroomsTotalDecimal"),
        ("bathrooms", "BathroomsTotalInteger"),
        ("living_area_sqft", "LivingArea"),
        ("lot_size_acres", "LotSizeAcres"),
        ("year_built", "YearBuilt"),
    ];
    for (key, name) in numeric_fields {
        if let Some(value) = number(name)?.filter(|_| !listing.contains_key(key)) {
            // Whole numbers as integers, so that counts (bedrooms, year built) parse as such.
            let value = if value.fract() == 0.0 && value.abs() < 1e15 {
                json!(value as i64)
            } else {
                json!(value)
            };
            listing.insert(key.into(), value);
        }
    }
    if let (Some(latitude), Some(longitude)) = (number("Latitude")?, number("Longitude")?) {
        listing.insert(
            "coordinates".into(),
            json!({ "latitude": latitude, "longitude": longitude }),
        );
    }
    if let Some(status) = get("StandardStatus") {
        listing.insert("status".into(), json!(reso_status(status)?));
    }
    // RESO keeps features in several comma-separated lists; `Features` is ours, for the rest.
    let features: Vec<&str> = [
        "Features",
        "InteriorFeatures",
        "ExteriorFeatures",
        "PoolFeatures",
        "View",
        "SecurityFeatures",
    ]
    .into_iter()
    .filter_map(get)
    .flat_map(|list| list.split([',', ';']))
    .map(str::trim)
    .filter(|f| !f.is_empty())
    .collect();
    listing.insert("features".into(), json!(features));
    Ok(Value::Object(listing))
}

fn reso_status(status: &str) -> Result<&'static str, String> {
    match status.to_ascii_lowercase().as_str() {
        "active" | "coming soon" => Ok("active"),
        "active under contract" | "pending" => Ok("under_contract"),
        "closed" => Ok("sold"),
        "withdrawn" | "canceled" | "cancelled" | "expired" | "hold" => Ok("withdrawn"),
        _ => Err(format!("StandardStatus: {status:?} is not a RESO status")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reso_columns_map_onto_a_listing() {
        let csv = "ListingId,ListPrice,City,StateOrProvince,PublicRemarks,BedroomsTotal,StandardStatus,InteriorFeatures\n\
                   A-1,\"24,500,000\",Aspen,CO,Ski-in estate,6,Active Under Contract,\"Wine Cellar, Home Theater\"\n\
                   A-2,lots,Aspen,CO,,,,\n";
        let rows = csv_rows(csv).unwrap();
        assert_eq!(rows.len(), 2);
        let (line, first) = &rows[0];
        assert_eq!(*line, 2);
        let details = PropertyDetails::parse_from_json(Some(first.clone().unwrap())).unwrap();
        assert_eq!(details.listing_id.as_deref(), Some("A-1"));
        assert_eq!(details.price, 24_500_000.0);
        assert_eq!(details.location.region.as_deref(), Some("CO"));
        assert_eq!(details.bedrooms, Some(6));
        assert_eq!(details.status.as_str(), "under_contract");
        assert_eq!(details.features, ["Wine Cellar", "Home Theater"]);
        assert_eq!(rows[1].0, 3);
        assert!(rows[1].1.as_ref().unwrap_err().contains("ListPrice"));
    }
}
