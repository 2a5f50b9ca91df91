//! [`SignedEvent`]: a Nostr event (NIP-01) as a client sends it, and the two
//! checks that make it the signer's: its id is the hash of its content, and
//! its signature is the signer's BIP-340 signature of that id.

use k256::schnorr::Signature;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::npub::{Npub, NpubError};

/// The kind of a login event: NIP-98's HTTP auth.
pub const LOGIN_KIND: u32 = 27235;

/// A signed Nostr event, its fields as sent (NIP-01). Other keys a client
/// adds are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedEvent {
    /// The event id: 64 lowercase hex digits, the SHA-256 of the
    /// serialization [`SignedEvent::computed_id`] makes.
    pub id: String,
    /// The signer's key, 64 lowercase hex digits.
    pub pubkey: String,
    /// When the client made the event, in Unix seconds.
    pub created_at: u64,
    /// The event kind ([`LOGIN_KIND`] for a login).
    pub kind: u32,
    /// The tags: lists of strings, the first naming the tag.
    pub tags: Vec<Vec<String>>,
    /// The content (for a login, the challenge).
    pub content: String,
    /// The BIP-340 signature of the id, 128 lowercase hex digits.
    pub sig: String,
}

/// Why an event is not a valid signed event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON, or a field missing or of the wrong type.
    #[error("not a Nostr event: {0}")]
    Json(String),
    /// The `pubkey` field is no public key.
    #[error("the event's pubkey: {0}")]
    Pubkey(#[source] NpubError),
    /// The `id` field is not 64 lowercase hex digits.
    #[error("the event id is not 64 lowercase hex digits")]
    MalformedId,
    /// The `id` is not the hash of the event (NIP-01): the event was changed
    /// after it was made, or made wrongly.
    #[error("the event id is not the NIP-01 hash of the event (expected {expected})")]
    IdMismatch {
        /// The id the event's content hashes to.
        expected: String,
    },
    /// The `sig` field is not 128 hex digits of a signature.
    #[error("the event's sig is not a BIP-340 signature (128 hex digits)")]
    MalformedSignature,
    /// The signature does not verify for the event's key and id.
    #[error("the signature does not verify for the event's pubkey")]
    BadSignature,
}

impl SignedEvent {
    /// Reads an event from its JSON text.
    pub fn parse(json: &str) -> Result<Self, EventError> {
        serde_json::from_str(json).map_err(|e| EventError::Json(e.to_string()))
    }

    /// The event's id as NIP-01 defines it: the SHA-256 of the JSON array
    /// `[0, pubkey, created_at, kind, tags, content]` written without white
    /// space.
    pub fn computed_id(&self) -> [u8; 32] {
        let serialized = serde_json::to_string(&(
            0u8,
            &self.pubkey,
            self.created_at,
            self.kind,
            &self.tags,
            &self.content,
        ))
        .expect("strings and numbers always serialize");
        Sha256::digest(serialized.as_bytes()).into()
    }

    /// Checks that the event is its signer's: the key is a key, the id is
    /// the event's hash and the signature verifies; answers the signer.
    pub fn verify(&self) -> Result<Npub, EventError> {
        let npub = Npub::from_hex(&self.pubkey).map_err(EventError::Pubkey)?;
        if !is_lower_hex(&self.pubkey, 64) {
            return Err(EventError::Pubkey(NpubError::Unrecognised(
                self.pubkey.clone(),
            )));
        }
        if !is_lower_hex(&self.id, 64) {
            return Err(EventError::MalformedId);
        }
        let computed = self.computed_id();
        if hex::encode(computed) != self.id {
            return Err(EventError::IdMismatch {
                expected: hex::encode(computed),
            });
        }
        let mut sig = [0u8; 64];
        if !is_lower_hex(&self.sig, 128) || hex::decode_to_slice(&self.sig, &mut sig).is_err() {
            return Err(EventError::MalformedSignature);
        }
        let sig = Signature::from_slice(&sig).map_err(|_| EventError::MalformedSignature)?;
        npub.verifying_key()
            .verify_raw(&computed, &sig)
            .map_err(|_| EventError::BadSignature)?;
        Ok(npub)
    }

    /// The first value of the first tag named `name` (`["u", "https://..."]`
    /// gives `https://...` for `u`).
    pub fn tag(&self, name: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|tag| tag.first().is_some_and(|n| n == name))
            .and_then(|tag| tag.get(1))
            .map(String::as_str)
    }
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
