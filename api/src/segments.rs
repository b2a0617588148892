//! `/api/v1/segments`: populations described as attribute distributions; a focus group, marketing
//! or intervention test that names one gets synthetic personas drawn from it.

use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Path, payload::Json};
use troupe_shared::domain::{Segment, SegmentAttributes, SegmentDefinition};
use uuid::Uuid;

use crate::{ApiState, ApiTags, auth::ApiKey, problem::ApiError};

#[derive(ApiResponse)]
enum Created {
    #[oai(status = 201)]
    Segment(Json<Segment>, #[oai(header = "Location")] String),
}

pub struct SegmentsApi;

#[OpenApi(prefix_path = "/segments", tag = "ApiTags::Segments")]
impl SegmentsApi {
    /// Define a segment (its name is unique in the brokerage; a segment never changes, so the
    /// personas drawn from it stay comparable).
    #[oai(path = "/", method = "post")]
    async fn create(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<SegmentDefinition>,
    ) -> Result<Created, ApiError> {
        check(&body.0.attributes)?;
        let segment = state
            .store
            .create_segment(&auth.0, &body.0)
            .await?
            .ok_or_else(|| {
                ApiError::Conflict(format!("a segment named {:?} exists", body.0.name))
            })?;
        let location = format!("/api/v1/segments/{}", segment.id);
        Ok(Created::Segment(Json(segment), location))
    }

    /// The brokerage's segments, by name.
    #[oai(path = "/", method = "get")]
    async fn list(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<Vec<Segment>>, ApiError> {
        Ok(Json(state.store.list_segments(auth.0.brokerage_id).await?))
    }

    #[oai(path = "/:id", method = "get")]
    async fn get(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Segment>, ApiError> {
        state
            .store
            .find_segment(auth.0.brokerage_id, &id.0.to_string())
            .await?
            .filter(|s| s.id == id.0)
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("segment {}", id.0)))
    }
}

/// List attributes take probabilities; ranges must be ordered.
fn check(a: &SegmentAttributes) -> Result<(), ApiError> {
    for (name, items) in [
        ("property_types", &a.property_types),
        ("locations", &a.locations),
        ("features", &a.features),
        ("deal_breakers", &a.deal_breakers),
        ("interests", &a.interests),
    ] {
        if let Some(w) = items.iter().find(|w| w.weight > 1.0) {
            return Err(ApiError::Validation(format!(
                "attributes.{name}: {:?} has weight {}, but list weights are probabilities (at most 1)",
                w.value, w.weight
            )));
        }
    }
    for (name, range, ceiling) in [
        ("budget_max", a.budget_max, f64::MAX),
        ("openness", a.openness, 1.0),
    ] {
        if let Some(r) = range
            && (r.min > r.max || r.max > ceiling)
        {
            return Err(ApiError::Validation(format!(
                "attributes.{name}: min must not exceed max{}",
                if ceiling < f64::MAX {
                    " and max is at most 1"
                } else {
                    ""
                }
            )));
        }
    }
    Ok(())
}
