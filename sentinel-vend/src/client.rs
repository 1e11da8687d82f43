//! A client of the credential service (feature `client`): asks a
//! [server](crate::server) for credentials the way an AWS SDK does
//! (`GET` with the token in `Authorization`) and reads its answer through
//! the [wire contract](crate::wire), so a refusal comes back as the
//! [`Denial`] the pipeline made.
//!
//! Every call has a time limit ([`CredentialClient::new`]). A loopback
//! server is reached directly, never through a proxy from the
//! environment.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::pipeline::Denial;
use crate::vendor::Credentials;
use crate::wire::{ContainerCredentials, ErrorBody};

/// Longest answer read from the service.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why no credentials came back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The service URL is not an `http` or `https` URL.
    #[error("{url:?} is not a credential service URL: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service did not answer within the limit.
    #[error("the credential service at {url} did not answer within {}s", .limit.as_secs_f64())]
    Timeout {
        /// The service URL.
        url: String,
        /// The limit.
        limit: Duration,
    },
    /// The service could not be reached (refused connection, reset, ...).
    #[error("cannot reach the credential service at {url}: {message}")]
    Unreachable {
        /// The service URL.
        url: String,
        /// What the transport said.
        message: String,
    },
    /// The policy (or a revocation, or the server session) refused.
    #[error("denied: {}", .0.reason)]
    Denied(Denial),
    /// The service answered with another error.
    #[error("the credential service answered {status}: {}", .body.message)]
    Failed {
        /// The HTTP status.
        status: u16,
        /// The error it sent.
        body: Box<ErrorBody>,
    },
    /// The answer is not what the service sends.
    #[error("the credential service sent an answer that cannot be read (HTTP {status}): {message}")]
    BadResponse {
        /// The HTTP status.
        status: u16,
        /// What is wrong with it.
        message: String,
    },
}

/// What to ask for; by default the server's profile and longest duration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialsRequest {
    /// The profile (a server serving one profile needs none).
    pub profile: Option<String>,
    /// A shorter lifetime than the server's (whole seconds are sent).
    pub duration: Option<Duration>,
}

impl CredentialsRequest {
    /// Asks for `profile`.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Asks for credentials lasting `duration`.
    #[must_use]
    pub fn duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }
}

/// A client of one credential service. Cheap to clone. `Debug` leaves out
/// the token.
#[derive(Clone)]
pub struct CredentialClient {
    http: reqwest::Client,
    url: reqwest::Url,
    token: String,
    limit: Duration,
}

impl fmt::Debug for CredentialClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialClient")
            .field("url", &self.url.as_str())
            .field("token", &"<redacted>")
            .field("limit", &self.limit)
            .finish()
    }
}

impl CredentialClient {
    /// A client of the service at `url` (its credentials path, e.g.
    /// `http://127.0.0.1:PORT/`) sending `token`; each call, connecting
    /// included, must finish within `limit`.
    pub fn new(url: &str, token: impl Into<String>, limit: Duration) -> Result<Self, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(invalid("the scheme is not http or https".to_owned()));
        }
        let Some(host) = parsed.host_str() else {
            return Err(invalid("there is no host".to_owned()));
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        // reqwest is built without a crypto provider of its own.
        sentinel_store::tls::crypto_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(limit)
            .timeout(limit)
            .redirect(reqwest::redirect::Policy::none());
        if loopback {
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            http,
            url: parsed,
            token: token.into(),
            limit,
        })
    }

    /// Credentials from the service, or why there are none.
    pub async fn credentials(&self, req: &CredentialsRequest) -> Result<Credentials, ClientError> {
        let mut url = self.url.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(p) = &req.profile {
                query.append_pair("profile", p);
            }
            if let Some(d) = req.duration {
                query.append_pair("duration", &d.as_secs().to_string());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let (status, body) = self.get(url).await?;
        let json: ContainerCredentials<'_> =
            serde_json::from_slice(&body).map_err(|e| ClientError::BadResponse {
                status,
                message: e.to_string(),
            })?;
        json.to_credentials()
            .ok_or_else(|| ClientError::BadResponse {
                status,
                message: format!("Expiration {:?} is not a timestamp", json.expiration),
            })
    }

    /// The profiles the service serves (`GET /profiles`).
    pub async fn profiles(&self) -> Result<Vec<String>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Profiles {
            profiles: Vec<String>,
        }
        let url = self
            .url
            .join("profiles")
            .map_err(|e| ClientError::InvalidUrl {
                url: self.url.to_string(),
                reason: e.to_string(),
            })?;
        let (status, body) = self.get(url).await?;
        let list: Profiles =
            serde_json::from_slice(&body).map_err(|e| ClientError::BadResponse {
                status,
                message: e.to_string(),
            })?;
        Ok(list.profiles)
    }

    /// `GET url` with the token: the body of a 200, else the error it
    /// carries.
    async fn get(&self, url: reqwest::Url) -> Result<(u16, Vec<u8>), ClientError> {
        let shown = self.url.to_string();
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                ClientError::Timeout {
                    url: shown.clone(),
                    limit: self.limit,
                }
            } else {
                ClientError::Unreachable {
                    url: shown.clone(),
                    message: crate::identity::chain(&e),
                }
            }
        };
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, &self.token)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ClientError::BadResponse {
                    status,
                    message: format!("longer than {MAX_BODY_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status == 200 {
            return Ok((status, body));
        }
        let error: ErrorBody =
            serde_json::from_slice(&body).map_err(|e| ClientError::BadResponse {
                status,
                message: e.to_string(),
            })?;
        Err(match error.to_denial() {
            Some(d) => ClientError::Denied(d),
            None => ClientError::Failed {
                status,
                body: Box::new(error),
            },
        })
    }
}
