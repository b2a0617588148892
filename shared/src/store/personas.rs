//! Personas, always read through the caller's visibility: a persona the caller may not see does
//! not exist for them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    AuditRecord, BeginWrite, Store, StoreError, StoreResult,
    audit::record_audit,
    changed_fields,
    events::record_event,
    fetch_by_ids,
    graph::sync_graph,
    lookup_keys::{MAX_SEARCH_WORDS, search_words, sync_digests, sync_external_ids},
    parse_column,
    sealed_profiles::seal_profile,
    versions::record_version,
    with_pool,
};
use crate::{
    auth::Principal,
    domain::{Persona, PersonaProfile, Visibility},
};

/// [`visible_to!`](super::visible_to) on the unaliased `personas` table, for the caller at `$2`
/// (user) and `$3` (team).
macro_rules! visible {
    () => {
        super::visible_to!("personas", user = "$2", team = "$3")
    };
}
pub(crate) use visible;
/// Who may change a persona: someone who sees it ([`visible!`], `$2` user, `$3` team), and an
/// agent only their own — team leads and admins any they see. `$role` names the bind holding the
/// caller's role. The store's update and delete carry it, so a handler that forgot to check
/// still cannot write.
macro_rules! writable {
    (role = $role:literal) => {
        concat!(
            visible!(),
            " AND (owner_user_id = $2 OR ",
            $role,
            " <> 'agent')"
        )
    };
}
pub(crate) use writable;
/// Writes the index rows of a persona's external ids and contact details (see
/// [`lookup_keys`](super::lookup_keys)) on transaction `$tx`.
macro_rules! sync_lookup_keys {
    ($store:expr, $tx:expr, $brokerage:expr, $persona:expr, $profile:expr) => {{
        let profile: &PersonaProfile = $profile;
        sync_external_ids!(
            $tx,
            "persona_external_ids",
            "persona_id",
            $brokerage,
            $persona,
            &profile.external_ids,
            "client"
        );
        sync_digests!($tx, $store.blind_index(), $brokerage, $persona, profile);
    }};
}
macro_rules! columns {
    () => {
        "id, brokerage_id, owner_user_id, team_id, visibility, version, synthetic, profile, sealed, created_at, updated_at"
    };
}
pub(crate) use columns;

/// One page of the personas `$2` (user, in team `$3`) may see in brokerage `$1`, after id `$4`,
/// filtered by segment `$5`, owner `$7`, team `$8`, visibility `$9`, synthetic or not `$10` and
/// the blind-index digest of an email address `$11`, `$6` at most; `$search` adds conditions.
macro_rules! list_personas {
    ($search:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            " FROM personas WHERE brokerage_id = $1 AND ",
            visible!(),
            "
               AND ($4 IS NULL OR id > $4) AND ($5 IS NULL OR segment = $5)
               AND ($7 IS NULL OR owner_user_id = $7) AND ($8 IS NULL OR team_id = $8)
               AND ($9 IS NULL OR visibility = $9) AND synthetic = $10
               AND ($11 IS NULL OR id IN (SELECT persona_id FROM persona_contacts
                    WHERE brokerage_id = $1 AND kind = 'email' AND digest = $11))",
            $search,
            " ORDER BY id LIMIT $6"
        )
    };
}

/// [`list_personas!`] without a search. Public so the benchmark can EXPLAIN the very query the
/// API runs.
pub const LIST_PERSONAS: &str = list_personas!("");

/// [`list_personas!`] of the clients holding every one of up to [`MAX_SEARCH_WORDS`] search word
/// digests, `$12` to `$15` (a word not asked repeats `$12`). One set of ids the database
/// intersects from the digest index, so a common word ("client") costs one index range, not a
/// check per row of the book.
const SEARCH_PERSONAS: &str = list_personas!(
    " AND id IN (
        SELECT persona_id FROM persona_terms WHERE brokerage_id = $1 AND kind = 'word' AND digest = $12
        INTERSECT SELECT persona_id FROM persona_terms WHERE brokerage_id = $1 AND kind = 'word' AND digest = COALESCE($13, $12)
        INTERSECT SELECT persona_id FROM persona_terms WHERE brokerage_id = $1 AND kind = 'word' AND digest = COALESCE($14, $12)
        INTERSECT SELECT persona_id FROM persona_terms WHERE brokerage_id = $1 AND kind = 'word' AND digest = COALESCE($15, $12))"
);

/// What a create or update writes.
pub struct PersonaWrite {
    pub profile: PersonaProfile,
    pub visibility: Visibility,
}

/// A client as a form's list offers it.
#[derive(Debug, Clone)]
pub struct ClientChoice {
    pub id: Uuid,
    pub name: String,
    pub segment: Option<String>,
}

#[derive(Default)]
pub struct PersonaFilter {
    pub segment: Option<String>,
    /// Only this agent's personas.
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub visibility: Option<Visibility>,
    /// Words each of which starts a word of the name or is a word of the biography, any case
    /// (see [`search_words`]); at most [`MAX_SEARCH_WORDS`].
    pub text: Option<String>,
    /// Only personas with a greater id (the cursor of the previous page).
    pub after: Option<Uuid>,
    pub limit: u32,
    /// The factory's synthetic participants instead of the client book.
    pub synthetic: bool,
    /// Only the client with this email address (normalised; found through its keyed hash).
    pub email: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct PersonaRow {
    id: Uuid,
    brokerage_id: Uuid,
    owner_user_id: Uuid,
    team_id: Option<Uuid>,
    visibility: String,
    version: i64,
    synthetic: bool,
    profile: Json<Value>,
    sealed: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Store {
    /// A stored persona with its profile opened.
    pub(crate) async fn unseal(&self, row: PersonaRow) -> StoreResult<Persona> {
        let profile = self
            .open_typed_profile(row.id, row.profile.0, row.sealed.as_deref())
            .await?;
        Ok(Persona {
            id: row.id,
            brokerage_id: row.brokerage_id,
            agent_id: row.owner_user_id,
            team_id: row.team_id,
            visibility: parse_column(&row.visibility, Visibility::parse, "personas.visibility")?,
            version: row.version,
            synthetic: row.synthetic,
            created_at: row.created_at,
            updated_at: row.updated_at,
            profile,
        })
    }

    async fn unseal_all(&self, rows: Vec<PersonaRow>) -> StoreResult<Vec<Persona>> {
        let mut personas = Vec::with_capacity(rows.len());
        for row in rows {
            personas.push(self.unseal(row).await?);
        }
        Ok(personas)
    }
}

impl Store {
    pub async fn create_persona(
        &self,
        caller: &Principal,
        write: PersonaWrite,
    ) -> StoreResult<Persona> {
        let key = self.sealing_key().await?;
        let now = Utc::now();
        let id = Uuid::now_v7();
        let stored = seal_profile(&write.profile, &key, id);
        let row = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: PersonaRow = sqlx::query_as(concat!("INSERT INTO personas (id, brokerage_id, owner_user_id, team_id, visibility, segment, version, profile, sealed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $9, $8, $8) RETURNING ", columns!()))
            .bind(id)
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(write.visibility.as_str())
            .bind(&write.profile.segment)
            .bind(&stored.public)
            .bind(now)
            .bind(&stored.sealed)
            .fetch_one(&mut *tx)
            .await?;
            sync_graph!(tx, self.blind_index(), caller.brokerage_id, row.id, &write.profile.knowledge_graph);
            sync_lookup_keys!(self, tx, caller.brokerage_id, row.id, &write.profile);
            record_version!(tx, row.id, caller.user_id, "created")?;
            let detail = serde_json::json!({ "visibility": write.visibility, "version": 1 });
            record_audit!(tx, caller, AuditRecord::persona("persona.created", row.id, detail))?;
            // Receivers (a CRM) get the ids and the labels, never the client's words.
            let payload = serde_json::json!({
                "persona_id": row.id, "agent_id": caller.user_id, "team_id": caller.team_id,
                "visibility": write.visibility, "segment": write.profile.segment, "version": 1,
            });
            let notice = record_event!(tx, &key, caller.brokerage_id, "persona.created", row.id, &payload)?;
            tx.commit().await?;
            (row, notice)
        });
        let (row, notice) = row;
        self.announce(&[notice]).await;
        self.unseal(row).await
    }

    pub async fn get_persona(&self, caller: &Principal, id: Uuid) -> StoreResult<Option<Persona>> {
        let row: Option<PersonaRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM personas WHERE brokerage_id = $1 AND id = $4 AND ", visible!()))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(id)
            .fetch_optional(pool)
            .await
        })?;
        match row {
            Some(row) => self.unseal(row).await.map(Some),
            None => Ok(None),
        }
    }

    /// Replaces the profile if the caller may change the persona and it is still at
    /// `expected_version` (a concurrent update wins, and this one answers `None`).
    pub async fn update_persona(
        &self,
        caller: &Principal,
        id: Uuid,
        expected_version: i64,
        write: PersonaWrite,
    ) -> StoreResult<Option<Persona>> {
        let key = self.sealing_key().await?;
        let stored = seal_profile(&write.profile, &key, id);
        let mut notices = Vec::new();
        let row: Option<PersonaRow> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let before: Option<PersonaRow> = sqlx::query_as(concat!("SELECT ", columns!(), " FROM personas WHERE brokerage_id = $1 AND id = $2"))
                .bind(caller.brokerage_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            let row: Option<PersonaRow> = sqlx::query_as(concat!("UPDATE personas SET profile = $5, segment = $6, visibility = $7, version = version + 1, updated_at = $8, sealed = $10
                 WHERE brokerage_id = $1 AND id = $4 AND version = $9 AND ", writable!(role = "$11"), " RETURNING ", columns!()))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(id)
            .bind(&stored.public)
            .bind(&write.profile.segment)
            .bind(write.visibility.as_str())
            .bind(Utc::now())
            .bind(expected_version)
            .bind(&stored.sealed)
            .bind(caller.role.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            if row.is_some() {
                sync_graph!(tx, self.blind_index(), caller.brokerage_id, id, &write.profile.knowledge_graph);
                sync_lookup_keys!(self, tx, caller.brokerage_id, id, &write.profile);
                record_version!(tx, id, caller.user_id, "updated")?;
                let detail = serde_json::json!({
                    "from_version": expected_version, "version": expected_version + 1,
                });
                record_audit!(tx, caller, AuditRecord::persona("persona.updated", id, detail))?;
                if let Some(before) = before {
                    let before = self.unseal(before).await?;
                    let mut fields = changed_fields(&before.profile, &write.profile);
                    if before.visibility != write.visibility {
                        fields.push("visibility".into());
                    }
                    // The names of the fields that changed, never their values.
                    let payload = serde_json::json!({
                        "persona_id": id, "version": expected_version + 1, "fields": fields,
                    });
                    notices.push(record_event!(tx, &key, caller.brokerage_id, "persona.updated", id, &payload)?);
                }
            }
            tx.commit().await?;
            row
        });
        self.announce(&notices).await;
        match row {
            Some(row) => self.unseal(row).await.map(Some),
            None => Ok(None),
        }
    }

    /// One page of visible personas in id (creation) order.
    pub async fn list_personas(
        &self,
        caller: &Principal,
        filter: &PersonaFilter,
    ) -> StoreResult<Vec<Persona>> {
        let words = filter.text.as_deref().map(search_words).unwrap_or_default();
        if filter.text.is_some() && words.is_empty() {
            return Ok(Vec::new()); // nothing searchable ("?!"): no client holds it
        }
        if words.len() > MAX_SEARCH_WORDS {
            return Err(StoreError::Invalid(format!(
                "a search takes up to {MAX_SEARCH_WORDS} words; {} were given",
                words.len()
            )));
        }
        let word = |i: usize| {
            words
                .get(i)
                .map(|w| self.blind_index().digest(caller.brokerage_id, "word", w))
        };
        let email = filter.email.as_deref().map(|email| {
            self.blind_index()
                .digest(caller.brokerage_id, "email", email)
        });
        let rows: Vec<PersonaRow> = with_pool!(self, pool => {
            let query = sqlx::query_as(if words.is_empty() { LIST_PERSONAS } else { SEARCH_PERSONAS })
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(filter.after)
                .bind(&filter.segment)
                .bind(i64::from(filter.limit))
                .bind(filter.owner_id)
                .bind(filter.team_id)
                .bind(filter.visibility.map(Visibility::as_str))
                .bind(filter.synthetic)
                .bind(&email);
            if words.is_empty() {
                query.fetch_all(pool).await
            } else {
                query.bind(word(0)).bind(word(1)).bind(word(2)).bind(word(3)).fetch_all(pool).await
            }
        })?;
        self.unseal_all(rows).await
    }

    /// The first `limit` clients of the caller's book (oldest first) as a form offers them: id,
    /// name and segment label.
    pub async fn client_choices(
        &self,
        caller: &Principal,
        limit: u32,
    ) -> StoreResult<Vec<ClientChoice>> {
        let rows: Vec<PersonaRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM personas
                                    WHERE brokerage_id = $1 AND ", visible!(), " AND NOT synthetic ORDER BY id LIMIT $4"))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        Ok(self
            .unseal_all(rows)
            .await?
            .into_iter()
            .map(|persona| ClientChoice {
                id: persona.id,
                name: persona.profile.name,
                segment: persona.profile.segment,
            })
            .collect())
    }

    /// The segment labels of the real personas the caller may see, with how many carry each.
    pub async fn segment_labels(&self, caller: &Principal) -> StoreResult<Vec<(String, i64)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT segment, COUNT(*) FROM personas WHERE brokerage_id = $1 AND ", visible!(),
                " AND segment IS NOT NULL AND NOT synthetic GROUP BY segment ORDER BY segment"))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .fetch_all(pool)
            .await
        })?)
    }

    /// Ids of the visible real (not synthetic) personas labelled with `segment`, oldest first.
    pub async fn persona_ids_in_segment(
        &self,
        caller: &Principal,
        segment: &str,
        limit: u32,
    ) -> StoreResult<Vec<Uuid>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(concat!("SELECT id FROM personas WHERE brokerage_id = $1 AND ", visible!(), " AND segment = $4 AND NOT synthetic ORDER BY id LIMIT $5"))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(segment)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?)
    }

    /// The personas of a run, by id within the brokerage (visibility was checked when the run was
    /// submitted), in the order of `ids`; ids deleted since (erased or waiting for it) are
    /// skipped.
    pub async fn personas_for_run(
        &self,
        brokerage_id: Uuid,
        ids: &[Uuid],
    ) -> StoreResult<Vec<Persona>> {
        let rows: Vec<PersonaRow> = with_pool!(self, pool => fetch_by_ids!(
            pool, PersonaRow, ids,
            concat!("SELECT ", columns!(), " FROM personas WHERE id IN ("),
            |q| { q.push(" AND deleted_at IS NULL AND brokerage_id = ").push_bind(brokerage_id); }
        ));
        let mut by_id: std::collections::HashMap<Uuid, PersonaRow> =
            rows.into_iter().map(|row| (row.id, row)).collect();
        let rows = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        self.unseal_all(rows).await
    }

    /// The synthetic persona the factory made under `factory_key`, if it has.
    pub async fn factory_persona(
        &self,
        brokerage_id: Uuid,
        factory_key: &str,
    ) -> StoreResult<Option<Persona>> {
        let row: Option<PersonaRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!("SELECT ", columns!(), " FROM personas WHERE brokerage_id = $1 AND factory_key = $2"))
                .bind(brokerage_id)
                .bind(factory_key)
                .fetch_optional(pool)
                .await
        })?;
        match row {
            Some(row) => self.unseal(row).await.map(Some),
            None => Ok(None),
        }
    }

    /// Stores a synthetic persona shared with the brokerage. Two runs drawing the same key at
    /// once store it once; both get the stored one.
    pub async fn store_factory_persona(
        &self,
        brokerage_id: Uuid,
        owner: Uuid,
        factory_key: &str,
        profile: &PersonaProfile,
    ) -> StoreResult<Persona> {
        let now = Utc::now();
        let id = Uuid::now_v7();
        let stored = seal_profile(profile, &self.sealing_key().await?, id);
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let stored_now = sqlx::query("INSERT INTO personas (id, brokerage_id, owner_user_id, team_id, visibility, segment, version, synthetic, factory_key, profile, sealed, created_at, updated_at)
                 VALUES ($1, $2, $3, NULL, 'brokerage', $4, 1, TRUE, $5, $6, $8, $7, $7)
                 ON CONFLICT (brokerage_id, factory_key) WHERE factory_key IS NOT NULL DO NOTHING")
            .bind(id)
            .bind(brokerage_id)
            .bind(owner)
            .bind(&profile.segment)
            .bind(factory_key)
            .bind(&stored.public)
            .bind(now)
            .bind(&stored.sealed)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if stored_now == 1 {
                sync_digests!(tx, self.blind_index(), brokerage_id, id, profile);
            }
            tx.commit().await?;
        });
        self.factory_persona(brokerage_id, factory_key)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("factory persona {factory_key} vanished")))
    }
}
