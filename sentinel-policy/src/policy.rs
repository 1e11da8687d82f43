//! Compiled policies and their evaluation.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use jiff::Timestamp;
use rustc_hash::FxHashMap;

use crate::collect::Collector;
use crate::document::{Effect, Mode, PolicyDocument, ProfileConfig};
use crate::error::{Error, Problem, Result};
use crate::identity::{CompiledIdentity, Identity, IdentityError, Principal};
use crate::parse::parse_document;
use crate::username::Username;
use crate::validate::validate_document;
use crate::window::CompiledWindow;

/// A rule listing more (profile × user) pairs than this is indexed by
/// profile only and checks its users on evaluation.
const MAX_PAIRS_PER_RULE: usize = 4096;
/// The (profile × user) pair index of one policy holds at most this many
/// entries; later rules fall back to the per-profile index. Keeps the memory
/// a document can make the compiler use proportional to its size.
const MAX_PAIRS_TOTAL: usize = 262_144;

/// A request for credentials, as the policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request<'a> {
    /// Policy username of the caller (derived from a trusted identity,
    /// see [`CompiledPolicy::identify`]).
    pub user: &'a Username,
    /// The AWS profile asked for.
    pub profile: &'a str,
    /// How the credentials are requested.
    pub mode: Mode,
    /// Whether server-session tracking is on (server mode only).
    pub session_tracking: bool,
    /// When the request is made.
    pub time: Timestamp,
}

impl<'a> Request<'a> {
    /// A request without session tracking.
    pub fn new(user: &'a Username, profile: &'a str, mode: Mode, time: Timestamp) -> Self {
        Self {
            user,
            profile,
            mode,
            session_tracking: false,
            time,
        }
    }

    /// The same request with session tracking on or off.
    #[must_use]
    pub fn with_session_tracking(mut self, on: bool) -> Self {
        self.session_tracking = on;
        self
    }
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionEffect {
    /// Issue credentials.
    Allow,
    /// Refuse.
    Deny,
    /// Issue credentials only with an approved request or active break-glass.
    RequireApproval,
}

impl DecisionEffect {
    /// Lowercase name, as logged.
    pub const fn as_str(self) -> &'static str {
        match self {
            DecisionEffect::Allow => "allow",
            DecisionEffect::Deny => "deny",
            DecisionEffect::RequireApproval => "require_approval",
        }
    }
}

impl fmt::Display for DecisionEffect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of evaluating a [`Request`]: a value, never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// Allow, deny or require approval.
    pub effect: DecisionEffect,
    /// Name of the rule that decided; `None` when no rule matched (default deny).
    pub rule: Option<Arc<str>>,
    /// Position of that rule in `rules` (0-based).
    pub rule_index: Option<usize>,
    /// The effect written in that rule.
    pub rule_effect: Option<Effect>,
    /// Why, in words a user can act on.
    pub reason: Arc<str>,
    /// The matched rule requires server mode (`require_server` or `require_server_session`).
    pub requires_server: bool,
    /// The matched rule requires server mode with session tracking.
    pub requires_server_session: bool,
    /// Longest credential lifetime in server mode, from the matched rule.
    pub max_server_duration: Option<Duration>,
    /// Session table named by the matched rule.
    pub session_table: Option<Arc<str>>,
}

impl Decision {
    /// Whether credentials may be issued without any override.
    pub fn is_allowed(&self) -> bool {
        self.effect == DecisionEffect::Allow
    }

    /// Whether an approved access request can turn this decision into an allow.
    pub fn approval_can_override(&self) -> bool {
        self.effect == DecisionEffect::RequireApproval
    }

    /// Whether an active break-glass event (that the break-glass rules
    /// permit) can turn this decision into an allow. Never for a failed
    /// `require_server`/`require_server_session` rule.
    pub fn breakglass_can_override(&self) -> bool {
        match self.effect {
            DecisionEffect::Allow => false,
            DecisionEffect::RequireApproval => true,
            DecisionEffect::Deny => !self.requires_server,
        }
    }

    fn default_deny() -> Self {
        Decision {
            effect: DecisionEffect::Deny,
            rule: None,
            rule_index: None,
            rule_effect: None,
            reason: Arc::clone(&DEFAULT_DENY),
            requires_server: false,
            requires_server_session: false,
            max_server_duration: None,
            session_table: None,
        }
    }
}

static DEFAULT_DENY: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| {
    Arc::from(
        "no policy rule matched this user, profile, mode and time; access is denied by default",
    )
});

#[derive(Debug)]
struct CompiledRule {
    name: Arc<str>,
    effect: Effect,
    modes: u8,
    time: Option<CompiledWindow>,
    /// Users still to check (sorted ids) when the index could not.
    users: Option<Vec<u32>>,
    /// The rule's own reason, or a default made on first use.
    reason: OnceLock<Arc<str>>,
    /// Why a `require_server*` rule denied, made on first use.
    unmet_reason: OnceLock<Arc<str>>,
    max_server_duration: Option<Duration>,
    session_table: Option<Arc<str>>,
}

/// A validated policy compiled into an index for fast evaluation.
///
/// Evaluation cost depends on the rules that could apply to the request's
/// profile and user, not on the size of the policy.
pub struct CompiledPolicy {
    origin: Arc<str>,
    document: PolicyDocument,
    rules: Vec<CompiledRule>,
    profile_ids: FxHashMap<Box<str>, u32>,
    user_ids: FxHashMap<Box<str>, u32>,
    any: Vec<u32>,
    by_profile: Lists,
    by_user: Lists,
    by_pair: PairLists,
    identity: CompiledIdentity,
}

/// Lists of rule positions for dense keys `0..n`, stored flat: key `k`
/// owns `rules[starts[k]..starts[k + 1]]`, in rule order.
#[derive(Debug, Default)]
struct Lists {
    starts: Vec<u32>,
    rules: Vec<u32>,
}

impl Lists {
    fn by_dense_key(entries: Vec<(u32, u32)>, keys: usize) -> Self {
        // A counting sort: entries come in rule order, and each key's list
        // keeps it. Keys are below `keys`; any other is dropped.
        let mut starts = vec![0u32; keys + 1];
        for &(k, _) in &entries {
            if let Some(n) = starts.get_mut(k as usize + 1) {
                *n += 1;
            }
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut rules = vec![0u32; starts.last().map_or(0, |&n| n as usize)];
        for (k, r) in entries {
            if let Some(at) = next.get_mut(k as usize)
                && let Some(slot) = rules.get_mut(*at as usize)
            {
                *slot = r;
                *at += 1;
            }
        }
        Self { starts, rules }
    }

    fn get(&self, key: u32) -> &[u32] {
        let k = key as usize;
        match (self.starts.get(k), self.starts.get(k + 1)) {
            (Some(&a), Some(&b)) => self.rules.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }
}

/// Lists of rule positions per (profile, user) pair, stored flat.
#[derive(Debug, Default)]
struct PairLists {
    ranges: FxHashMap<(u32, u32), (u32, u32)>,
    rules: Vec<u32>,
}

impl PairLists {
    fn new(mut entries: Vec<((u32, u32), u32)>) -> Self {
        // (key, rule) entries are distinct: sorting them whole keeps each
        // key's rules in rule order.
        entries.sort_unstable();
        let mut ranges = FxHashMap::default();
        let mut rules = Vec::with_capacity(entries.len());
        for (key, rule) in entries {
            let at = u32::try_from(rules.len()).unwrap_or(u32::MAX);
            ranges
                .entry(key)
                .and_modify(|(_, end): &mut (u32, u32)| *end = at + 1)
                .or_insert((at, at + 1));
            rules.push(rule);
        }
        Self { ranges, rules }
    }

    fn get(&self, key: (u32, u32)) -> &[u32] {
        match self.ranges.get(&key) {
            Some(&(a, b)) => self.rules.get(a as usize..b as usize).unwrap_or(&[]),
            None => &[],
        }
    }
}

impl fmt::Debug for CompiledPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledPolicy")
            .field("origin", &self.origin)
            .field("rules", &self.rules.len())
            .field("profiles", &self.document.profiles.len())
            .finish_non_exhaustive()
    }
}

impl PolicyDocument {
    /// Parses YAML or JSON text and validates it, returning every problem
    /// with its line and column. `origin` names the source in messages
    /// (a file path, `ssm:/sentinel/policies/prod`, …).
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        parse_document(text).map_err(|problems| Error::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }

    /// Validates a document built in code. Problems carry paths but no
    /// locations.
    pub fn validate(&self) -> std::result::Result<(), Vec<Problem>> {
        let mut c = Collector::new(None);
        validate_document(self, &mut c);
        if c.problems.is_empty() {
            Ok(())
        } else {
            Err(c.problems)
        }
    }

    /// Writes the document as YAML-compatible JSON (pretty-printed).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl CompiledPolicy {
    /// Parses, validates and compiles policy text in one step.
    ///
    /// ```
    /// use sentinel_policy::{CompiledPolicy, Mode, Request, Username};
    /// let policy = CompiledPolicy::parse(
    ///     "version: '1'\nrules:\n  - name: all\n    effect: allow\n",
    ///     "inline",
    /// )?;
    /// let alice = Username::parse("alice")?;
    /// let now = jiff::Timestamp::now();
    /// assert!(policy.evaluate(&Request::new(&alice, "dev", Mode::Cli, now)).is_allowed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let doc = PolicyDocument::parse(text, origin)?;
        Ok(Self::compile_valid(doc, origin))
    }

    /// Validates and compiles a document.
    pub fn new(document: PolicyDocument, origin: &str) -> Result<Self> {
        document.validate().map_err(|problems| Error::Invalid {
            origin: origin.to_owned(),
            problems,
        })?;
        Ok(Self::compile_valid(document, origin))
    }

    /// Where the policy came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The document the policy was compiled from.
    pub fn document(&self) -> &PolicyDocument {
        &self.document
    }

    /// The `profiles` entry for a profile, if the policy has one.
    pub fn profile(&self, name: &str) -> Option<&ProfileConfig> {
        self.document.profiles.get(name)
    }

    fn compile_valid(document: PolicyDocument, origin: &str) -> Self {
        let mut profile_ids = FxHashMap::default();
        let mut user_ids = FxHashMap::default();
        let mut any = Vec::new();
        // (key, rule) entries, grouped into flat lists afterwards.
        let mut profile_entries: Vec<(u32, u32)> = Vec::new();
        let mut user_entries: Vec<(u32, u32)> = Vec::new();
        let mut pair_entries: Vec<((u32, u32), u32)> = Vec::new();
        let mut rules = Vec::with_capacity(document.rules.len());
        let (mut pids, mut uids) = (Vec::new(), Vec::new());
        for (i, rule) in document.rules.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            let c = &rule.conditions;
            ids_of(&mut profile_ids, &c.profiles, &mut pids);
            ids_of(&mut user_ids, &c.users, &mut uids);
            let mut residual_users = None;
            match (pids.is_empty(), uids.is_empty()) {
                (true, true) => any.push(idx),
                (false, true) => profile_entries.extend(pids.iter().map(|&p| (p, idx))),
                (true, false) => user_entries.extend(uids.iter().map(|&u| (u, idx))),
                (false, false)
                    if pids.len() * uids.len() > MAX_PAIRS_PER_RULE
                        || pair_entries.len() + pids.len() * uids.len() > MAX_PAIRS_TOTAL =>
                {
                    profile_entries.extend(pids.iter().map(|&p| (p, idx)));
                    residual_users = Some(uids.clone());
                }
                (false, false) => {
                    for &p in &pids {
                        pair_entries.extend(uids.iter().map(|&u| ((p, u), idx)));
                    }
                }
            }
            rules.push(CompiledRule {
                name: Arc::from(rule.name.as_str()),
                effect: rule.effect,
                modes: c.mode.iter().fold(0u8, |m, mode| m | mode.bit()),
                time: c.time.as_ref().map(CompiledWindow::new),
                users: residual_users,
                reason: match &rule.reason {
                    Some(r) if !r.trim().is_empty() => OnceLock::from(Arc::from(r.as_str())),
                    _ => OnceLock::new(),
                },
                unmet_reason: OnceLock::new(),
                max_server_duration: rule.max_server_duration.map(|d| d.get()),
                session_table: rule.session_table.as_deref().map(Arc::from),
            });
        }
        CompiledPolicy {
            identity: CompiledIdentity::new(document.identity.as_ref()),
            origin: Arc::from(origin),
            by_profile: Lists::by_dense_key(profile_entries, profile_ids.len()),
            by_user: Lists::by_dense_key(user_entries, user_ids.len()),
            by_pair: PairLists::new(pair_entries),
            profile_ids,
            user_ids,
            any,
            rules,
            document,
        }
    }

    /// Decides a request: the first rule whose conditions all hold decides;
    /// no match denies. Never panics, never fails open.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let pid = self.profile_ids.get(req.profile).copied();
        let uid = self.user_ids.get(req.user.as_str()).copied();
        let empty: &[u32] = &[];
        let mut lists: [&[u32]; 4] = [
            &self.any,
            pid.map_or(empty, |p| self.by_profile.get(p)),
            uid.map_or(empty, |u| self.by_user.get(u)),
            match (pid, uid) {
                (Some(p), Some(u)) => self.by_pair.get((p, u)),
                _ => empty,
            },
        ];
        loop {
            // The next candidate in rule order across the four lists.
            let mut best: Option<(usize, u32)> = None;
            for (li, list) in lists.iter().enumerate() {
                if let Some(&head) = list.first()
                    && best.is_none_or(|(_, b)| head < b)
                {
                    best = Some((li, head));
                }
            }
            let Some((li, idx)) = best else {
                return Decision::default_deny();
            };
            lists[li] = &lists[li][1..];
            let Some(rule) = self.rules.get(idx as usize) else {
                return Decision::default_deny();
            };
            if rule.matches(req, uid) {
                return rule.decide(idx as usize, req);
            }
        }
    }

    /// Number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The username of `principal` under this policy's `identity`
    /// section (see [`crate::identity`]), or why it has none.
    ///
    /// ```
    /// use sentinel_policy::{CompiledPolicy, IdentityError, Principal};
    /// let policy = CompiledPolicy::parse("version: '1'\nrules: [{name: all, effect: allow}]\n", "inline")?;
    /// let sso = Principal::parse("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_1a2b/Alice@Example.com")?;
    /// assert_eq!(policy.identify(&sso)?.username, "alice@example.com");
    /// let picked = Principal::parse("arn:aws:sts::123456789012:assumed-role/dev/alice")?;
    /// assert!(matches!(policy.identify(&picked), Err(IdentityError::UntrustedRole { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn identify(&self, principal: &Principal) -> std::result::Result<Identity, IdentityError> {
        self.identity.identify(principal)
    }

    /// Whether `user` is one of the policy's security `admins`.
    pub fn is_admin(&self, user: &Username) -> bool {
        self.document.admins.iter().any(|a| a == user.as_str())
    }

    /// Things that are valid but probably not meant, e.g. a
    /// `require_approval` rule for a profile nobody may approve. Paths
    /// only, no source locations.
    pub fn warnings(&self) -> Vec<Problem> {
        crate::validate::warnings(&self.document)
    }
}

impl CompiledRule {
    fn matches(&self, req: &Request<'_>, uid: Option<u32>) -> bool {
        if self.modes != 0 && self.modes & req.mode.bit() == 0 {
            return false;
        }
        if let Some(users) = &self.users {
            match uid {
                Some(u) if users.binary_search(&u).is_ok() => {}
                _ => return false,
            }
        }
        match &self.time {
            Some(t) => t.contains(req.time),
            None => true,
        }
    }

    fn decide(&self, index: usize, req: &Request<'_>) -> Decision {
        let (effect, met) = match self.effect {
            Effect::Allow => (DecisionEffect::Allow, true),
            Effect::Deny => (DecisionEffect::Deny, true),
            Effect::RequireApproval => (DecisionEffect::RequireApproval, true),
            Effect::RequireServer => {
                if req.mode == Mode::Server {
                    (DecisionEffect::Allow, true)
                } else {
                    (DecisionEffect::Deny, false)
                }
            }
            Effect::RequireServerSession => {
                if req.mode == Mode::Server && req.session_tracking {
                    (DecisionEffect::Allow, true)
                } else {
                    (DecisionEffect::Deny, false)
                }
            }
        };
        Decision {
            effect,
            rule: Some(Arc::clone(&self.name)),
            rule_index: Some(index),
            rule_effect: Some(self.effect),
            reason: Arc::clone(if met {
                self.reason
                    .get_or_init(|| Arc::from(default_reason(&self.name, self.effect)))
            } else {
                self.unmet_reason.get_or_init(|| {
                    Arc::from(unmet_reason(
                        &self.name,
                        self.effect,
                        self.session_table.as_deref(),
                    ))
                })
            }),
            requires_server: matches!(
                self.effect,
                Effect::RequireServer | Effect::RequireServerSession
            ),
            requires_server_session: self.effect == Effect::RequireServerSession,
            max_server_duration: self.max_server_duration,
            session_table: self.session_table.clone(),
        }
    }
}

/// Why a `require_server*` rule denied: the fact only; frontends build
/// their advice from the decision's `requires_server*` and
/// `session_table`.
fn unmet_reason(name: &str, effect: Effect, session_table: Option<&str>) -> String {
    match (effect, session_table) {
        (Effect::RequireServerSession, Some(table)) => format!(
            "rule \"{name}\" allows this profile only in server mode with session tracking in table \"{table}\""
        ),
        (Effect::RequireServerSession, None) => {
            format!("rule \"{name}\" allows this profile only in server mode with session tracking")
        }
        _ => format!("rule \"{name}\" allows this profile only in server mode"),
    }
}

fn default_reason(name: &str, effect: Effect) -> String {
    match effect {
        Effect::Allow => format!("allowed by rule \"{name}\""),
        Effect::Deny => format!("denied by rule \"{name}\""),
        Effect::RequireApproval => {
            format!("rule \"{name}\" requires an approved access request")
        }
        Effect::RequireServer => format!("allowed in server mode by rule \"{name}\""),
        Effect::RequireServerSession => {
            format!("allowed in server mode with session tracking by rule \"{name}\"")
        }
    }
}

/// The ids of `names` (interned on first sight), sorted and deduplicated,
/// into `out`.
fn ids_of(ids: &mut FxHashMap<Box<str>, u32>, names: &[String], out: &mut Vec<u32>) {
    out.clear();
    for name in names {
        let id = match ids.get(name.as_str()) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(ids.len()).unwrap_or(u32::MAX);
                ids.insert(Box::from(name.as_str()), id);
                id
            }
        };
        out.push(id);
    }
    out.sort_unstable();
    out.dedup();
}
