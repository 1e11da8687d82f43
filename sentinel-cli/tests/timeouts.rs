//! `sentinel` against an AWS endpoint that accepts connections and never
//! answers: it fails with an error naming STS and the endpoint, within the
//! configured limits (or the defaults), and prints no credentials.
//! No emulator needed: the endpoint is a silent loopback socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Home, stderr};
use sentinel_testkit::SilentServer;

/// Well above every limit under test: the point is that it returns at all.
const TIMEOUT: Duration = Duration::from_secs(90);

/// A home whose profile `dev` assumes a role with the static keys of
/// `base`, every AWS call going to `endpoint`.
fn home(endpoint: &str) -> Home {
    let home = Home::with_endpoint(endpoint.to_owned());
    std::fs::create_dir_all(home.path("aws")).unwrap();
    std::fs::write(
        home.path("aws/config"),
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/dev\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        home.path("aws/credentials"),
        "[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    )
    .unwrap();
    home.write_policy(
        "version: \"1\"\nrules:\n  - name: all\n    effect: allow\n    conditions:\n      profiles: [dev]\n",
    );
    home
}

fn assert_no_credentials(out: &std::process::Output) {
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = stderr(out);
    for field in ["SecretAccessKey", "SessionToken", "ASIA"] {
        assert!(!err.contains(field), "{err}");
    }
}

#[test]
fn credentials_fail_with_a_named_sts_timeout() {
    let silent = SilentServer::start();
    let home = home(&silent.url());
    let out = home
        .cmd()
        .args(["credentials", "--profile", "dev"])
        .env("SENTINEL_CONNECT_TIMEOUT", "1s")
        .env("SENTINEL_ATTEMPT_TIMEOUT", "1s")
        .env("SENTINEL_OPERATION_TIMEOUT", "1s")
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_no_credentials(&out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("STS at {} did not answer in time", silent.url())),
        "{err}"
    );
    assert!(err.contains("after 1s"), "{err}");
}

#[test]
fn credentials_fail_within_the_default_limits() {
    // Before the limits existed this waited for ever.
    let silent = SilentServer::start();
    let home = home(&silent.url());
    let out = home
        .cmd()
        .args(["credentials", "--profile", "dev"])
        .timeout(TIMEOUT)
        .output()
        .unwrap();
    assert_no_credentials(&out);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("STS at {} did not answer in time", silent.url())),
        "{err}"
    );
    assert!(err.contains("after 12s"), "{err}");
}
