//! The keys a record is found by from outside Troupe: its ids in other systems (a CRM's, the
//! MLS's) and, for a client, keyed hashes of their email address and phone number. Each lives in
//! its record's document and, as an index, in a table of its own written in the transaction of the
//! change that sets it.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{
    BeginWrite, Store, StoreError, StoreResult, is_unique_violation, personas::PersonaRow,
    with_pool,
};
use crate::{
    auth::Principal,
    domain::{Contact, Persona, PersonaProfile, Property},
    duplicates::BookEntry,
};

/// Writes the index rows of `$ids` (a record's external ids) for subject `$subject` of brokerage
/// `$brokerage` into `$table`, whose subject column is `$column`, on transaction `$tx`. An id
/// another record holds is a [`StoreError::Duplicate`] naming it, `$noun` saying what holds it.
macro_rules! sync_external_ids {
    ($tx:expr, $table:literal, $column:literal, $brokerage:expr, $subject:expr, $ids:expr, $noun:literal) => {{
        let (brokerage_id, subject_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $subject);
        sqlx::query(concat!("DELETE FROM ", $table, " WHERE ", $column, " = $1"))
            .bind(subject_id)
            .execute(&mut *$tx)
            .await?;
        for (source, external_id) in $ids {
            sqlx::query(concat!(
                "INSERT INTO ",
                $table,
                " (brokerage_id, source, external_id, ",
                $column,
                ") VALUES ($1, $2, $3, $4)"
            ))
            .bind(brokerage_id)
            .bind(source)
            .bind(external_id)
            .bind(subject_id)
            .execute(&mut *$tx)
            .await
            .map_err(|e| $crate::store::lookup_keys::taken(e, $noun, source, external_id))?;
        }
    }};
}
pub(crate) use sync_external_ids;

/// Writes the keyed digests persona `$persona` of brokerage `$brokerage` is found by — its
/// contact details, city and search words, from `$profile` — under `$index` (a
/// [`BlindIndex`](crate::crypto::BlindIndex)) on transaction `$tx`, replacing what was there.
macro_rules! sync_digests {
    ($tx:expr, $index:expr, $brokerage:expr, $persona:expr, $profile:expr) => {{
        let (brokerage_id, persona_id): (uuid::Uuid, uuid::Uuid) = ($brokerage, $persona);
        let index: &$crate::crypto::BlindIndex = $index;
        let profile: &$crate::domain::PersonaProfile = $profile;
        let contacts: Vec<(&str, String)> =
            $crate::store::lookup_keys::contact_keys(&profile.contact);
        let terms: Vec<(&str, String)> = $crate::store::lookup_keys::search_terms(profile)
            .into_iter()
            .collect();
        for (table, keys) in [("persona_contacts", contacts), ("persona_terms", terms)] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE persona_id = $1"
            )))
            .bind(persona_id)
            .execute(&mut *$tx)
            .await?;
            // A biography makes a few hundred terms: a statement per batch, not per term.
            for chunk in keys.chunks($crate::store::INSERT_BATCH) {
                let mut insert = sqlx::QueryBuilder::new(format!(
                    "INSERT INTO {table} (brokerage_id, persona_id, kind, digest, key_tag) "
                ));
                insert.push_values(chunk, |mut row, (kind, value)| {
                    row.push_bind(brokerage_id)
                        .push_bind(persona_id)
                        .push_bind(*kind)
                        .push_bind(index.digest(brokerage_id, kind, value))
                        .push_bind(index.tag());
                });
                insert.build().execute(&mut *$tx).await?;
            }
        }
    }};
}
pub(crate) use sync_digests;

/// The normalised values a contact is found by, by kind.
pub(crate) fn contact_keys(contact: &Contact) -> Vec<(&'static str, String)> {
    [
        ("email", contact.normalised_email()),
        ("phone", contact.normalised_phone()),
    ]
    .into_iter()
    .filter_map(|(kind, value)| value.map(|v| (kind, v)))
    .collect()
}

/// The most words one search may ask for: each is a condition of the list's query.
pub const MAX_SEARCH_WORDS: usize = 4;

/// The words of `text` as the book is searched by them: lower case, split at anything that is
/// not a letter or a digit.
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// What a client is found by, by kind: `city`, and as `word` every start of every word of the
/// name (so "Val" finds "Vale" as it is typed) and each word of the biography (whole words only,
/// which keeps a long biography to a few hundred digests).
pub(crate) fn search_terms(profile: &PersonaProfile) -> BTreeSet<(&'static str, String)> {
    let mut terms = BTreeSet::new();
    if let Some(city) = profile_city(profile) {
        terms.insert(("city", city));
    }
    for word in search_words(&profile.name) {
        for (end, _) in word.char_indices().skip(1) {
            terms.insert(("word", word[..end].to_owned()));
        }
        terms.insert(("word", word));
    }
    for word in search_words(profile.biography.as_deref().unwrap_or_default()) {
        terms.insert(("word", word));
    }
    terms
}

/// A profile's city as duplicates are matched on it: trimmed, lower case.
fn profile_city(profile: &PersonaProfile) -> Option<String> {
    profile
        .demographics
        .location
        .as_ref()
        .and_then(|l| l.city.as_deref())
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty())
}

/// A unique violation on an external id, in words; any other error as it is.
pub(crate) fn taken(error: sqlx::Error, noun: &str, source: &str, id: &str) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Duplicate(format!(
            "the {source} id {id:?} already names another {noun} of the brokerage"
        ))
    } else {
        error.into()
    }
}

/// Who holds an external id in a brokerage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Nobody,
    /// A record the caller may see.
    Visible(Uuid),
    /// A client the caller may not see (another agent's private client, say).
    Unseen,
    /// A deleted client waiting for erasure, until which the id stays theirs.
    Deleted,
}

#[derive(sqlx::FromRow)]
struct BookRow {
    id: Uuid,
    profile: Json<Value>,
    sealed: Option<Vec<u8>>,
    email: Option<Vec<u8>>,
    phone: Option<Vec<u8>>,
}

/// The real clients the caller at `$1` (brokerage), `$2` (user) and `$3` (team) may see, as
/// [`BookRow`]s; a query adds its own conditions and order.
macro_rules! book_entries {
    () => {
        concat!(
            "SELECT p.id, p.profile, p.sealed,
                    (SELECT c.digest FROM persona_contacts c WHERE c.persona_id = p.id AND c.kind = 'email') AS email,
                    (SELECT c.digest FROM persona_contacts c WHERE c.persona_id = p.id AND c.kind = 'phone') AS phone
             FROM personas p WHERE p.brokerage_id = $1 AND NOT p.synthetic AND ",
            super::visible_persona!()
        )
    };
}

impl Store {
    /// Who holds `source`/`external_id` among the brokerage's clients, as the caller sees it.
    pub async fn persona_holder(
        &self,
        caller: &Principal,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Holder> {
        let held: Option<(Uuid, bool, bool)> = with_pool!(self, pool => {
            sqlx::query_as(concat!(
                "SELECT p.id, ", super::visible_persona!(), ", p.deleted_at IS NOT NULL FROM persona_external_ids e
                 JOIN personas p ON p.id = e.persona_id
                 WHERE e.brokerage_id = $1 AND e.source = $4 AND e.external_id = $5"))
            .bind(caller.brokerage_id)
            .bind(caller.user_id)
            .bind(caller.team_id)
            .bind(source)
            .bind(external_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(match held {
            None => Holder::Nobody,
            Some((_, _, true)) => Holder::Deleted,
            Some((id, true, _)) => Holder::Visible(id),
            Some((_, false, _)) => Holder::Unseen,
        })
    }

    /// The client the caller may see who holds `source`/`external_id`.
    pub async fn persona_by_external_id(
        &self,
        caller: &Principal,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<Persona>> {
        match self.persona_holder(caller, source, external_id).await? {
            Holder::Visible(id) => self.get_persona(caller, id).await,
            Holder::Nobody | Holder::Unseen | Holder::Deleted => Ok(None),
        }
    }

    /// The brokerage's listing that holds `source`/`external_id`.
    pub async fn property_by_external_id(
        &self,
        brokerage_id: Uuid,
        source: &str,
        external_id: &str,
    ) -> StoreResult<Option<Property>> {
        let id: Option<Uuid> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT property_id FROM property_external_ids
                 WHERE brokerage_id = $1 AND source = $2 AND external_id = $3")
            .bind(brokerage_id)
            .bind(source)
            .bind(external_id)
            .fetch_optional(pool)
            .await
        })?;
        match id {
            Some(id) => self.get_property(brokerage_id, id).await,
            None => Ok(None),
        }
    }

    /// The client book as duplicate detection reads it: every real client the caller may see, by
    /// name, city and contact digests (never the contact details themselves).
    pub async fn book_entries(&self, caller: &Principal) -> StoreResult<Vec<BookEntry>> {
        let rows: Vec<BookRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(book_entries!(), " ORDER BY p.id"))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .fetch_all(pool)
                .await
        })?;
        self.book_of(rows).await
    }

    /// The part of the book `candidate` could be a duplicate of: the clients the caller may see
    /// who share its email or phone digest, or its city's. One client's check reads these rather
    /// than the whole book.
    pub async fn book_near(
        &self,
        caller: &Principal,
        candidate: &BookEntry,
    ) -> StoreResult<Vec<BookEntry>> {
        let city = candidate
            .city
            .as_deref()
            .map(|c| c.trim().to_lowercase())
            .filter(|c| !c.is_empty())
            .map(|city| {
                self.blind_index()
                    .digest(caller.brokerage_id, "city", &city)
            });
        let rows: Vec<BookRow> = with_pool!(self, pool => {
            sqlx::query_as(concat!(book_entries!(), "
                 AND (p.id IN (SELECT c.persona_id FROM persona_contacts c WHERE c.brokerage_id = $1
                               AND ((c.kind = 'email' AND c.digest = $4) OR (c.kind = 'phone' AND c.digest = $5)))
                      OR p.id IN (SELECT t.persona_id FROM persona_terms t WHERE t.brokerage_id = $1
                                  AND t.kind = 'city' AND t.digest = $6))
                 ORDER BY p.id"))
                .bind(caller.brokerage_id)
                .bind(caller.user_id)
                .bind(caller.team_id)
                .bind(&candidate.email)
                .bind(&candidate.phone)
                .bind(city)
                .fetch_all(pool)
                .await
        })?;
        self.book_of(rows).await
    }

    /// Book entries with each client's name and city opened.
    async fn book_of(&self, rows: Vec<BookRow>) -> StoreResult<Vec<BookEntry>> {
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let profile = self
                .open_typed_profile(row.id, row.profile.0, row.sealed.as_deref())
                .await?;
            entries.push(BookEntry {
                id: Some(row.id),
                city: profile.demographics.location.and_then(|l| l.city),
                name: profile.name,
                email: row.email,
                phone: row.phone,
            });
        }
        Ok(entries)
    }

    /// `profile`'s entry as [`book_entries`](Self::book_entries) would read it once stored.
    pub fn book_entry(
        &self,
        caller: &Principal,
        id: Option<Uuid>,
        profile: &PersonaProfile,
    ) -> BookEntry {
        let index = self.blind_index();
        let digest = |kind: &str, value: Option<String>| {
            value.map(|v| index.digest(caller.brokerage_id, kind, &v))
        };
        BookEntry {
            id,
            name: profile.name.clone(),
            city: profile
                .demographics
                .location
                .as_ref()
                .and_then(|l| l.city.clone()),
            email: digest("email", profile.contact.normalised_email()),
            phone: digest("phone", profile.contact.normalised_phone()),
        }
    }

    /// Makes again the digests of clients made under another master key (after a re-wrap), so
    /// searches and duplicate checks still find them; run at start-up.
    pub(crate) async fn reindex_digests(&self) -> StoreResult<u64> {
        let tag = self.blind_index().tag().to_owned();
        let stale: Vec<(Uuid, Uuid)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT brokerage_id, persona_id FROM persona_contacts WHERE key_tag <> $1
                            UNION SELECT brokerage_id, persona_id FROM persona_terms WHERE key_tag <> $1")
                .bind(&tag)
                .fetch_all(pool)
                .await
        })?;
        for (brokerage_id, persona_id) in &stale {
            let row: Option<PersonaRow> = with_pool!(self, pool => {
                sqlx::query_as(concat!("SELECT ", super::personas::columns!(), " FROM personas WHERE id = $1"))
                    .bind(persona_id)
                    .fetch_optional(pool)
                    .await
            })?;
            let Some(row) = row else { continue };
            let persona = self.unseal(row).await?;
            with_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                sync_digests!(tx, self.blind_index(), *brokerage_id, *persona_id, &persona.profile);
                tx.commit().await?;
            });
        }
        Ok(stale.len() as u64)
    }
}
