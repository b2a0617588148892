//! Brokerages, teams, users and API keys.

use chrono::Utc;
use uuid::Uuid;

use super::{BeginWrite, Store, StoreResult, parse_column, with_pool};
use crate::{
    auth::{NewApiKey, Principal},
    domain::Role,
};

/// A key minted by [`Store::provision_key`]; `token` is the only copy of the secret.
pub struct ProvisionedKey {
    pub token: String,
    pub brokerage_id: Uuid,
    pub user_id: Uuid,
}

#[derive(sqlx::FromRow)]
struct PrincipalRow {
    key_id: Uuid,
    secret_hash: String,
    user_id: Uuid,
    brokerage_id: Uuid,
    team_id: Option<Uuid>,
    role: String,
}

impl Store {
    /// The caller behind an active key of an active user, with the stored hash to check the
    /// presented secret against.
    pub async fn principal_for_key(
        &self,
        key_id: Uuid,
    ) -> StoreResult<Option<(Principal, String)>> {
        let row: Option<PrincipalRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT k.id AS key_id, k.secret_hash, u.id AS user_id, u.brokerage_id, u.team_id, u.role
                 FROM api_keys k JOIN users u ON u.id = k.user_id
                 WHERE k.id = $1 AND k.revoked_at IS NULL AND u.active",
            )
            .bind(key_id)
            .fetch_optional(pool)
            .await
        })?;
        row.map(|r| {
            let principal = Principal {
                key_id: r.key_id,
                user_id: r.user_id,
                brokerage_id: r.brokerage_id,
                team_id: r.team_id,
                role: parse_column(&r.role, Role::parse, "users.role")?,
            };
            Ok((principal, r.secret_hash))
        })
        .transpose()
    }

    /// Creates the brokerage, team and user when missing, then a new key for the user.
    pub async fn provision_key(
        &self,
        brokerage: &str,
        team: Option<&str>,
        user: &str,
        role: Role,
    ) -> StoreResult<ProvisionedKey> {
        let operator = self.provision_user(brokerage, team, user, role).await?;
        let key = NewApiKey::generate();
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO api_keys (id, user_id, secret_hash, created_at) VALUES ($1, $2, $3, $4)")
                .bind(key.key_id).bind(operator.user_id).bind(&key.secret_hash).bind(Utc::now())
                .execute(pool).await
                .map(|_| ())
        })?;
        Ok(ProvisionedKey {
            token: key.token,
            brokerage_id: operator.brokerage_id,
            user_id: operator.user_id,
        })
    }

    /// Creates the brokerage, team and user when missing (an existing user keeps their role and
    /// team). The answer acts as that user from the command line: its `key_id` is nil, which is
    /// what audit entries written with it show.
    pub async fn provision_user(
        &self,
        brokerage: &str,
        team: Option<&str>,
        user: &str,
        role: Role,
    ) -> StoreResult<Principal> {
        let now = Utc::now();
        let (brokerage_id, user_id, team_id, stored_role): (Uuid, Uuid, Option<Uuid>, String) = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("INSERT INTO brokerages (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(Uuid::now_v7()).bind(brokerage).bind(now)
                .execute(&mut *tx).await?;
            let brokerage_id: Uuid = sqlx::query_scalar("SELECT id FROM brokerages WHERE name = $1")
                .bind(brokerage).fetch_one(&mut *tx).await?;
            let team_id: Option<Uuid> = match team {
                Some(team) => {
                    sqlx::query("INSERT INTO teams (id, brokerage_id, name, created_at) VALUES ($1, $2, $3, $4)
                                 ON CONFLICT (brokerage_id, name) DO NOTHING")
                        .bind(Uuid::now_v7()).bind(brokerage_id).bind(team).bind(now)
                        .execute(&mut *tx).await?;
                    Some(sqlx::query_scalar("SELECT id FROM teams WHERE brokerage_id = $1 AND name = $2")
                        .bind(brokerage_id).bind(team).fetch_one(&mut *tx).await?)
                }
                None => None,
            };
            sqlx::query("INSERT INTO users (id, brokerage_id, team_id, name, role, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (brokerage_id, name) DO NOTHING")
                .bind(Uuid::now_v7()).bind(brokerage_id).bind(team_id).bind(user).bind(role.as_str()).bind(now)
                .execute(&mut *tx).await?;
            let (user_id, team_id, stored_role): (Uuid, Option<Uuid>, String) =
                sqlx::query_as("SELECT id, team_id, role FROM users WHERE brokerage_id = $1 AND name = $2")
                    .bind(brokerage_id).bind(user).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>((brokerage_id, user_id, team_id, stored_role))
        })?;
        Ok(Principal {
            key_id: Uuid::nil(),
            user_id,
            brokerage_id,
            team_id,
            role: parse_column(&stored_role, Role::parse, "users.role")?,
        })
    }

    /// The id of the brokerage with this name.
    pub async fn brokerage_id(&self, name: &str) -> StoreResult<Option<Uuid>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM brokerages WHERE name = $1").bind(name).fetch_optional(pool).await
        })?)
    }

    /// Every brokerage, for the nightly schedule.
    pub async fn brokerage_ids(&self) -> StoreResult<Vec<Uuid>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM brokerages ORDER BY id").fetch_all(pool).await
        })?)
    }
}

impl Store {
    /// Records a WebSocket ticket (by hash) for the key that asked for it.
    pub async fn create_ws_ticket(
        &self,
        key_id: Uuid,
        ticket_hash: &str,
        expires_at: chrono::DateTime<Utc>,
    ) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO ws_tickets (ticket_hash, key_id, expires_at) VALUES ($1, $2, $3)")
                .bind(ticket_hash).bind(key_id).bind(expires_at)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Uses up a ticket: the key it was issued to, if it exists and has not expired. Expired
    /// tickets are swept on the way.
    pub async fn redeem_ws_ticket(&self, ticket_hash: &str) -> StoreResult<Option<Uuid>> {
        let now = Utc::now();
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM ws_tickets WHERE expires_at <= $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let key: Option<Uuid> = sqlx::query_scalar(
                "DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING key_id",
            )
            .bind(ticket_hash)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            key
        }))
    }
}
