//! `/api/v1/properties`: listings.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_shared::domain::{Property, PropertyDetails};
use uuid::Uuid;

use crate::{ApiState, ApiTags, auth::ApiKey, problem::ApiError};

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Property(Json<Property>, #[oai(header = "Location")] String),
}

pub struct PropertiesApi;

#[OpenApi(prefix_path = "/properties", tag = "ApiTags::Properties")]
impl PropertiesApi {
    /// Add a listing.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<PropertyDetails>,
    ) -> Result<Created, ApiError> {
        let property = state.store.create_property(&auth.0, &body.0).await?;
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
            .ok_or_else(|| ApiError::NotFound(format!("property {}", id.0)))
    }
}
