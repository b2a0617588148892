//! A persona's versions: each state it has been in, recorded in the transaction of the change, and
//! the timeline of field-level differences between them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreResult, with_pool};
use crate::{
    auth::Principal,
    domain::{FieldChange, PersonaVersion, VersionChange},
};

/// Records the persona's current state as a version, on the transaction `$tx`: `$change` says
/// what made it (`created`, `updated`, `reassigned`, `redacted`), `$by` who.
macro_rules! record_version {
    ($tx:expr, $persona:expr, $by:expr, $change:literal) => {
        sqlx::query(concat!(
            "INSERT INTO persona_versions (persona_id, brokerage_id, version, profile, sealed, visibility, owner_id, changed_by, change, created_at)
             SELECT id, brokerage_id, version, profile, sealed, visibility, owner_user_id, $2, '",
            $change,
            "', $3 FROM personas WHERE id = $1"
        ))
        .bind($persona)
        .bind($by)
        .bind(chrono::Utc::now())
        .execute(&mut *$tx)
        .await
    };
}
pub(crate) use record_version;

#[derive(sqlx::FromRow)]
struct VersionRow {
    version: i64,
    profile: Json<Value>,
    sealed: Option<Vec<u8>>,
    visibility: String,
    owner_id: Uuid,
    changed_by: Uuid,
    change: String,
    created_at: DateTime<Utc>,
}

impl Store {
    /// A version with its profile opened.
    async fn open_version(&self, persona: Uuid, row: VersionRow) -> StoreResult<PersonaVersion> {
        let profile = self
            .open_profile(persona, row.profile.0, row.sealed.as_deref())
            .await?;
        Ok(PersonaVersion {
            version: row.version,
            change: row.change,
            changed_by: row.changed_by,
            owner_id: row.owner_id,
            visibility: row.visibility,
            created_at: row.created_at,
            profile,
        })
    }
}

/// Visible to `$2` (user) in team `$3`, checked on the persona itself (`$1` brokerage, `$4` id).
const VISIBLE_PERSONA: &str = concat!(
    "EXISTS (SELECT 1 FROM personas p WHERE p.brokerage_id = $1 AND p.id = $4 AND ",
    super::visible_to!("p", user = "$2", team = "$3"),
    ")"
);

impl Store {
    /// Every version of a persona the caller may see, oldest first.
    pub async fn persona_versions(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Vec<PersonaVersion>> {
        let rows: Vec<VersionRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT version, profile, sealed, visibility, owner_id, changed_by, change, created_at FROM persona_versions
                 WHERE persona_id = $4 AND {VISIBLE_PERSONA} ORDER BY version"
            )))
            .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(id)
            .fetch_all(pool)
            .await
        })?;
        let mut versions = Vec::with_capacity(rows.len());
        for row in rows {
            versions.push(self.open_version(id, row).await?);
        }
        Ok(versions)
    }

    /// One version of a persona the caller may see.
    pub async fn persona_version(
        &self,
        caller: &Principal,
        id: Uuid,
        version: i64,
    ) -> StoreResult<Option<PersonaVersion>> {
        let row: Option<VersionRow> = with_pool!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT version, profile, sealed, visibility, owner_id, changed_by, change, created_at FROM persona_versions
                 WHERE persona_id = $4 AND version = $5 AND {VISIBLE_PERSONA}"
            )))
            .bind(caller.brokerage_id).bind(caller.user_id).bind(caller.team_id).bind(id).bind(version)
            .fetch_optional(pool)
            .await
        })?;
        match row {
            Some(row) => self.open_version(id, row).await.map(Some),
            None => Ok(None),
        }
    }

    /// The timeline of a persona the caller may see, newest first: each version with what
    /// changed from the one before.
    pub async fn persona_history(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> StoreResult<Vec<VersionChange>> {
        let versions = self.persona_versions(caller, id).await?;
        let mut facts = if versions.iter().any(|v| v.change == "enriched") {
            self.facts_of(id).await?
        } else {
            Vec::new()
        };
        let mut timeline = Vec::with_capacity(versions.len());
        let mut previous: Option<&PersonaVersion> = None;
        for version in &versions {
            let mut changes = Vec::new();
            let before = previous.map(document);
            diff("", before.as_ref(), Some(&document(version)), &mut changes);
            timeline.push(VersionChange {
                version: version.version,
                change: version.change.clone(),
                changed_by: version.changed_by,
                created_at: version.created_at,
                changes,
                evidence: facts
                    .extract_if(.., |f| f.version == Some(version.version))
                    .collect(),
            });
            previous = Some(version);
        }
        timeline.reverse();
        Ok(timeline)
    }
}

/// What a version's diff compares: the profile, its visibility and its owner.
fn document(version: &PersonaVersion) -> Value {
    let mut document = version.profile.clone();
    document["visibility"] = Value::String(version.visibility.clone());
    document["owner_id"] = Value::String(version.owner_id.to_string());
    document
}

/// Field-level differences: objects are walked (`preferences.budget.max`), anything else —
/// arrays included — is compared whole.
fn diff(path: &str, before: Option<&Value>, after: Option<&Value>, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(&field, a.get(key), b.get(key), out);
            }
        }
        (None, Some(Value::Object(b))) if path.is_empty() => {
            for (key, value) in b {
                diff(key, None, Some(value), out);
            }
        }
        (a, b) => {
            let (a, b) = (a.filter(|v| !v.is_null()), b.filter(|v| !v.is_null()));
            if a != b {
                out.push(FieldChange {
                    field: path.to_owned(),
                    from: a.cloned(),
                    to: b.cloned(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_fields_are_named_by_path() {
        let mut out = Vec::new();
        diff(
            "",
            Some(
                &json!({ "name": "Ada", "preferences": { "budget": { "max": 3 }, "features": ["a"] } }),
            ),
            Some(
                &json!({ "name": "Ada", "preferences": { "budget": { "max": 4 }, "features": ["a", "b"] }, "biography": "x" }),
            ),
            &mut out,
        );
        let fields: Vec<&str> = out.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "biography",
                "preferences.budget.max",
                "preferences.features"
            ]
        );
        assert_eq!(out[1].from, Some(json!(3)));
        assert_eq!(out[1].to, Some(json!(4)));
    }
}
