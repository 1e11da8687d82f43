//! An STS endpoint that accepts connections and never answers:
//! GetCallerIdentity, AssumeRole and GetSessionToken fail within the
//! configured limits, naming STS and the endpoint, and issue nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use sentinel_store::Timeouts;
use sentinel_testkit::SilentServer;
use sentinel_vend::StsVendor;
use sentinel_vend::vendor::{AssumeRoleRequest, MfaSessionError, VendError, Vendor, mfa_session};

async fn silent_sts() -> (SilentServer, aws_sdk_sts::Client) {
    let silent = SilentServer::start();
    let config = sentinel_testkit::sdk_config_with_timeouts(
        &silent.url(),
        Timeouts::all(Duration::from_secs(1)),
    )
    .await;
    (silent, aws_sdk_sts::Client::new(&config))
}

fn assert_named(msg: &str, silent: &SilentServer) {
    assert!(
        msg.contains(&format!("STS at {} did not answer in time", silent.url())),
        "{msg}"
    );
    assert!(msg.contains("after 1s"), "{msg}");
}

#[tokio::test]
async fn silent_sts_get_caller_identity() {
    let (silent, sts) = silent_sts().await;
    let started = Instant::now();
    let err = sentinel_vend::identity::caller_identity(&sts)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it returned at all"
    );
    assert_named(&err.to_string(), &silent);
}

#[tokio::test]
async fn silent_sts_assume_role_issues_nothing() {
    let (silent, sts) = silent_sts().await;
    let vendor = StsVendor::new(sts);
    let req = AssumeRoleRequest::new(
        "arn:aws:iam::123456789012:role/dev",
        "sentinel-alice",
        "alice",
        Duration::from_secs(900),
    );
    let err = vendor.assume_role(&req).await.unwrap_err();
    assert!(matches!(err, VendError::NoAnswer(_)), "{err}");
    let msg = err.to_string();
    assert_named(&msg, &silent);
    assert!(msg.contains("no credentials were issued"), "{msg}");
}

#[tokio::test]
async fn silent_sts_get_session_token() {
    let (silent, sts) = silent_sts().await;
    let err = mfa_session(
        &sts,
        "arn:aws:iam::123456789012:mfa/alice",
        "123456",
        Duration::from_secs(3600),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MfaSessionError::Backend(_)), "{err}");
    assert_named(&err.to_string(), &silent);
}
