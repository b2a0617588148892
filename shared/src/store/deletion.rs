//! Deleting a client is reversible for [`RESTORE_WINDOW`]: the client is hidden from every read
//! at once (the visibility rule leaves out anyone deleted), an admin can restore them until the
//! window closes, and the scheduler's hourly cleanup then erases them for good (see
//! [`erasure`](super::erasure)). Who may delete a shared client is the brokerage's
//! [`DeletionPolicy`].

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreResult,
    audit::record_audit,
    parse_column,
    personas::{visible, writable},
    with_pool,
};
use crate::{
    auth::{Admin, Principal},
    domain::{DeletedPersona, DeletionPolicy, RESTORE_WINDOW, Visibility},
};

/// The clients the caller (`$1` brokerage, `$2` user, `$3` team, `$5` role) may delete among
/// those they may change: [`Principal::may_delete_client`] as SQL.
macro_rules! deletable {
    () => {
        concat!(
            writable!(role = "$5"),
            " AND (visibility = 'private' OR $5 = 'brokerage_admin' OR ($5 = 'team_lead' AND team_id = $3)
                   OR (SELECT deletion_policy FROM brokerages WHERE id = $1) = 'owner')"
        )
    };
}

#[derive(sqlx::FromRow)]
struct DeletedRow {
    id: Uuid,
    owner_user_id: Uuid,
    team_id: Option<Uuid>,
    visibility: String,
    profile: Json<Value>,
    sealed: Option<Vec<u8>>,
    deleted_by: Option<Uuid>,
    deleted_at: DateTime<Utc>,
    erase_after: DateTime<Utc>,
}

impl Store {
    /// Who may delete the brokerage's shared clients.
    pub async fn deletion_policy(&self, brokerage_id: Uuid) -> StoreResult<DeletionPolicy> {
        let policy: String = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT deletion_policy FROM brokerages WHERE id = $1")
                .bind(brokerage_id)
                .fetch_one(pool)
                .await
        })?;
        parse_column(&policy, DeletionPolicy::parse, "brokerages.deletion_policy")
    }

    /// Sets who may delete the brokerage's shared clients, audited with the change.
    pub async fn set_deletion_policy(
        &self,
        admin: Admin<'_>,
        policy: DeletionPolicy,
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let before: String = sqlx::query_scalar("SELECT deletion_policy FROM brokerages WHERE id = $1")
                .bind(admin.brokerage_id)
                .fetch_one(&mut *tx)
                .await?;
            if before != policy.as_str() {
                sqlx::query("UPDATE brokerages SET deletion_policy = $2 WHERE id = $1")
                    .bind(admin.brokerage_id)
                    .bind(policy.as_str())
                    .execute(&mut *tx)
                    .await?;
                let detail = json!({ "deletion": { "from": before, "to": policy.as_str() } });
                let record = AuditRecord::admin("settings.updated", "brokerage", admin.brokerage_id, detail);
                record_audit!(tx, &admin, record)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes a client the caller may delete: hidden from everyone at once, erased when the
    /// window closes unless an admin restores them. Returns when the erasure is due, or `None`
    /// if the caller sees no such client or may not delete it.
    pub async fn delete_persona(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let now = Utc::now();
        let erase_after = now + RESTORE_WINDOW;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query(concat!(
                "UPDATE personas SET deleted_at = $6, erase_after = $7, deleted_by = $2, deleted_via = $8
                 WHERE brokerage_id = $1 AND id = $4 AND ", deletable!()))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(id)
                .bind(caller.role.as_str())
                .bind(now)
                .bind(erase_after)
                .bind(caller.key_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Ok(None);
            }
            let detail = json!({ "erase_after": erase_after });
            record_audit!(tx, caller, AuditRecord::persona("persona.deleted", id, detail))?;
            tx.commit().await?;
        });
        Ok(Some(erase_after))
    }

    /// Brings back a deleted client before their erasure, as they were (owner, team and
    /// visibility unchanged); `false` if no deleted client has the id.
    pub async fn restore_persona(&self, admin: Admin<'_>, id: Uuid) -> StoreResult<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let restored = sqlx::query(
                "UPDATE personas SET deleted_at = NULL, erase_after = NULL, deleted_by = NULL, deleted_via = NULL
                 WHERE brokerage_id = $1 AND id = $2 AND deleted_at IS NOT NULL")
                .bind(admin.brokerage_id)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if restored == 0 {
                return Ok(false);
            }
            record_audit!(tx, &admin, AuditRecord::persona("persona.restored", id, json!({})))?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The deleted clients (id, name) waiting for erasure who took part in simulation `run`:
    /// what is read of the run leaves them out, as their erasure will.
    pub(crate) async fn deleted_participants(
        &self,
        brokerage_id: Uuid,
        run: Uuid,
    ) -> StoreResult<Vec<(Uuid, String)>> {
        let rows: Vec<(Uuid, Json<Value>, Option<Vec<u8>>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT p.id, p.profile, p.sealed FROM simulation_personas sp JOIN personas p ON p.id = sp.persona_id
                 WHERE sp.simulation_id = $2 AND p.brokerage_id = $1 AND p.deleted_at IS NOT NULL")
                .bind(brokerage_id)
                .bind(run)
                .fetch_all(pool)
                .await
        })?;
        let mut deleted = Vec::with_capacity(rows.len());
        for (id, profile, sealed) in rows {
            let profile = self.open_profile(id, profile.0, sealed.as_deref()).await?;
            let name = profile["name"].as_str().unwrap_or_default().to_owned();
            deleted.push((id, name));
        }
        Ok(deleted)
    }

    /// One page of the brokerage's deleted clients in id order, after id `after`; `limit` rows.
    pub async fn deleted_personas(
        &self,
        admin: Admin<'_>,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<DeletedPersona>> {
        let rows: Vec<DeletedRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, owner_user_id, team_id, visibility, profile, sealed, deleted_by, deleted_at, erase_after
                 FROM personas WHERE brokerage_id = $1 AND deleted_at IS NOT NULL AND ($2 IS NULL OR id > $2)
                 ORDER BY id LIMIT $3")
                .bind(admin.brokerage_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        let mut deleted = Vec::with_capacity(rows.len());
        for row in rows {
            let visibility =
                parse_column(&row.visibility, Visibility::parse, "personas.visibility")?;
            // The admin's own view of the book before the deletion decides what they read.
            let seen = visibility == Visibility::Brokerage
                || row.owner_user_id == admin.user_id
                || (visibility == Visibility::Team
                    && row.team_id.is_some()
                    && row.team_id == admin.team_id);
            let name = if seen {
                let profile = self
                    .open_profile(row.id, row.profile.0, row.sealed.as_deref())
                    .await?;
                profile["name"].as_str().map(str::to_owned)
            } else {
                None
            };
            deleted.push(DeletedPersona {
                id: row.id,
                name,
                visibility,
                agent_id: row.owner_user_id,
                team_id: row.team_id,
                deleted_by: row.deleted_by,
                deleted_at: row.deleted_at,
                erase_after: row.erase_after,
            });
        }
        Ok(deleted)
    }
}
