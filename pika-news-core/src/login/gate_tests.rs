//! The login check, case by case, with events signed here and by the Nostr
//! library upstream's `ph` uses.

use jiff::{SignedDuration, Timestamp};

use super::testing::{TestSigner, event_json};
use super::*;

const PATH: &str = "/git/auth/verify";
const URL: &str = "https://forge.example/git/auth/verify";

fn now() -> Timestamp {
    "2026-12-07T12:00:00Z".parse().expect("a time")
}

fn secs(t: Timestamp) -> u64 {
    t.as_second().try_into().expect("after 1970")
}

fn gate() -> LoginGate {
    LoginGate::new(LoginPolicy::default())
}

fn tags(u: Option<&str>, method: Option<&str>) -> Vec<Vec<String>> {
    let mut tags = Vec::new();
    if let Some(u) = u {
        tags.push(vec!["u".to_owned(), u.to_owned()]);
    }
    if let Some(m) = method {
        tags.push(vec!["method".to_owned(), m.to_owned()]);
    }
    tags
}

#[test]
fn a_signed_login_over_a_fresh_challenge_names_its_signer_once() {
    let gate = gate();
    let signer = TestSigner::from_seed(1);
    let challenge = gate.challenge(now());
    let json = signer.login_json(challenge.nonce(), URL, secs(now()));
    assert_eq!(gate.verify(&json, PATH, now()), Ok(signer.npub()));
    // The same event again: its challenge is used.
    assert_eq!(
        gate.verify(&json, PATH, now()),
        Err(LoginError::Challenge(ChallengeError::Unknown))
    );
}

#[test]
fn each_failed_check_is_named() {
    let gate = gate();
    let signer = TestSigner::from_seed(2);
    let c = gate.challenge(now());
    let at = secs(now());

    let wrong_kind = signer.sign(1, at, tags(Some(URL), Some("POST")), c.nonce());
    let err = gate
        .verify(&event_json(&wrong_kind), PATH, now())
        .unwrap_err();
    assert_eq!(err, LoginError::WrongKind { found: 1 });
    assert!(err.to_string().contains("27235"), "{err}");

    let get = signer.sign(LOGIN_KIND, at, tags(Some(URL), Some("GET")), c.nonce());
    let err = gate.verify(&event_json(&get), PATH, now()).unwrap_err();
    assert!(
        matches!(err, LoginError::WrongMethod { ref found } if found == "\"GET\""),
        "{err}"
    );

    let no_method = signer.sign(LOGIN_KIND, at, tags(Some(URL), None), c.nonce());
    let err = gate
        .verify(&event_json(&no_method), PATH, now())
        .unwrap_err();
    assert!(
        matches!(err, LoginError::WrongMethod { ref found } if found == "missing"),
        "{err}"
    );

    let elsewhere = "https://forge.example/git/api/me";
    let wrong_u = signer.sign(
        LOGIN_KIND,
        at,
        tags(Some(elsewhere), Some("POST")),
        c.nonce(),
    );
    let err = gate.verify(&event_json(&wrong_u), PATH, now()).unwrap_err();
    assert!(matches!(err, LoginError::WrongUrl { .. }), "{err}");
    assert!(err.to_string().contains("/auth/verify"), "{err}");

    let no_u = signer.sign(LOGIN_KIND, at, tags(None, Some("POST")), c.nonce());
    assert!(matches!(
        gate.verify(&event_json(&no_u), PATH, now()),
        Err(LoginError::WrongUrl { .. })
    ));

    for skew in [-61i64, 61, -100_000] {
        let when = u64::try_from(i64::try_from(at).expect("fits") + skew).expect("positive");
        let stale = signer.sign(LOGIN_KIND, when, tags(Some(URL), Some("POST")), c.nonce());
        let err = gate.verify(&event_json(&stale), PATH, now()).unwrap_err();
        assert!(matches!(err, LoginError::Stale { .. }), "{skew}: {err}");
    }
    for skew in [-60i64, 0, 60] {
        let when = u64::try_from(i64::try_from(at).expect("fits") + skew).expect("positive");
        let ok = signer.sign(LOGIN_KIND, when, tags(Some(URL), Some("POST")), "unknown");
        // Within the window: what fails is the made-up challenge, not the time.
        assert_eq!(
            gate.verify(&event_json(&ok), PATH, now()),
            Err(LoginError::Challenge(ChallengeError::Unknown))
        );
    }

    // None of the failures used the challenge up.
    let good = signer.login_json(c.nonce(), URL, at);
    assert_eq!(gate.verify(&good, PATH, now()), Ok(signer.npub()));
}

#[test]
fn a_bad_signature_or_a_changed_event_leaves_the_challenge_valid() {
    let gate = gate();
    let signer = TestSigner::from_seed(3);
    let c = gate.challenge(now());
    let at = secs(now());
    let event = signer.sign(LOGIN_KIND, at, tags(Some(URL), Some("POST")), c.nonce());

    // Another key's signature over the same id.
    let mut forged = event.clone();
    forged.sig = TestSigner::from_seed(4)
        .sign(LOGIN_KIND, at, tags(Some(URL), Some("POST")), c.nonce())
        .sig;
    let err = gate.verify(&event_json(&forged), PATH, now()).unwrap_err();
    assert_eq!(err, LoginError::Event(EventError::BadSignature));

    // Someone else's key claimed on a signed event.
    let mut claimed = event.clone();
    claimed.pubkey = TestSigner::from_seed(5).npub().to_hex();
    let err = gate.verify(&event_json(&claimed), PATH, now()).unwrap_err();
    assert!(
        matches!(err, LoginError::Event(EventError::IdMismatch { .. })),
        "{err}"
    );

    // The content changed after signing (id no longer its hash).
    let mut changed = event.clone();
    changed.tags = tags(Some("https://evil.example/auth/verify"), Some("POST"));
    let err = gate.verify(&event_json(&changed), PATH, now()).unwrap_err();
    assert!(
        matches!(err, LoginError::Event(EventError::IdMismatch { .. })),
        "{err}"
    );

    // Re-hashed but not re-signed.
    let mut rehashed = changed.clone();
    rehashed.id = hex::encode(rehashed.computed_id());
    let err = gate
        .verify(&event_json(&rehashed), PATH, now())
        .unwrap_err();
    assert_eq!(err, LoginError::Event(EventError::BadSignature));

    let mut short_sig = event.clone();
    short_sig.sig.truncate(100);
    let err = gate
        .verify(&event_json(&short_sig), PATH, now())
        .unwrap_err();
    assert_eq!(err, LoginError::Event(EventError::MalformedSignature));

    for junk in ["", "not json", "{}", "[1,2]", "{\"id\": 5}"] {
        let err = gate.verify(junk, PATH, now()).unwrap_err();
        assert!(
            matches!(err, LoginError::Event(EventError::Json(_))),
            "{junk:?}: {err}"
        );
        assert!(err.to_string().starts_with("not a Nostr event"), "{err}");
    }

    assert_eq!(
        gate.verify(&event_json(&event), PATH, now()),
        Ok(signer.npub())
    );
}

#[test]
fn an_expired_challenge_is_refused_as_expired() {
    let gate = gate();
    let signer = TestSigner::from_seed(6);
    let c = gate.challenge(now());
    let later = now() + CHALLENGE_TTL;
    let json = signer.login_json(c.nonce(), URL, secs(later));
    assert_eq!(
        gate.verify(&json, PATH, later),
        Err(LoginError::Challenge(ChallengeError::Expired))
    );
    let just_in_time = later - SignedDuration::from_secs(1);
    let json = signer.login_json(c.nonce(), URL, secs(just_in_time));
    assert_eq!(gate.verify(&json, PATH, just_in_time), Ok(signer.npub()));
}

#[test]
fn with_a_public_url_the_u_tag_must_be_exactly_it() {
    let gate = LoginGate::new(LoginPolicy {
        public_url: Some("https://forge.example/".to_owned()),
    });
    let signer = TestSigner::from_seed(7);
    let c = gate.challenge(now());
    let at = secs(now());
    for wrong in [
        "https://evil.example/git/auth/verify",
        "http://forge.example/git/auth/verify",
        "https://forge.example/news/auth/verify",
    ] {
        let json = signer.login_json(c.nonce(), wrong, at);
        let err = gate.verify(&json, PATH, now()).unwrap_err();
        assert_eq!(
            err,
            LoginError::WrongUrl {
                found: format!("{wrong:?}"),
                expected: URL.to_owned()
            }
        );
    }
    let json = signer.login_json(c.nonce(), URL, at);
    assert_eq!(gate.verify(&json, PATH, now()), Ok(signer.npub()));
}

#[test]
fn ten_thousand_challenges_keep_the_book_bounded() {
    let gate = LoginGate::new(LoginPolicy::default());
    for _ in 0..10_000 {
        gate.challenge(now());
    }
    assert_eq!(gate.outstanding(), MAX_OUTSTANDING);
}

// --- Against the Nostr library `ph` signs with --------------------------------

#[test]
fn an_event_signed_as_ph_signs_it_is_accepted() {
    use nostr::{EventBuilder, Keys, Kind, Tag, TagKind};

    let gate = gate();
    let nsec = "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5";
    let keys = Keys::parse(nsec).expect("NIP-19's nsec");
    let c = gate.challenge(now());
    let event = EventBuilder::new(Kind::Custom(27235), c.nonce())
        .tags([
            Tag::custom(TagKind::custom("u"), [URL]),
            Tag::custom(TagKind::custom("method"), ["POST"]),
        ])
        .custom_created_at(nostr::Timestamp::from(secs(now())))
        .sign_with_keys(&keys)
        .expect("signs");
    let json = serde_json::to_string(&event).expect("serializes");
    let npub = gate.verify(&json, PATH, now()).expect("ph's event passes");
    // NIP-19's example pair: this nsec's public key is the example npub.
    assert_eq!(
        npub.to_string(),
        "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg"
    );
}

#[test]
fn events_signed_here_verify_in_the_nostr_library_with_the_same_id() {
    let signer = TestSigner::from_seed(9);
    // Content that needs escaping, to pin the NIP-01 serialization.
    let content = "line\nquote\" back\\slash tab\t é ✓ \u{1}";
    let event = signer.sign(
        LOGIN_KIND,
        1_765_000_000,
        tags(Some(URL), Some("POST")),
        content,
    );
    let theirs: nostr::Event =
        serde_json::from_str(&event_json(&event)).expect("their type reads ours");
    theirs.verify().expect("their check passes on our event");
    assert_eq!(theirs.id.to_hex(), event.id);
    assert_eq!(event.verify(), Ok(signer.npub()));
}

proptest::proptest! {
    #[test]
    fn any_content_and_tags_sign_and_verify(
        content in ".{0,64}",
        tag in proptest::collection::vec(".{0,16}", 1..4),
        created_at in 0u64..4_000_000_000,
    ) {
        let signer = TestSigner::from_seed(11);
        let event = signer.sign(LOGIN_KIND, created_at, vec![tag], &content);
        let theirs: nostr::Event = serde_json::from_str(&event_json(&event)).expect("reads");
        proptest::prop_assert!(theirs.verify().is_ok());
        proptest::prop_assert_eq!(event.verify(), Ok(signer.npub()));
    }
}
