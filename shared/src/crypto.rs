//! Encryption at rest: AES-256-GCM (RustCrypto's `aes-gcm`) in an envelope. A master key from the
//! configuration wraps data keys that live, wrapped, in the database; each sealed value names the
//! data key that sealed it, so any process can open it, and rotation adds a data key and
//! re-seals without a restart. Every value is bound (as associated data) to what it is and whose
//! it is, so a ciphertext copied onto another row does not open.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::config::EncryptionKeySource;

const FORMAT: u8 = 1;
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Format byte, data-key id, nonce.
const HEADER_LEN: usize = 1 + 16 + NONCE_LEN;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("a sealed value is malformed")]
    Malformed,
    #[error("a sealed value did not open: the key is wrong or the data was altered")]
    Unauthentic,
    #[error("the encryption key must be 32 bytes, base64-encoded ({0})")]
    BadKey(String),
    #[error("encryption key file {path}: {error}")]
    KeyFile {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// What a sealed value is, bound into its ciphertext.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    /// A persona's profile but for its public fields (see `store::sealed_profiles`).
    PersonaPrivate,
    /// The text of a submitted enrichment source.
    SourceText,
    /// The quoted span a fact was extracted from.
    FactEvidence,
    /// A webhook endpoint's signing secrets.
    WebhookSecret,
    /// The `enrichment_data` of one individual simulation.
    SimulationNotes,
    /// A data key wrapped by the master key.
    DataKey,
    /// What a client said at a recorded showing.
    OutcomeNotes,
    /// A simulation's results: its personas' answers, quotes and names.
    SimulationResults,
    /// An outbox event's payload (a progress event carries answers).
    EventPayload,
    /// A model's reply kept in the response cache.
    CachedReply,
    /// A match recommendation's explanation (it names the client and quotes their wishes).
    MatchDetail,
    /// What a fact learned, and what it is about (`interests:sailing`).
    FactValue,
    /// Why an agent says a client liked or passed on a match.
    FeedbackReason,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::PersonaPrivate => b"persona-private",
            Purpose::SourceText => b"source-text",
            Purpose::FactEvidence => b"fact-evidence",
            Purpose::WebhookSecret => b"webhook-secret",
            Purpose::SimulationNotes => b"simulation-notes",
            Purpose::DataKey => b"data-key",
            Purpose::OutcomeNotes => b"outcome-notes",
            Purpose::SimulationResults => b"simulation-results",
            Purpose::EventPayload => b"event-payload",
            Purpose::CachedReply => b"cached-reply",
            Purpose::MatchDetail => b"match-detail",
            Purpose::FactValue => b"fact-value",
            Purpose::FeedbackReason => b"feedback-reason",
        }
    }
}

/// An AES-256-GCM key with the id sealed values carry.
#[derive(Clone)]
pub struct Key {
    id: Uuid,
    cipher: Aes256Gcm,
    /// Kept to re-wrap the key under a new master key; never written out in the clear.
    bytes: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("id", &self.id).finish()
    }
}

impl Key {
    fn from_bytes(id: Uuid, bytes: &[u8]) -> Result<Self, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(bytes)
            .map_err(|_| CryptoError::BadKey(format!("{} bytes", bytes.len())))?;
        Ok(Key {
            id,
            cipher,
            bytes: zeroize::Zeroizing::new(bytes.to_vec()),
        })
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Random 96-bit nonces: safe for far more values than one data key seals between rotations.
    pub fn seal(&self, purpose: Purpose, subject: Uuid, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(purpose, subject);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        sealed.push(FORMAT);
        sealed.extend_from_slice(self.id.as_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(
        &self,
        purpose: Purpose,
        subject: Uuid,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if sealed_key_id(sealed)? != self.id {
            return Err(CryptoError::Unauthentic);
        }
        let nonce =
            Nonce::from(<[u8; NONCE_LEN]>::try_from(&sealed[17..HEADER_LEN]).expect("12 bytes"));
        let aad = associated_data(purpose, subject);
        self.cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: &aad,
                },
            )
            .map_err(|_| CryptoError::Unauthentic)
    }
}

/// The id of the data key that sealed `sealed`.
pub fn sealed_key_id(sealed: &[u8]) -> Result<Uuid, CryptoError> {
    if sealed.len() < HEADER_LEN || sealed[0] != FORMAT {
        return Err(CryptoError::Malformed);
    }
    Ok(Uuid::from_slice(&sealed[1..17]).expect("16 bytes"))
}

fn associated_data(purpose: Purpose, subject: Uuid) -> Vec<u8> {
    let mut aad = purpose.label().to_vec();
    aad.push(b':');
    aad.extend_from_slice(subject.as_bytes());
    aad
}

/// The key that wraps data keys. Its id is nil: there is one per deployment.
#[derive(Clone, Debug)]
pub struct MasterKey(Key);

impl MasterKey {
    /// Reads the configured key, creating the embedded default's key file on first start.
    pub fn load(source: &EncryptionKeySource) -> Result<Self, CryptoError> {
        let encoded = match source {
            EncryptionKeySource::Inline(secret) => secret.expose_secret().to_owned(),
            EncryptionKeySource::File { path, create } => read_or_create(path, *create)?,
        };
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|e| CryptoError::BadKey(e.to_string()))?;
        if bytes.len() != KEY_LEN {
            return Err(CryptoError::BadKey(format!("{} bytes", bytes.len())));
        }
        Ok(MasterKey(Key::from_bytes(Uuid::nil(), &bytes)?))
    }

    /// A new data key: the key, and its bytes wrapped for storage.
    pub fn new_data_key(&self) -> (Key, Vec<u8>) {
        let id = Uuid::now_v7();
        let bytes = Aes256Gcm::generate_key(&mut OsRng);
        let key = Key::from_bytes(id, &bytes).expect("generated keys have the right length");
        (key, self.0.seal(Purpose::DataKey, id, &bytes))
    }

    /// A data key's bytes wrapped under this master key.
    pub fn wrap_data_key(&self, key: &Key) -> Vec<u8> {
        self.0.seal(Purpose::DataKey, key.id, &key.bytes)
    }

    pub fn unwrap_data_key(&self, id: Uuid, wrapped: &[u8]) -> Result<Key, CryptoError> {
        let bytes = self.0.open(Purpose::DataKey, id, wrapped)?;
        Key::from_bytes(id, &bytes)
    }

    /// The blind index keyed from this master key.
    pub fn blind_index(&self) -> BlindIndex {
        let key = hmac(&self.0.bytes, &[b"troupe blind index v1"]);
        let tag = hex::encode(&hmac(&key, &[b"tag"])[..8]);
        BlindIndex {
            key: zeroize::Zeroizing::new(key),
            tag,
        }
    }
}

/// Keyed hashes of normalised values (a client's email address, say), so that equal values can
/// be found without storing them: HMAC-SHA256 under a key derived from the master key, scoped to
/// a brokerage and a kind. Rotating the master key changes every digest; [`BlindIndex::tag`]
/// names the key a digest was made under, so stored digests can be made again.
#[derive(Clone)]
pub struct BlindIndex {
    key: zeroize::Zeroizing<Vec<u8>>,
    tag: String,
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlindIndex")
            .field("tag", &self.tag)
            .finish()
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        // Each part with its length, so that ("ab", "c") and ("a", "bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

impl BlindIndex {
    /// The digest of `normalised` as a `kind` (`email`, `phone`) in brokerage `scope`.
    pub fn digest(&self, scope: Uuid, kind: &str, normalised: &str) -> Vec<u8> {
        hmac(
            &self.key,
            &[scope.as_bytes(), kind.as_bytes(), normalised.as_bytes()],
        )
    }

    /// Names the key (not the key itself): digests made under another tag are stale.
    pub fn tag(&self) -> &str {
        &self.tag
    }
}

/// A new master key, base64-encoded (what `TROUPE_ENCRYPTION_KEY` takes).
pub fn generate_master_key() -> SecretString {
    SecretString::from(BASE64.encode(Aes256Gcm::generate_key(&mut OsRng)))
}

fn read_or_create(path: &Path, create: bool) -> Result<String, CryptoError> {
    let failed = |error| CryptoError::KeyFile {
        path: path.to_owned(),
        error,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound || !create => return Err(failed(e)),
        Err(_) => {}
    }
    let key = generate_master_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(key.expose_secret().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(failed)?;
    tracing::warn!(
        path = %path.display(),
        "created the encryption key file (mode 0600); back it up with the database: without it the encrypted fields cannot be read"
    );
    Ok(key.expose_secret().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::load(&EncryptionKeySource::Inline(generate_master_key())).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_as_what_and_whose_it_is() {
        let (key, _) = master().new_data_key();
        let subject = Uuid::now_v7();
        let sealed = key.seal(Purpose::SourceText, subject, b"budget raised to $40M");
        assert_eq!(sealed_key_id(&sealed).unwrap(), key.id());
        assert!(!sealed.windows(6).any(|w| w == b"budget"));
        assert_eq!(
            key.open(Purpose::SourceText, subject, &sealed).unwrap(),
            b"budget raised to $40M"
        );
        assert!(key.open(Purpose::FactEvidence, subject, &sealed).is_err());
        assert!(
            key.open(Purpose::SourceText, Uuid::now_v7(), &sealed)
                .is_err()
        );
        let mut altered = sealed;
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open(Purpose::SourceText, subject, &altered).is_err());
    }

    #[test]
    fn data_keys_unwrap_only_under_their_master_key() {
        let (key, wrapped) = master().new_data_key();
        let other = master();
        assert!(other.unwrap_data_key(key.id(), &wrapped).is_err());
        let rewrapped = other.wrap_data_key(&key);
        let again = other.unwrap_data_key(key.id(), &rewrapped).unwrap();
        let sealed = key.seal(Purpose::SourceText, key.id(), b"same key");
        assert_eq!(
            again.open(Purpose::SourceText, key.id(), &sealed).unwrap(),
            b"same key"
        );
    }

    #[test]
    fn the_embedded_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("troupe.db.key");
        let source = EncryptionKeySource::File {
            path: path.clone(),
            create: true,
        };
        let first = MasterKey::load(&source).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (key, wrapped) = first.new_data_key();
        let again = MasterKey::load(&source).unwrap();
        assert_eq!(
            again.unwrap_data_key(key.id(), &wrapped).unwrap().id(),
            key.id()
        );
    }

    #[test]
    fn blind_digests_match_equal_values_under_one_master_key_only() {
        let (key, other) = (master(), master());
        let (index, scope) = (key.blind_index(), Uuid::now_v7());
        let digest = index.digest(scope, "email", "h.vale@example.com");
        assert_eq!(digest, index.digest(scope, "email", "h.vale@example.com"));
        assert_ne!(digest, index.digest(scope, "email", "h.vale@example.org"));
        assert_ne!(digest, index.digest(scope, "phone", "h.vale@example.com"));
        assert_ne!(
            digest,
            index.digest(Uuid::now_v7(), "email", "h.vale@example.com")
        );
        let rotated = other.blind_index();
        assert_ne!(digest, rotated.digest(scope, "email", "h.vale@example.com"));
        assert_ne!(index.tag(), rotated.tag());
        assert_eq!(index.tag(), key.blind_index().tag());
    }
}
