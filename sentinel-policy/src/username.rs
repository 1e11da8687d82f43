//! [`Username`]: the one name every Sentinel crate uses for a person.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// Longest username: IAM user names and role session names have at most
/// 64 characters.
pub const MAX_USERNAME_LEN: usize = 64;

/// The characters a username may hold besides lowercase ASCII letters and
/// digits: the ones IAM and STS allow in user and role session names.
pub const USERNAME_PUNCTUATION: &str = "_+=,.@-";

/// A policy username in its one canonical form: 1 to 64 characters of
/// lowercase ASCII letters, digits and `_+=,.@-`.
///
/// The same person always has the same `Username`: in policy `users`,
/// approver and admin lists, in access requests, break-glass events,
/// server sessions, revocations and in the STS `SourceIdentity`. Names
/// are never stripped or cut: a name that cannot be a username is an
/// error, so two people can never collapse into one.
///
/// [`Username::parse`] accepts only the canonical form (what a policy or a
/// record holds); [`Username::from_aws_name`] makes one from a name AWS
/// reports (IAM user names and session names are case-insensitive, so it
/// lowercases and checks nothing else).
///
/// ```
/// use sentinel_policy::Username;
/// let alice = Username::parse("alice@example.com")?;
/// assert_eq!(alice, "alice@example.com");
/// assert_eq!(Username::from_aws_name("Alice@Example.com")?, alice);
/// let err = Username::parse("Alice").unwrap_err();
/// assert_eq!(err.suggestion(), Some("alice"));
/// # Ok::<(), sentinel_policy::UsernameError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Username(Box<str>);

/// Why a text is not a [`Username`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsernameError {
    /// The text is empty.
    #[error("the username is empty")]
    Empty,
    /// The text is longer than [`MAX_USERNAME_LEN`].
    #[error("username \"{name}…\" is {len} characters long; at most 64 are allowed")]
    TooLong {
        /// The first 64 characters.
        name: String,
        /// Its length in characters.
        len: usize,
    },
    /// The text holds a character no IAM or STS name may hold.
    #[error(
        "username {name:?} contains {found:?}; usernames are lowercase letters, digits and _+=,.@- (as in IAM user and role session names)"
    )]
    BadCharacter {
        /// The text (at most 64 characters of it).
        name: String,
        /// The first character not allowed.
        found: char,
    },
    /// The text is a valid name but not in canonical (lowercase) form.
    #[error("username \"{name}\" is not in canonical form; write \"{canonical}\"")]
    NotCanonical {
        /// The text.
        name: String,
        /// The canonical spelling of the same name.
        canonical: String,
    },
}

impl UsernameError {
    /// The canonical spelling to use instead, when there is one.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            UsernameError::NotCanonical { canonical, .. } => Some(canonical),
            _ => None,
        }
    }
}

fn is_username_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || USERNAME_PUNCTUATION.contains(c)
}

/// Whether [`Username::parse`] takes `s` as it is: checked without
/// allocating, as a policy names thousands of users.
pub(crate) fn is_canonical(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_USERNAME_LEN && s.chars().all(is_username_char)
}

fn shown(s: &str) -> String {
    s.chars().take(MAX_USERNAME_LEN).collect()
}

impl Username {
    /// Accepts exactly the canonical form; anything else is an error that
    /// says what is wrong (and, for upper case, the canonical spelling).
    pub fn parse(s: &str) -> Result<Self, UsernameError> {
        if is_canonical(s) {
            return Ok(Username(s.into()));
        }
        let lower = Self::from_aws_name(s)?;
        if *lower.0 != *s {
            return Err(UsernameError::NotCanonical {
                name: s.to_owned(),
                canonical: lower.0.into_string(),
            });
        }
        Ok(lower)
    }

    /// The username of a name AWS reports (an IAM user name, a role
    /// session name): ASCII letters are lowercased, as IAM and IAM
    /// Identity Center compare these names without regard to case.
    /// Nothing is removed or cut; a name with other characters, or longer
    /// than [`MAX_USERNAME_LEN`], is an error.
    pub fn from_aws_name(s: &str) -> Result<Self, UsernameError> {
        if s.is_empty() {
            return Err(UsernameError::Empty);
        }
        let len = s.chars().count();
        if len > MAX_USERNAME_LEN {
            return Err(UsernameError::TooLong {
                name: shown(s),
                len,
            });
        }
        let lower = s.to_ascii_lowercase();
        if let Some(found) = lower.chars().find(|&c| !is_username_char(c)) {
            return Err(UsernameError::BadCharacter {
                name: shown(s),
                found,
            });
        }
        Ok(Username(lower.into_boxed_str()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its length in characters (= bytes: usernames are ASCII).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a username is never empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl FromStr for Username {
    type Err = UsernameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Username::parse(s)
    }
}

impl TryFrom<&str> for Username {
    type Error = UsernameError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Username::parse(s)
    }
}

impl TryFrom<String> for Username {
    type Error = UsernameError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Username::parse(&s)
    }
}

impl std::ops::Deref for Username {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Username {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Username {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Username {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Username {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.0.into_string()
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Username::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Username {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Username".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_USERNAME_LEN,
            "pattern": "^[a-z0-9_+=,.@-]+$",
            "description": "A policy username: lowercase letters, digits and _+=,.@- (an IAM user name or role session name, lowercased)."
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn canonical_names() {
        for ok in [
            "alice",
            "a.lice",
            "alice@example.com",
            "x",
            "a_b+c=d,e.f@g-h",
            "007",
        ] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(Username::parse(&"a".repeat(64)).unwrap().len(), 64);
    }

    #[test]
    fn distinct_names_stay_distinct() {
        // What the old reduction merged.
        let a = Username::parse("alice").unwrap();
        let b = Username::parse("a.lice").unwrap();
        assert_ne!(a, b);
        let long1 = Username::from_aws_name("abcdefghijklmnopqrst.one@example.com").unwrap();
        let long2 = Username::from_aws_name("abcdefghijklmnopqrst.two@example.com").unwrap();
        assert_ne!(long1, long2);
    }

    #[test]
    fn refusals() {
        assert_eq!(Username::parse(""), Err(UsernameError::Empty));
        let e = Username::parse("Alice").unwrap_err();
        assert_eq!(e.suggestion(), Some("alice"));
        assert!(e.to_string().contains("write \"alice\""), "{e}");
        assert!(matches!(
            Username::parse("alice smith"),
            Err(UsernameError::BadCharacter { found: ' ', .. })
        ));
        assert!(matches!(
            Username::parse("ålice"),
            Err(UsernameError::BadCharacter { found: 'å', .. })
        ));
        assert!(matches!(
            Username::parse("a:b"),
            Err(UsernameError::BadCharacter { found: ':', .. })
        ));
        assert!(matches!(
            Username::parse(&"a".repeat(65)),
            Err(UsernameError::TooLong { len: 65, .. })
        ));
        assert!(matches!(
            Username::from_aws_name("ALICE SMITH"),
            Err(UsernameError::BadCharacter { found: ' ', .. })
        ));
    }

    #[test]
    fn aws_names_are_lowercased_only() {
        assert_eq!(
            Username::from_aws_name("Alice.Smith@Example.COM").unwrap(),
            "alice.smith@example.com"
        );
    }

    #[test]
    fn serde_is_strict() {
        let u: Username = serde_json::from_str("\"bob\"").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"bob\"");
        assert!(serde_json::from_str::<Username>("\"Bob\"").is_err());
    }
}
