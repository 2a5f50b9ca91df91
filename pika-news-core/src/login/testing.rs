//! [`TestSigner`]: signs Nostr events as a client would, for tests of the
//! login check and of the routes around it (feature `test-helpers`).

use k256::schnorr::SigningKey;

use super::event::{LOGIN_KIND, SignedEvent};
use super::npub::Npub;

/// A Nostr key that signs events.
#[derive(Debug, Clone)]
pub struct TestSigner {
    key: SigningKey,
}

impl TestSigner {
    /// The key whose secret is `seed` repeated (any byte but 0 makes a key).
    pub fn from_seed(seed: u8) -> Self {
        Self::from_secret([seed; 32])
    }

    /// The key with this 32-byte secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self {
            key: SigningKey::from_slice(&secret).expect("a secret in range"),
        }
    }

    /// Its public key.
    pub fn npub(&self) -> Npub {
        let bytes: [u8; 32] = self.key.verifying_key().to_bytes().into();
        Npub::from_bytes(bytes).expect("a signing key's public key is on the curve")
    }

    /// An event of `kind` with `tags` and `content`, made at `created_at`,
    /// with its id and signature filled in.
    pub fn sign(
        &self,
        kind: u32,
        created_at: u64,
        tags: Vec<Vec<String>>,
        content: &str,
    ) -> SignedEvent {
        let mut event = SignedEvent {
            id: String::new(),
            pubkey: self.npub().to_hex(),
            created_at,
            kind,
            tags,
            content: content.to_owned(),
            sig: String::new(),
        };
        let id = event.computed_id();
        let sig = self
            .key
            .sign_raw(&id, &[7u8; 32])
            .expect("signing a 32-byte id works");
        event.id = hex::encode(id);
        event.sig = hex::encode(sig.to_bytes());
        event
    }

    /// A login event over `challenge` for `url`, as `ph login` signs it, as
    /// JSON.
    pub fn login_json(&self, challenge: &str, url: &str, created_at: u64) -> String {
        let tags = vec![
            vec!["u".to_owned(), url.to_owned()],
            vec!["method".to_owned(), "POST".to_owned()],
        ];
        event_json(&self.sign(LOGIN_KIND, created_at, tags, challenge))
    }
}

/// `event` as the JSON a client posts.
pub fn event_json(event: &SignedEvent) -> String {
    serde_json::json!({
        "id": event.id,
        "pubkey": event.pubkey,
        "created_at": event.created_at,
        "kind": event.kind,
        "tags": event.tags,
        "content": event.content,
        "sig": event.sig,
    })
    .to_string()
}
