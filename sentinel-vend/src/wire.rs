//! The credential service's wire contract: the JSON the
//! [server](crate::server) sends and the client (`client`, feature `client`) reads,
//! defined once for both.
//!
//! - A successful `GET /` answers [`ContainerCredentials`] (what the AWS
//!   SDKs read from `AWS_CONTAINER_CREDENTIALS_FULL_URI`).
//! - Every refusal or failure answers an [`ErrorBody`]: a stable `code`
//!   ([`codes`]), a `message` a person can act on, and for a policy
//!   refusal the deciding `rule`, a neutral `hint` and the structured
//!   [`Remedy`] a frontend words in its own terms.

use std::borrow::Cow;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::pipeline::Denial;
use crate::remedy::Remedy;
use crate::vendor::Credentials;

/// The stable `code`s of an [`ErrorBody`].
pub mod codes {
    /// The policy (or a revocation, or the server session) refused; the
    /// body has the reason, the rule and the remedy.
    pub const DENIED: &str = "denied";
    /// The caller is not authenticated (token or `Host`); nothing else is
    /// said to them.
    pub const FORBIDDEN: &str = "forbidden";
    /// The query does not parse.
    pub const BAD_QUERY: &str = "bad_query";
    /// The query names another profile than the one this server serves.
    pub const WRONG_PROFILE: &str = "wrong_profile";
    /// The query names no profile and the server serves several.
    pub const MISSING_PROFILE: &str = "missing_profile";
    /// The query's `duration` is not a duration.
    pub const BAD_DURATION: &str = "bad_duration";
    /// The profile is not served here.
    pub const UNKNOWN_PROFILE: &str = "unknown_profile";
    /// There is no policy for the profile.
    pub const NO_POLICY: &str = "no_policy";
    /// STS did not vend.
    pub const STS_FAILED: &str = "sts_failed";
    /// Anything else that failed (a store, the decision log).
    pub const INTERNAL: &str = "internal";
    /// No such path.
    pub const NOT_FOUND: &str = "not_found";
    /// A method the path does not serve.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
}

/// The container-credentials JSON (`AccessKeyId`, `SecretAccessKey`,
/// `Token`, `Expiration` in RFC 3339 UTC). Borrowed when written, owned
/// when read. `Debug` shows only the access key id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCredentials<'a> {
    /// Access key id.
    pub access_key_id: Cow<'a, str>,
    /// Secret access key.
    pub secret_access_key: Cow<'a, str>,
    /// Session token.
    pub token: Cow<'a, str>,
    /// When they stop working, RFC 3339 UTC.
    pub expiration: Cow<'a, str>,
}

impl fmt::Debug for ContainerCredentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

impl<'a> ContainerCredentials<'a> {
    /// The JSON form of `c`, borrowing its keys.
    pub fn of(c: &'a Credentials) -> Self {
        Self {
            access_key_id: Cow::Borrowed(&c.access_key_id),
            secret_access_key: Cow::Borrowed(&c.secret_access_key),
            token: Cow::Borrowed(&c.session_token),
            expiration: Cow::Owned(c.expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        }
    }

    /// The credentials, or `None` when `Expiration` is not a timestamp.
    pub fn to_credentials(&self) -> Option<Credentials> {
        Some(Credentials {
            access_key_id: self.access_key_id.clone().into_owned(),
            secret_access_key: self.secret_access_key.clone().into_owned(),
            session_token: self.token.clone().into_owned(),
            expiration: self.expiration.parse::<Timestamp>().ok()?,
        })
    }
}

/// The JSON body of every answer that is not credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorBody {
    /// What kind of failure, one of [`codes`] (a client treats an unknown
    /// code like [`codes::INTERNAL`]).
    pub code: String,
    /// What happened, in words a person can act on.
    pub message: String,
    /// The deciding rule of a refusal, if one matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The [`remedy`](Self::remedy) in neutral words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// What the caller can do next, for a frontend to word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<Remedy>,
}

impl ErrorBody {
    /// A body with `code` and `message` only.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            rule: None,
            hint: None,
            remedy: None,
        }
    }

    /// The body of a policy refusal ([`codes::DENIED`]).
    pub fn denied(d: &Denial) -> Self {
        Self {
            code: codes::DENIED.to_owned(),
            message: d.reason.clone(),
            rule: d.rule.clone(),
            hint: d.remedy.as_ref().map(ToString::to_string),
            remedy: d.remedy.clone(),
        }
    }

    /// The refusal this body describes, when it is one
    /// ([`codes::DENIED`]).
    pub fn to_denial(&self) -> Option<Denial> {
        (self.code == codes::DENIED).then(|| Denial {
            reason: self.message.clone(),
            rule: self.rule.clone(),
            remedy: self.remedy.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn credentials_round_trip() {
        let c = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "s3cr3t-value".into(),
            session_token: "token".into(),
            expiration: "2030-01-02T03:04:05Z".parse().unwrap(),
        };
        let json = serde_json::to_string(&ContainerCredentials::of(&c)).unwrap();
        assert_eq!(
            json,
            r#"{"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"s3cr3t-value","Token":"token","Expiration":"2030-01-02T03:04:05Z"}"#
        );
        let back: ContainerCredentials<'_> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_credentials(), Some(c));
        assert!(!format!("{back:?}").contains("s3cr3t"));
    }

    #[test]
    fn refusals_round_trip() {
        let d = Denial {
            reason: "prod needs approval".into(),
            rule: Some("prod".into()),
            remedy: Some(Remedy::RequestAccess {
                profile: "prod".into(),
            }),
        };
        let body = ErrorBody::denied(&d);
        let json = serde_json::to_string(&body).unwrap();
        let back: ErrorBody = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_denial(), Some(d));
        assert!(back.hint.is_some());
        let other: ErrorBody =
            serde_json::from_str(r#"{"code":"internal","message":"x","extra":1}"#).unwrap();
        assert_eq!(other.to_denial(), None);
    }
}
