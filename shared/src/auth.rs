//! API keys: `trp_<key id>_<secret>`. Only a SHA-256 of the secret is stored, so a leaked database
//! yields no usable key; the secret is 256 random bits, so a fast hash is enough.

use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::{DeletionPolicy, Persona, Role, Visibility};

const PREFIX: &str = "trp_";

/// A freshly minted key: `token` is shown to the user once and never stored.
pub struct NewApiKey {
    pub key_id: Uuid,
    pub token: String,
    pub secret_hash: String,
}

impl NewApiKey {
    pub fn generate() -> Self {
        let key_id = Uuid::now_v7();
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let secret = hex::encode(secret);
        NewApiKey {
            key_id,
            token: format!("{PREFIX}{}_{secret}", key_id.simple()),
            secret_hash: hash_secret(&secret),
        }
    }
}

/// A webhook signing secret in the Standard Webhooks form: `whsec_` and 24 random bytes in
/// base64. Unlike API keys it is kept as written, because signing needs it.
pub fn new_webhook_secret() -> String {
    use base64::Engine;
    let mut secret = [0u8; 24];
    rand::rng().fill_bytes(&mut secret);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

/// A single-use WebSocket ticket: 256 random bits. Stored, like keys, only as a hash.
pub fn new_ws_ticket() -> String {
    new_token("wst_")
}

/// 256 random bits in hex after `prefix`: WebSocket tickets, invitation links, session cookies,
/// CSRF tokens. Stored (but for CSRF tokens) only as a [`hash_secret`].
pub fn new_token(prefix: &str) -> String {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    format!("{prefix}{}", hex::encode(secret))
}

/// The parts of a presented token; `None` when it is not shaped like one of ours.
pub fn parse_token(token: &str) -> Option<(Uuid, &str)> {
    let (id, secret) = token.strip_prefix(PREFIX)?.split_once('_')?;
    let key_id = Uuid::try_parse(id).ok()?;
    (secret.len() == 64).then_some((key_id, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares in time independent of where the strings first differ.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Who is calling: resolved from an API key, and carried into every store query.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: Uuid,
    pub user_id: Uuid,
    pub brokerage_id: Uuid,
    pub team_id: Option<Uuid>,
    pub role: Role,
}

impl Principal {
    /// This caller as a brokerage admin, if they are one.
    pub fn as_admin(&self) -> Option<Admin<'_>> {
        (self.role == Role::BrokerageAdmin).then_some(Admin(self))
    }

    /// Whether this caller may change a client they can see that belongs to `owner`: agents
    /// change their own clients, team leads and admins any they see. The store's writes hold
    /// the same rule in their statements; this tells pages and handlers what to offer.
    pub fn may_change_client_of(&self, owner: Uuid) -> bool {
        self.role != Role::Agent || owner == self.user_id
    }

    /// Whether this caller may delete a client they can see: one they may change, and, when the
    /// client is shared with a team or the brokerage and the brokerage's `policy` keeps such
    /// deletions for leads, only a team lead of the client's team or an admin. The store's
    /// soft delete holds the same rule in its statement.
    pub fn may_delete_client(&self, client: &Persona, policy: DeletionPolicy) -> bool {
        if !self.may_change_client_of(client.agent_id) {
            return false;
        }
        match (client.visibility, policy) {
            (Visibility::Private, _) | (_, DeletionPolicy::Owner) => true,
            (_, DeletionPolicy::LeadOrAdmin) => match self.role {
                Role::BrokerageAdmin => true,
                Role::TeamLead => client.team_id.is_some() && client.team_id == self.team_id,
                Role::Agent => false,
            },
        }
    }
}

/// A caller known to be a brokerage admin. The store's admin-only operations (people, teams,
/// keys, webhooks, the audit log) take one, and only [`Principal::as_admin`] makes one, so a
/// handler that forgets the role check does not compile rather than letting an agent through.
#[derive(Debug, Clone, Copy)]
pub struct Admin<'a>(&'a Principal);

impl<'a> Admin<'a> {
    /// The command line acting for `principal`: whoever runs it holds the database and its key,
    /// so every admin power already. Never for a request.
    pub fn for_operator(principal: &'a Principal) -> Self {
        Admin(principal)
    }
}

impl std::ops::Deref for Admin<'_> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_back_to_its_id_and_hash() {
        let key = NewApiKey::generate();
        let (id, secret) = parse_token(&key.token).unwrap();
        assert_eq!(id, key.key_id);
        assert!(hashes_match(&hash_secret(secret), &key.secret_hash));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for token in ["", "trp_", "trp_nothex_abc", "sk_123", "trp_0190_short"] {
            assert!(parse_token(token).is_none(), "{token}");
        }
    }
}
