//! What every Sentinel AWS client shares (feature `aws`): the SDK form of
//! [`Timeouts`], and errors that name the service and the endpoint that did
//! not answer.
//!
//! A store or notifier that takes a built SDK client adds an
//! [`EndpointRecorder`] to it (`Client::from_conf(client.config()
//! .to_builder().interceptor(recorder.clone()).build())`) and, when a call
//! fails, asks [`no_answer`] whether it was a timeout and, if so, for the
//! message: `STS at http://127.0.0.1:4566 did not answer in time:
//! operation timeout (all attempts including retries) occurred after 12s`.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::timeout::TimeoutConfig;

use crate::Timeouts;

/// The HTTPS client for every AWS SDK client Sentinel builds: hyper with
/// rustls on *ring* (the SDK's own default is aws-lc, a second, larger
/// crypto library), trusting the platform's root certificates. Give it to
/// `aws_config::ConfigLoader::http_client` (or an SDK `Config` builder's
/// `http_client`); the SDK crates are built without a default client, so a
/// configuration without one cannot send requests. Built once, shared by
/// every caller (one connection pool).
pub fn https_client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(
                    tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        })
        .clone()
}

impl Timeouts {
    /// The SDK timeout configuration: connect timeout, operation attempt
    /// timeout and operation timeout (read timeout = attempt timeout).
    /// Give it to `aws_config::ConfigLoader::timeout_config` so every
    /// client built from the configuration inherits it.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .read_timeout(self.attempt)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// An SDK interceptor that remembers where a client's requests go
/// (`scheme://host:port`, never a path, query or user info), so that a
/// timeout can name the endpoint. Clones share what they saw.
#[derive(Debug, Clone, Default)]
pub struct EndpointRecorder(Arc<Mutex<Option<String>>>);

impl EndpointRecorder {
    /// A recorder that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The endpoint of the last request sent, if one was.
    pub fn endpoint(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn record(&self, uri: &str) {
        let shown = origin(uri);
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(shown);
    }
}

/// `scheme://host[:port]` of a URI: user info, path, query and fragment
/// dropped.
fn origin(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("", uri));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if scheme.is_empty() {
        host.to_owned()
    } else {
        format!("{scheme}://{host}")
    }
}

impl Intercept for EndpointRecorder {
    fn name(&self) -> &'static str {
        "SentinelEndpointRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.record(context.request().uri());
        Ok(())
    }
}

/// Whether `e` means the service did not answer in time: an SDK operation
/// or attempt timeout, or a connect/read timeout of the HTTP client.
pub fn is_timeout<E, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    }
}

/// When `e` is a timeout ([`is_timeout`]): `"{service} at {endpoint} did
/// not answer in time: {which limit, after how long}"`, with the
/// endpoint `recorder` saw (left out when no request was sent yet).
/// `None` for any other error.
pub fn no_answer<E, R>(
    service: &str,
    recorder: &EndpointRecorder,
    e: &SdkError<E, R>,
) -> Option<String>
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if !is_timeout(e) {
        return None;
    }
    let what = match recorder.endpoint() {
        Some(endpoint) => format!("{service} at {endpoint}"),
        None => service.to_owned(),
    };
    let detail = causes(std::error::Error::source(e));
    Some(if detail.is_empty() {
        format!("{what} did not answer in time")
    } else {
        format!("{what} did not answer in time: {detail}")
    })
}

/// The messages of an error's sources (`first` and its own sources; the
/// SDK error itself only says "timeout" or "dispatch failure"), joined
/// with `: `, repeats dropped.
fn causes(first: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut cur = first;
    while let Some(s) = cur {
        let m = s.to_string();
        if !m.is_empty() && !out.iter().any(|o| o.contains(&m)) {
            out.push(m);
        }
        cur = s.source();
    }
    out.join(": ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn origin_keeps_only_scheme_and_authority() {
        assert_eq!(
            origin("https://u:p@sts.us-east-1.amazonaws.com/?Action=AssumeRole"),
            "https://sts.us-east-1.amazonaws.com"
        );
        assert_eq!(origin("http://127.0.0.1:4566"), "http://127.0.0.1:4566");
        assert_eq!(origin("http://[::1]:80/x#y"), "http://[::1]:80");
    }

    #[test]
    fn timeout_config_has_all_three_limits() {
        let t = Timeouts::default().timeout_config();
        assert_eq!(t.connect_timeout(), Some(Timeouts::DEFAULT_CONNECT));
        assert_eq!(
            t.operation_attempt_timeout(),
            Some(Timeouts::DEFAULT_ATTEMPT)
        );
        assert_eq!(t.operation_timeout(), Some(Timeouts::DEFAULT_OPERATION));
    }
}
