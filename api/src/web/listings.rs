//! Listings: the brokerage's list, filterable, and a listing's page with its details, photos and
//! the simulations run on it.

use maud::html;
use poem::{
    Request, Response, handler,
    web::{Data, Path, Query},
};
use serde::Deserialize;
use troupe_shared::{
    domain::{PropertyStatus, SimulationFilter},
    numbers::money,
    store::PropertyFilter,
};
use uuid::Uuid;

use super::{
    error::{PageError, id_param, render},
    layout::{self, Section},
    listing_outcomes, matching,
    session::SignedIn,
};
use crate::{
    ApiState,
    audit::{Listed, ReadVia, audit_listed},
};

const PAGE: u32 = 50;

#[derive(Deserialize)]
pub struct ListingQuery {
    city: Option<String>,
    status: Option<String>,
    after: Option<String>,
}

#[handler]
pub async fn list(
    req: &Request,
    state: Data<&ApiState>,
    Query(query): Query<ListingQuery>,
) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let city = query.city.as_deref().map(str::trim).filter(|c| !c.is_empty());
        let status = match query.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(
                PropertyStatus::parse(raw)
                    .ok_or_else(|| PageError::BadForm(format!("{raw:?} is not a listing status")))?,
            ),
        };
        let filter = PropertyFilter {
            min_price: None,
            max_price: None,
            city: city.map(str::to_owned),
            region: None,
            property_type: None,
            status,
            after: id_param(query.after.as_deref(), "page")?,
            limit: PAGE,
        };
        let mut listings = state.store.list_properties(me.principal.brokerage_id, &filter).await?;
        let more = listings.len() > PAGE as usize;
        listings.truncate(PAGE as usize);
        let body = html! {
            h1 { "Listings" }
            p.actions { a href="/listings/new" { "New listing" } " · " a href="/listings/import" { "Import a CSV or RESO feed" } }
            form.filters method="get" action="/listings" {
                label { "City " input type="text" name="city" value=(city.unwrap_or("")); }
                label { "Status "
                    select name="status" {
                        option value="" { "any" }
                        @for s in PropertyStatus::ALL {
                            option value=(s.as_str()) selected[status == Some(*s)] { (s.as_str()) }
                        }
                    }
                }
                button type="submit" { "Filter" }
            }
            @if listings.is_empty() {
                div.empty {
                    @if city.is_some() || status.is_some() {
                        p { "No listing matches these filters." }
                    } @else {
                        p { "No listings yet. " a href="/listings/new" { "Add a listing" } " or " a href="/listings/import" { "import a CSV or RESO feed" } " (the API's " code { "POST /api/v1/properties" } " and " code { "/properties/import" } " do the same)." }
                    }
                }
            } @else {
                table data-table="listings" {
                    thead { tr { th { "Title" } th { "City" } th { "Price" } th { "Type" } th { "Status" } } }
                    tbody {
                        @for p in &listings {
                            tr {
                                td { a href={ "/listings/" (p.id) } { (p.details.title) } }
                                td { (p.details.location.city.as_deref().unwrap_or("—")) }
                                td.number { (money(p.details.price)) " " (p.details.currency) }
                                td { (p.details.property_type.as_deref().unwrap_or("—")) }
                                td { (p.details.status.as_str()) }
                            }
                        }
                    }
                }
                @if more {
                    p { a href={ "/listings?after=" (listings.last().map(|p| p.id).unwrap_or_default()) "&city=" (city.unwrap_or("")) } { "More listings" } }
                }
            }
        };
        Ok(layout::page(&me, Section::Listings, "Listings", body))
    })
    .await
}

#[handler]
pub async fn page(req: &Request, state: Data<&ApiState>, Path(id): Path<Uuid>) -> Response {
    render(async {
        let me = SignedIn::from_request(req).await?;
        let listing = state
            .store
            .get_property(me.principal.brokerage_id, id)
            .await?
            .ok_or_else(|| PageError::not_found(format!("listing {id}")))?;
        let filter = SimulationFilter {
            property_id: Some(id),
            limit: 20,
            ..SimulationFilter::default()
        };
        // Independent reads, so the page waits for the slowest rather than their sum.
        let (simulations, outcomes, matches) = tokio::try_join!(
            async {
                let runs = state.store.list_simulations(&me.principal, &filter).await?;
                let listed = runs.iter().map(|s| s.id);
                audit_listed(&state, &me.principal, Listed::Simulations, listed, ReadVia::Web).await?;
                Ok::<_, PageError>(runs)
            },
            // Boxed, as the page's future would otherwise outgrow the stack size allowed.
            Box::pin(listing_outcomes::section(&state, &me, id)),
            matching::latest_about(&state, &me, id, true),
        )?;
        let d = &listing.details;
        let place: Vec<&str> = [d.location.city.as_deref(), d.location.region.as_deref(), d.location.country.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let body = html! {
            p.crumbs { a href="/listings" { "Listings" } " / " (d.title) }
            h1 { (d.title) }
            p.muted { (place.join(", ")) " · " (money(d.price)) " " (d.currency) " · " (d.status.as_str()) }
            p { (d.description) }
            div.actions {
                a.button href={ "/listings/" (id) "/focus-group" } { "Run a focus group" }
                a.button href={ "/listings/" (id) "/edit" } { "Edit" }
                form method="post" action={ "/listings/" (id) "/match" } {
                    input type="hidden" name="csrf" value=(me.csrf_token);
                    button.primary type="submit" { "Find clients" }
                }
            }
            section {
                h2 { "Details" }
                dl {
                    dt { "Type" } dd { (d.property_type.as_deref().unwrap_or("—")) }
                    dt { "Bedrooms" } dd { (d.bedrooms.map_or("—".into(), |b| b.to_string())) }
                    dt { "Bathrooms" } dd { (d.bathrooms.map_or("—".into(), |b| b.to_string())) }
                    dt { "Living area" } dd { (d.living_area_sqft.map_or("—".into(), |a| format!("{} sq ft", money(a)))) }
                    dt { "Lot" } dd { (d.lot_size_acres.map_or("—".into(), |a| format!("{a} acres"))) }
                    dt { "Built" } dd { (d.year_built.map_or("—".into(), |y| y.to_string())) }
                    dt { "Features" } dd { @if d.features.is_empty() { "—" } @else { (d.features.join(", ")) } }
                    dt { "Candidate modifications" } dd { @if d.candidate_modifications.is_empty() { "—" } @else { (d.candidate_modifications.join("; ")) } }
                }
            }
            section {
                h2 { "Photos" }
                @if d.photos.is_empty() { p { "No photos." } }
                ul.photos {
                    @for (i, photo) in d.photos.iter().enumerate() {
                        li {
                            figure {
                                // The caption is the image's alternative text: it shows where the photo cannot load.
                                img src=(photo.url) alt=(photo.description) loading="lazy" width="240" height="160";
                                figcaption { (i + 1) ". " (photo.description) }
                            }
                        }
                    }
                }
            }
            section {
                h2 { "Simulations on this listing" }
                @if simulations.is_empty() {
                    p { "None yet: run a focus group on it with " code { "POST /api/v1/simulations/focus-group" } " and " code { "property_id" } "." }
                } @else {
                    ul { @for s in simulations.iter().take(20) {
                        li { a href={ "/simulations/" (s.id) } { (s.kind.as_str().replace('_', " ")) " of " (s.created_at.format("%Y-%m-%d %H:%M")) } " · " (s.status.as_str())
                            @if let Some(summary) = &s.summary { " — " (summary) } }
                    } }
                    p { a href={ "/simulations?listing=" (id) } { "All simulations on this listing" } }
                }
            }
            section {
                h2 { "Clients matched" }
                (matches)
            }
            (outcomes)
        };
        Ok(layout::page(&me, Section::Listings, &d.title, body))
    })
    .await
}
