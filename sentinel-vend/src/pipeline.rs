//! The issuing pipeline (DESIGN §5): identify → decide → override → track
//! → vend → log. One pipeline serves every frontend; only the mode and the
//! source of the caller's identity differ.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sentinel_approval::RequestStore;
use sentinel_breakglass::{BreakGlassEvent, BreakGlassStore, NewBreakGlass};
use sentinel_policy::{
    CompiledPolicy, Decision, DecisionEffect, Mode, PolicyStore, Request, Username,
};
use sentinel_session::{NewSession, ServerSession, SessionStore};
use sentinel_store::{Clock, SystemClock};

use crate::error::{Error, Result};
use crate::log::{DecisionLog, DecisionRecord};
#[cfg(feature = "sts")]
use crate::profiles::{AwsProfile, ProfileError};
use crate::source_identity::{Marker, RequestId, SessionTag, SourceIdentity};
use crate::vendor::{
    AssumeRoleRequest, Credentials, MAX_CHAINED_DURATION, MAX_SESSION_DURATION,
    MIN_SESSION_DURATION, Vendor,
};

/// Credential lifetime when neither the caller nor the profile asks for one.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(3600);

/// The session tag that carries a tracked server session's id.
pub const SESSION_TAG: &str = "SentinelSessionID";

/// Who is asking, as established by the frontend from a trusted source
/// (STS GetCallerIdentity on the CLI, the API Gateway authorizer in the
/// TVM; never a header or a body field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The policy username derived from the ARN.
    pub username: Username,
    /// The caller's ARN, for the log.
    pub arn: String,
}

/// The role behind a profile: from `~/.aws/config` on a laptop, from the
/// policy's `profiles` section in the TVM.
#[derive(Clone, PartialEq, Eq)]
pub struct Target {
    /// The role to assume.
    pub role_arn: String,
    /// `ExternalId` the trust policy requires.
    pub external_id: Option<String>,
    /// The profile's default lifetime.
    pub default_duration: Option<Duration>,
    /// The base credentials are themselves a role session: STS allows at
    /// most one hour.
    pub role_chaining: bool,
    /// MFA device serial and code, when the profile needs MFA.
    pub mfa: Option<(String, String)>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("role_arn", &self.role_arn)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "<redacted>"),
            )
            .field("default_duration", &self.default_duration)
            .field("role_chaining", &self.role_chaining)
            .field("mfa", &self.mfa.as_ref().map(|(s, _)| (s, "<redacted>")))
            .finish()
    }
}

impl Target {
    /// The role behind an AWS config profile: its `role_arn` (required;
    /// [`ProfileError::NoRoleArn`] otherwise), `external_id` and
    /// `duration_seconds`. `role_chaining` says whether the base
    /// credentials are themselves a role session; `mfa_code` is the current
    /// code for the profile's `mfa_serial`, if it has one.
    #[cfg(feature = "sts")]
    pub fn from_profile(
        profile: &AwsProfile,
        role_chaining: bool,
        mfa_code: Option<String>,
    ) -> std::result::Result<Self, ProfileError> {
        Ok(Self {
            role_arn: profile.require_role()?.to_owned(),
            external_id: profile.external_id.clone(),
            default_duration: profile
                .duration_seconds
                .map(|s| Duration::from_secs(u64::from(s))),
            role_chaining,
            mfa: profile.mfa_serial.clone().zip(mfa_code),
        })
    }

    /// A role without external id, default duration, chaining or MFA.
    pub fn role(role_arn: impl Into<String>) -> Self {
        Self {
            role_arn: role_arn.into(),
            external_id: None,
            default_duration: None,
            role_chaining: false,
            mfa: None,
        }
    }
}

/// One request for credentials.
#[derive(Debug, Clone)]
pub struct VendRequest {
    /// Who asks.
    pub caller: Caller,
    /// For which profile.
    pub profile: String,
    /// Through which channel.
    pub mode: Mode,
    /// The lifetime asked for, if any.
    pub duration: Option<Duration>,
    /// The role.
    pub target: Target,
    /// In server mode with tracking: the server session this request
    /// belongs to (see [`Pipeline::start_session`]).
    pub session_id: Option<String>,
}

/// What made an issue possible.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// The policy allowed it.
    Direct,
    /// An approved access request (its id).
    Approval(String),
    /// An active break-glass event (its id).
    BreakGlass(String),
}

/// Credentials were issued.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Issued {
    /// The credentials.
    pub credentials: Credentials,
    /// The SourceIdentity stamped on the session.
    pub source_identity: String,
    /// The random id of this request (also in SourceIdentity and the log).
    pub request_id: String,
    /// What allowed it.
    pub grant: Grant,
    /// The policy decision (before any override).
    pub decision: Decision,
    /// The lifetime asked of STS.
    pub duration: Duration,
}

/// Credentials were refused by policy (exit code 2 on the CLI).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Denial {
    /// Why, in words a user can act on.
    pub reason: String,
    /// The deciding rule, if one matched.
    pub rule: Option<String>,
    /// What to do next (`sentinel request --profile prod ...`).
    pub hint: Option<String>,
}

/// The outcome of [`Pipeline::vend`].
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Credentials.
    Issued(Issued),
    /// A refusal.
    Denied(Denial),
}

/// The pipeline with its stores. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Pipeline {
    policy: Arc<dyn PolicyStore>,
    vendor: Arc<dyn Vendor>,
    log: DecisionLog,
    requests: Option<Arc<dyn RequestStore>>,
    breakglass: Option<Arc<dyn BreakGlassStore>>,
    sessions: Option<Arc<dyn SessionStore>>,
    clock: Arc<dyn Clock>,
}

/// What [`Pipeline::authorize`] found.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Authorization {
    /// Credentials may be issued.
    Granted(Granted),
    /// A refusal (already logged).
    Denied(Denial),
}

/// A grant, ready for [`Pipeline::issue`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Granted {
    /// The policy decision (before any override).
    pub decision: Decision,
    /// What allows it.
    pub grant: Grant,
    /// When the grant ends (approval window, break-glass expiry), if it is
    /// an override.
    pub grant_end: Option<Timestamp>,
    request_id: RequestId,
    at: Timestamp,
    policy_source: String,
}

/// The result of looking for an override.
enum Override {
    None(Option<String>),
    Approval(sentinel_approval::AccessRequest),
    BreakGlass(sentinel_breakglass::BreakGlassEvent),
}

impl Pipeline {
    /// A pipeline deciding with `policy`, vending through `vendor` and
    /// logging to `log`; without approval, break-glass or session stores.
    pub fn new(policy: Arc<dyn PolicyStore>, vendor: Arc<dyn Vendor>, log: DecisionLog) -> Self {
        Self {
            policy,
            vendor,
            log,
            requests: None,
            breakglass: None,
            sessions: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Approved access requests can override `require_approval`.
    #[must_use]
    pub fn with_requests(mut self, store: Arc<dyn RequestStore>) -> Self {
        self.requests = Some(store);
        self
    }

    /// Active break-glass events can override where the rules allow.
    #[must_use]
    pub fn with_breakglass(mut self, store: Arc<dyn BreakGlassStore>) -> Self {
        self.breakglass = Some(store);
        self
    }

    /// Server sessions are tracked and user revocations enforced.
    #[must_use]
    pub fn with_sessions(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(store);
        self
    }

    /// Reads time from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The policy store.
    pub fn policy(&self) -> &Arc<dyn PolicyStore> {
        &self.policy
    }

    /// The session store, if sessions are tracked.
    pub fn sessions(&self) -> Option<&Arc<dyn SessionStore>> {
        self.sessions.as_ref()
    }

    /// Starts a tracked server session for `caller` on `profile` (what
    /// `sentinel exec --server` and the TVM do once per server). Without a
    /// session store: [`Error::Config`].
    pub async fn start_session(
        &self,
        caller: &Caller,
        profile: &str,
        server_instance_id: &str,
        duration: Duration,
    ) -> Result<ServerSession> {
        let sessions = self.sessions.as_ref().ok_or_else(|| {
            Error::Config(
                "session tracking needs a session store; pass --session-table or set state".into(),
            )
        })?;
        let session = ServerSession::start(
            NewSession {
                user: caller.username.to_string(),
                profile: profile.to_owned(),
                server_instance_id: server_instance_id.to_owned(),
                duration,
                source_identity: None,
            },
            self.clock.now(),
        )?;
        sessions.create(&session).await?;
        Ok(session)
    }

    /// Decides and, when allowed, vends. A policy refusal is
    /// [`Outcome::Denied`]; anything that failed on the way (policy that
    /// does not load, a store, STS, the decision log) is an [`Error`] and
    /// likewise issues nothing. Every decision is logged; when the log
    /// cannot be written no credentials are returned.
    pub async fn vend(&self, req: &VendRequest) -> Result<Outcome> {
        match self.authorize(req).await? {
            Authorization::Granted(granted) => self.issue(req, granted).await,
            Authorization::Denied(denial) => Ok(Outcome::Denied(denial)),
        }
    }

    /// The decision half of [`vend`](Self::vend): policy, overrides, the
    /// kill switch and the server session, without calling STS. Refusals
    /// and failures are logged here; a grant is logged when
    /// [`issue`](Self::issue) issues. The credential server calls this on
    /// every request and serves cached credentials when it may, so a
    /// revocation or a policy change takes effect at the next request.
    pub async fn authorize(&self, req: &VendRequest) -> Result<Authorization> {
        let now = self.clock.now();
        let ctx = LogContext {
            req,
            request_id: RequestId::random()?,
            at: now,
            policy_source: self.policy.describe(),
        };
        let policy = match self.policy.get(&req.profile).await {
            Ok(p) => p,
            Err(e) => {
                let e = Error::from(e);
                self.log.write(&ctx.error(&e)).await?;
                return Err(e);
            }
        };
        let decision = decide(&policy, req, now, self.sessions.is_some());
        match self.grant(&policy, &decision, req, now).await {
            Ok(Ok((grant, grant_end))) => Ok(Authorization::Granted(Granted {
                decision,
                grant,
                grant_end,
                request_id: ctx.request_id,
                at: now,
                policy_source: ctx.policy_source,
            })),
            Ok(Err(denial)) => {
                self.log.write(&ctx.denied(&decision, &denial)).await?;
                Ok(Authorization::Denied(denial))
            }
            Err(e) => {
                self.log.write(&ctx.error(&e)).await?;
                Err(e)
            }
        }
    }

    /// What allows this request, or why nothing does. Store errors are
    /// errors (fail closed), never an allow.
    async fn grant(
        &self,
        policy: &CompiledPolicy,
        decision: &Decision,
        req: &VendRequest,
        now: Timestamp,
    ) -> Result<Result<(Grant, Option<Timestamp>), Denial>> {
        let user = &req.caller.username;
        if let Some(sessions) = &self.sessions {
            // One read for both: the credential server does this on every
            // request, and cached credentials are then served without a write.
            let access = sessions
                .access(user, &req.profile, req.session_id.as_deref())
                .await?;
            if let Some(r) = access.revocation {
                return Ok(Err(Denial {
                    reason: format!(
                        "access for \"{user}\" is revoked by {} ({}){}",
                        r.revoked_by,
                        r.reason,
                        r.expires_at
                            .map(|t| format!(" until {t}"))
                            .unwrap_or_default()
                    ),
                    rule: None,
                    hint: Some("ask a security admin to lift the revocation".into()),
                }));
            }
            if let Some(id) = &req.session_id {
                let refused = match &access.session {
                    Some(s) if s.is_active(now) => None,
                    Some(s) => Some(format!("server session {id} is {}", s.status)),
                    None => Some(format!("server session {id} does not exist")),
                };
                if let Some(reason) = refused {
                    return Ok(Err(Denial {
                        reason,
                        rule: None,
                        hint: Some("start a new `sentinel exec --server` session".into()),
                    }));
                }
            }
        }
        if decision.is_allowed() {
            return Ok(Ok((Grant::Direct, None)));
        }
        let refused = |hint: Option<String>| Denial {
            reason: decision.reason.to_string(),
            rule: decision.rule.as_deref().map(str::to_owned),
            hint,
        };
        match self.find_override(policy, decision, req, now).await? {
            Override::Approval(r) => {
                let end = r.access_window().map(|w| w.1);
                Ok(Ok((Grant::Approval(r.id), end)))
            }
            Override::BreakGlass(e) => {
                Ok(Ok((Grant::BreakGlass(e.id.clone()), Some(e.expires_at))))
            }
            Override::None(hint) => Ok(Err(refused(hint))),
        }
    }

    async fn find_override(
        &self,
        policy: &CompiledPolicy,
        decision: &Decision,
        req: &VendRequest,
        now: Timestamp,
    ) -> Result<Override> {
        let user = &req.caller.username;
        let profile = &req.profile;
        if decision.approval_can_override()
            && let Some(requests) = &self.requests
            && let Some(r) = requests.find_approved(user, profile, now).await?
        {
            return Ok(Override::Approval(r));
        }
        if decision.breakglass_can_override()
            && let Some(store) = &self.breakglass
            && let Some(e) = store.find_active(user, profile).await?
            && breakglass_permitted(policy, user, &e)
        {
            return Ok(Override::BreakGlass(e));
        }
        let hint = if decision.approval_can_override() {
            Some(format!(
                "request access: sentinel request --profile {profile} --justification \"...\""
            ))
        } else if decision.effect == DecisionEffect::Deny && decision.requires_server {
            Some(format!(
                "use server mode: sentinel exec --server --profile {profile} -- COMMAND"
            ))
        } else {
            None
        };
        Ok(Override::None(hint))
    }

    /// The vending half of [`vend`](Self::vend): asks STS for the granted
    /// credentials and logs the issue (no log line, no credentials). A
    /// tracked session is touched first (its request count counts issues),
    /// so a session revoked since [`authorize`](Self::authorize) is refused.
    pub async fn issue(&self, req: &VendRequest, granted: Granted) -> Result<Outcome> {
        let Granted {
            decision,
            grant,
            grant_end,
            request_id,
            at: now,
            policy_source,
        } = granted;
        let ctx = &LogContext {
            req,
            request_id,
            at: now,
            policy_source,
        };
        if let (Some(sessions), Some(id)) = (&self.sessions, &req.session_id) {
            // Counts the issue; fails if the session was revoked since the
            // check.
            match sessions.touch(id).await {
                Ok(_) => {}
                Err(sentinel_session::Error::InvalidTransition { from, .. }) => {
                    let denial = Denial {
                        reason: format!("server session {id} is {from}"),
                        rule: None,
                        hint: Some("start a new `sentinel exec --server` session".into()),
                    };
                    self.log.write(&ctx.denied(&decision, &denial)).await?;
                    return Ok(Outcome::Denied(denial));
                }
                Err(e) => {
                    let e = Error::from(e);
                    self.log.write(&ctx.error(&e)).await?;
                    return Err(e);
                }
            }
        }
        let duration = match effective_duration(req, &decision, grant_end, now) {
            Ok(d) => d,
            Err(denial) => {
                self.log.write(&ctx.denied(&decision, &denial)).await?;
                return Ok(Outcome::Denied(denial));
            }
        };
        let marker = match &grant {
            Grant::Direct => Marker::Direct,
            Grant::Approval(id) => Marker::approval(id),
            Grant::BreakGlass(id) => Marker::break_glass(id),
        };
        let stamp = SourceIdentity::new(&req.caller.username, marker, ctx.request_id)?;
        let mut ask = AssumeRoleRequest::new(
            &req.target.role_arn,
            stamp.role_session_name(),
            stamp.to_string(),
            duration,
        )
        .external_id(req.target.external_id.clone());
        if let Some(id) = &req.session_id {
            let tag = SessionTag::session_id(id)?;
            ask = ask.tag(tag.key(), tag.value());
        }
        if let Some((serial, code)) = &req.target.mfa {
            ask = ask.mfa(serial, code);
        }
        let credentials = match self.vendor.assume_role(&ask).await {
            Ok(c) => c,
            Err(e) => {
                let e = Error::from(e);
                self.log.write(&ctx.error(&e)).await?;
                return Err(e);
            }
        };
        let issued = Issued {
            credentials,
            source_identity: stamp.to_string(),
            request_id: ctx.request_id.to_string(),
            grant,
            decision,
            duration,
        };
        // No credential leaves the process unless its decision is on record.
        self.log.write(&ctx.issued(&issued)).await?;
        Ok(Outcome::Issued(issued))
    }
}

/// Evaluates the policy for this request.
fn decide(policy: &CompiledPolicy, req: &VendRequest, now: Timestamp, tracking: bool) -> Decision {
    let tracked = tracking && req.mode == Mode::Server && req.session_id.is_some();
    policy.evaluate(
        &Request::new(&req.caller.username, &req.profile, req.mode, now)
            .with_session_tracking(tracked),
    )
}

/// Whether the policy's break-glass rules (still) permit this event for
/// `user`: the event was checked when invoked, but the policy may have
/// changed since. The same check as at invocation
/// ([`sentinel_breakglass::authorize`]): a rule for the user and profile
/// that accepts the event's reason code and duration.
fn breakglass_permitted(policy: &CompiledPolicy, user: &str, e: &BreakGlassEvent) -> bool {
    let again = NewBreakGlass {
        invoker: user.to_owned(),
        profile: e.profile.clone(),
        reason_code: e.reason_code,
        justification: e.justification.clone(),
        duration: e.duration,
    };
    sentinel_breakglass::authorize(policy.document(), &again).is_ok()
}

/// The lifetime asked of STS (DESIGN §4): requested → profile default →
/// the rule's `max_server_duration` (server mode) → the grant's end
/// (approval window, break-glass expiry) → STS limits (at least 15
/// minutes; at most 12 h, or 1 h when role chaining). A grant that ends in
/// less than 15 minutes is refused rather than outlived.
fn effective_duration(
    req: &VendRequest,
    decision: &Decision,
    grant_end: Option<Timestamp>,
    now: Timestamp,
) -> std::result::Result<Duration, Denial> {
    let mut d = req
        .duration
        .or(req.target.default_duration)
        .unwrap_or(DEFAULT_DURATION);
    if req.mode == Mode::Server
        && let Some(max) = decision.max_server_duration
    {
        d = d.min(max);
    }
    if let Some(end) = grant_end {
        let left: Duration = end.duration_since(now).try_into().unwrap_or(Duration::ZERO);
        if left < MIN_SESSION_DURATION {
            return Err(Denial {
                reason: format!(
                    "the grant ends at {end}, in less than the 15 minutes STS issues credentials for"
                ),
                rule: decision.rule.as_deref().map(str::to_owned),
                hint: Some("ask for a new approval or break-glass event".into()),
            });
        }
        d = d.min(left);
    }
    d = d.min(if req.target.role_chaining {
        MAX_CHAINED_DURATION
    } else {
        MAX_SESSION_DURATION
    });
    Ok(d.max(MIN_SESSION_DURATION))
}

/// What every log line of one request shares.
struct LogContext<'a> {
    req: &'a VendRequest,
    request_id: RequestId,
    at: Timestamp,
    policy_source: String,
}

impl LogContext<'_> {
    fn record(&self, effect: &str, reason: String) -> DecisionRecord {
        let mut r = DecisionRecord::new(
            self.req.caller.username.as_str(),
            &self.req.profile,
            self.req.mode,
            effect,
            reason,
            &self.policy_source,
        )
        .at(self.at);
        r.request_id = Some(self.request_id.to_string());
        r.session_id.clone_from(&self.req.session_id);
        r
    }

    /// Something failed: nothing was issued.
    fn error(&self, e: &Error) -> DecisionRecord {
        self.record("error", e.to_string())
    }

    /// The policy (or a revocation) refused.
    fn denied(&self, decision: &Decision, denial: &Denial) -> DecisionRecord {
        let mut r = self.record("deny", denial.reason.clone());
        r.rule.clone_from(&denial.rule);
        if denial.rule.is_some() {
            r.rule_index = decision.rule_index;
        }
        r
    }

    /// Credentials were issued.
    fn issued(&self, issued: &Issued) -> DecisionRecord {
        let d = &issued.decision;
        let reason = match &issued.grant {
            Grant::Direct => d.reason.to_string(),
            Grant::Approval(id) => format!("{}; overridden by approved request {id}", d.reason),
            Grant::BreakGlass(id) => format!("{}; overridden by break-glass event {id}", d.reason),
        };
        let mut r = self.record("allow", reason);
        r.rule = d.rule.as_deref().map(str::to_owned);
        r.rule_index = d.rule_index;
        r.source_identity = Some(issued.source_identity.clone());
        r.role_arn = Some(self.req.target.role_arn.clone());
        r.duration_secs = Some(issued.duration.as_secs());
        match &issued.grant {
            Grant::Direct => {}
            Grant::Approval(id) => r.approval_id = Some(id.clone()),
            Grant::BreakGlass(id) => r.breakglass_id = Some(id.clone()),
        }
        r
    }
}
