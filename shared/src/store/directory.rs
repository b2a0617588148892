//! Teams, users and API keys as brokerage admins manage them, and the reassignment of a departed
//! agent's personas (knowledge retention).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult, audit::record_audit,
    is_unique_violation, parse_column, versions::record_version, with_pool,
};
use crate::{
    auth::{Admin, NewApiKey},
    domain::{ApiKeyInfo, Role, Team, User},
};

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    name: String,
    role: String,
    team_id: Option<Uuid>,
    active: bool,
    created_at: DateTime<Utc>,
    email: Option<String>,
    can_sign_in: bool,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> StoreResult<User> {
        Ok(User {
            id: row.id,
            name: row.name,
            role: parse_column(&row.role, Role::parse, "users.role")?,
            team_id: row.team_id,
            active: row.active,
            created_at: row.created_at,
            email: row.email,
            can_sign_in: row.can_sign_in,
        })
    }
}

/// A key minted for a user: `token` is the only copy of the secret.
pub struct MintedKey {
    pub key: ApiKeyInfo,
    pub token: String,
}

/// Why personas could not be reassigned.
#[derive(Debug, PartialEq, Eq)]
pub enum ReassignRefused {
    /// The departing user is still active: deactivate them first.
    StillActive,
    /// The receiving user is deactivated.
    ReceiverInactive,
}

impl Store {
    pub async fn create_team(&self, admin: Admin<'_>, name: &str) -> StoreResult<Team> {
        let team = Team {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            created_at: Utc::now(),
        };
        let inserted = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO teams (id, brokerage_id, name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(team.id).bind(admin.brokerage_id).bind(&team.name).bind(team.created_at)
                .execute(&mut *tx)
                .await?;
            let record = AuditRecord::admin("team.created", "team", team.id, serde_json::json!({}));
            record_audit!(tx, &admin, record)?;
            tx.commit().await
        }.await);
        match inserted {
            Ok(()) => Ok(team),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "a team named {name:?} exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_teams(&self, brokerage_id: Uuid) -> StoreResult<Vec<Team>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT id, name, created_at FROM teams WHERE brokerage_id = $1 ORDER BY name")
                .bind(brokerage_id)
                .fetch_all(pool)
                .await
        })?)
    }

    async fn team_exists(&self, brokerage_id: Uuid, team_id: Uuid) -> StoreResult<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM teams WHERE brokerage_id = $1 AND id = $2")
                .bind(brokerage_id).bind(team_id)
                .fetch_one(pool)
                .await
        })? == 1)
    }

    /// A new user; `None` when `team_id` is not one of the brokerage's teams.
    pub async fn create_user(
        &self,
        admin: Admin<'_>,
        name: &str,
        role: Role,
        team_id: Option<Uuid>,
    ) -> StoreResult<Option<User>> {
        let brokerage_id = admin.brokerage_id;
        if let Some(team) = team_id
            && !self.team_exists(brokerage_id, team).await?
        {
            return Ok(None);
        }
        let user = User {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            role,
            team_id,
            active: true,
            created_at: Utc::now(),
            email: None,
            can_sign_in: false,
        };
        let inserted = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO users (id, brokerage_id, team_id, name, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(user.id).bind(brokerage_id).bind(team_id).bind(name).bind(role.as_str()).bind(user.created_at)
                .execute(&mut *tx)
                .await?;
            let detail = serde_json::json!({ "role": role.as_str(), "team_id": team_id });
            record_audit!(tx, &admin, AuditRecord::admin("user.created", "user", user.id, detail))?;
            tx.commit().await
        }.await);
        match inserted {
            Ok(()) => Ok(Some(user)),
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "a user named {name:?} exists"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_user(&self, brokerage_id: Uuid, id: Uuid) -> StoreResult<Option<User>> {
        let row: Option<UserRow> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, name, role, team_id, active, created_at, email, password_hash IS NOT NULL AS can_sign_in FROM users WHERE brokerage_id = $1 AND id = $2")
                .bind(brokerage_id).bind(id)
                .fetch_optional(pool)
                .await
        })?;
        row.map(User::try_from).transpose()
    }

    /// The brokerage's users after the cursor, oldest first; `limit + 1` rows.
    pub async fn list_users(
        &self,
        brokerage_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let rows: Vec<UserRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, name, role, team_id, active, created_at, email, password_hash IS NOT NULL AS can_sign_in FROM users
                 WHERE brokerage_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
            )
            .bind(brokerage_id).bind(after).bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(User::try_from).collect()
    }

    /// Deactivates a user and revokes their keys, in one transaction with its audit entry: from
    /// its commit no key of theirs authenticates.
    pub async fn deactivate_user(&self, admin: Admin<'_>, id: Uuid) -> StoreResult<Option<User>> {
        let brokerage_id = admin.brokerage_id;
        let now = Utc::now();
        let updated = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query("UPDATE users SET active = FALSE WHERE brokerage_id = $1 AND id = $2")
                .bind(brokerage_id).bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // The brokerage scope is in the statement itself, not only in the check above: a key
            // of another brokerage's user is never touched, whatever id the caller sends.
            let revoked = sqlx::query(
                "UPDATE api_keys SET revoked_at = $3
                 WHERE revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE brokerage_id = $1 AND id = $2)",
            )
            .bind(brokerage_id).bind(id).bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Their web sessions end with the keys (a lookup checks `active` too; this keeps no
            // dead session rows around).
            sqlx::query("DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM users WHERE brokerage_id = $1 AND id = $2)")
                .bind(brokerage_id).bind(id)
                .execute(&mut *tx)
                .await?;
            if updated > 0 {
                let detail = serde_json::json!({ "keys_revoked": revoked });
                record_audit!(tx, &admin, AuditRecord::admin("user.deactivated", "user", id, detail))?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(updated)
        })?;
        if updated == 0 {
            return Ok(None);
        }
        self.get_user(brokerage_id, id).await
    }

    /// A new key for an active user of the brokerage; `None` otherwise.
    pub async fn mint_key(
        &self,
        admin: Admin<'_>,
        user_id: Uuid,
    ) -> StoreResult<Option<MintedKey>> {
        let key = NewApiKey::generate();
        let now = Utc::now();
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO api_keys (id, user_id, secret_hash, created_at)
                 SELECT $1, id, $3, $4 FROM users WHERE id = $2 AND brokerage_id = $5 AND active",
            )
            .bind(key.key_id).bind(user_id).bind(&key.secret_hash).bind(now).bind(admin.brokerage_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                let detail = serde_json::json!({ "user_id": user_id });
                record_audit!(tx, &admin, AuditRecord::admin("key.issued", "key", key.key_id, detail))?;
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(inserted)
        })?;
        Ok((inserted == 1).then_some(MintedKey {
            key: ApiKeyInfo {
                id: key.key_id,
                user_id,
                created_at: now,
                revoked_at: None,
            },
            token: key.token,
        }))
    }

    pub async fn list_keys(
        &self,
        brokerage_id: Uuid,
        user_id: Uuid,
    ) -> StoreResult<Vec<ApiKeyInfo>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT k.id, k.user_id, k.created_at, k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id
                 WHERE u.brokerage_id = $1 AND k.user_id = $2 ORDER BY k.id",
            )
            .bind(brokerage_id).bind(user_id)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Revokes a key of the brokerage; the owner of a revoked or unknown key gets `None`.
    pub async fn revoke_key(&self, admin: Admin<'_>, key_id: Uuid) -> StoreResult<Option<Uuid>> {
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let owner: Option<Uuid> = sqlx::query_scalar(
                "UPDATE api_keys SET revoked_at = $3
                 WHERE id = $2 AND revoked_at IS NULL AND user_id IN (SELECT id FROM users WHERE brokerage_id = $1)
                 RETURNING user_id",
            )
            .bind(admin.brokerage_id).bind(key_id).bind(Utc::now())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(user_id) = owner {
                let detail = serde_json::json!({ "user_id": user_id });
                record_audit!(tx, &admin, AuditRecord::admin("key.revoked", "key", key_id, detail))?;
            }
            tx.commit().await?;
            Ok::<Option<Uuid>, sqlx::Error>(owner)
        })?)
    }

    /// Moves every persona of `from` — private ones included, without anyone reading them — to
    /// `to` and `to`'s team, each move audited in the same transaction; `from` must have been
    /// deactivated. Returns the personas moved.
    pub async fn reassign_personas(
        &self,
        admin: Admin<'_>,
        from: &User,
        to: &User,
    ) -> StoreResult<Result<Vec<Uuid>, ReassignRefused>> {
        let (brokerage_id, by) = (admin.brokerage_id, admin.user_id);
        if from.active {
            return Ok(Err(ReassignRefused::StillActive));
        }
        if !to.active {
            return Ok(Err(ReassignRefused::ReceiverInactive));
        }
        let moved: Vec<Uuid> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let moved: Vec<Uuid> = sqlx::query_scalar(
                "UPDATE personas SET owner_user_id = $3, team_id = $4, version = version + 1, updated_at = $5
                 WHERE brokerage_id = $1 AND owner_user_id = $2
                 RETURNING id",
            )
            .bind(brokerage_id).bind(from.id).bind(to.id).bind(to.team_id).bind(Utc::now())
            .fetch_all(&mut *tx)
            .await?;
            for id in &moved {
                record_version!(tx, *id, by, "reassigned")?;
                let detail = serde_json::json!({ "from_user_id": from.id, "to_user_id": to.id });
                record_audit!(tx, &admin, AuditRecord::persona("persona.reassigned", *id, detail))?;
            }
            tx.commit().await?;
            moved
        });
        Ok(Ok(moved))
    }
}
