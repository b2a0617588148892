//! Listings. The fields list filters use are copied out of the JSON `details` into columns on
//! every write, so filtering happens in SQL on both databases.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, Store, StoreError, StoreResult, changed_fields, events::record_event, fetch_by_ids,
    is_unique_violation, lookup_keys::sync_external_ids, with_pool,
};
use crate::{
    auth::Principal,
    bus::Committed,
    domain::{Property, PropertyDetails, PropertyStatus},
};

macro_rules! columns {
    () => {
        "id, brokerage_id, created_by, details, created_at, updated_at"
    };
}

#[derive(sqlx::FromRow)]
struct PropertyRow {
    id: Uuid,
    brokerage_id: Uuid,
    created_by: Uuid,
    details: Json<PropertyDetails>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<PropertyRow> for Property {
    fn from(row: PropertyRow) -> Self {
        Property {
            id: row.id,
            brokerage_id: row.brokerage_id,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            details: row.details.0,
        }
    }
}

/// What `GET /properties` filters on; every bound is optional.
#[derive(Debug, Default)]
pub struct PropertyFilter {
    pub min_price: Option<f64>,
    pub max_price: Option<f64>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub property_type: Option<String>,
    pub status: Option<PropertyStatus>,
    /// Only listings with a greater id (the cursor of the previous page).
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// What an import did with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Created(Uuid),
    Updated(Uuid),
    /// The listing was already stored exactly like this.
    Unchanged(Uuid),
}

/// A unique violation on the listing id, in words; any other error as it is.
fn listing_conflict(error: sqlx::Error, details: &PropertyDetails) -> StoreError {
    if is_unique_violation(&error) {
        duplicate_listing(details)
    } else {
        error.into()
    }
}

fn duplicate_listing(details: &PropertyDetails) -> StoreError {
    StoreError::Duplicate(format!(
        "listing id {:?} is already used by another listing",
        details.listing_id.as_deref().unwrap_or_default()
    ))
}

impl Store {
    /// Stores a new listing, with its `property.created` event; a listing id already in use is a
    /// [`StoreError::Duplicate`].
    pub async fn create_property(
        &self,
        caller: &Principal,
        details: &PropertyDetails,
    ) -> StoreResult<Property> {
        let key = self.sealing_key().await?;
        let result: StoreResult<(PropertyRow, Committed)> = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let row: PropertyRow = sqlx::query_as(concat!(
                "INSERT INTO properties (id, brokerage_id, created_by, details, created_at, updated_at,
                    listing_id, status, price, property_type, city, region)
                 VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9, $10, $11) RETURNING ", columns!()))
            .bind(Uuid::now_v7())
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(Json(details))
            .bind(Utc::now())
            .bind(&details.listing_id)
            .bind(details.status.as_str())
            .bind(details.price)
            .bind(&details.property_type)
            .bind(&details.location.city)
            .bind(&details.location.region)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| listing_conflict(e, details))?;
            sync_external_ids!(
                tx, "property_external_ids", "property_id", caller.brokerage_id, row.id, &details.external_ids, "listing"
            );
            let payload = serde_json::json!({
                "property_id": row.id, "listing_id": details.listing_id, "title": details.title,
                "price": details.price, "status": details.status.as_str(),
            });
            let notice = record_event!(tx, &key, caller.brokerage_id, "property.created", row.id, &payload)?;
            tx.commit().await?;
            Ok((row, notice))
        }.await);
        let (row, notice) = result?;
        self.announce(&[notice]).await;
        Ok(row.into())
    }

    pub async fn get_property(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
    ) -> StoreResult<Option<Property>> {
        let row: Option<PropertyRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM properties WHERE brokerage_id = $1 AND id = $2"))
            .bind(brokerage_id)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(Property::from))
    }

    /// Replaces a listing's details; `updated_at` moves only when they changed, so an unchanged
    /// listing is not re-matched by the nightly run. A change records `property.updated` (the
    /// fields that changed) and, when the status moved, `property.status_changed`.
    pub async fn update_property(
        &self,
        brokerage_id: Uuid,
        id: Uuid,
        details: &PropertyDetails,
    ) -> StoreResult<Option<Property>> {
        let key = self.sealing_key().await?;
        let result: StoreResult<(Option<PropertyRow>, Vec<Committed>)> = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let before: Option<Json<PropertyDetails>> =
                sqlx::query_scalar("SELECT details FROM properties WHERE brokerage_id = $1 AND id = $2")
                    .bind(brokerage_id)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let row: Option<PropertyRow> = sqlx::query_as(concat!(
                "UPDATE properties SET details = $3, listing_id = $4, status = $5, price = $6,
                    property_type = $7, city = $8, region = $9,
                    updated_at = CASE WHEN details = $3 THEN updated_at ELSE $10 END
                 WHERE brokerage_id = $1 AND id = $2 RETURNING ", columns!()))
            .bind(brokerage_id)
            .bind(id)
            .bind(Json(details))
            .bind(&details.listing_id)
            .bind(details.status.as_str())
            .bind(details.price)
            .bind(&details.property_type)
            .bind(&details.location.city)
            .bind(&details.location.region)
            .bind(Utc::now())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| listing_conflict(e, details))?;
            if row.is_some() {
                sync_external_ids!(
                    tx, "property_external_ids", "property_id", brokerage_id, id, &details.external_ids, "listing"
                );
            }
            let mut notices = Vec::new();
            if let (Some(_), Some(Json(before))) = (&row, before) {
                let fields = changed_fields(&before, details);
                if !fields.is_empty() {
                    let payload = serde_json::json!({ "property_id": id, "fields": fields });
                    notices.push(record_event!(tx, &key, brokerage_id, "property.updated", id, &payload)?);
                }
                if before.status != details.status {
                    let payload = serde_json::json!({
                        "property_id": id, "from": before.status.as_str(), "to": details.status.as_str(),
                    });
                    notices.push(record_event!(tx, &key, brokerage_id, "property.status_changed", id, &payload)?);
                }
            }
            tx.commit().await?;
            Ok((row, notices))
        }.await);
        let (row, notices) = result?;
        self.announce(&notices).await;
        Ok(row.map(Property::from))
    }

    /// Deletes a listing; its recommendations cascade, its embedding goes in the same transaction.
    pub async fn delete_property(&self, brokerage_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let deleted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM properties WHERE brokerage_id = $1 AND id = $2")
                .bind(brokerage_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 1 {
                sqlx::query("DELETE FROM embeddings WHERE brokerage_id = $1 AND subject_id = $2")
                    .bind(brokerage_id).bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(deleted)
        })?;
        Ok(deleted == 1)
    }

    /// One page of the brokerage's listings in id (creation) order.
    pub async fn list_properties(
        &self,
        brokerage_id: Uuid,
        filter: &PropertyFilter,
    ) -> StoreResult<Vec<Property>> {
        let rows: Vec<PropertyRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM properties
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR id > $2)
                   AND ($3 IS NULL OR price >= $3) AND ($4 IS NULL OR price <= $4)
                   AND ($5 IS NULL OR lower(city) = lower($5)) AND ($6 IS NULL OR lower(region) = lower($6))
                   AND ($7 IS NULL OR lower(property_type) = lower($7)) AND ($8 IS NULL OR status = $8)
                 ORDER BY id LIMIT $9"))
            .bind(brokerage_id)
            .bind(filter.after)
            .bind(filter.min_price)
            .bind(filter.max_price)
            .bind(&filter.city)
            .bind(&filter.region)
            .bind(&filter.property_type)
            .bind(filter.status.map(PropertyStatus::as_str))
            .bind(i64::from(filter.limit))
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(Property::from).collect())
    }

    /// Stores an imported listing under its listing id: created if new, replaced if it differs,
    /// left alone if it is the same, so an import can be repeated.
    pub async fn import_property(
        &self,
        caller: &Principal,
        details: &PropertyDetails,
    ) -> StoreResult<Imported> {
        // A concurrent import of the same listing id may create it first: then look again.
        for _ in 0..2 {
            let existing: Option<PropertyRow> = with_pool!(self, pool => {
                sqlx::query_as(concat!("SELECT ", columns!(), " FROM properties WHERE brokerage_id = $1 AND listing_id = $2"))
                    .bind(caller.brokerage_id)
                    .bind(&details.listing_id)
                    .fetch_optional(pool)
                    .await
            })?;
            match existing {
                Some(row) if row.details.0 == *details => return Ok(Imported::Unchanged(row.id)),
                Some(row) => {
                    self.update_property(caller.brokerage_id, row.id, details)
                        .await?;
                    return Ok(Imported::Updated(row.id));
                }
                None => match self.create_property(caller, details).await {
                    Ok(property) => return Ok(Imported::Created(property.id)),
                    Err(StoreError::Duplicate(_)) => continue,
                    Err(e) => return Err(e),
                },
            }
        }
        Err(duplicate_listing(details))
    }

    /// The brokerage's listings with these ids (in no particular order).
    pub async fn properties_by_ids(
        &self,
        brokerage_id: Uuid,
        ids: &[Uuid],
    ) -> StoreResult<Vec<Property>> {
        let rows: Vec<PropertyRow> = with_pool!(self, pool => fetch_by_ids!(
            pool, PropertyRow, ids,
            concat!("SELECT ", columns!(), " FROM properties WHERE id IN ("),
            |q| { q.push(" AND brokerage_id = ").push_bind(brokerage_id); }
        ));
        Ok(rows.into_iter().map(Property::from).collect())
    }
}
