//! Listings.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, with_pool};
use crate::{
    auth::Principal,
    domain::{Property, PropertyDetails},
};

#[derive(sqlx::FromRow)]
struct PropertyRow {
    id: Uuid,
    brokerage_id: Uuid,
    created_by: Uuid,
    details: Json<PropertyDetails>,
    created_at: DateTime<Utc>,
}

impl From<PropertyRow> for Property {
    fn from(row: PropertyRow) -> Self {
        Property {
            id: row.id,
            brokerage_id: row.brokerage_id,
            created_by: row.created_by,
            created_at: row.created_at,
            details: row.details.0,
        }
    }
}

impl Store {
    pub async fn create_property(
        &self,
        caller: &Principal,
        details: &PropertyDetails,
    ) -> StoreResult<Property> {
        let row: PropertyRow = with_pool!(self, pool => {
            sqlx::query_as(
                "INSERT INTO properties (id, brokerage_id, created_by, details, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5) RETURNING id, brokerage_id, created_by, details, created_at",
            )
            .bind(Uuid::now_v7())
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(Json(details))
            .bind(Utc::now())
            .fetch_one(pool)
            .await
        })?;
        Ok(row.into())
    }

    pub async fn get_property(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Property>> {
        let row: Option<PropertyRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, brokerage_id, created_by, details, created_at FROM properties WHERE brokerage_id = $1 AND id = $2",
            )
            .bind(brokerage_id)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(Property::from))
    }
}
