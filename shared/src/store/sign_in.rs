//! People in the web workspace: invitations to set a password, sign-in, server-side sessions and
//! the failures that throttle guessing. Tokens (invitation links, session cookies) are stored only
//! as SHA-256 hashes, like API keys: they are 256 random bits, so a fast hash is enough.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult, audit::record_audit,
    is_unique_violation, parse_column, with_pool,
};
use crate::{
    auth::{Admin, Principal},
    domain::Role,
};

/// A sign-in's account: who, and the hash their password is checked against (`None` until an
/// invitation has been accepted).
pub struct Account {
    pub user_id: Uuid,
    pub password_hash: Option<String>,
}

/// The signed-in person behind a session cookie, with the token their forms must carry.
pub struct SessionPrincipal {
    pub principal: Principal,
    pub name: String,
    pub csrf_token: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    brokerage_id: Uuid,
    team_id: Option<Uuid>,
    role: String,
    name: String,
    csrf_token: String,
}

impl Store {
    /// Invites an active user of the admin's brokerage to set a password: records their email and
    /// a new invitation (replacing an unused one); `None` when there is no such active user.
    pub async fn invite_user(
        &self,
        admin: Admin<'_>,
        user_id: Uuid,
        email: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Option<()>> {
        let now = Utc::now();
        let email = email.trim().to_lowercase();
        let invited = with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let updated = sqlx::query("UPDATE users SET email = $3 WHERE brokerage_id = $1 AND id = $2 AND active")
                .bind(admin.brokerage_id).bind(user_id).bind(&email)
                .execute(&mut *tx).await?
                .rows_affected();
            if updated == 0 {
                return Ok(None);
            }
            sqlx::query("DELETE FROM user_invitations WHERE brokerage_id = $1 AND user_id = $2 AND used_at IS NULL")
                .bind(admin.brokerage_id).bind(user_id)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO user_invitations (token_hash, brokerage_id, user_id, created_at, expires_at)
                         VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash).bind(admin.brokerage_id).bind(user_id).bind(now).bind(expires_at)
                .execute(&mut *tx).await?;
            let detail = serde_json::json!({ "email": email, "expires_at": expires_at });
            record_audit!(tx, &admin, AuditRecord::admin("user.invited", "user", user_id, detail))?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(()))
        }.await);
        match invited {
            Err(e) if is_unique_violation(&e) => Err(StoreError::Duplicate(format!(
                "another user already signs in as {email}"
            ))),
            other => Ok(other?),
        }
    }

    /// The name of the active user an unexpired, unused invitation is for.
    pub async fn invitation(&self, token_hash: &str) -> StoreResult<Option<(String, String)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT u.name, u.email FROM user_invitations i JOIN users u ON u.id = i.user_id
                 WHERE i.token_hash = $1 AND i.used_at IS NULL AND i.expires_at > $2 AND u.active",
            )
            .bind(token_hash).bind(Utc::now())
            .fetch_optional(pool).await
        })?)
    }

    /// Spends an invitation on the password it sets; the user's existing sessions end. `None`
    /// when the invitation is unknown, used, expired, or its user deactivated.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        password_hash: &str,
    ) -> StoreResult<Option<Uuid>> {
        let now = Utc::now();
        Ok(with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            let user_id: Option<Uuid> = sqlx::query_scalar(
                "UPDATE user_invitations SET used_at = $2
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                   AND user_id IN (SELECT id FROM users WHERE active)
                 RETURNING user_id",
            )
            .bind(token_hash).bind(now)
            .fetch_optional(&mut *tx).await?;
            let Some(user_id) = user_id else {
                return Ok(None);
            };
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user_id).bind(password_hash)
                .execute(&mut *tx).await?;
            sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Some(user_id))
        }.await)?)
    }

    /// The active user who signs in as `email`.
    pub async fn account(&self, email: &str) -> StoreResult<Option<Account>> {
        let row: Option<(Uuid, Option<String>)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1 AND active")
                .bind(email.trim().to_lowercase())
                .fetch_optional(pool).await
        })?;
        Ok(row.map(|(user_id, password_hash)| Account {
            user_id,
            password_hash,
        }))
    }

    /// Opens a session for an active user; `false` if they were deactivated meanwhile.
    pub async fn open_session(
        &self,
        user_id: Uuid,
        token_hash: &str,
        csrf_token: &str,
        lifetime: Duration,
    ) -> StoreResult<bool> {
        let now = Utc::now();
        let opened = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO web_sessions (id, token_hash, brokerage_id, user_id, csrf_token, created_at, expires_at)
                 SELECT $1, $2, brokerage_id, id, $4, $5, $6 FROM users WHERE id = $3 AND active",
            )
            .bind(Uuid::now_v7()).bind(token_hash).bind(user_id).bind(csrf_token)
            .bind(now).bind(now + lifetime)
            .execute(pool).await
            .map(|done| done.rows_affected())
        })?;
        Ok(opened == 1)
    }

    /// The person behind an unexpired session of an active user. The session's id stands in for
    /// the key id of API callers (audit entries name it).
    pub async fn session_principal(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<SessionPrincipal>> {
        let row: Option<SessionRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT s.id, u.id AS user_id, u.brokerage_id, u.team_id, u.role, u.name, s.csrf_token
                 FROM web_sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active",
            )
            .bind(token_hash).bind(Utc::now())
            .fetch_optional(pool).await
        })?;
        row.map(|r| {
            Ok(SessionPrincipal {
                principal: Principal {
                    key_id: r.id,
                    user_id: r.user_id,
                    brokerage_id: r.brokerage_id,
                    team_id: r.team_id,
                    role: parse_column(&r.role, Role::parse, "users.role")?,
                },
                name: r.name,
                csrf_token: r.csrf_token,
            })
        })
        .transpose()
    }

    pub async fn close_session(&self, token_hash: &str) -> StoreResult<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
                .bind(token_hash).execute(pool).await
                .map(|done| done.rows_affected())
        })?;
        Ok(())
    }

    /// Records a failed sign-in against each subject (`account:…`, `address:…`), forgetting
    /// failures older than `window`.
    pub async fn record_sign_in_failure(
        &self,
        subjects: &[String],
        window: Duration,
    ) -> StoreResult<()> {
        let now = Utc::now();
        with_pool!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
                .bind(now - window).execute(&mut *tx).await?;
            for subject in subjects {
                sqlx::query("INSERT INTO sign_in_failures (subject, at) VALUES ($1, $2)")
                    .bind(subject).bind(now).execute(&mut *tx).await?;
            }
            tx.commit().await
        }.await)?;
        Ok(())
    }

    /// Failed sign-ins against `subject` within `window`.
    pub async fn sign_in_failures(&self, subject: &str, window: Duration) -> StoreResult<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM sign_in_failures WHERE subject = $1 AND at >= $2")
                .bind(subject).bind(Utc::now() - window)
                .fetch_one(pool).await
        })?)
    }
}
