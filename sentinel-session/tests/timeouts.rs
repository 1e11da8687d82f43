//! A DynamoDB endpoint that accepts connections and never answers: the
//! store fails within the configured limits, naming DynamoDB and the
//! endpoint, instead of hanging.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use sentinel_session::{DynamoSessionStore, SessionStore};
use sentinel_store::Timeouts;
use sentinel_testkit::SilentServer;

#[tokio::test]
async fn silent_dynamodb_fails_with_a_named_timeout() {
    let silent = SilentServer::start();
    let config = sentinel_testkit::sdk_config_with_timeouts(
        &silent.url(),
        Timeouts::all(Duration::from_secs(1)),
    )
    .await;
    let store = DynamoSessionStore::new(aws_sdk_dynamodb::Client::new(&config), "sessions");
    let started = Instant::now();
    let err = store
        .get("0123456789abcdef0123456789abcdef")
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it returned at all"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "DynamoDB at {} did not answer in time",
            silent.url()
        )),
        "{msg}"
    );
    assert!(msg.contains("after 1s"), "{msg}");
    assert!(msg.contains("\"sessions\""), "{msg}");
}
