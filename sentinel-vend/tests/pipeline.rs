//! The issuing pipeline against memory stores and the fake vendor: every
//! path of the pipeline (ARCHITECTURE.md) (allow, deny, approval and break-glass overrides,
//! server-only rules, the kill switch, durations) and fail-closed
//! behaviour when a store, STS or the log fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sentinel_approval::{
    AccessRequest, MemoryRequestStore, NewRequest, RequestPage, RequestQuery, RequestStore,
};
use sentinel_breakglass::{
    BreakGlassStore, Invocation, MemoryBreakGlassStore, NewBreakGlass, ReasonCode,
};
use sentinel_policy::{MemoryPolicyStore, Mode, Username};
use sentinel_session::{MemorySessionStore, SessionStore, SessionStoreExt, UserRevocation};
use sentinel_store::{Clock, ManualClock};
use sentinel_vend::log::{DecisionLog, verify};
use sentinel_vend::source_identity::{Marker, SourceIdentity};
use sentinel_vend::{
    Caller, Denial, FakeVendor, Grant, Issued, Outcome, Pipeline, Remedy, Target, VendError,
    VendRequest,
};

const ROLE: &str = "arn:aws:iam::123456789012:role/prod-admin";

const POLICY: &str = r"
version: '1'
rules:
  - name: dev-open
    effect: allow
    conditions: { profiles: [dev] }
  - name: prod-needs-approval
    effect: require_approval
    conditions: { profiles: [prod], users: [alice] }
  - name: ops-server-only
    effect: require_server
    conditions: { profiles: [ops] }
    max_server_duration: 30m
  - name: audit-tracked
    effect: require_server_session
    conditions: { profiles: [audit] }
  - name: nobody-in-vault
    effect: deny
    conditions: { profiles: [vault] }
breakglass:
  rules:
    - name: oncall
      users: [alice]
      profiles: [vault, prod]
approvals:
  rules:
    - name: prod-approvers
      profiles: [prod]
      approvers: [bob]
";

struct World {
    clock: ManualClock,
    vendor: FakeVendor,
    log: DecisionLog,
    requests: Arc<MemoryRequestStore>,
    breakglass: Arc<MemoryBreakGlassStore>,
    sessions: Arc<MemorySessionStore>,
    pipeline: Pipeline,
}

fn world() -> World {
    let clock = sentinel_testkit::test_clock();
    let policies = MemoryPolicyStore::new();
    for p in ["dev", "prod", "ops", "audit", "vault"] {
        policies.put_text(p, POLICY).unwrap();
    }
    let vendor = FakeVendor::new();
    vendor.at(clock.now());
    let log = DecisionLog::memory();
    let c: Arc<dyn Clock> = Arc::new(clock.clone());
    let requests = Arc::new(MemoryRequestStore::with_clock(c.clone()));
    let breakglass = Arc::new(MemoryBreakGlassStore::with_clock(c.clone()));
    let sessions = Arc::new(MemorySessionStore::with_clock(c.clone()));
    let pipeline = Pipeline::new(Arc::new(policies), Arc::new(vendor.clone()), log.clone())
        .with_requests(requests.clone())
        .with_breakglass(breakglass.clone())
        .with_sessions(sessions.clone())
        .with_clock(c);
    World {
        clock,
        vendor,
        log,
        requests,
        breakglass,
        sessions,
        pipeline,
    }
}

impl World {
    async fn issued(&self, req: &VendRequest) -> Issued {
        match self.pipeline.vend(req).await.unwrap() {
            Outcome::Issued(i) => i,
            Outcome::Denied(d) => panic!("expected credentials, got a denial: {}", d.reason),
        }
    }

    async fn denied(&self, req: &VendRequest) -> Denial {
        match self.pipeline.vend(req).await.unwrap() {
            Outcome::Denied(d) => d,
            Outcome::Issued(i) => panic!("expected a denial, got {}", i.source_identity),
        }
    }
}

fn ask(user: &str, profile: &str, mode: Mode) -> VendRequest {
    VendRequest {
        caller: Caller::from_arn(&format!("arn:aws:iam::123456789012:user/{user}")).unwrap(),
        profile: profile.into(),
        mode,
        duration: None,
        target: Target::role(ROLE),
        session_id: None,
    }
}

fn log_lines(log: &DecisionLog) -> Vec<serde_json::Value> {
    let text = log.memory_contents().unwrap();
    verify(text.as_bytes()).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn allow_stamps_the_person_and_logs_it() {
    let w = world();
    let issued = w.issued(&ask("bob", "dev", Mode::Cli)).await;
    assert_eq!(issued.grant, Grant::Direct);
    let si = SourceIdentity::parse(&issued.source_identity).unwrap();
    assert_eq!(si.user(), "bob");
    assert_eq!(si.marker(), Marker::Direct);
    let sent = w.vendor.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].source_identity, issued.source_identity);
    assert_eq!(sent[0].role_arn, ROLE);
    assert_eq!(sent[0].duration, Duration::from_secs(3600));
    assert!(sent[0].tags.is_empty());
    let lines = log_lines(&w.log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["effect"], "allow");
    assert_eq!(lines[0]["rule"], "dev-open");
    assert_eq!(lines[0]["source_identity"], issued.source_identity.as_str());
    assert_eq!(lines[0]["role_arn"], ROLE);
    assert!(
        !lines[0]
            .to_string()
            .contains(&issued.credentials.secret_access_key)
    );
}

#[tokio::test]
async fn deny_names_the_rule_and_vends_nothing() {
    let w = world();
    let d = w.denied(&ask("bob", "vault", Mode::Cli)).await;
    assert_eq!(d.rule.as_deref(), Some("nobody-in-vault"));
    assert!(w.vendor.requests().is_empty());
    // No rule matches: the default deny.
    let d = w.denied(&ask("bob", "prod", Mode::Cli)).await;
    assert_eq!(d.rule, None);
    let lines = log_lines(&w.log);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["effect"], "deny");
    assert_eq!(lines[0]["rule"], "nobody-in-vault");
    assert!(lines[0].get("source_identity").is_none());
}

#[tokio::test]
async fn require_approval_needs_an_approved_request_in_every_mode() {
    let w = world();
    for mode in [Mode::Cli, Mode::CredentialProcess, Mode::Server] {
        let d = w.denied(&ask("alice", "prod", mode)).await;
        assert_eq!(
            d.remedy,
            Some(Remedy::RequestAccess {
                profile: "prod".into()
            })
        );
    }
    let r = AccessRequest::new(
        NewRequest {
            requester: Username::parse("alice").unwrap(),
            profile: "prod".into(),
            justification: "deploy hotfix INC-42".into(),
            duration: Duration::from_secs(2 * 3600),
        },
        w.clock.now(),
    )
    .unwrap();
    w.requests.create(&r).await.unwrap();
    w.denied(&ask("alice", "prod", Mode::Cli)).await;
    w.requests.approve(&r.id, "bob", None).await.unwrap();
    w.clock.advance(Duration::from_secs(30 * 60));
    let issued = w.issued(&ask("alice", "prod", Mode::Cli)).await;
    assert_eq!(issued.grant, Grant::Approval(r.id.clone()));
    let si = SourceIdentity::parse(&issued.source_identity).unwrap();
    assert!(si.marker().is_approval(&r.id));
    // The window started at approval: 1h30m of the 2h are left; asked 1h.
    assert_eq!(issued.duration, Duration::from_secs(3600));
    let lines = log_lines(&w.log);
    let last = lines.last().unwrap();
    assert_eq!(last["approval_id"], r.id.as_str());
    assert_eq!(last["effect"], "allow");
    // Past the window: refused again.
    w.clock.advance(Duration::from_secs(90 * 60));
    w.denied(&ask("alice", "prod", Mode::Cli)).await;
}

#[tokio::test]
async fn breakglass_overrides_deny_until_closed() {
    let w = world();
    let e = w
        .breakglass
        .invoke(&Invocation::unchecked(
            NewBreakGlass {
                invoker: Username::parse("alice").unwrap(),
                profile: "vault".into(),
                reason_code: ReasonCode::Incident,
                justification: "vault sealed itself, unsealing by hand".into(),
                duration: Duration::from_secs(40 * 60),
            },
            sentinel_breakglass::RateLimits::none(),
        ))
        .await
        .unwrap();
    let issued = w.issued(&ask("alice", "vault", Mode::Cli)).await;
    assert_eq!(issued.grant, Grant::BreakGlass(e.id.clone()));
    assert!(
        SourceIdentity::parse(&issued.source_identity)
            .unwrap()
            .marker()
            .is_break_glass(&e.id)
    );
    assert_eq!(
        issued.duration,
        Duration::from_secs(40 * 60),
        "capped at the event's end"
    );
    // bob has no break-glass rule: his own event would not count.
    w.denied(&ask("bob", "vault", Mode::Cli)).await;
    // Less than 15 minutes left: refused rather than outlived.
    w.clock.advance(Duration::from_secs(30 * 60));
    let d = w.denied(&ask("alice", "vault", Mode::Cli)).await;
    assert!(d.reason.contains("15 minutes"), "{}", d.reason);
    w.breakglass
        .close(&e.id, "security", "resolved")
        .await
        .unwrap();
    w.denied(&ask("alice", "vault", Mode::Cli)).await;
    assert_eq!(log_lines(&w.log)[0]["breakglass_id"], e.id.as_str());
}

#[tokio::test]
async fn server_only_rules_and_session_tracking() {
    let w = world();
    let d = w.denied(&ask("bob", "ops", Mode::Cli)).await;
    assert_eq!(
        d.remedy,
        Some(Remedy::UseServer {
            profile: "ops".into(),
            session_table: None,
        })
    );
    let mut server = ask("bob", "ops", Mode::Server);
    server.duration = Some(Duration::from_secs(3 * 3600));
    let issued = w.issued(&server).await;
    assert_eq!(
        issued.duration,
        Duration::from_secs(30 * 60),
        "max_server_duration"
    );

    // require_server_session: server mode alone is not enough.
    w.denied(&ask("bob", "audit", Mode::Server)).await;
    let caller = ask("bob", "audit", Mode::Server).caller;
    let session = w
        .pipeline
        .start_session(&caller, "audit", "laptop-1", Duration::from_secs(3600))
        .await
        .unwrap();
    let mut tracked = ask("bob", "audit", Mode::Server);
    tracked.session_id = Some(session.id.clone());
    let _ = w.issued(&tracked).await;
    let sent = w.vendor.requests();
    assert_eq!(
        sent.last().unwrap().tags,
        vec![("SentinelSessionID".to_owned(), session.id.clone())]
    );
    assert_eq!(w.sessions.get(&session.id).await.unwrap().request_count, 1);

    // Revoking the session ends it at the next request.
    w.sessions
        .revoke(&session.id, "security", "laptop stolen")
        .await
        .unwrap();
    let d = w.denied(&tracked).await;
    assert!(d.reason.contains("revoked"), "{}", d.reason);
}

#[tokio::test]
async fn kill_switch_denies_new_credentials() {
    let w = world();
    let r = UserRevocation::new(
        &Username::parse("bob").unwrap(),
        None,
        "security",
        "account compromised",
        w.clock.now(),
        None,
    )
    .unwrap();
    w.sessions.revoke_user(&r).await.unwrap();
    let d = w.denied(&ask("bob", "dev", Mode::Cli)).await;
    assert!(d.reason.contains("revoked"), "{}", d.reason);
    assert!(w.vendor.requests().is_empty());
    w.issued(&ask("carol", "dev", Mode::Cli)).await;
}

#[tokio::test]
async fn durations_follow_the_sts_limits() {
    let w = world();
    let mut short = ask("bob", "dev", Mode::Cli);
    short.duration = Some(Duration::from_secs(60));
    let i = w.issued(&short).await;
    assert_eq!(i.duration, Duration::from_secs(900));
    let mut chained = ask("bob", "dev", Mode::Cli);
    chained.duration = Some(Duration::from_secs(4 * 3600));
    chained.target.role_chaining = true;
    let i = w.issued(&chained).await;
    assert_eq!(i.duration, Duration::from_secs(3600));
    let mut defaulted = ask("bob", "dev", Mode::Cli);
    defaulted.target.default_duration = Some(Duration::from_secs(2 * 3600));
    let i = w.issued(&defaulted).await;
    assert_eq!(i.duration, Duration::from_secs(2 * 3600));
}

/// A request store whose every call fails.
#[derive(Debug)]
struct BrokenRequests;

#[async_trait]
impl RequestStore for BrokenRequests {
    async fn create(&self, _: &AccessRequest) -> sentinel_approval::Result<()> {
        Err(broken())
    }
    async fn get(&self, _: &str) -> sentinel_approval::Result<AccessRequest> {
        Err(broken())
    }
    async fn approve(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
    ) -> sentinel_approval::Result<AccessRequest> {
        Err(broken())
    }
    async fn deny(
        &self,
        _: &str,
        _: &str,
        _: Option<&str>,
    ) -> sentinel_approval::Result<AccessRequest> {
        Err(broken())
    }
    async fn cancel(&self, _: &str, _: &str) -> sentinel_approval::Result<AccessRequest> {
        Err(broken())
    }
    async fn list(&self, _: &RequestQuery) -> sentinel_approval::Result<RequestPage> {
        Err(broken())
    }
    async fn find_approved(
        &self,
        _: &str,
        _: &str,
        _: jiff::Timestamp,
    ) -> sentinel_approval::Result<Option<AccessRequest>> {
        Err(broken())
    }
    async fn claim_expired(&self, _: usize) -> sentinel_approval::Result<Vec<AccessRequest>> {
        Err(broken())
    }
}

fn broken() -> sentinel_approval::Error {
    sentinel_approval::Error::Backend {
        backend: "test",
        source: Arc::new(std::io::Error::other("disk on fire")),
    }
}

#[tokio::test]
async fn failures_fail_closed() {
    let w = world();
    // A store error while looking for an approval: an error, never an allow.
    let p = w.pipeline.clone().with_requests(Arc::new(BrokenRequests));
    assert!(p.vend(&ask("alice", "prod", Mode::Cli)).await.is_err());
    assert!(w.vendor.requests().is_empty());
    // No policy for the profile.
    assert!(
        w.pipeline
            .vend(&ask("bob", "nope", Mode::Cli))
            .await
            .is_err()
    );
    // STS fails.
    w.vendor.fail_with(Some(VendError::Throttled {
        role_arn: ROLE.into(),
    }));
    let err = w
        .pipeline
        .vend(&ask("bob", "dev", Mode::Cli))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("throttling"), "{err}");
    w.vendor.fail_with(None);
    let effects: Vec<String> = log_lines(&w.log)
        .iter()
        .map(|l| l["effect"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(effects, ["error", "error", "error"]);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn no_credentials_without_a_log_line() {
    let w = world();
    let log = DecisionLog::open_file("/dev/full").unwrap();
    let p = Pipeline::new(
        {
            let s = MemoryPolicyStore::new();
            s.put_text("dev", POLICY).unwrap();
            Arc::new(s)
        },
        Arc::new(w.vendor.clone()),
        log,
    );
    let err = p.vend(&ask("bob", "dev", Mode::Cli)).await.unwrap_err();
    assert!(matches!(err, sentinel_vend::Error::Log(_)), "{err}");
}

#[cfg(feature = "sts")]
#[test]
fn target_from_an_aws_profile() {
    use sentinel_vend::profiles::AwsProfile;
    let mut p = AwsProfile::new("prod");
    assert!(
        Target::from_profile(&p, false, None).is_err(),
        "no role_arn"
    );
    p.role_arn = Some(ROLE.into());
    p.external_id = Some("ext-123".into());
    p.duration_seconds = Some(1800);
    p.mfa_serial = Some("arn:aws:iam::123456789012:mfa/alice".into());
    let t = Target::from_profile(&p, true, Some("123456".into())).unwrap();
    assert_eq!(t.role_arn, ROLE);
    assert_eq!(t.external_id.as_deref(), Some("ext-123"));
    assert_eq!(t.default_duration, Some(Duration::from_secs(1800)));
    assert!(t.role_chaining);
    assert_eq!(
        t.mfa,
        Some((
            "arn:aws:iam::123456789012:mfa/alice".into(),
            "123456".into()
        ))
    );
    assert!(!format!("{t:?}").contains("ext-123"));
}

#[tokio::test]
async fn breakglass_is_rechecked_against_the_current_rules() {
    let w = world();
    // The policy now accepts only `security` for alice's break-glass.
    let narrowed = POLICY.replace(
        "      profiles: [vault, prod]\n",
        "      profiles: [vault, prod]\n      reason_codes: [security]\n",
    );
    assert_ne!(narrowed, POLICY);
    let policies = MemoryPolicyStore::new();
    policies.put_text("vault", &narrowed).unwrap();
    let c: Arc<dyn Clock> = Arc::new(w.clock.clone());
    let pipeline = Pipeline::new(
        Arc::new(policies),
        Arc::new(w.vendor.clone()),
        w.log.clone(),
    )
    .with_breakglass(w.breakglass.clone())
    .with_clock(c);
    w.breakglass
        .invoke(&Invocation::unchecked(
            NewBreakGlass {
                invoker: Username::parse("alice").unwrap(),
                profile: "vault".into(),
                reason_code: ReasonCode::Incident,
                justification: "vault sealed itself, unsealing by hand".into(),
                duration: Duration::from_secs(40 * 60),
            },
            sentinel_breakglass::RateLimits::none(),
        ))
        .await
        .unwrap();
    // Allowed under the rules it was invoked with; not under today's.
    w.issued(&ask("alice", "vault", Mode::Cli)).await;
    assert!(matches!(
        pipeline
            .vend(&ask("alice", "vault", Mode::Cli))
            .await
            .unwrap(),
        Outcome::Denied(_)
    ));
}

fn ask_as(arn: &str, profile: &str, mode: Mode) -> VendRequest {
    VendRequest {
        caller: Caller::from_arn(arn).unwrap(),
        ..ask("x", profile, mode)
    }
}

#[tokio::test]
async fn principals_the_policy_does_not_name_are_refused_and_logged() {
    let w = world();
    for (arn, why) in [
        ("arn:aws:iam::123456789012:root", "account root user"),
        (
            "arn:aws:sts::123456789012:federated-user/alice",
            "federated user",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/Shared/alice",
            "names nobody",
        ),
        (
            "arn:aws:sts::123456789012:assumed-role/prod-admin/sentinel-alice-0011223344556677",
            "credentials from Sentinel cannot call Sentinel",
        ),
    ] {
        let d = w.denied(&ask_as(arn, "dev", Mode::Cli)).await;
        assert!(d.reason.contains(why), "{arn}: {}", d.reason);
        let last = log_lines(&w.log).pop().unwrap();
        assert_eq!(last["effect"], "deny");
        assert_eq!(last["user"], "-");
        assert_eq!(last["caller_arn"], arn);
    }
    assert!(w.vendor.requests().is_empty());
    // An IAM Identity Center session is its person.
    let sso = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/bob@example.com";
    let issued = w.issued(&ask_as(sso, "dev", Mode::Cli)).await;
    assert!(
        issued
            .source_identity
            .starts_with("sentinel.bob@example.com.direct."),
        "{}",
        issued.source_identity
    );
    // The session name STS sees marks it as vended, and says whose it is.
    let sent = w.vendor.requests();
    assert!(
        sent[0]
            .role_session_name
            .starts_with("sentinel-bob@example.com-")
    );
}

#[tokio::test]
async fn a_server_session_serves_only_its_owner_and_profile() {
    let w = world();
    let bob = ask("bob", "audit", Mode::Server).caller;
    let session = w
        .pipeline
        .start_session(&bob, "audit", "laptop-1", Duration::from_secs(3600))
        .await
        .unwrap();
    let mut carols = ask("carol", "audit", Mode::Server);
    carols.session_id = Some(session.id.clone());
    let d = w.denied(&carols).await;
    assert!(d.reason.contains("belongs to \"bob\""), "{}", d.reason);
    let mut other_profile = ask("bob", "ops", Mode::Server);
    other_profile.session_id = Some(session.id.clone());
    let d = w.denied(&other_profile).await;
    assert!(d.reason.contains("on profile \"audit\""), "{}", d.reason);
    assert!(w.vendor.requests().is_empty());
}

#[tokio::test]
async fn a_revoked_user_cannot_start_a_server_session() {
    let w = world();
    let r = UserRevocation::new(
        &Username::parse("bob").unwrap(),
        Some("audit"),
        "secops",
        "offboarding",
        w.clock.now(),
        None,
    )
    .unwrap();
    w.sessions.put_user_revocation(&r).await.unwrap();
    let bob = ask("bob", "audit", Mode::Server).caller;
    let err = w
        .pipeline
        .start_session(&bob, "audit", "laptop-1", Duration::from_secs(3600))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("revoked"), "{err}");
    let last = log_lines(&w.log).pop().unwrap();
    assert_eq!(last["effect"], "deny");
    assert_eq!(last["user"], "bob");
    // Someone else still may.
    let carol = ask("carol", "audit", Mode::Server).caller;
    w.pipeline
        .start_session(&carol, "audit", "laptop-2", Duration::from_secs(3600))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_session_table_rule_needs_sessions_in_that_table() {
    let clock = sentinel_testkit::test_clock();
    let policies = MemoryPolicyStore::new();
    policies
        .put_text(
            "audit",
            "version: '1'\nrules:\n  - name: tracked\n    effect: require_server_session\n    session_table: audit-sessions\n",
        )
        .unwrap();
    let vendor = FakeVendor::new();
    vendor.at(clock.now());
    let sessions = Arc::new(MemorySessionStore::with_clock(Arc::new(clock.clone())));
    let pipeline = Pipeline::new(
        Arc::new(policies),
        Arc::new(vendor.clone()),
        DecisionLog::memory(),
    )
    .with_sessions(sessions)
    .with_clock(Arc::new(clock));
    let mut req = ask("bob", "audit", Mode::Server);
    let session = pipeline
        .start_session(&req.caller, "audit", "laptop-1", Duration::from_secs(3600))
        .await
        .unwrap();
    req.session_id = Some(session.id);
    match pipeline.vend(&req).await.unwrap() {
        Outcome::Denied(d) => {
            assert!(
                d.reason.contains("table \"audit-sessions\""),
                "{}",
                d.reason
            );
        }
        Outcome::Issued(_) => panic!("issued although sessions are not in audit-sessions"),
    }
    // Asked outside server mode, the remedy names the server and the table.
    match pipeline
        .vend(&ask("bob", "audit", Mode::Cli))
        .await
        .unwrap()
    {
        Outcome::Denied(d) => assert_eq!(
            d.remedy,
            Some(Remedy::UseServer {
                profile: "audit".into(),
                session_table: Some("audit-sessions".into()),
            })
        ),
        Outcome::Issued(_) => panic!("issued a server-only profile in cli mode"),
    }
    assert!(vendor.requests().is_empty());
}

#[tokio::test]
async fn an_approval_by_the_requester_never_counts() {
    let w = world();
    let mut r = AccessRequest::new(
        NewRequest {
            requester: Username::parse("alice").unwrap(),
            profile: "prod".into(),
            justification: "deploy hotfix INC-42".into(),
            duration: Duration::from_secs(3600),
        },
        w.clock.now(),
    )
    .unwrap();
    // A record written behind the store's back: alice "approved" herself.
    r.status = sentinel_approval::RequestStatus::Approved;
    r.approver = Some("alice".into());
    r.approved_at = Some(w.clock.now());
    w.requests.create(&r).await.unwrap();
    w.denied(&ask("alice", "prod", Mode::Cli)).await;
}

#[tokio::test]
async fn server_credentials_are_short_whatever_the_profile_says() {
    let w = world();
    let mut req = ask("bob", "dev", Mode::Server);
    req.target.default_duration = Some(Duration::from_secs(12 * 3600));
    let issued = w.issued(&req).await;
    assert_eq!(issued.duration, sentinel_vend::DEFAULT_SERVER_DURATION);
    let mut cli = ask("bob", "dev", Mode::Cli);
    cli.target.default_duration = Some(Duration::from_secs(12 * 3600));
    assert_eq!(
        w.issued(&cli).await.duration,
        Duration::from_secs(12 * 3600)
    );
}
