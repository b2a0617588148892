//! `/api/v1/teams`, `/users`, `/keys`: brokerage admins manage the brokerage's people and keys,
//! and hand a departed agent's personas to a colleague (knowledge retention) without reading them.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_shared::{
    auth::{Admin, Principal},
    domain::{ApiKeyInfo, Role, Team, User},
    store::{MintedKey, ReassignRefused},
};
use uuid::Uuid;

use crate::{
    ApiState, ApiTags,
    auth::{ApiKey, require_admin},
    pagination,
    problem::ApiError,
    web::WebSettings,
};

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewTeam {
    #[oai(validator(min_length = 1, max_length = 200))]
    name: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NewUser {
    #[oai(validator(min_length = 1, max_length = 200))]
    name: String,
    role: Role,
    team_id: Option<Uuid>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct UserPage {
    items: Vec<User>,
    next_cursor: Option<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct InviteRequest {
    /// What they will sign in with; unique across the service.
    #[oai(validator(min_length = 3, max_length = 254))]
    email: String,
}

/// A one-time link to the web workspace.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct InvitationLink {
    /// Give it to the user: it lets them set a password once. It is not shown again.
    url: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[derive(ApiResponse)]
enum CreatedInvitation {
    #[oai(status = 201)]
    Invitation(Json<InvitationLink>),
}

/// A new key: `token` is shown this once.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct IssuedKey {
    #[oai(flatten)]
    key: ApiKeyInfo,
    /// `trp_…`: give it to the user; it is not shown again.
    token: String,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Reassign {
    /// The active user who takes the personas over.
    to_user_id: Uuid,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct Reassigned {
    /// Personas moved, private ones included.
    reassigned: u64,
    to_user_id: Uuid,
}

#[derive(ApiResponse)]
enum CreatedTeam {
    #[oai(status = 201)]
    Team(Json<Team>),
}

#[derive(ApiResponse)]
enum CreatedUser {
    #[oai(status = 201)]
    User(Json<User>, #[oai(header = "Location")] String),
}

#[derive(ApiResponse)]
enum CreatedKey {
    #[oai(status = 201)]
    Key(Json<IssuedKey>),
}

#[derive(ApiResponse)]
enum Revoked {
    #[oai(status = 204)]
    Gone,
}

pub struct DirectoryApi;

#[OpenApi(tag = "ApiTags::Admin")]
impl DirectoryApi {
    #[oai(path = "/teams", method = "post")]
    async fn create_team(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<NewTeam>,
    ) -> Result<CreatedTeam, ApiError> {
        let admin = admin(&auth.0)?;
        let team = state.store.create_team(admin, &body.0.name).await?;
        Ok(CreatedTeam::Team(Json(team)))
    }

    #[oai(path = "/teams", method = "get")]
    async fn list_teams(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
    ) -> Result<Json<Vec<Team>>, ApiError> {
        let admin = admin(&auth.0)?;
        Ok(Json(state.store.list_teams(admin.brokerage_id).await?))
    }

    #[oai(path = "/users", method = "post")]
    async fn create_user(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        body: Json<NewUser>,
    ) -> Result<CreatedUser, ApiError> {
        let admin = admin(&auth.0)?;
        let NewUser {
            name,
            role,
            team_id,
        } = body.0;
        let user = state
            .store
            .create_user(admin, &name, role, team_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("team {}", team_id.unwrap_or_default())))?;
        let location = format!("/api/v1/users/{}", user.id);
        Ok(CreatedUser::User(Json(user), location))
    }

    #[oai(path = "/users", method = "get")]
    async fn list_users(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        cursor: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "200")))] limit: Query<Option<u32>>,
    ) -> Result<Json<UserPage>, ApiError> {
        let admin = admin(&auth.0)?;
        let size = pagination::page_size(limit.0, 50);
        let mut items = state
            .store
            .list_users(admin.brokerage_id, pagination::cursor(cursor.0)?, size)
            .await?;
        let next_cursor = pagination::next_cursor(&mut items, size, |u| u.id);
        Ok(Json(UserPage { items, next_cursor }))
    }

    #[oai(path = "/users/:id", method = "get")]
    async fn get_user(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<User>, ApiError> {
        let admin = admin(&auth.0)?;
        user(&state, admin, id.0).await.map(Json)
    }

    /// A departed user: their keys stop working at once; their personas stay, for reassignment.
    #[oai(path = "/users/:id/deactivate", method = "post")]
    async fn deactivate(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<User>, ApiError> {
        let admin = admin(&auth.0)?;
        if id.0 == admin.user_id {
            return Err(ApiError::Validation(
                "an admin cannot deactivate themselves".into(),
            ));
        }
        state
            .store
            .deactivate_user(admin, id.0)
            .await?
            .map(Json)
            .ok_or_else(|| ApiError::NotFound(format!("user {}", id.0)))
    }

    /// Hands every persona of a deactivated user — private ones included — to an active user
    /// (and their team). The admin never sees the personas; each move is audited.
    #[oai(path = "/users/:id/reassign-personas", method = "post")]
    async fn reassign(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<Reassign>,
    ) -> Result<Json<Reassigned>, ApiError> {
        let admin = admin(&auth.0)?;
        let from = user(&state, admin, id.0).await?;
        let to = user(&state, admin, body.0.to_user_id).await?;
        let moved = match state.store.reassign_personas(admin, &from, &to).await? {
            Ok(moved) => moved,
            Err(ReassignRefused::StillActive) => {
                return Err(ApiError::Conflict(format!(
                    "user {} is active: deactivate them first (POST /api/v1/users/{}/deactivate)",
                    from.id, from.id
                )));
            }
            Err(ReassignRefused::ReceiverInactive) => {
                return Err(ApiError::Validation(format!(
                    "user {} is deactivated and cannot take personas over",
                    to.id
                )));
            }
        };
        Ok(Json(Reassigned {
            reassigned: moved.len() as u64,
            to_user_id: to.id,
        }))
    }

    /// Invite an active user to the web workspace: records the email they sign in with and
    /// returns a link, valid for seven days and once, to set their password (a new invitation
    /// replaces an unused one; accepting ends the user's earlier sessions).
    #[oai(path = "/users/:id/invite", method = "post")]
    async fn invite(
        &self,
        state: Data<&ApiState>,
        settings: Data<&WebSettings>,
        req: &poem::Request,
        auth: ApiKey,
        id: Path<Uuid>,
        body: Json<InviteRequest>,
    ) -> Result<CreatedInvitation, ApiError> {
        let admin = admin(&auth.0)?;
        let invitation = crate::invite(
            &state.store,
            admin,
            id.0,
            &body.0.email,
            &settings.base_url(req),
        )
        .await?;
        Ok(CreatedInvitation::Invitation(Json(InvitationLink {
            url: invitation.url,
            expires_at: invitation.expires_at,
        })))
    }

    /// A new key for an active user.
    #[oai(path = "/users/:id/keys", method = "post")]
    async fn create_key(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<CreatedKey, ApiError> {
        let admin = admin(&auth.0)?;
        let minted = state
            .store
            .mint_key(admin, id.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("active user {}", id.0)))?;
        Ok(issued(minted))
    }

    /// The user's keys (never their secrets), revoked ones included.
    #[oai(path = "/users/:id/keys", method = "get")]
    async fn list_keys(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
        let admin = admin(&auth.0)?;
        user(&state, admin, id.0).await?;
        Ok(Json(state.store.list_keys(admin.brokerage_id, id.0).await?))
    }

    /// Revoke a key: it stops working at once.
    #[oai(path = "/keys/:id", method = "delete")]
    async fn revoke(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<Revoked, ApiError> {
        let admin = admin(&auth.0)?;
        state
            .store
            .revoke_key(admin, id.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("active key {}", id.0)))?;
        Ok(Revoked::Gone)
    }

    /// Replace a key: the old one is revoked and a new one for the same user is shown once.
    #[oai(path = "/keys/:id/rotate", method = "post")]
    async fn rotate(
        &self,
        state: Data<&ApiState>,
        auth: ApiKey,
        id: Path<Uuid>,
    ) -> Result<CreatedKey, ApiError> {
        let admin = admin(&auth.0)?;
        let owner = state
            .store
            .revoke_key(admin, id.0)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("active key {}", id.0)))?;
        let minted = state
            .store
            .mint_key(admin, owner)
            .await?
            .ok_or_else(|| ApiError::Conflict(format!("user {owner} is deactivated")))?;
        Ok(issued(minted))
    }
}

fn admin(caller: &Principal) -> Result<Admin<'_>, ApiError> {
    require_admin(caller, "manage users, teams and keys")
}

async fn user(state: &ApiState, admin: Admin<'_>, id: Uuid) -> Result<User, ApiError> {
    state
        .store
        .get_user(admin.brokerage_id, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id}")))
}

fn issued(minted: MintedKey) -> CreatedKey {
    CreatedKey::Key(Json(IssuedKey {
        key: minted.key,
        token: minted.token,
    }))
}
