//! The values Sentinel stamps on every STS session (ARCHITECTURE.md, step 4 of a request):
//! `SourceIdentity`, `RoleSessionName` and session tags, each checked
//! against STS's own rules before the call.
//!
//! # SourceIdentity
//!
//! ```text
//! sentinel.<user>.<marker>.<request id>
//! ```
//!
//! - `sentinel` — fixed prefix, so audit tooling can tell Sentinel sessions
//!   from others;
//! - `<user>` — the caller's [`Username`] as the policy identified it
//!   (lowercase letters, digits and `_+=,.@-`, so it may itself hold dots),
//!   at most [`USER_MAX_LEN`] (28) characters: a longer name is refused,
//!   never cut, so two people can never share a stamp;
//! - `<marker>` — how access was granted ([`Marker`]):
//!   - `direct` — a policy rule allowed it;
//!   - `a` + 8 lowercase hex — an approved request; the hex is the first
//!     4 bytes of SHA-256 of the approval request id;
//!   - `b` + 8 lowercase hex — a break-glass event; the same hash of the
//!     break-glass event id.
//!
//!   `direct` has 6 characters and the hashed markers 9, so the three can
//!   never be confused;
//! - `<request id>` — 16 random lowercase hex digits (64 bits,
//!   [`RequestId`]), also written to the decision log.
//!
//! Example: `sentinel.alice.direct.9f8e7d6c5b4a3928`,
//! `sentinel.bob.smith.a1b2c3d4e.0badf00d0badf00d`. The marker and the
//! request id hold no dots, so a value is read from the right: the last
//! part is the request id, the one before it the marker, the rest after
//! `sentinel.` the user. The longest value is 64 characters; every value
//! satisfies STS's rules (2–64 characters of `[A-Za-z0-9_+=,.@-]`).
//!
//! The short hash cannot be reversed into an id; audit tooling that has a
//! candidate id checks it with [`Marker::is_approval`] /
//! [`Marker::is_break_glass`].

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use sentinel_policy::Username;
use sha2::{Digest, Sha256};

/// Fixed first component of every Sentinel `SourceIdentity`.
pub const PREFIX: &str = "sentinel";

/// Name of the session tag that carries the server session id.
pub const SESSION_ID_TAG: &str = "SentinelSessionID";

/// Shortest `SourceIdentity` / `RoleSessionName` STS accepts.
pub const STS_NAME_MIN_LEN: usize = 2;
/// Longest `SourceIdentity` / `RoleSessionName` STS accepts.
pub const STS_NAME_MAX_LEN: usize = 64;
/// Longest session tag key.
pub const TAG_KEY_MAX_LEN: usize = 128;
/// Longest session tag value.
pub const TAG_VALUE_MAX_LEN: usize = 256;
/// Longest user component: 64 − `sentinel.` − the longest marker (9) −
/// the request id (16) − two dots.
pub const USER_MAX_LEN: usize = STS_NAME_MAX_LEN - PREFIX.len() - 1 - 9 - 1 - 16 - 1;

/// Bytes of randomness in a [`RequestId`].
const REQUEST_ID_BYTES: usize = 8;

/// Longest value quoted back in an error message.
const MAX_QUOTED: usize = 100;

/// What is wrong with a `SourceIdentity`, session name or session tag.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceIdentityError {
    /// The value is not a Sentinel `SourceIdentity` at all.
    #[error(
        "{value:?} is not a Sentinel SourceIdentity: expected sentinel.<user>.<marker>.<request id>, e.g. sentinel.alice.direct.9f8e7d6c5b4a3928"
    )]
    Foreign {
        /// The value (cut to a printable length).
        value: String,
    },
    /// The value looks like a Sentinel `SourceIdentity` but one part is bad.
    #[error(
        "SourceIdentity {value:?} has an invalid {part}: {reason}; it was not produced by this version of Sentinel or has been altered"
    )]
    InvalidPart {
        /// The value (cut to a printable length).
        value: String,
        /// Which part: `user`, `marker` or `request id`.
        part: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A username too long to go into a `SourceIdentity`.
    #[error(
        "username \"{user}\" has {len} characters, but a SourceIdentity holds at most {max}; names are never cut (two people could share one), so map this principal to a shorter username in the policy's identity.principals"
    )]
    UserTooLong {
        /// The username.
        user: String,
        /// Its length.
        len: usize,
        /// [`USER_MAX_LEN`].
        max: usize,
    },
    /// A value that STS would refuse as `SourceIdentity` or `RoleSessionName`.
    #[error(
        "{what} {value:?} would be refused by STS: {reason}; use 2-64 characters of letters, digits and _+=,.@-"
    )]
    InvalidStsName {
        /// `SourceIdentity` or `RoleSessionName`.
        what: &'static str,
        /// The value (cut to a printable length).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A session tag that STS would refuse.
    #[error(
        "session tag {key:?} would be refused by STS: {reason}; keys are 1-128 and values 0-256 characters of letters, digits, spaces and _.:/=+-@, and keys may not start with aws:"
    )]
    InvalidTag {
        /// The tag key (cut to a printable length).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error(
        "could not get random bytes from the operating system for a request id ({detail}); no credentials were issued, try again"
    )]
    Random {
        /// What the random source reported.
        detail: String,
    },
}

/// Result of this module's operations.
pub type Result<T, E = SourceIdentityError> = std::result::Result<T, E>;

fn quoted(s: &str) -> String {
    s.chars().take(MAX_QUOTED).collect()
}

/// Characters STS allows in `SourceIdentity` and `RoleSessionName`.
pub fn is_sts_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Checks `value` against STS's rules for `SourceIdentity` and
/// `RoleSessionName`: 2–64 characters of ASCII letters, digits and
/// `_+=,.@-`. `what` names the field in the error.
pub fn check_sts_name(what: &'static str, value: &str) -> Result<()> {
    let reason = if value.len() < STS_NAME_MIN_LEN {
        Some("it is shorter than 2 characters")
    } else if value.len() > STS_NAME_MAX_LEN {
        Some("it is longer than 64 characters")
    } else if !value.chars().all(is_sts_name_char) {
        Some("it contains a character other than letters, digits and _+=,.@-")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(SourceIdentityError::InvalidStsName {
            what,
            value: quoted(value),
            reason,
        }),
    }
}

/// A 4-byte SHA-256 prefix of an approval or break-glass id, shown as 8
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShortHash([u8; 4]);

impl ShortHash {
    /// The short hash of `id`: the first 4 bytes of SHA-256 of its UTF-8 bytes.
    pub fn of(id: &str) -> Self {
        let digest = Sha256::digest(id.as_bytes());
        let mut out = [0u8; 4];
        out.copy_from_slice(&digest[..4]);
        ShortHash(out)
    }

    /// A short hash from its raw bytes.
    pub const fn from_bytes(bytes: [u8; 4]) -> Self {
        ShortHash(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.0
    }

    /// Parses exactly 8 lowercase hex digits.
    fn parse_hex(s: &str) -> Option<Self> {
        parse_hex4(s).map(ShortHash)
    }
}

impl fmt::Display for ShortHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ShortHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortHash({self})")
    }
}

/// Parses exactly 8 lowercase hex digits into 4 bytes.
fn parse_hex4(s: &str) -> Option<[u8; 4]> {
    if s.len() != 8 || !is_lower_hex(s) {
        return None;
    }
    let mut out = [0u8; 4];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// How access was granted, as recorded in the `SourceIdentity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Marker {
    /// A policy rule allowed the request (`direct`).
    Direct,
    /// An approved request allowed it (`a` + short hash of the request id).
    Approval(ShortHash),
    /// A break-glass event allowed it (`b` + short hash of the event id).
    BreakGlass(ShortHash),
}

impl Marker {
    /// The marker for the approval request `id`.
    pub fn approval(id: &str) -> Self {
        Marker::Approval(ShortHash::of(id))
    }

    /// The marker for the break-glass event `id`.
    pub fn break_glass(id: &str) -> Self {
        Marker::BreakGlass(ShortHash::of(id))
    }

    /// Whether this marker records the approval request `id`.
    pub fn is_approval(&self, id: &str) -> bool {
        *self == Marker::approval(id)
    }

    /// Whether this marker records the break-glass event `id`.
    pub fn is_break_glass(&self, id: &str) -> bool {
        *self == Marker::break_glass(id)
    }

    /// Parses `direct`, `a` + 8 lowercase hex or `b` + 8 lowercase hex.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "direct" {
            return Some(Marker::Direct);
        }
        if let Some(h) = s.strip_prefix('a') {
            return ShortHash::parse_hex(h).map(Marker::Approval);
        }
        if let Some(h) = s.strip_prefix('b') {
            return ShortHash::parse_hex(h).map(Marker::BreakGlass);
        }
        None
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Marker::Direct => f.write_str("direct"),
            Marker::Approval(h) => write!(f, "a{h}"),
            Marker::BreakGlass(h) => write!(f, "b{h}"),
        }
    }
}

/// Random bytes for [`RequestId::random`], used from `next` on.
struct RandomPool {
    bytes: [u8; RANDOM_POOL_BYTES],
    next: usize,
}

const RANDOM_POOL_BYTES: usize = 32 * REQUEST_ID_BYTES;

/// A random per-request id: 8 bytes (64 bits) shown as 16 lowercase hex
/// digits. With 64 bits a collision among the requests of one user is
/// unlikely before about 4 billion of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; REQUEST_ID_BYTES]);

impl RequestId {
    /// A fresh id from the operating system's random number generator.
    /// Fails (closed) if the generator fails.
    ///
    /// The bytes are drawn from the generator 32 ids at a time and each
    /// handed out once: a credential server makes an id per request, and
    /// one system call per 32 requests instead of one each.
    pub fn random() -> Result<Self> {
        static POOL: Mutex<RandomPool> = Mutex::new(RandomPool {
            bytes: [0; RANDOM_POOL_BYTES],
            next: RANDOM_POOL_BYTES,
        });
        let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.next + REQUEST_ID_BYTES > RANDOM_POOL_BYTES {
            getrandom::fill(&mut pool.bytes).map_err(|e| SourceIdentityError::Random {
                detail: e.to_string(),
            })?;
            pool.next = 0;
        }
        let mut b = [0u8; REQUEST_ID_BYTES];
        let start = pool.next;
        b.copy_from_slice(&pool.bytes[start..start + REQUEST_ID_BYTES]);
        // Never hand out the same bytes twice.
        pool.bytes[start..start + REQUEST_ID_BYTES].fill(0);
        pool.next = start + REQUEST_ID_BYTES;
        Ok(RequestId(b))
    }

    /// An id from its raw bytes (for tests and replays).
    pub const fn from_bytes(bytes: [u8; REQUEST_ID_BYTES]) -> Self {
        RequestId(bytes)
    }

    /// The raw bytes.
    pub const fn to_bytes(self) -> [u8; REQUEST_ID_BYTES] {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({self})")
    }
}

impl FromStr for RequestId {
    type Err = SourceIdentityError;

    /// Parses exactly 16 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self> {
        parse_hex8(s)
            .map(RequestId)
            .ok_or_else(|| SourceIdentityError::InvalidPart {
                value: quoted(s),
                part: "request id",
                reason: "it is not 16 lowercase hex digits",
            })
    }
}

/// Parses exactly 16 lowercase hex digits into 8 bytes.
fn parse_hex8(s: &str) -> Option<[u8; REQUEST_ID_BYTES]> {
    if s.len() != 2 * REQUEST_ID_BYTES || !is_lower_hex(s) {
        return None;
    }
    let mut out = [0u8; REQUEST_ID_BYTES];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A Sentinel `SourceIdentity`: who, how, and which request (see the
/// module docs for the format).
///
/// Construct with [`SourceIdentity::new`] or [`SourceIdentity::generate`],
/// print with `Display` / `to_string()`, read back with
/// [`SourceIdentity::parse`] / `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceIdentity {
    user: Username,
    marker: Marker,
    request_id: RequestId,
}

impl SourceIdentity {
    /// Builds a `SourceIdentity` from its parts. A `user` longer than
    /// [`USER_MAX_LEN`] is [`SourceIdentityError::UserTooLong`].
    pub fn new(user: &Username, marker: Marker, request_id: RequestId) -> Result<Self> {
        if user.len() > USER_MAX_LEN {
            return Err(SourceIdentityError::UserTooLong {
                user: user.to_string(),
                len: user.len(),
                max: USER_MAX_LEN,
            });
        }
        Ok(SourceIdentity {
            user: user.clone(),
            marker,
            request_id,
        })
    }

    /// Like [`SourceIdentity::new`] with a fresh [`RequestId::random`].
    pub fn generate(user: &Username, marker: Marker) -> Result<Self> {
        Self::new(user, marker, RequestId::random()?)
    }

    /// The username.
    pub fn user(&self) -> &Username {
        &self.user
    }

    /// How access was granted.
    pub fn marker(&self) -> Marker {
        self.marker
    }

    /// The request id.
    pub fn request_id(&self) -> RequestId {
        self.request_id
    }

    /// The `RoleSessionName` that goes with this identity (see
    /// [`role_session_name`]).
    pub fn role_session_name(&self) -> String {
        role_session_name(self)
    }

    /// Parses a value produced by `Display`. A value that does not start
    /// with `sentinel.` or has fewer than four dot-separated parts is
    /// [`SourceIdentityError::Foreign`]; a Sentinel-shaped value with a bad
    /// part is [`SourceIdentityError::InvalidPart`]. Never panics.
    pub fn parse(s: &str) -> Result<Self> {
        let foreign = || SourceIdentityError::Foreign { value: quoted(s) };
        let bad = |part, reason| SourceIdentityError::InvalidPart {
            value: quoted(s),
            part,
            reason,
        };
        if s.len() > STS_NAME_MAX_LEN {
            return Err(foreign());
        }
        let rest = s
            .strip_prefix(PREFIX)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(foreign)?;
        // The marker and the request id hold no dots: read from the right.
        let (rest, id) = rest.rsplit_once('.').ok_or_else(foreign)?;
        let (user, marker) = rest.rsplit_once('.').ok_or_else(foreign)?;
        let user = Username::parse(user)
            .ok()
            .filter(|u| u.len() <= USER_MAX_LEN)
            .ok_or_else(|| {
                bad(
                    "user",
                    "it is not a username of at most 28 lowercase letters, digits and _+=,.@-",
                )
            })?;
        let marker = Marker::parse(marker).ok_or_else(|| {
            bad(
                "marker",
                "it is not \"direct\", \"a\" + 8 hex digits or \"b\" + 8 hex digits",
            )
        })?;
        let request_id = parse_hex8(id)
            .map(RequestId)
            .ok_or_else(|| bad("request id", "it is not 16 lowercase hex digits"))?;
        Ok(SourceIdentity {
            user,
            marker,
            request_id,
        })
    }
}

impl fmt::Display for SourceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}.{}.{}.{}",
            self.user, self.marker, self.request_id
        )
    }
}

impl FromStr for SourceIdentity {
    type Err = SourceIdentityError;

    fn from_str(s: &str) -> Result<Self> {
        SourceIdentity::parse(s)
    }
}

/// The `RoleSessionName` for a vended session:
/// `sentinel-<user>-<request id>`, e.g. `sentinel-alice-9f8e7d6c5b4a3928`.
///
/// It shows up in the assumed-role ARN and in CloudTrail next to the
/// `SourceIdentity`, and shares its request id. It starts with
/// [`VENDED_SESSION_PREFIX`](sentinel_policy::identity::VENDED_SESSION_PREFIX), so a
/// vended session is never taken for a person when it calls Sentinel. At
/// most 54 characters of letters, digits and `_+=,.@-`, so it always
/// satisfies STS's rules.
pub fn role_session_name(identity: &SourceIdentity) -> String {
    format!(
        "{}{}-{}",
        sentinel_policy::identity::VENDED_SESSION_PREFIX,
        identity.user,
        identity.request_id
    )
}

/// Characters STS allows in session tag keys and values: letters, digits,
/// spaces and `_.:/=+-@` (a conservative reading of
/// `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: only the plain space is accepted as
/// whitespace, never tabs or line breaks).
pub fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c)
}

/// An STS session tag whose key and value STS accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionTag {
    key: String,
    value: String,
}

impl SessionTag {
    /// Checks a tag against STS's rules: key 1–128 characters, value
    /// 0–256 characters, both of [`is_tag_char`] characters; the key must
    /// not start with `aws:` (in any case).
    pub fn new(key: &str, value: &str) -> Result<Self> {
        let bad = |reason| SourceIdentityError::InvalidTag {
            key: quoted(key),
            reason,
        };
        let key_len = key.chars().count();
        if key_len == 0 {
            return Err(bad("the key is empty"));
        }
        if key_len > TAG_KEY_MAX_LEN {
            return Err(bad("the key is longer than 128 characters"));
        }
        if !key.chars().all(is_tag_char) {
            return Err(bad("the key contains a character STS does not allow"));
        }
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(bad("keys starting with aws: are reserved by AWS"));
        }
        if value.chars().count() > TAG_VALUE_MAX_LEN {
            return Err(bad("the value is longer than 256 characters"));
        }
        if !value.chars().all(is_tag_char) {
            return Err(bad("the value contains a character STS does not allow"));
        }
        Ok(SessionTag {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }

    /// The [`SESSION_ID_TAG`] tag carrying a server session id.
    pub fn session_id(id: &str) -> Result<Self> {
        Self::new(SESSION_ID_TAG, id)
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn marker_strategy() -> impl Strategy<Value = Marker> {
        prop_oneof![
            Just(Marker::Direct),
            any::<[u8; 4]>().prop_map(|b| Marker::Approval(ShortHash::from_bytes(b))),
            any::<[u8; 4]>().prop_map(|b| Marker::BreakGlass(ShortHash::from_bytes(b))),
            ".*".prop_map(|id| Marker::approval(&id)),
            ".*".prop_map(|id| Marker::break_glass(&id)),
        ]
    }

    fn user(s: &str) -> Username {
        Username::parse(s).unwrap()
    }

    proptest! {
        #[test]
        fn formatted_values_satisfy_sts_and_round_trip(
            name in "[a-z0-9_+=,.@-]{1,28}",
            marker in marker_strategy(),
            id in any::<[u8; 8]>(),
        ) {
            let name = user(&name);
            let si = SourceIdentity::new(&name, marker, RequestId::from_bytes(id)).unwrap();
            let s = si.to_string();
            prop_assert!(check_sts_name("SourceIdentity", &s).is_ok(), "{s}");
            prop_assert!(!s.contains(':'));
            prop_assert_eq!(SourceIdentity::parse(&s).unwrap(), si.clone());
            let parsed: SourceIdentity = s.parse().unwrap();
            prop_assert_eq!(parsed.user(), &name);
            let rsn = si.role_session_name();
            prop_assert!(check_sts_name("RoleSessionName", &rsn).is_ok(), "{rsn}");
            prop_assert!(rsn.starts_with(sentinel_policy::identity::VENDED_SESSION_PREFIX));
        }

        #[test]
        fn any_username_fits_or_is_refused_whole(name in "[a-z0-9_+=,.@-]{1,64}") {
            let made = SourceIdentity::generate(&user(&name), Marker::Direct);
            match made {
                Ok(si) => prop_assert_eq!(si.user().as_str(), name.as_str()),
                Err(e) => {
                    prop_assert!(name.len() > USER_MAX_LEN);
                    prop_assert!(e.to_string().contains("identity.principals"), "{e}");
                }
            }
        }

        #[test]
        fn parser_never_panics(s in ".*") {
            let _ = SourceIdentity::parse(&s);
        }

        #[test]
        fn parser_never_panics_on_near_misses(
            s in "sentinel\\.[A-Za-z0-9.@-]{0,30}\\.(direct|[abc][0-9a-fA-F]{7,9}|.{0,10})\\.[0-9a-fA-F.]{0,18}",
        ) {
            if let Ok(si) = SourceIdentity::parse(&s) {
                // Anything accepted prints back exactly: no two spellings.
                prop_assert_eq!(si.to_string(), s);
            }
        }

        #[test]
        fn accepted_tags_are_within_limits(k in ".{0,140}", v in ".{0,270}") {
            if let Ok(t) = SessionTag::new(&k, &v) {
                prop_assert!((1..=128).contains(&t.key().chars().count()));
                prop_assert!(t.value().chars().count() <= 256);
                prop_assert!(!t.key().to_ascii_lowercase().starts_with("aws:"));
            }
        }
    }

    const ID: [u8; 8] = [0x9f, 0x8e, 0x7d, 0x6c, 0x5b, 0x4a, 0x39, 0x28];

    #[test]
    fn examples() {
        let si =
            SourceIdentity::new(&user("alice"), Marker::Direct, RequestId::from_bytes(ID)).unwrap();
        assert_eq!(si.to_string(), "sentinel.alice.direct.9f8e7d6c5b4a3928");
        assert_eq!(si.role_session_name(), "sentinel-alice-9f8e7d6c5b4a3928");

        let a = Marker::approval("01J9ZQ3");
        let s = SourceIdentity::new(&user("bob.smith"), a, RequestId::from_bytes([0; 8]))
            .unwrap()
            .to_string();
        let back: SourceIdentity = s.parse().unwrap();
        assert_eq!(back.user(), "bob.smith");
        assert!(back.marker().is_approval("01J9ZQ3"));
        assert!(!back.marker().is_break_glass("01J9ZQ3"));
        assert!(s.starts_with("sentinel.bob.smith.a"));
        assert_eq!(
            s.len(),
            "sentinel.bob.smith.a12345678.0000000000000000".len()
        );
    }

    #[test]
    fn dotted_and_similar_names_stay_apart() {
        // a.lice and alice are different people, and so are their stamps.
        let a = SourceIdentity::new(&user("a.lice"), Marker::Direct, RequestId::from_bytes(ID))
            .unwrap();
        let b =
            SourceIdentity::new(&user("alice"), Marker::Direct, RequestId::from_bytes(ID)).unwrap();
        assert_ne!(a.to_string(), b.to_string());
        assert_eq!(
            SourceIdentity::parse(&a.to_string()).unwrap().user(),
            "a.lice"
        );
        // Two long names with the same first 20 characters keep their ends.
        let long1 = user("firstname.lastname1@corp.io");
        let long2 = user("firstname.lastname2@corp.io");
        let s1 = SourceIdentity::new(&long1, Marker::Direct, RequestId::from_bytes(ID)).unwrap();
        let s2 = SourceIdentity::new(&long2, Marker::Direct, RequestId::from_bytes(ID)).unwrap();
        assert_ne!(s1.to_string(), s2.to_string());
        assert_eq!(s1.to_string().len(), 9 + 27 + 8 + 16);
    }

    #[test]
    fn longest_user_with_longest_marker_fits_exactly() {
        let name = user(&"x".repeat(USER_MAX_LEN));
        let si = SourceIdentity::new(&name, Marker::break_glass("e"), RequestId::from_bytes(ID))
            .unwrap();
        assert_eq!(si.to_string().len(), STS_NAME_MAX_LEN);
        assert!(check_sts_name("SourceIdentity", &si.to_string()).is_ok());
        let too_long = user(&"x".repeat(USER_MAX_LEN + 1));
        let err = SourceIdentity::new(&too_long, Marker::Direct, RequestId::from_bytes(ID))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 28"), "{err}");
        assert!(err.contains("never cut"), "{err}");
    }

    #[test]
    fn foreign_and_malformed_values() {
        for s in [
            "",
            "alice",
            "arn:aws:iam::1:user/x",
            "other.alice.direct.9f8e7d6c5b4a3928",
            "sentinel.alice",
            "sentinel.direct.9f8e7d6c5b4a3928",
            "sentinelx.alice.direct.9f8e7d6c5b4a3928",
        ] {
            assert!(
                matches!(
                    SourceIdentity::parse(s),
                    Err(SourceIdentityError::Foreign { .. })
                ),
                "{s}"
            );
        }
        for (s, part) in [
            ("sentinel..direct.9f8e7d6c5b4a3928", "user"),
            ("sentinel.Alice.direct.9f8e7d6c5b4a3928", "user"),
            (
                "sentinel.abcdefghijklmnopqrstuvwxyz123.direct.9f8e7d6c5b4a3928",
                "user",
            ),
            ("sentinel.alice.Direct.9f8e7d6c5b4a3928", "marker"),
            ("sentinel.alice.direct.9f8e7d6c5b4a3928.extra", "marker"),
            ("sentinel.alice.c12345678.9f8e7d6c5b4a3928", "marker"),
            ("sentinel.alice.a1234567.9f8e7d6c5b4a3928", "marker"),
            ("sentinel.alice.aABCDEF01.9f8e7d6c5b4a3928", "marker"),
            ("sentinel.alice.direct.9F8E7D6C5B4A3928", "request id"),
            ("sentinel.alice.direct.9f8e7d6c", "request id"),
        ] {
            match SourceIdentity::parse(s) {
                Err(SourceIdentityError::InvalidPart { part: p, .. }) => assert_eq!(p, part, "{s}"),
                other => panic!("{s}: {other:?}"),
            }
        }
        let msg = SourceIdentity::parse("alice").unwrap_err().to_string();
        assert!(msg.contains("not a Sentinel SourceIdentity"), "{msg}");
    }

    #[test]
    fn random_ids_from_the_pool_are_all_different() {
        // Across several refills of the pool.
        let ids: std::collections::HashSet<RequestId> =
            (0..200).map(|_| RequestId::random().unwrap()).collect();
        assert_eq!(ids.len(), 200);
    }

    #[test]
    fn random_ids_differ() {
        let a = RequestId::random().unwrap();
        let b = RequestId::random().unwrap();
        let c = RequestId::random().unwrap();
        assert!(a != b || b != c);
        assert_eq!(a.to_string().parse::<RequestId>().unwrap(), a);
    }

    #[test]
    fn sts_names() {
        assert!(check_sts_name("RoleSessionName", "ab").is_ok());
        assert!(check_sts_name("RoleSessionName", "a").is_err());
        assert!(check_sts_name("RoleSessionName", &"a".repeat(65)).is_err());
        assert!(check_sts_name("RoleSessionName", "a:b").is_err());
        assert!(check_sts_name("RoleSessionName", "a b").is_err());
        assert!(check_sts_name("RoleSessionName", "a_+=,.@-b").is_ok());
    }

    #[test]
    fn tags() {
        let t = SessionTag::session_id("srv-01J9ZQ3:x/y@z").unwrap();
        assert_eq!(t.key(), SESSION_ID_TAG);
        assert!(SessionTag::new("k", "").is_ok());
        assert!(SessionTag::new("", "v").is_err());
        assert!(SessionTag::new("aws:foo", "v").is_err());
        assert!(SessionTag::new("AWS:foo", "v").is_err());
        assert!(SessionTag::new("awsfoo", "v").is_ok());
        assert!(SessionTag::new("k", "a\nb").is_err());
        assert!(SessionTag::new("k", "a;b").is_err());
        assert!(SessionTag::new(&"k".repeat(128), &"v".repeat(256)).is_ok());
        assert!(SessionTag::new(&"k".repeat(129), "v").is_err());
        assert!(SessionTag::new("k", &"v".repeat(257)).is_err());
        assert!(SessionTag::new("Team Name", "Équipe 1").is_ok());
    }
}
