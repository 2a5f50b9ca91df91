//! [`Npub`]: a Nostr public key, as NIP-19 writes it (`npub1...`) or as
//! events carry it (64 lowercase hex digits).

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32, Hrp};
use k256::schnorr::VerifyingKey;

/// The human-readable part of a NIP-19 public key.
const NPUB_HRP: &str = "npub";

/// A Nostr public key: the x coordinate of a secp256k1 point (BIP-340),
/// checked to be a point of the curve. Shown as `npub1...` (lowercase);
/// read from `npub1...` or from 64 hex digits.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Npub([u8; 32]);

/// Why a text is not a Nostr public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpubError {
    /// Neither `npub1...` nor 64 hex digits.
    #[error("{0:?} is not a Nostr public key (npub1... or 64 hex digits)")]
    Unrecognised(String),
    /// A bech32 text whose checksum or characters are wrong.
    #[error("{text:?} is not valid bech32: {reason}")]
    Bech32 {
        /// The text as given.
        text: String,
        /// What the bech32 decoder said.
        reason: String,
    },
    /// A bech32 key of another kind (an `nsec`, a `note`...).
    #[error("{text:?} is a NIP-19 {found:?}, not an npub")]
    WrongKind {
        /// The text as given.
        text: String,
        /// Its human-readable part.
        found: String,
    },
    /// Not 32 bytes long.
    #[error("a public key is 32 bytes, this one is {0}")]
    WrongLength(usize),
    /// 32 bytes that are no point's x coordinate on secp256k1.
    #[error("{0} is not a point of secp256k1")]
    NotOnCurve(String),
}

impl Npub {
    /// The key whose x coordinate is `bytes`, if it is a point of the curve.
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, NpubError> {
        VerifyingKey::from_slice(&bytes).map_err(|_| NpubError::NotOnCurve(hex::encode(bytes)))?;
        Ok(Self(bytes))
    }

    /// The key from 64 hex digits, as a Nostr event's `pubkey` has it.
    pub fn from_hex(text: &str) -> Result<Self, NpubError> {
        let mut bytes = [0u8; 32];
        if text.len() != 64 || hex::decode_to_slice(text, &mut bytes).is_err() {
            return Err(NpubError::Unrecognised(text.to_owned()));
        }
        Self::from_bytes(bytes)
    }

    /// The 32 bytes of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key to check BIP-340 signatures with.
    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey::from_slice(&self.0).expect("checked to be on the curve when made")
    }

    fn from_bech32(text: &str) -> Result<Self, NpubError> {
        let (hrp, data) = bech32::decode(text).map_err(|e| NpubError::Bech32 {
            text: text.to_owned(),
            reason: e.to_string(),
        })?;
        if hrp.to_lowercase() != NPUB_HRP {
            return Err(NpubError::WrongKind {
                text: text.to_owned(),
                found: hrp.to_lowercase(),
            });
        }
        let bytes: [u8; 32] = data
            .as_slice()
            .try_into()
            .map_err(|_| NpubError::WrongLength(data.len()))?;
        Self::from_bytes(bytes)
    }
}

impl FromStr for Npub {
    type Err = NpubError;

    /// Reads `npub1...` (either case, not mixed: bech32's rule) or 64 hex
    /// digits; surrounding white space is ignored.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() > 5 && text[..5].eq_ignore_ascii_case("npub1") {
            Self::from_bech32(text)
        } else if text.contains('1') && !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Another NIP-19 kind (nsec1..., note1...): say which.
            Self::from_bech32(text)
        } else {
            Self::from_hex(&text.to_ascii_lowercase())
        }
    }
}

impl fmt::Display for Npub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(NPUB_HRP);
        bech32::encode_lower_to_fmt::<Bech32, _>(f, hrp, &self.0).map_err(|_| fmt::Error)
    }
}

impl fmt::Debug for Npub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Npub({self})")
    }
}

impl TryFrom<String> for Npub {
    type Error = NpubError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Npub> for String {
    fn from(npub: Npub) -> Self {
        npub.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // NIP-19's published example key.
    const NIP19_NPUB: &str = "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg";
    const NIP19_HEX: &str = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e";
    const NIP19_NSEC: &str = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5";

    #[test]
    fn nip19s_example_reads_and_writes_both_ways() {
        let npub: Npub = NIP19_NPUB.parse().expect("NIP-19's npub");
        assert_eq!(npub.to_hex(), NIP19_HEX);
        assert_eq!(npub.to_string(), NIP19_NPUB);
        let from_hex: Npub = NIP19_HEX.parse().expect("NIP-19's hex key");
        assert_eq!(from_hex, npub);
        let upper: Npub = NIP19_NPUB
            .to_uppercase()
            .parse()
            .expect("bech32 in capitals");
        assert_eq!(upper, npub);
        let padded: Npub = format!("  {NIP19_NPUB}\n")
            .parse()
            .expect("with white space");
        assert_eq!(padded, npub);
    }

    #[test]
    fn serde_speaks_npub() {
        let npub: Npub = NIP19_NPUB.parse().expect("an npub");
        let json = serde_json::to_string(&npub).expect("serializes");
        assert_eq!(json, format!("\"{NIP19_NPUB}\""));
        let back: Npub = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, npub);
        let err = serde_json::from_str::<Npub>("\"npub1nope\"").unwrap_err();
        assert!(err.to_string().contains("not valid bech32"), "{err}");
    }

    #[test]
    fn other_texts_are_refused_and_say_why() {
        let nsec = NIP19_NSEC.parse::<Npub>().unwrap_err();
        assert!(
            matches!(nsec, NpubError::WrongKind { ref found, .. } if found == "nsec"),
            "{nsec}"
        );

        // One character changed: the checksum catches it.
        let mut typo = NIP19_NPUB.to_owned();
        typo.replace_range(10..11, if &typo[10..11] == "q" { "p" } else { "q" });
        assert!(matches!(
            typo.parse::<Npub>(),
            Err(NpubError::Bech32 { .. })
        ));

        assert!(matches!(
            "abc".parse::<Npub>(),
            Err(NpubError::Unrecognised(_))
        ));
        assert!(matches!(
            format!("{NIP19_HEX}00").parse::<Npub>(),
            Err(NpubError::Unrecognised(_))
        ));
        // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is no square mod p).
        let off_curve = format!("{:064x}", 5);
        assert!(matches!(
            off_curve.parse::<Npub>(),
            Err(NpubError::NotOnCurve(_))
        ));

        let short =
            bech32::encode::<Bech32>(Hrp::parse_unchecked("npub"), &[1u8; 31]).expect("encodes");
        assert_eq!(short.parse::<Npub>(), Err(NpubError::WrongLength(31)));
    }
}
