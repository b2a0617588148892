//! Segments: named attribute distributions, shared within a brokerage.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, with_pool};
use crate::{
    auth::Principal,
    domain::{Segment, SegmentDefinition},
};

#[derive(sqlx::FromRow)]
struct SegmentRow {
    id: Uuid,
    brokerage_id: Uuid,
    created_by: Uuid,
    definition: Json<SegmentDefinition>,
    created_at: DateTime<Utc>,
}

impl From<SegmentRow> for Segment {
    fn from(row: SegmentRow) -> Segment {
        Segment {
            id: row.id,
            brokerage_id: row.brokerage_id,
            created_by: row.created_by,
            created_at: row.created_at,
            definition: row.definition.0,
        }
    }
}

macro_rules! columns {
    () => {
        "id, brokerage_id, created_by, definition, created_at"
    };
}

impl Store {
    /// `None` when the brokerage already has a segment of that name.
    pub async fn create_segment(
        &self,
        caller: &Principal,
        definition: &SegmentDefinition,
    ) -> StoreResult<Option<Segment>> {
        let row: Option<SegmentRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("INSERT INTO segments (id, brokerage_id, created_by, name, definition, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (brokerage_id, name) DO NOTHING RETURNING ", columns!()))
            .bind(Uuid::now_v7())
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(&definition.name)
            .bind(Json(definition))
            .bind(Utc::now())
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(Segment::from))
    }

    pub async fn list_segments(&self, brokerage_id: Uuid) -> StoreResult<Vec<Segment>> {
        let rows: Vec<SegmentRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM segments WHERE brokerage_id = $1 ORDER BY name"))
                .bind(brokerage_id)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(Segment::from).collect())
    }

    /// A segment by id or by name.
    pub async fn find_segment(
        &self,
        brokerage_id: Uuid,
        id_or_name: &str,
    ) -> StoreResult<Option<Segment>> {
        let id = Uuid::parse_str(id_or_name).unwrap_or(Uuid::nil());
        let row: Option<SegmentRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM segments WHERE brokerage_id = $1 AND (id = $2 OR name = $3)"))
                .bind(brokerage_id)
                .bind(id)
                .bind(id_or_name)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(Segment::from))
    }
}
