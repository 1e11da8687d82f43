//! Profiles from temporary AWS config files (paths passed explicitly, the
//! process environment is never touched).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use sentinel_vend::profiles::{ProfileError, ProfileLoader};

const CONFIG: &str = r#"
[default]
region = us-east-1

[profile base]
region = eu-west-1

[profile prod]
role_arn = arn:aws:iam::123456789012:role/Prod
source_profile = base
region = eu-west-1
external_id = s3cr3t-external
duration_seconds = 3600
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile sso-base]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Dev

[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile proc]
credential_process = /usr/local/bin/sentinel credentials --profile prod
"#;

const CREDENTIALS: &str = r#"
[base]
aws_access_key_id = AKIDEXAMPLE
aws_secret_access_key = verysecret
"#;

fn loader(dir: &Path, config: Option<&str>, credentials: Option<&str>) -> ProfileLoader {
    let c = dir.join("config");
    let k = dir.join("credentials");
    if let Some(s) = config {
        std::fs::write(&c, s).unwrap();
    }
    if let Some(s) = credentials {
        std::fs::write(&k, s).unwrap();
    }
    ProfileLoader::new(c, k)
}

#[tokio::test]
async fn loads_a_role_profile() {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(dir.path(), Some(CONFIG), Some(CREDENTIALS));
    let p = l.load("prod").await.unwrap();
    assert_eq!(p.name, "prod");
    assert_eq!(
        p.require_role().unwrap(),
        "arn:aws:iam::123456789012:role/Prod"
    );
    assert_eq!(p.source_profile.as_deref(), Some("base"));
    assert_eq!(p.region.as_deref(), Some("eu-west-1"));
    assert_eq!(p.external_id.as_deref(), Some("s3cr3t-external"));
    assert_eq!(p.duration_seconds, Some(3600));
    assert_eq!(
        p.mfa_serial.as_deref(),
        Some("arn:aws:iam::123456789012:mfa/alice")
    );
    assert!(!p.sso);
    assert_eq!(p.credential_process, None);
    let debug = format!("{p:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
}

#[tokio::test]
async fn base_sso_and_process_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(dir.path(), Some(CONFIG), Some(CREDENTIALS));
    let sso = l.load("sso-base").await.unwrap();
    assert!(sso.sso);
    let proc = l.load("proc").await.unwrap();
    assert_eq!(
        proc.credential_process.as_deref(),
        Some("/usr/local/bin/sentinel credentials --profile prod")
    );
    let base = l.load("base").await.unwrap();
    assert_eq!(base.region.as_deref(), Some("eu-west-1"));
    let err = base.require_role().unwrap_err();
    assert!(matches!(err, ProfileError::NoRoleArn { .. }));
    let msg = err.to_string();
    assert!(msg.contains("profile \"base\" has no role_arn"), "{msg}");
    assert!(msg.contains("source_profile"), "{msg}");
    let default = l.load("default").await.unwrap();
    assert_eq!(default.region.as_deref(), Some("us-east-1"));
    let mut names = l.profile_names().await.unwrap();
    names.sort();
    assert_eq!(names, ["base", "default", "proc", "prod", "sso-base"]);
}

#[tokio::test]
async fn credentials_file_alone_is_enough() {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(dir.path(), None, Some(CREDENTIALS));
    assert!(l.load("base").await.is_ok());
}

#[tokio::test]
async fn missing_files_and_profiles_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(dir.path(), None, None);
    let err = l.load("prod").await.unwrap_err();
    assert!(
        matches!(err, ProfileError::ConfigFileMissing { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&dir.path().join("config").display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("aws configure"), "{msg}");

    let l = loader(dir.path(), Some(CONFIG), None);
    let err = l.load("staging").await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ProfileError::ProfileNotFound { .. }),
        "{err:?}"
    );
    assert!(msg.contains("\"staging\""), "{msg}");
    assert!(msg.contains("default, proc, prod, sso-base"), "{msg}");
    assert!(
        msg.contains(&dir.path().join("config").display().to_string()),
        "{msg}"
    );

    let l = loader(dir.path(), Some(""), None);
    let msg = l.load("prod").await.unwrap_err().to_string();
    assert!(msg.contains("available profiles: none"), "{msg}");

    for bad in ["", " prod", "pr\nod"] {
        let err = l.load(bad).await.unwrap_err();
        assert!(matches!(err, ProfileError::InvalidName { .. }), "{err:?}");
    }
}

async fn load_one(body: &str) -> Result<sentinel_vend::profiles::AwsProfile, ProfileError> {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(dir.path(), Some(&format!("[profile p]\n{body}\n")), None);
    l.load("p").await
}

#[tokio::test]
async fn values_are_validated() {
    for (body, ok) in [
        ("duration_seconds = 900", true),
        ("duration_seconds = 43200", true),
        ("duration_seconds = 899", false),
        ("duration_seconds = 43201", false),
        ("duration_seconds = 1h", false),
        ("duration_seconds = -1", false),
        ("role_arn = arn:aws:iam::123456789012:role/path/Prod", true),
        ("role_arn = arn:aws:iam::123456789012:user/alice", false),
        ("role_arn = Prod", false),
        ("external_id = x", false),
        ("external_id = has space", false),
        ("region = EU west", false),
        ("mfa_serial = x", false),
    ] {
        let r = load_one(body).await;
        assert_eq!(r.is_ok(), ok, "{body}: {r:?}");
    }
    let msg = load_one("duration_seconds = 60")
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("900") && msg.contains("43200"), "{msg}");
    let msg = load_one("role_arn = arn:aws:iam::123456789012:user/alice")
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("not an IAM role ARN"), "{msg}");
    let msg = load_one("external_id = a b c")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        !msg.contains("a b c"),
        "external id must not be echoed: {msg}"
    );
}

#[tokio::test]
async fn malformed_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(
        dir.path(),
        Some("[profile p]\nregion = us-east-1\n"),
        Some("key = before any section\n"),
    );
    let err = l.load("p").await.unwrap_err();
    match err {
        ProfileError::Parse { file, path, .. } => {
            assert_eq!(file, "credentials");
            assert!(path.ends_with("credentials"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn non_utf8_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("config");
    std::fs::write(&c, [0xff, 0xfe, b'[']).unwrap();
    let l = ProfileLoader::new(&c, dir.path().join("credentials"));
    let err = l.load("p").await.unwrap_err();
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[tokio::test]
async fn client_config_keeps_only_non_credential_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
[default]
region = us-east-1
output = text
credential_process = /bin/echo secret-process
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1
sso_account_id = 123456789012
sso_role_name = Dev
role_arn = arn:aws:iam::123456789012:role/Web
web_identity_token_file = /var/run/token
retry_mode = adaptive
max_attempts = 7

[profile ops]
role_arn = arn:aws:iam::123456789012:role/Ops
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/alice
external_id = s3cr3t-external
region = eu-west-2
services = local
s3 =
  addressing_style = path

[services local]
sts =
  endpoint_url = http://127.0.0.1:1

[services other]
sts =
  endpoint_url = http://127.0.0.1:2
"#;
    let credentials = "[default]\naws_access_key_id = AKIDEXAMPLE\naws_secret_access_key = verysecret\nregion = ap-south-1\n";
    let l = loader(dir.path(), Some(config), Some(credentials));
    let text = l
        .client_config(&["default", "ops", "missing"])
        .await
        .unwrap();
    for secret in [
        "AKIDEXAMPLE",
        "verysecret",
        "secret-process",
        "sso_",
        "role_arn",
        "web_identity",
        "source_profile",
        "mfa_serial",
        "s3cr3t",
        "127.0.0.1:2",
    ] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
    // The later profile wins; the others' settings stay.
    assert!(text.contains("region = eu-west-2\n"), "{text}");
    assert!(!text.contains("us-east-1"), "{text}");
    for kept in [
        "output = text\n",
        "retry_mode = adaptive\n",
        "max_attempts = 7\n",
        "s3 =\n  addressing_style = path\n",
        "services = local\n",
        "[services local]\nsts =\n  endpoint_url = http://127.0.0.1:1\n",
    ] {
        assert!(text.contains(kept), "{kept:?} not in:\n{text}");
    }

    // What the SDK reads back from it: one default profile, no credentials.
    let out = dir.path().join("child");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("config"), &text).unwrap();
    let child = ProfileLoader::new(out.join("config"), out.join("credentials"));
    assert_eq!(child.profile_names().await.unwrap(), ["default"]);
    let p = child.load("default").await.unwrap();
    assert_eq!(p.region.as_deref(), Some("eu-west-2"));
    assert_eq!(p.role_arn, None);
    assert_eq!(p.credential_process, None);
    assert!(!p.sso);
}

#[tokio::test]
async fn served_files_hold_settings_but_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let l = loader(dir.path(), Some(CONFIG), Some(CREDENTIALS));
    let files = l.served_files("prod").await.unwrap();
    let [(config_var, config), (credentials_var, credentials)] = files.vars();
    assert_eq!(
        (config_var, credentials_var),
        ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("region = eu-west-1"), "{text}");
    for secret in ["role_arn", "s3cr3t", "mfa_serial", "AKIDEXAMPLE"] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
    assert_eq!(std::fs::read_to_string(&credentials).unwrap(), "");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(Path::new(&config)), 0o600);
        assert_eq!(mode(files.dir()), 0o700);
    }
    let kept = files.dir().to_owned();
    files.remove().unwrap();
    assert!(!kept.exists());
}
