//! Caller identity: ARN parsing, usernames by policy and GetCallerIdentity
//! error mapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use sentinel_policy::CompiledPolicy;
use sentinel_vend::identity::{IdentityError, Principal, PrincipalKind, caller_identity};

#[test]
fn accepted_principals() {
    let cases = [
        (
            "arn:aws:iam::123456789012:user/alice",
            PrincipalKind::IamUser,
            "alice",
        ),
        (
            "arn:aws:iam::123456789012:user/path/to/alice",
            PrincipalKind::IamUser,
            "alice",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/RoleName/alice@example.com",
            PrincipalKind::AssumedRole,
            "alice@example.com",
        ),
        (
            "arn:aws-cn:sts::123456789012:federated-user/bob",
            PrincipalKind::FederatedUser,
            "bob",
        ),
        (
            "arn:aws-us-gov:iam::123456789012:root",
            PrincipalKind::Root,
            "root",
        ),
    ];
    for (arn, kind, name) in cases {
        let p = Principal::parse(arn).unwrap();
        assert_eq!((p.kind(), p.name()), (kind, name), "{arn}");
    }
}

#[test]
fn refused_principals() {
    let cases = [
        ("arn:aws:iam::123456789012:role/Prod", "IAM role"),
        ("arn:aws:iam::123456789012:group/Admins", "IAM group"),
        ("arn:aws:s3:::bucket", "service"),
        ("arn:aws:iam::123456789012:policy/P", "iam resource"),
        ("arn:aws:sts::123456789012:user/moto", "sts resource"),
        (
            "arn:aws:sts::123456789012:assumed-role/RoleOnly",
            "sts resource",
        ),
        ("arn:aws:iam::123456789012:user/", "malformed"),
        ("arn:aws:iam::123456789012:user/al ice", "malformed"),
        ("arn:aws:iam::12345678901:user/alice", "malformed"),
        ("arn:aws:iam:us-east-1:123456789012:user/alice", "malformed"),
        ("arn:aws-iso:iam::123456789012:user/alice", "malformed"),
        ("arn:aws:iam::123456789012:user//alice", "malformed"),
        ("arn:aws:iam::123456789012", "malformed"),
        ("alice", "malformed"),
        ("", "malformed"),
    ];
    for (arn, what) in cases {
        let err = Principal::parse(arn).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(what), "{arn}: {msg}");
        assert!(!msg.contains("IdentityError"), "{msg}");
    }
    let too_long = format!("arn:aws:iam::123456789012:user/{}", "a".repeat(65));
    assert!(Principal::parse(&too_long).is_err());
}

#[test]
fn usernames_are_never_reduced_or_cut() {
    let policy = CompiledPolicy::parse(
        "version: '1'\nrules:\n  - name: all\n    effect: allow\n",
        "t",
    )
    .unwrap();
    let cases = [
        ("arn:aws:iam::123456789012:user/alice", "alice"),
        (
            "arn:aws:iam::123456789012:user/dev/Alice.Smith",
            "alice.smith",
        ),
        ("arn:aws:iam::123456789012:user/a.lice", "a.lice"),
        (
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/bob-the-builder@corp.example.com",
            "bob-the-builder@corp.example.com",
        ),
    ];
    for (arn, user) in cases {
        let got = policy.identify(&Principal::parse(arn).unwrap()).unwrap();
        assert_eq!(got.username, user, "{arn}");
    }
}

fn client(endpoint: &str, creds: Option<Credentials>) -> aws_sdk_sts::Client {
    let mut b = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sentinel_store::aws::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled());
    if let Some(c) = creds {
        b = b.credentials_provider(c);
    }
    aws_sdk_sts::Client::from_conf(b.build())
}

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn unreachable_sts_is_a_network_error() {
    let port = closed_port();
    let c = client(
        &format!("http://127.0.0.1:{port}"),
        Some(Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            None,
            None,
            "test",
        )),
    );
    let err = caller_identity(&c).await.unwrap_err();
    assert!(matches!(err, IdentityError::Network { .. }), "{err:?}");
    assert!(err.to_string().contains("could not reach STS"), "{err}");
    assert!(!err.to_string().contains("secret"));
}

#[tokio::test]
async fn missing_credentials_say_how_to_configure_them() {
    let c = client(
        "http://127.0.0.1:1",
        Some(Credentials::new("", "", None, None, "test")),
    );
    let _ = caller_identity(&c).await; // must not panic
    let provider = aws_credential_types::provider::SharedCredentialsProvider::new(NoCreds);
    let conf = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(sentinel_store::aws::https_client())
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:1")
        .credentials_provider(provider)
        .build();
    let err = caller_identity(&aws_sdk_sts::Client::from_conf(conf))
        .await
        .unwrap_err();
    assert!(
        matches!(err, IdentityError::NoCredentials { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("aws configure / AWS_PROFILE"),
        "{err}"
    );
}

#[derive(Debug)]
struct NoCreds;

impl aws_credential_types::provider::ProvideCredentials for NoCreds {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded("no profile"),
        ))
    }
}

#[tokio::test]
async fn emulator_returns_a_parsed_identity() {
    let endpoint = sentinel_testkit::require_aws!();
    let config = sentinel_testkit::sdk_config(&endpoint).await;
    let c = aws_sdk_sts::Client::new(&config);
    // moto answers unknown keys with `arn:aws:sts::…:user/moto`, which is
    // not a real principal: Sentinel refuses it rather than guess.
    match caller_identity(&c).await {
        Ok(id) => {
            assert_eq!(id.account.len(), 12);
            assert!(id.principal().is_ok());
        }
        Err(e) => assert!(matches!(e, IdentityError::Principal(_)), "{e:?}"),
    }
}
