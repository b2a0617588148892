//! Adding and changing a listing, and importing a CSV or RESO feed of them: the same checks and
//! store calls as `POST /api/v1/properties`, `PUT …/{id}` and `POST …/import`.

use std::sync::Arc;

use maud::{Markup, html};
use poem::{
    Request, Response,
    error::ResponseError,
    handler,
    web::{Data, Multipart, Path},
};
use poem_openapi::{payload::PlainText, types::ParseFromJSON};
use serde_json::{Value, json};
use troupe_shared::domain::{Property, PropertyDetails, PropertyStatus};
use uuid::Uuid;

use super::{
    error::{PageError, render},
    forms::{Document, FormPage, Posted, number_text, refusals, signed_post, uploaded_csv},
    layout::{self, Section},
    session::SignedIn,
};
use crate::{
    ApiState,
    contract::Contract,
    problem::ApiError,
    properties::{
        check_listing,
        import::{self, ImportBody, ImportReport},
    },
};

/// How a field is typed.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Line,
    Paragraph,
    Number,
    /// A textarea of one item per line, stored as a list.
    List,
}

/// The form's fields: (name, label, where in the listing, how it is typed).
const FIELDS: [(&str, &str, &[&str], Kind); 16] = [
    (
        "title",
        "Title (left empty: the description's first sentence)",
        &["title"],
        Kind::Line,
    ),
    (
        "description",
        "Description",
        &["description"],
        Kind::Paragraph,
    ),
    ("price", "List price", &["price"], Kind::Number),
    (
        "currency",
        "Currency (three letters)",
        &["currency"],
        Kind::Line,
    ),
    ("city", "City", &["location", "city"], Kind::Line),
    (
        "region",
        "State or region",
        &["location", "region"],
        Kind::Line,
    ),
    ("country", "Country", &["location", "country"], Kind::Line),
    (
        "property_type",
        "Property type (estate, penthouse, ranch…)",
        &["property_type"],
        Kind::Line,
    ),
    (
        "listing_id",
        "MLS or brokerage listing number",
        &["listing_id"],
        Kind::Line,
    ),
    ("bedrooms", "Bedrooms", &["bedrooms"], Kind::Number),
    ("bathrooms", "Bathrooms", &["bathrooms"], Kind::Number),
    (
        "living_area_sqft",
        "Living area (sq ft)",
        &["living_area_sqft"],
        Kind::Number,
    ),
    (
        "lot_size_acres",
        "Lot (acres)",
        &["lot_size_acres"],
        Kind::Number,
    ),
    ("year_built", "Year built", &["year_built"], Kind::Number),
    (
        "features",
        "Features, one per line",
        &["features"],
        Kind::List,
    ),
    (
        "candidate_modifications",
        "Changes the seller is considering, one per line",
        &["candidate_modifications"],
        Kind::List,
    ),
];

/// How the API's pointers read on this form.
const LABELS: [(&str, &str); 17] = [
    ("/title", "Title"),
    ("/description", "Description"),
    ("/price", "List price"),
    ("/currency", "Currency"),
    ("/location", "Place"),
    ("/property_type", "Property type"),
    ("/listing_id", "Listing number"),
    ("/bedrooms", "Bedrooms"),
    ("/bathrooms", "Bathrooms"),
    ("/living_area_sqft", "Living area"),
    ("/lot_size_acres", "Lot"),
    ("/year_built", "Year built"),
    ("/features", "Features"),
    ("/candidate_modifications", "Changes considered"),
    ("/photos", "Photos"),
    ("/status", "Status"),
    ("/external_ids", "Ids in other systems"),
];

/// The listing's fields from the form, over `doc`'s base (the stored listing, for an edit).
fn fill(doc: &mut Document<'_>, posted: &Posted) {
    for (name, label, path, kind) in FIELDS {
        match kind {
            Kind::Line | Kind::Paragraph => doc.text(name, path),
            Kind::Number => doc.number(name, label, path),
            Kind::List => doc.lines(name, path),
        }
    }
    // "https://… A caption" per line: the address, then what the photo shows.
    let photos: Vec<Value> = posted
        .lines("photos")
        .iter()
        .map(|line| match line.split_once(char::is_whitespace) {
            Some((url, caption)) => json!({ "url": url, "description": caption.trim() }),
            None => json!({ "url": line }),
        })
        .collect();
    doc.set(&["photos"], Some(Value::Array(photos)));
    let status = Some(posted.text("status")).filter(|s| !s.is_empty());
    doc.set(&["status"], Some(json!(status.unwrap_or("active"))));
}

fn shown(listing: &Value, path: &[&str]) -> String {
    match path.iter().fold(listing, |at, key| &at[*key]) {
        Value::String(s) => s.clone(),
        Value::Number(n) => number_text(n),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => s.clone(),
                // A photo: its address, then its caption.
                photo => format!(
                    "{} {}",
                    photo["url"].as_str().unwrap_or_default(),
                    photo["description"].as_str().unwrap_or_default()
                )
                .trim()
                .to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The listing's fields, as `listing` holds them; those named in `left_out` are not shown.
pub(super) fn fields(listing: &Value, left_out: &[&str]) -> Markup {
    let status = listing["status"].as_str().unwrap_or("active");
    html! {
        @for (name, label, path, kind) in FIELDS {
            @if !left_out.contains(&name) {
                label for=(name) { (label) }
                @match kind {
                    Kind::Line => { input id=(name) type="text" name=(name) value=(shown(listing, path)); }
                    Kind::Number => { input id=(name) type="text" inputmode="decimal" name=(name) value=(shown(listing, path)) required[name == "price"]; }
                    Kind::Paragraph | Kind::List => { textarea id=(name) name=(name) rows=(if kind == Kind::Paragraph { "6" } else { "3" }) { (shown(listing, path)) } }
                }
            }
        }
        label for="photos" { "Photos, one per line: the address, a space, then what it shows" }
        textarea #photos name="photos" rows="4" placeholder="https://example.com/terrace.jpg Terrace over the ocean at dusk" { (shown(listing, &["photos"])) }
        @if !left_out.contains(&"status") {
            label for="status" { "Status" }
            select #status name="status" {
                @for s in PropertyStatus::ALL {
                    option value=(s.as_str()) selected[s.as_str() == status] { (s.as_str().replace('_', " ")) }
                }
            }
        }
    }
}

/// A listing typed into a form (not stored), checked as the API checks one: what was typed,
/// and the listing or what is wrong with it.
pub(super) fn typed_listing(
    contract: &Contract,
    posted: &Posted,
) -> (Value, Result<PropertyDetails, Vec<String>>) {
    let mut doc = Document::over(posted, json!({}));
    fill(&mut doc, posted);
    let typed = doc.value.clone();
    (typed, checked(contract, doc))
}

fn form(me: &SignedIn, action: &str, listing: &Value, button: &str) -> Markup {
    html! {
        form.stack method="post" action=(action) {
            input type="hidden" name="csrf" value=(me.csrf_token);
            (fields(listing, &[]))
            button.primary type="submit" { (button) }
        }
    }
}

fn form_page(
    me: &SignedIn,
    title: &str,
    crumbs: Markup,
    body: Markup,
    problems: &[String],
) -> Response {
    let page = FormPage {
        section: Section::Listings,
        what: "The listing",
        title,
        crumbs,
    };
    page.render(me, body, problems)
}

fn new_page(me: &SignedIn, listing: &Value, problems: &[String]) -> Response {
    form_page(
        me,
        "New listing",
        html! { a href="/listings" { "Listings" } " / new" },
        form(me, "/listings/new", listing, "Add the listing"),
        problems,
    )
}

fn edit_page(
    me: &SignedIn,
    id: Uuid,
    title: &str,
    listing: &Value,
    problems: &[String],
) -> Response {
    form_page(
        me,
        &format!("Edit {title}"),
        html! { a href="/listings" { "Listings" } " / " a href={ "/listings/" (id) } { (title) } " / edit" },
        form(me, &format!("/listings/{id}/edit"), listing, "Save changes"),
        problems,
    )
}

/// The form's listing, checked as the API checks a body: its schema, then its rules.
fn checked(contract: &Contract, doc: Document<'_>) -> Result<PropertyDetails, Vec<String>> {
    if !doc.problems.is_empty() {
        return Err(doc.problems);
    }
    contract
        .check_against("PropertyDetails", &doc.value)
        .map_err(|err| refusals(&err, &LABELS))?;
    let mut details =
        PropertyDetails::parse_from_json(Some(doc.value)).map_err(|e| vec![e.into_message()])?;
    check_listing(&mut details).map_err(|err| refusals(&err, &LABELS))?;
    Ok(details)
}

#[handler]
pub async fn new_form(req: &Request) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        Ok(new_page(
            &me,
            &json!({ "currency": "USD", "status": "active" }),
            &[],
        ))
    })
    .await
}

#[handler]
pub async fn create(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let (typed, details) = typed_listing(&contract, &posted);
        let details = match details {
            Ok(details) => details,
            Err(problems) => return Ok(new_page(&me, &typed, &problems)),
        };
        match state.store.create_property(&me.principal, &details).await {
            Ok(property) => Ok(layout::see_other(&format!("/listings/{}", property.id))),
            Err(err) => {
                let err = ApiError::from(err);
                if err.status().is_client_error() {
                    Ok(new_page(&me, &typed, &refusals(&err, &LABELS)))
                } else {
                    Err(err.into())
                }
            }
        }
    })
    .await
}

async fn stored(state: &ApiState, me: &SignedIn, id: Uuid) -> Result<Property, PageError> {
    state
        .store
        .get_property(me.principal.brokerage_id, id)
        .await?
        .ok_or_else(|| PageError::not_found(format!("listing {id}")))
}

fn details_value(listing: &Property) -> Result<Value, PageError> {
    serde_json::to_value(&listing.details)
        .map_err(|e| PageError::Api(ApiError::Internal(Box::new(e))))
}

#[handler]
pub async fn edit_form(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let listing = stored(&state, &me, id).await?;
        Ok(edit_page(
            &me,
            id,
            &listing.details.title,
            &details_value(&listing)?,
            &[],
        ))
    })
    .await
}

#[handler]
pub async fn update(
    req: &Request,
    state: Data<&ApiState>,
    contract: Data<&Arc<Contract>>,
    Path(id): Path<Uuid>,
    body: String,
) -> Response {
    render(async {
        let (me, posted) = signed_post(req, &body).await?;
        let listing = stored(&state, &me, id).await?;
        // Over the stored listing, so what the form does not show (its ids in other systems,
        // its coordinates) is kept.
        let mut doc = Document::over(&posted, details_value(&listing)?);
        fill(&mut doc, &posted);
        let typed = doc.value.clone();
        let title = listing.details.title.clone();
        let details = match checked(&contract, doc) {
            Ok(details) => details,
            Err(problems) => return Ok(edit_page(&me, id, &title, &typed, &problems)),
        };
        match Box::pin(
            state
                .store
                .update_property(me.principal.brokerage_id, id, &details),
        )
        .await
        {
            Ok(Some(_)) => Ok(layout::see_other(&format!("/listings/{id}"))),
            Ok(None) => Err(PageError::not_found(format!("listing {id}"))),
            Err(err) => {
                let err = ApiError::from(err);
                if err.status().is_client_error() {
                    Ok(edit_page(&me, id, &title, &typed, &refusals(&err, &LABELS)))
                } else {
                    Err(err.into())
                }
            }
        }
    })
    .await
}

fn import_form(me: &SignedIn) -> Markup {
    html! {
        form.stack method="post" action="/listings/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(me.csrf_token);
            label for="file" { "CSV file with RESO column names" }
            input #file type="file" name="file" accept=".csv,text/csv";
            label for="csv" { "…or paste it here" }
            textarea #csv name="csv" rows="8" {}
            button.primary type="submit" { "Import listings" }
        }
    }
}

#[handler]
pub async fn import_page(req: &Request) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let body = html! {
            p.crumbs { a href="/listings" { "Listings" } " / import" }
            h1 { "Import listings" }
            p { "A CSV with a header row of RESO Data Dictionary names: " code { "ListingId" } ", " code { "ListPrice" } ", " code { "City" } ", " code { "StateOrProvince" } ", " code { "PublicRemarks" } ", " code { "PropertyType" } ", " code { "BedroomsTotal" } ", " code { "StandardStatus" } "… Listings are matched by their " code { "ListingId" } ": importing the same file again changes nothing, and a changed row updates its listing. Rows that cannot be read are listed with their line and why, while the others load." }
            (import_form(&me))
        };
        Ok(layout::page(&me, Section::Listings, "Import listings", body))
    })
    .await
}

#[handler]
pub async fn import_submit(
    req: &Request,
    state: Data<&ApiState>,
    multipart: Multipart,
) -> Response {
    render(async {
        let (me, text, _) = uploaded_csv(req, multipart).await?;
        // Boxed: an import's future (every row's upsert within) is large.
        let report =
            Box::pin(import::run(&state, &me.principal, ImportBody::Csv(PlainText(text)))).await?;
        let body = html! {
            p.crumbs { a href="/listings" { "Listings" } " / import" }
            h1 { "Import: " (report.created) " new, " (report.updated) " updated, " (report.unchanged) " unchanged, " (report.failed) " not imported" }
            (report_tables(&report))
            h2 { "Import another file" }
            (import_form(&me))
        };
        Ok(layout::page(&me, Section::Listings, "Import listings", body))
    })
    .await
}

fn report_tables(report: &ImportReport) -> Markup {
    html! {
        @if !report.errors.is_empty() {
            h2 { "Rows not imported" }
            table data-table="import-errors" {
                thead { tr { th { "Line" } th { "Why" } } }
                tbody { @for e in &report.errors { tr { td { (e.line) } td { (e.reason) } } } }
            }
        }
        @if !report.imported.is_empty() {
            h2 { "Listings" }
            table data-table="imported" {
                thead { tr { th { "Line" } th { "Listing number" } th { "Outcome" } } }
                tbody { @for row in &report.imported {
                    tr { td { (row.line) } td { a href={ "/listings/" (row.property_id) } { (row.listing_id) } } td { (row.outcome) } }
                } }
            }
        }
    }
}
