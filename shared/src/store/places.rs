//! A brokerage's own places: added by team leads and admins, read by matching and by anyone in
//! the brokerage.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult, audit::record_audit,
    is_unique_violation, with_pool,
};
use crate::{
    auth::Principal,
    criteria::places::name_key,
    domain::{BrokeragePlace, Coordinates, PlaceIn, Role},
};

#[derive(sqlx::FromRow)]
struct PlaceRow {
    id: Uuid,
    created_by: Uuid,
    name: String,
    aliases: Json<Vec<String>>,
    latitude: f64,
    longitude: f64,
    radius_km: f64,
    created_at: DateTime<Utc>,
}

impl From<PlaceRow> for BrokeragePlace {
    fn from(row: PlaceRow) -> BrokeragePlace {
        BrokeragePlace {
            id: row.id,
            created_by: row.created_by,
            created_at: row.created_at,
            place: PlaceIn {
                name: row.name,
                aliases: row.aliases.0,
                centre: Coordinates {
                    latitude: row.latitude,
                    longitude: row.longitude,
                },
                radius_km: row.radius_km,
            },
        }
    }
}

impl Store {
    /// Adds a place; a name (or its spelling without case, accents or punctuation) the
    /// brokerage already has is a `Duplicate`.
    pub async fn create_place(
        &self,
        caller: &Principal,
        place: &PlaceIn,
    ) -> StoreResult<BrokeragePlace> {
        may_manage_places(caller)?;
        let created = BrokeragePlace {
            id: Uuid::now_v7(),
            created_by: caller.user_id,
            created_at: Utc::now(),
            place: place.clone(),
        };
        let inserted = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO places (id, brokerage_id, created_by, name, name_key, aliases, latitude, longitude, radius_km, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(created.id)
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(&place.name)
                .bind(name_key(&place.name))
                .bind(Json(&place.aliases))
                .bind(place.centre.latitude)
                .bind(place.centre.longitude)
                .bind(place.radius_km)
                .bind(created.created_at)
                .execute(&mut *tx)
                .await?;
            let detail = serde_json::json!({ "name": place.name, "radius_km": place.radius_km });
            record_audit!(tx, caller, AuditRecord::admin("place.created", "place", created.id, detail))?;
            tx.commit().await
        }.await);
        match inserted {
            Ok(()) => Ok(created),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "the brokerage already has a place named {:?}",
                place.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// The brokerage's places, by name.
    pub async fn list_places(&self, brokerage_id: Uuid) -> StoreResult<Vec<BrokeragePlace>> {
        let rows: Vec<PlaceRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, created_by, name, aliases, latitude, longitude, radius_km, created_at
                 FROM places WHERE brokerage_id = $1 ORDER BY name_key")
                .bind(brokerage_id)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(BrokeragePlace::from).collect())
    }

    /// Removes a place; `false` when the brokerage has none with that id.
    pub async fn delete_place(&self, caller: &Principal, id: Uuid) -> StoreResult<bool> {
        may_manage_places(caller)?;
        with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM places WHERE id = $1 AND brokerage_id = $2")
                .bind(id)
                .bind(caller.brokerage_id)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            if deleted {
                record_audit!(tx, caller, AuditRecord::admin("place.deleted", "place", id, serde_json::json!({})))?;
            }
            tx.commit().await?;
            Ok::<bool, sqlx::Error>(deleted)
        }.await)
        .map_err(StoreError::from)
    }
}

/// Places are the brokerage's shared vocabulary: team leads and admins curate it.
fn may_manage_places(caller: &Principal) -> StoreResult<()> {
    if caller.role == Role::Agent {
        return Err(StoreError::Forbidden(
            "only team leads and brokerage admins add or remove places".into(),
        ));
    }
    Ok(())
}
