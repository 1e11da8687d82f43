//! The issuing pipeline (ARCHITECTURE.md, steps 3–4 of a request): identify → decide → override → track
//! → vend → log. One pipeline serves every frontend; only the mode and the
//! source of the caller's identity differ.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sentinel_approval::RequestStore;
use sentinel_breakglass::{BreakGlassEvent, BreakGlassStore, NewBreakGlass};
use sentinel_policy::{
    CompiledPolicy, Decision, Mode, PolicyStore, Principal, PrincipalError, Request, Username,
};
use sentinel_session::{NewSession, ServerSession, SessionStore, SessionStoreExt};
use sentinel_store::{Clock, SystemClock};

use crate::error::{Error, Result};
use crate::log::{DecisionLog, DecisionRecord, Durability};
#[cfg(feature = "sts")]
use crate::profiles::{AwsProfile, ProfileError};
use crate::remedy::Remedy;
use crate::source_identity::{Marker, RequestId, SessionTag, SourceIdentity};
use crate::vendor::{
    AssumeRoleRequest, Credentials, MAX_CHAINED_DURATION, MAX_SESSION_DURATION,
    MIN_SESSION_DURATION, Vendor,
};

/// Credential lifetime when neither the caller nor the profile asks for one.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(3600);

/// Credential lifetime in server mode unless the server is configured
/// otherwise, whatever the profile's own default: short, because the
/// server fetches new ones as they run out and a revocation should not be
/// outlived for long by credentials already served. (Not shorter: SDKs
/// refresh container credentials 10–15 minutes before they expire.)
pub const DEFAULT_SERVER_DURATION: Duration = Duration::from_secs(3600);

/// The session tag that carries a tracked server session's id.
pub const SESSION_TAG: &str = "SentinelSessionID";

/// Who is asking, as established by the frontend from a trusted source
/// (STS GetCallerIdentity on the CLI, the API Gateway authorizer in the
/// TVM; never a header or a body field).
///
/// The caller is a principal, not yet a person: the policy of the profile
/// asked for says which username, if any, the principal has
/// ([`CompiledPolicy::identify`]), on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The principal STS reported.
    pub principal: Principal,
}

impl Caller {
    /// The caller behind a principal.
    pub fn new(principal: Principal) -> Self {
        Self { principal }
    }

    /// The caller behind an IAM/STS principal ARN.
    pub fn from_arn(arn: &str) -> std::result::Result<Self, PrincipalError> {
        Principal::parse(arn).map(Self::new)
    }

    /// The caller's ARN.
    pub fn arn(&self) -> &str {
        self.principal.arn()
    }
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
    /// What the caller can do next, if anything: data for the frontend
    /// to put in its own words.
    pub remedy: Option<Remedy>,
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
    /// Who the policy identified the caller as.
    pub user: Username,
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
    None(Option<Remedy>),
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
    /// a local credential server and the TVM do once per server). Without a
    /// session store: [`Error::Config`]. The caller must be someone under
    /// the profile's policy, and neither they nor the profile may be under
    /// a revocation: otherwise [`Error::Forbidden`]. Every outcome is
    /// logged.
    pub async fn start_session(
        &self,
        caller: &Caller,
        profile: &str,
        server_instance_id: &str,
        duration: Duration,
    ) -> Result<ServerSession> {
        let sessions = self.sessions.as_ref().ok_or_else(|| {
            Error::Config("session tracking needs a session store; configure one".into())
        })?;
        let now = self.clock.now();
        let refuse = |user: Option<&Username>, reason: String| {
            let mut r = DecisionRecord::new(
                user.map_or("-", |u| u.as_str()),
                profile,
                Mode::Server,
                "deny",
                reason.clone(),
                self.policy.describe(),
            )
            .at(now);
            r.caller_arn = Some(caller.arn().to_owned());
            (r, Error::Forbidden(reason))
        };
        let policy = match self.policy.get(profile).await {
            Ok(p) => p,
            Err(e) => {
                let e = Error::from(e);
                let mut r = refuse(None, e.to_string()).0;
                r.effect = "error".into();
                self.log.write(&r).await?;
                return Err(e);
            }
        };
        let user = match policy.identify(&caller.principal) {
            Ok(identity) => identity.username,
            Err(e) => {
                let (r, e) = refuse(None, e.to_string());
                self.log.write(&r).await?;
                return Err(e);
            }
        };
        if let Some(r) = sessions.user_revoked(&user, profile).await? {
            let (rec, e) = refuse(Some(&user), revoked_reason(&user, &r));
            self.log.write(&rec).await?;
            return Err(e);
        }
        let session = ServerSession::start(
            NewSession {
                user: user.clone(),
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
        let mut ctx = LogContext {
            req,
            user: None,
            request_id: None,
            at: now,
            policy_source: self.policy.describe(),
        };
        let request_id = match RequestId::random() {
            Ok(id) => id,
            Err(e) => {
                let e = Error::from(e);
                self.log.write(&ctx.error(&e)).await?;
                return Err(e);
            }
        };
        ctx.request_id = Some(request_id);
        let policy = match self.policy.get(&req.profile).await {
            Ok(p) => p,
            Err(e) => {
                let e = Error::from(e);
                self.log.write(&ctx.error(&e)).await?;
                return Err(e);
            }
        };
        // Who the caller is, by this profile's policy: a principal the
        // policy does not name is refused before any rule is read.
        let user = match policy.identify(&req.caller.principal) {
            Ok(identity) => identity.username,
            Err(e) => {
                let denial = Denial {
                    reason: e.to_string(),
                    rule: None,
                    remedy: None,
                };
                self.log.write(&ctx.refused(&denial)).await?;
                return Ok(Authorization::Denied(denial));
            }
        };
        ctx.user = Some(user.clone());
        if let Some(denial) = self.check_target(&policy, req) {
            self.log.write(&ctx.refused(&denial)).await?;
            return Ok(Authorization::Denied(denial));
        }
        let decision = decide(&policy, &user, req, now, self.sessions.is_some());
        if let Some(denial) = self.check_session_table(&decision) {
            self.log.write(&ctx.denied(&decision, &denial)).await?;
            return Ok(Authorization::Denied(denial));
        }
        match self.grant(&policy, &user, &decision, req, now).await {
            Ok(Ok((grant, grant_end))) => Ok(Authorization::Granted(Granted {
                user,
                decision,
                grant,
                grant_end,
                request_id,
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

    /// The role asked for must be the one the policy names for the
    /// profile, when it names one: the caller's own configuration does not
    /// choose the role a policy governs.
    fn check_target(&self, policy: &CompiledPolicy, req: &VendRequest) -> Option<Denial> {
        let named = policy.document().profiles.get(&req.profile)?;
        if named.role_arn == req.target.role_arn {
            return None;
        }
        Some(Denial {
            reason: format!(
                "profile \"{}\" is configured to assume {}, but the policy governs it with role {}; credentials are only issued for the policy's role",
                req.profile, req.target.role_arn, named.role_arn
            ),
            rule: None,
            remedy: Some(Remedy::ConfigureRole {
                profile: req.profile.clone(),
                role_arn: named.role_arn.clone(),
            }),
        })
    }

    /// A `require_server_session` rule that names a `session_table` is met
    /// only when sessions are tracked in that table.
    fn check_session_table(&self, decision: &Decision) -> Option<Denial> {
        let want = decision.session_table.as_deref()?;
        if !(decision.requires_server_session && decision.is_allowed()) {
            return None;
        }
        let have = self.sessions.as_ref().and_then(|s| s.table_name());
        if have == Some(want) {
            return None;
        }
        Some(Denial {
            reason: format!(
                "rule \"{}\" requires server sessions tracked in table \"{want}\", but {}",
                decision.rule.as_deref().unwrap_or("?"),
                match have {
                    Some(t) => format!("they are tracked in table \"{t}\""),
                    None => "they are not tracked in a DynamoDB table".to_owned(),
                }
            ),
            rule: decision.rule.as_deref().map(str::to_owned),
            remedy: Some(Remedy::TrackSessionsIn {
                table: want.to_owned(),
            }),
        })
    }

    /// What allows this request, or why nothing does. Store errors are
    /// errors (fail closed), never an allow.
    async fn grant(
        &self,
        policy: &CompiledPolicy,
        user: &Username,
        decision: &Decision,
        req: &VendRequest,
        now: Timestamp,
    ) -> Result<Result<(Grant, Option<Timestamp>), Denial>> {
        if let Some(sessions) = &self.sessions {
            // One read for both: the credential server does this on every
            // request, and cached credentials are then served without a write.
            let access = sessions
                .access(user, &req.profile, req.session_id.as_deref())
                .await?;
            if let Some(r) = access.revocation {
                return Ok(Err(Denial {
                    reason: revoked_reason(user, &r),
                    rule: None,
                    remedy: Some(Remedy::LiftRevocation),
                }));
            }
            if let Some(id) = &req.session_id {
                let refused = match &access.session {
                    Some(s) if s.user != user.as_str() || s.profile != req.profile => {
                        Some(format!(
                            "server session {id} belongs to \"{}\" on profile \"{}\", not to \"{user}\" on profile \"{}\"",
                            s.user, s.profile, req.profile
                        ))
                    }
                    Some(s) if s.is_active(now) => None,
                    Some(s) => Some(format!("server session {id} is {}", s.status)),
                    None => Some(format!("server session {id} does not exist")),
                };
                if let Some(reason) = refused {
                    return Ok(Err(Denial {
                        reason,
                        rule: None,
                        remedy: Some(Remedy::NewServerSession),
                    }));
                }
            }
        }
        if decision.is_allowed() {
            return Ok(Ok((Grant::Direct, None)));
        }
        let refused = |remedy: Option<Remedy>| Denial {
            reason: decision.reason.to_string(),
            rule: decision.rule.as_deref().map(str::to_owned),
            remedy,
        };
        match self.find_override(policy, user, decision, req, now).await? {
            Override::Approval(r) => {
                let end = r.access_window().map(|w| w.1);
                Ok(Ok((Grant::Approval(r.id), end)))
            }
            Override::BreakGlass(e) => {
                Ok(Ok((Grant::BreakGlass(e.id.clone()), Some(e.expires_at))))
            }
            Override::None(remedy) => Ok(Err(refused(remedy))),
        }
    }

    async fn find_override(
        &self,
        policy: &CompiledPolicy,
        user: &Username,
        decision: &Decision,
        req: &VendRequest,
        now: Timestamp,
    ) -> Result<Override> {
        let profile = &req.profile;
        if decision.approval_can_override()
            && let Some(requests) = &self.requests
            && let Some(r) = requests.find_approved(user, profile, now).await?
            && approval_stands(policy, &r)
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
        let remedy = Remedy::for_decision(decision, profile);
        Ok(Override::None(remedy))
    }

    /// Logs credentials served again from a frontend's cache for a request
    /// that [`authorize`](Self::authorize) has just granted: nothing new
    /// is issued, but every answer leaves a line. `source_identity` is the
    /// one the cached credentials carry. The line is written with
    /// [`Durability::Written`]: in the file before this returns, on disk
    /// within [`SYNC_DELAY`](crate::log::SYNC_DELAY).
    pub async fn log_cached(
        &self,
        req: &VendRequest,
        granted: &Granted,
        source_identity: &str,
    ) -> Result<()> {
        let ctx = LogContext {
            req,
            user: Some(granted.user.clone()),
            request_id: Some(granted.request_id),
            at: granted.at,
            policy_source: granted.policy_source.clone(),
        };
        let d = &granted.decision;
        let mut r = ctx.record(
            "allow",
            format!(
                "{}; served from cache (credentials issued earlier as {source_identity})",
                d.reason
            ),
        );
        r.rule = d.rule.as_deref().map(str::to_owned);
        r.rule_index = d.rule_index;
        r.source_identity = Some(source_identity.to_owned());
        r.role_arn = Some(req.target.role_arn.clone());
        match &granted.grant {
            Grant::Direct => {}
            Grant::Approval(id) => r.approval_id = Some(id.clone()),
            Grant::BreakGlass(id) => r.breakglass_id = Some(id.clone()),
        }
        // Nothing new is issued: written before the answer, on disk
        // within the log's sync delay.
        Ok(self.log.write_with(&r, Durability::Written).await?)
    }

    /// Logs a request a frontend refused before it reached the pipeline
    /// (failed authentication, a malformed request), so that every
    /// outcome leaves a line. The caller is unknown: `user` is `-`.
    /// Written like [`log_cached`](Self::log_cached)'s lines: a flood of
    /// refused requests costs no sync each.
    pub async fn log_refused(&self, profile: &str, mode: Mode, reason: &str) -> Result<()> {
        let r = DecisionRecord::new(
            "-",
            if profile.is_empty() { "-" } else { profile },
            mode,
            "deny",
            reason,
            self.policy.describe(),
        )
        .at(self.clock.now());
        Ok(self.log.write_with(&r, Durability::Written).await?)
    }

    /// The vending half of [`vend`](Self::vend): asks STS for the granted
    /// credentials and logs the issue (no log line, no credentials). A
    /// tracked session is touched first (its request count counts issues),
    /// so a session revoked since [`authorize`](Self::authorize) is refused.
    pub async fn issue(&self, req: &VendRequest, granted: Granted) -> Result<Outcome> {
        let Granted {
            user,
            decision,
            grant,
            grant_end,
            request_id,
            at: now,
            policy_source,
        } = granted;
        let ctx = &LogContext {
            req,
            user: Some(user.clone()),
            request_id: Some(request_id),
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
                        remedy: Some(Remedy::NewServerSession),
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
        let stamp = match SourceIdentity::new(&user, marker, request_id) {
            Ok(s) => s,
            Err(e) => {
                let e = Error::from(e);
                self.log.write(&ctx.error(&e)).await?;
                return Err(e);
            }
        };
        let mut ask = AssumeRoleRequest::new(
            &req.target.role_arn,
            stamp.role_session_name(),
            stamp.to_string(),
            duration,
        )
        .external_id(req.target.external_id.clone());
        if let Some(id) = &req.session_id {
            let tag = match SessionTag::session_id(id) {
                Ok(t) => t,
                Err(e) => {
                    let e = Error::from(e);
                    self.log.write(&ctx.error(&e)).await?;
                    return Err(e);
                }
            };
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
            request_id: request_id.to_string(),
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
fn decide(
    policy: &CompiledPolicy,
    user: &Username,
    req: &VendRequest,
    now: Timestamp,
    tracking: bool,
) -> Decision {
    let tracked = tracking && req.mode == Mode::Server && req.session_id.is_some();
    policy.evaluate(&Request::new(user, &req.profile, req.mode, now).with_session_tracking(tracked))
}

/// Whether an approved request still counts under the current policy:
/// its approver must still be allowed to approve it, and is never the
/// requester ([`sentinel_approval::approval_stands`]).
fn approval_stands(policy: &CompiledPolicy, r: &sentinel_approval::AccessRequest) -> bool {
    let none = sentinel_policy::ApprovalSection::default();
    let approvals = policy.document().approvals.as_ref().unwrap_or(&none);
    sentinel_approval::approval_stands(approvals, r)
}

/// Why a revocation refuses `user`.
fn revoked_reason(user: &Username, r: &sentinel_session::UserRevocation) -> String {
    format!(
        "access for \"{user}\" is revoked by {} ({}){}",
        r.revoked_by,
        r.reason,
        r.expires_at
            .map(|t| format!(" until {t}"))
            .unwrap_or_default()
    )
}

/// Whether the policy's break-glass rules (still) permit this event for
/// `user`: the event was checked when invoked, but the policy may have
/// changed since. The same check as at invocation
/// ([`sentinel_breakglass::authorize`]): a rule for the user and profile
/// that accepts the event's reason code and duration.
fn breakglass_permitted(policy: &CompiledPolicy, user: &Username, e: &BreakGlassEvent) -> bool {
    let again = NewBreakGlass {
        invoker: user.clone(),
        profile: e.profile.clone(),
        reason_code: e.reason_code,
        justification: e.justification.clone(),
        duration: e.duration,
    };
    sentinel_breakglass::authorize(policy.document(), &again).is_ok()
}

/// The lifetime asked of STS: requested → profile default →
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
    let mut d = if req.mode == Mode::Server {
        // Short by default: the profile's duration_seconds is for people
        // who ask once, a server asks again when the credentials run out.
        req.duration.unwrap_or(DEFAULT_SERVER_DURATION)
    } else {
        req.duration
            .or(req.target.default_duration)
            .unwrap_or(DEFAULT_DURATION)
    };
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
                remedy: Some(Remedy::NewGrant),
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
    /// The username, once the policy has identified the caller.
    user: Option<Username>,
    request_id: Option<RequestId>,
    at: Timestamp,
    policy_source: String,
}

impl LogContext<'_> {
    fn record(&self, effect: &str, reason: String) -> DecisionRecord {
        let mut r = DecisionRecord::new(
            self.user.as_ref().map_or("-", |u| u.as_str()),
            &self.req.profile,
            self.req.mode,
            effect,
            reason,
            &self.policy_source,
        )
        .at(self.at);
        r.caller_arn = Some(self.req.caller.arn().to_owned());
        r.request_id = self.request_id.map(|id| id.to_string());
        r.session_id.clone_from(&self.req.session_id);
        r
    }

    /// Refused before any rule decided (identity, role, ...).
    fn refused(&self, denial: &Denial) -> DecisionRecord {
        self.record("deny", denial.reason.clone())
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
