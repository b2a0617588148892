//! `/api/v1/places`: a brokerage's own places (a private enclave, a new development, a stretch
//! of coast the gazetteer does not name), which matching uses before the gazetteer's.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_shared::domain::{BrokeragePlace, PlaceIn};
use uuid::Uuid;

use crate::{ApiState, ApiTags, auth::ApiKey, problem::ApiError};

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Place(Json<BrokeragePlace>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum Deleted {
    #[oai(status = 204)]
    Place,
}

pub struct PlacesApi;

#[OpenApi(prefix_path = "/places", tag = "ApiTags::Places")]
impl PlacesApi {
    /// Add a place (team leads and brokerage admins). A client who names it, by its name or an
    /// alias, is matched against it instead of the gazetteer's place of that name.
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<PlaceIn>,
    ) -> Result<Created, ApiError> {
        let caller = &auth.0;
        if body.0.name.trim().is_empty() {
            return Err(ApiError::Validation("name: must not be blank".into()));
        }
        let place = state.store.create_place(caller, &body.0).await?;
        let location = format!("/api/v1/places/{}", place.id);
        Ok(Created::Place(Json(place), location))
    }

    /// The brokerage's own places, by name.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<Vec<BrokeragePlace>>, ApiError> {
        Ok(Json(state.store.list_places(auth.0.brokerage_id).await?))
    }

    /// Remove a place (team leads and brokerage admins).
    #[oai(path = "/:id", method = "delete")]
    async fn delete(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Deleted, ApiError> {
        let caller = &auth.0;
        if state.store.delete_place(caller, id.0).await? {
            Ok(Deleted::Place)
        } else {
            Err(ApiError::NotFound(format!("place {}", id.0)))
        }
    }
}
