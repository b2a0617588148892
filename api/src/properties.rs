//! `/api/v1/properties`: listings, their filters, and bulk import.

pub(crate) mod import;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_shared::{
    domain::{Property, PropertyDetails, PropertyStatus},
    store::PropertyFilter,
};
use uuid::Uuid;

use crate::{ApiState, ApiTags, auth::ApiKey, pagination, problem::ApiError};

const DEFAULT_PAGE: u32 = 50;

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Property(Json<Property>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Gone,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct PropertyPage {
    items: Vec<Property>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

pub struct PropertiesApi;

#[OpenApi(prefix_path = "/properties", tag = "ApiTags::Properties")]
impl PropertiesApi {
    /// Add a listing. A `listing_id` already used in the brokerage answers 409.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<PropertyDetails>,
    ) -> Result<Created, ApiError> {
        let mut details = body.0;
        check_listing(&mut details)?;
        let property = state.store.create_property(&auth.0, &details).await?;
        let location = format!("/api/v1/properties/{}", property.id);
        Ok(Created::Property(Json(property), location))
    }

    /// A listing of the caller's brokerage.
    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Property>, ApiError> {
        state
            .store
            .get_property(auth.0.brokerage_id, id.0)
            .await?
            .map(Json)
            .ok_or_else(|| not_found(id.0))
    }

    /// Replace a listing's details (its status among them).
    #[oai(path = "/:id", method = "put")]
    async fn replace(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<PropertyDetails>,
    ) -> Result<Json<Property>, ApiError> {
        let mut details = body.0;
        check_listing(&mut details)?;
        state
            .store
            .update_property(auth.0.brokerage_id, id.0, &details)
            .await?
            .map(Json)
            .ok_or_else(|| not_found(id.0))
    }

    /// Delete a listing, with its recommendations.
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted, ApiError> {
        if state
            .store
            .delete_property(auth.0.brokerage_id, id.0)
            .await?
        {
            Ok(Deleted::Gone)
        } else {
            Err(not_found(id.0))
        }
    }

    /// The brokerage's listings, oldest first, filtered by price range, place, type and status.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Page size, 1 to 200 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))]
        limit: Query<Option<u32>>,
        min_price: Query<Option<f64>>,
        max_price: Query<Option<f64>>,
        city: Query<Option<String>>,
        region: Query<Option<String>>,
        property_type: Query<Option<String>>,
        status: Query<Option<PropertyStatus>>,
    ) -> Result<Json<PropertyPage>, ApiError> {
        let limit = pagination::page_size(limit.0, DEFAULT_PAGE);
        let after = pagination::cursor(cursor.0)?;
        // One extra row tells whether another page follows.
        let filter = PropertyFilter {
            min_price: min_price.0,
            max_price: max_price.0,
            city: city.0,
            region: region.0,
            property_type: property_type.0,
            status: status.0,
            after,
            limit: limit + 1,
        };
        let mut items = state
            .store
            .list_properties(auth.0.brokerage_id, &filter)
            .await?;
        let next_cursor = pagination::next_cursor(&mut items, limit, |p| p.id);
        Ok(Json(PropertyPage { items, next_cursor }))
    }

    /// Import listings: a JSON array of listings, or CSV with RESO Data Dictionary columns
    /// (`ListingId`, `ListPrice`, `City`, `StateOrProvince`, `PublicRemarks`, …). Idempotent by
    /// listing id; each bad row is reported with its line and reason while the good rows load.
    #[oai(path = "/import", method = "post")]
    async fn import(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: import::ImportBody,
    ) -> Result<Json<import::ImportReport>, ApiError> {
        import::run(&state, &auth.0, body).await.map(Json)
    }
}

/// The rules between a listing's fields (the schema checks each alone), and a title for a listing
/// given none.
pub(crate) fn check_listing(details: &mut PropertyDetails) -> Result<(), ApiError> {
    let broken = crate::personas::external_ids_rules(&details.external_ids);
    if !broken.is_empty() {
        return Err(ApiError::BrokenRule(broken));
    }
    details.title_if_untitled();
    Ok(())
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound(format!("property {id}"))
}
