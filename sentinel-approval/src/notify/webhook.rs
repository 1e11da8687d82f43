//! The webhook notifier: an HTTP POST of the JSON payload.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;
use sentinel_store::Timeouts;
use sha2::Sha256;

use super::{Notification, Notifier, NotifyError};

/// Header carrying the event type.
pub(crate) const EVENT_HEADER: &str = "X-Sentinel-Event";
/// Header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub(crate) const SIGNATURE_HEADER: &str = "X-Sentinel-Signature";

/// When to try a webhook again: after connection errors, timeouts and 5xx
/// answers only, waiting `base_delay`, then twice as long each time (at
/// most `max_delay`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: try once).
    pub max_retries: u32,
    /// Wait before the first retry.
    pub base_delay: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// `max_retries` retries starting at `base_delay`, waits capped at 10 s.
    pub const fn new(max_retries: u32, base_delay: Duration) -> Self {
        Self {
            max_retries,
            base_delay,
            max_delay: Duration::from_secs(10),
        }
    }

    /// No retries.
    pub const fn none() -> Self {
        Self::new(0, Duration::ZERO)
    }

    /// Wait before retry number `retry` (1-based).
    fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

impl Default for RetryPolicy {
    /// 3 retries, 200 ms, 400 ms, 800 ms apart.
    fn default() -> Self {
        Self::new(3, Duration::from_millis(200))
    }
}

/// POSTs each notification as JSON to an http(s) URL with the headers
/// `Content-Type: application/json`, `X-Sentinel-Event: <event_type>` and,
/// when a secret is set, `X-Sentinel-Signature: sha256=<hex>`: the
/// HMAC-SHA256 of the exact body bytes under the secret. Any 2xx is
/// success; redirects are not followed; connecting, each attempt and the
/// whole delivery (retries included) are limited by [`Timeouts`] (default
/// 3 s, 5 s and 12 s; see [`with_timeouts`](Self::with_timeouts));
/// connection errors, timeouts and 5xx are retried by the [`RetryPolicy`]
/// while the total limit allows, other statuses are not.
///
/// The URL is never shown whole (webhook URLs often carry a token in the
/// path or query): messages and `Debug` use [`redact_url`].
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: Url,
    endpoint: String,
    secret: Option<Vec<u8>>,
    timeouts: Timeouts,
    retry: RetryPolicy,
}

impl fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("endpoint", &self.endpoint)
            .field("signed", &self.secret.is_some())
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// A webhook URL as it may be shown: `scheme://host[:port]`, then `/…` when
/// the URL has a path, query or fragment. User info, path, query and
/// fragment are left out, since any of them may hold a token (Slack-style
/// hooks keep theirs in the path). Text that is not a URL is shown as
/// `<invalid URL>`.
///
/// ```
/// use sentinel_approval::redact_url;
/// assert_eq!(
///     redact_url("https://hooks.example.com/services/T0/B0/secret?x=1"),
///     "https://hooks.example.com/…"
/// );
/// assert_eq!(redact_url("http://u:pw@127.0.0.1:8080"), "http://127.0.0.1:8080");
/// ```
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact(&u),
        Err(_) => "<invalid URL>".to_owned(),
    }
}

/// See [`redact_url`].
fn redact(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    if (url.path() != "/" && !url.path().is_empty())
        || url.query().is_some()
        || url.fragment().is_some()
    {
        shown.push_str("/…");
    }
    shown
}

/// The HTTP client: no redirects, `connect` limit on connecting.
fn http_client(connect: Duration) -> Result<reqwest::Client, NotifyError> {
    // reqwest is built without a crypto provider of its own.
    sentinel_store::tls::crypto_provider();
    // Redirects are not followed: the signed body goes only where it
    // was configured to go, and a 3xx is reported as a rejection.
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect)
        .build()
        .map_err(|e| NotifyError::Config {
            reason: format!("could not set up the HTTP client: {}", chain(&e)),
        })
}

/// An error and its sources, joined (reqwest's own message is terse).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg.push_str(": ");
            msg.push_str(&s_msg);
        }
        source = s.source();
    }
    msg
}

impl WebhookNotifier {
    /// A notifier for `url`, which must be an absolute `http` or `https`
    /// URL with a host. Unsigned until [`with_secret`](Self::with_secret).
    pub fn new(url: &str) -> Result<Self, NotifyError> {
        let parsed = Url::parse(url).map_err(|e| NotifyError::Config {
            reason: format!(
                "webhook URL is not a valid URL ({e}); use e.g. https://hooks.example.com/sentinel"
            ),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(NotifyError::Config {
                reason: format!(
                    "webhook URL {} must be http:// or https:// with a host",
                    redact(&parsed)
                ),
            });
        }
        let timeouts = Timeouts::default();
        Ok(Self {
            endpoint: redact(&parsed),
            url: parsed,
            client: http_client(timeouts.connect)?,
            secret: None,
            timeouts,
            retry: RetryPolicy::default(),
        })
    }

    /// Signs every body with HMAC-SHA256 under `secret`. An empty secret
    /// leaves the notifier unsigned.
    #[must_use]
    pub fn with_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        let secret = secret.into();
        self.secret = (!secret.is_empty()).then_some(secret);
        self
    }

    /// Timeout of each attempt (default 5 s); the connect and total
    /// limits stay as they are.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.attempt = timeout;
        self
    }

    /// Connect, per-attempt and total limits (default
    /// [`Timeouts::DEFAULT`]). Fails only if the HTTP client cannot be set
    /// up again with the new connect limit.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Result<Self, NotifyError> {
        self.client = http_client(timeouts.connect)?;
        self.timeouts = timeouts;
        Ok(self)
    }

    /// The limits in force.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// When to retry (default [`RetryPolicy::default`]).
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The URL as shown in messages ([`redact_url`]).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `sha256=<hex>` for `body`, if a secret is set.
    fn signature(&self, body: &[u8]) -> Result<Option<String>, NotifyError> {
        let Some(secret) = &self.secret else {
            return Ok(None);
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| NotifyError::Config {
            reason: "the webhook signing secret cannot be used as an HMAC key".into(),
        })?;
        mac.update(body);
        Ok(Some(format!(
            "sha256={}",
            hex::encode(mac.finalize().into_bytes())
        )))
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        let body = n.to_json()?;
        let signature = self.signature(&body)?;
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let limit = self.timeouts.operation;
        match tokio::time::timeout(limit, self.deliver(n, body, signature, &attempts)).await {
            Ok(result) => result,
            Err(_) => Err(NotifyError::Delivery {
                endpoint: self.endpoint.clone(),
                event: n.event_type,
                attempts: attempts.load(std::sync::atomic::Ordering::Relaxed),
                reason: format!("no answer within the total limit of {limit:?}"),
            }),
        }
    }
}

impl WebhookNotifier {
    /// The attempts of one delivery (counted in `attempts`, which the
    /// total limit in `notify` reads when it cuts them short).
    async fn deliver(
        &self,
        n: &Notification,
        body: Vec<u8>,
        signature: Option<String>,
        counter: &std::sync::atomic::AtomicU32,
    ) -> Result<(), NotifyError> {
        let event = n.event_type;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            counter.store(attempts, std::sync::atomic::Ordering::Relaxed);
            let mut req = self
                .client
                .post(self.url.clone())
                .timeout(self.timeouts.attempt)
                .header(CONTENT_TYPE, "application/json")
                .header(EVENT_HEADER, event.as_str());
            if let Some(sig) = &signature {
                req = req.header(SIGNATURE_HEADER, sig.as_str());
            }
            let reason = match req.body(body.clone()).send().await {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if resp.status().is_server_error() => {
                    format!("HTTP {}", resp.status().as_u16())
                }
                Ok(resp) => {
                    return Err(NotifyError::Rejected {
                        endpoint: self.endpoint.clone(),
                        event,
                        status: resp.status().as_u16(),
                    });
                }
                Err(e) if e.is_timeout() => format!(
                    "no answer within {:?} ({})",
                    if e.is_connect() {
                        self.timeouts.connect
                    } else {
                        self.timeouts.attempt
                    },
                    chain(&e.without_url())
                ),
                Err(e) if e.is_connect() || e.is_request() => chain(&e.without_url()),
                Err(e) => {
                    return Err(NotifyError::Delivery {
                        endpoint: self.endpoint.clone(),
                        event,
                        attempts,
                        reason: chain(&e.without_url()),
                    });
                }
            };
            if attempts > self.retry.max_retries {
                return Err(NotifyError::Delivery {
                    endpoint: self.endpoint.clone(),
                    event,
                    attempts,
                    reason,
                });
            }
            tokio::time::sleep(self.retry.delay(attempts)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn validates_and_redacts() {
        for bad in ["ftp://x/y", "not a url", "file:///etc/passwd", "/relative"] {
            assert!(
                matches!(WebhookNotifier::new(bad), Err(NotifyError::Config { .. })),
                "{bad}"
            );
        }
        let w = WebhookNotifier::new("https://u:pw@hooks.example.com:8443/s?token=abc")
            .unwrap()
            .with_secret("topsecret");
        assert_eq!(w.endpoint(), "https://hooks.example.com:8443/…");
        let dbg = format!("{w:?}");
        assert!(!dbg.contains("topsecret") && !dbg.contains("abc") && !dbg.contains("pw"));
        assert!(dbg.contains("signed: true"));
        assert!(!dbg.contains("/s"), "{dbg}");
    }

    #[test]
    fn redact_url_hides_paths_queries_and_user_info() {
        for (url, shown) in [
            (
                "https://hooks.slack.com/services/T000/B000/XXXXSECRET",
                "https://hooks.slack.com/…",
            ),
            ("https://example.com?token=abc", "https://example.com/…"),
            ("https://example.com/#abc", "https://example.com/…"),
            ("http://user:pw@127.0.0.1:9000/", "http://127.0.0.1:9000"),
            ("https://example.com", "https://example.com"),
            ("not a url with secret", "<invalid URL>"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn backoff_doubles() {
        let r = RetryPolicy::default();
        assert_eq!(r.delay(1), Duration::from_millis(200));
        assert_eq!(r.delay(2), Duration::from_millis(400));
        assert_eq!(r.delay(3), Duration::from_millis(800));
        assert_eq!(r.delay(40), Duration::from_secs(10));
    }
}
