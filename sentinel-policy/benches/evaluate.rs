//! Decision latency and compile time of the policy engine, with Cedar as a
//! reference point.
//!
//! Run with `cargo bench -p sentinel-policy --bench evaluate`.
//!
//! * `decision/sentinel/{10,100,1000,10000}`: one [`CompiledPolicy::evaluate`]
//!   per iteration, cycling through a fixed set of requests (early match,
//!   middle, late, fall-through to the catch-all deny, unknown user/profile).
//! * `decision/cedar/{..}`: the same rule sets translated to one Cedar policy
//!   per rule, one `Authorizer::is_authorized` per iteration over the same
//!   requests. Cedar has no rule order and no time zones: `forbid` beats
//!   `permit`, and each request carries the local weekday and minute of day
//!   of every time zone the rules use, computed outside the measured loop.
//! * `compile/*`: 10,000 rules to a [`CompiledPolicy`]:
//!   `parse_validate_compile` (YAML) and `parse_validate_compile_json` the
//!   whole way from text; `parse_validate` and `parse_validate_json` text to
//!   a checked [`PolicyDocument`] only; `compile_only` validates and
//!   compiles an already parsed document; `yaml_scanner_floor` runs
//!   saphyr's parser over the YAML text (events only, no tree) and
//!   `json_syntax_floor` serde_json over the JSON text (nothing kept), the
//!   floors under the two whole loads (the text is valid, so both loads
//!   take the fast readers and never build a position tree);
//!   `cedar_policy_set_parse` parses
//!   the same rules as Cedar policies, for the ratio. Run only these with
//!   `cargo bench -p sentinel-policy --bench evaluate -- compile/`.
//!
//! Rule sets are generated deterministically (fixed-seed SplitMix64), so
//! every run and both engines see the same rules and requests.

// A benchmark is not production code: a failed setup should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::str::FromStr;
use std::time::Duration;

use cedar_policy::{
    Authorizer, Context, Entities, EntityUid, PolicySet, Request as CedarRequest,
    RestrictedExpression,
};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sentinel_policy::{CompiledPolicy, Mode, PolicyDocument, Request, Timestamp, Username};

/// Rule counts of the decision benchmarks (the last one includes the
/// catch-all deny).
const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// Rule count of the compile benchmarks.
const COMPILE_SIZE: usize = 10_000;
/// Largest rule count when run as a smoke test (`cargo test --benches`),
/// where everything is built without optimisation.
const SMOKE_TEST_MAX: usize = 1_000;
const SEED: u64 = 0x5e47_1e1e_2026_0001;

/// Whether this is a real benchmark run: `cargo bench` passes `--bench`,
/// `cargo test --benches` does not (Criterion then runs each benchmark once).
fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// `n`, or at most [`SMOKE_TEST_MAX`] in a smoke test.
fn size(n: usize) -> usize {
    if benchmarking() {
        n
    } else {
        n.min(SMOKE_TEST_MAX)
    }
}

/// SplitMix64: tiny, deterministic, good enough to spread rules around.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// `k` distinct values from `0..n`, in drawing order.
    fn distinct(&mut self, k: usize, n: usize) -> Vec<usize> {
        let k = k.min(n);
        let mut out = Vec::with_capacity(k);
        while out.len() < k {
            let v = self.below(n);
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }
}

/// Time zones the generated windows use: the name in the policy (`None` is
/// UTC, the default) and the Cedar context key prefix.
const ZONES: [(Option<&str>, &str); 4] = [
    (None, "utc"),
    (Some("Europe/Berlin"), "berlin"),
    (Some("America/New_York"), "new_york"),
    (Some("Asia/Tokyo"), "tokyo"),
];
const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Business-hours variants, in minutes of the day.
const HOURS: [(u16, u16); 3] = [(8 * 60, 18 * 60), (9 * 60, 17 * 60), (7 * 60 + 30, 20 * 60)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GenEffect {
    Allow,
    Deny,
    RequireApproval,
}

#[derive(Debug, Clone)]
struct GenWindow {
    zone: usize,
    /// Weekdays 1 (Monday) to `last_day`: 5 = Mon–Fri, 6 = Mon–Sat.
    last_day: u8,
    start: u16,
    end: u16,
}

#[derive(Debug, Clone)]
struct GenRule {
    name: String,
    effect: GenEffect,
    profiles: Vec<usize>,
    users: Vec<usize>,
    modes: Vec<Mode>,
    window: Option<GenWindow>,
}

/// A generated rule set: `rules` are the specific rules; the policy text
/// appends one catch-all deny, so `rules.len() + 1` is the rule count.
#[derive(Debug)]
struct RuleSet {
    rules: Vec<GenRule>,
    profiles: usize,
    users: usize,
}

impl RuleSet {
    /// `total` rules (including the final catch-all deny) over
    /// `max(total / 10, 3)` profiles and `max(total / 5, 20)` users.
    fn generate(total: usize) -> Self {
        let mut rng = Rng(SEED ^ total as u64);
        let profiles = (total / 10).max(3);
        let users = (total / 5).max(20);
        let rules = (0..total - 1)
            .map(|i| {
                let effect = match rng.below(20) {
                    0..=13 => GenEffect::Allow,
                    14..=16 => GenEffect::Deny,
                    _ => GenEffect::RequireApproval,
                };
                let n_profiles = 1 + rng.below(2);
                let n_users = 1 + rng.below(3);
                let rule_profiles = rng.distinct(n_profiles, profiles);
                let rule_users = rng.distinct(n_users, users);
                let modes = if rng.below(3) == 0 {
                    match rng.below(4) {
                        0 => vec![Mode::Server],
                        1 => vec![Mode::Cli],
                        2 => vec![Mode::Server, Mode::Cli],
                        _ => vec![Mode::CredentialProcess, Mode::Cli],
                    }
                } else {
                    Vec::new()
                };
                let window = (rng.below(4) == 0).then(|| {
                    let (start, end) = HOURS[rng.below(HOURS.len())];
                    GenWindow {
                        zone: rng.below(ZONES.len()),
                        last_day: if rng.below(4) == 0 { 6 } else { 5 },
                        start,
                        end,
                    }
                });
                GenRule {
                    name: format!("rule-{i}"),
                    effect,
                    profiles: rule_profiles,
                    users: rule_users,
                    modes,
                    window,
                }
            })
            .collect();
        RuleSet {
            rules,
            profiles,
            users,
        }
    }

    /// The policy as YAML, as a security engineer would write it.
    fn to_yaml(&self) -> String {
        let mut y = String::with_capacity(self.rules.len() * 200);
        y.push_str("version: \"1\"\nrules:\n");
        for r in &self.rules {
            let effect = match r.effect {
                GenEffect::Allow => "allow",
                GenEffect::Deny => "deny",
                GenEffect::RequireApproval => "require_approval",
            };
            let profiles: Vec<String> = r.profiles.iter().map(|p| format!("p{p}")).collect();
            let users: Vec<String> = r.users.iter().map(|u| format!("u{u}")).collect();
            let _ = write!(
                y,
                "  - name: {}\n    effect: {effect}\n    conditions:\n      profiles: [{}]\n      users: [{}]\n",
                r.name,
                profiles.join(", "),
                users.join(", "),
            );
            if !r.modes.is_empty() {
                let modes: Vec<&str> = r.modes.iter().map(|m| m.as_str()).collect();
                let _ = writeln!(y, "      mode: [{}]", modes.join(", "));
            }
            if let Some(w) = &r.window {
                let days = DAY_NAMES[..usize::from(w.last_day)].join(", ");
                let _ = write!(
                    y,
                    "      time:\n        days: [{days}]\n        hours: {{ start: \"{:02}:{:02}\", end: \"{:02}:{:02}\" }}\n",
                    w.start / 60,
                    w.start % 60,
                    w.end / 60,
                    w.end % 60,
                );
                if let (Some(tz), _) = ZONES[w.zone] {
                    let _ = writeln!(y, "        timezone: {tz}");
                }
            }
        }
        y.push_str("  - name: catch-all-deny\n    effect: deny\n");
        y
    }

    /// One Cedar policy per specific rule. The catch-all deny is Cedar's
    /// implicit default deny (an explicit `forbid` on everything would,
    /// in Cedar, override every `permit`).
    fn to_cedar(&self) -> String {
        let mut c = String::with_capacity(self.rules.len() * 300);
        for r in &self.rules {
            let (annotation, keyword) = match r.effect {
                GenEffect::Allow => ("allow", "permit"),
                GenEffect::Deny => ("deny", "forbid"),
                GenEffect::RequireApproval => ("require_approval", "permit"),
            };
            let mut conds: Vec<String> = Vec::new();
            let principal = match r.users.as_slice() {
                [u] => format!("principal == User::\"u{u}\""),
                us => {
                    let list: Vec<String> = us.iter().map(|u| format!("User::\"u{u}\"")).collect();
                    conds.push(format!("principal in [{}]", list.join(", ")));
                    "principal".to_owned()
                }
            };
            let resource = match r.profiles.as_slice() {
                [p] => format!("resource == Profile::\"p{p}\""),
                ps => {
                    let list: Vec<String> =
                        ps.iter().map(|p| format!("Profile::\"p{p}\"")).collect();
                    conds.push(format!("resource in [{}]", list.join(", ")));
                    "resource".to_owned()
                }
            };
            match r.modes.as_slice() {
                [] => {}
                [m] => conds.push(format!("context.mode == \"{}\"", m.as_str())),
                ms => {
                    let list: Vec<String> =
                        ms.iter().map(|m| format!("\"{}\"", m.as_str())).collect();
                    conds.push(format!("[{}].contains(context.mode)", list.join(", ")));
                }
            }
            if let Some(w) = &r.window {
                let key = ZONES[w.zone].1;
                let days: Vec<String> = (1..=w.last_day).map(|d| d.to_string()).collect();
                conds.push(format!(
                    "[{}].contains(context.{key}_day) && context.{key}_minute >= {} && context.{key}_minute < {}",
                    days.join(", "),
                    w.start,
                    w.end
                ));
            }
            let _ = write!(
                c,
                "@id(\"{}\")\n@effect(\"{annotation}\")\n{keyword} ({principal}, action, {resource})",
                r.name
            );
            if conds.is_empty() {
                c.push_str(";\n");
            } else {
                let _ = write!(c, "\nwhen {{ {} }};\n", conds.join(" && "));
            }
        }
        c
    }

    /// The fixed request mix: requests built to satisfy the first, a
    /// quarter-way, middle and last specific rule (an earlier rule for the
    /// same pair may decide first), the last rule's pair at a time and mode
    /// it may not allow, a known user and profile that share no rule, an
    /// unknown user and an unknown profile (both only reach the catch-all).
    fn requests(&self) -> Vec<BenchRequest> {
        let n = self.rules.len();
        let mut out: Vec<BenchRequest> = [0, n / 4, n / 2, n - 1]
            .into_iter()
            .map(|i| self.request_satisfying(i))
            .collect();
        let last = &self.rules[n - 1];
        out.push(BenchRequest {
            user: Username::parse(&format!("u{}", last.users[0])).unwrap(),
            profile: format!("p{}", last.profiles[0]),
            mode: Mode::CredentialProcess,
            // Sunday 03:00 UTC.
            time: "2025-06-15T03:00:00Z".parse().unwrap(),
        });
        let (p, u) = self.unrelated_pair();
        out.push(BenchRequest {
            user: Username::parse(&format!("u{u}")).unwrap(),
            profile: format!("p{p}"),
            mode: Mode::Cli,
            time: wednesday_utc_noon(),
        });
        out.push(BenchRequest {
            user: Username::parse("mallory").unwrap(),
            profile: "p0".to_owned(),
            mode: Mode::Cli,
            time: wednesday_utc_noon(),
        });
        out.push(BenchRequest {
            user: Username::parse("u0").unwrap(),
            profile: "no-such-profile".to_owned(),
            mode: Mode::Server,
            time: wednesday_utc_noon(),
        });
        out
    }

    fn request_satisfying(&self, i: usize) -> BenchRequest {
        let r = &self.rules[i];
        let time = match &r.window {
            // Wednesday 11 June 2025, one hour after the window opens, local time.
            Some(w) => {
                let tz = ZONES[w.zone].0.unwrap_or("UTC");
                let minute = w.start + 60;
                jiff::civil::date(2025, 6, 11)
                    .at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
                    .in_tz(tz)
                    .unwrap()
                    .timestamp()
            }
            None => wednesday_utc_noon(),
        };
        BenchRequest {
            user: Username::parse(&format!("u{}", r.users[0])).unwrap(),
            profile: format!("p{}", r.profiles[0]),
            mode: r.modes.first().copied().unwrap_or(Mode::Cli),
            time,
        }
    }

    /// The first (profile, user) pair, counting down from the highest, that
    /// no rule names together.
    fn unrelated_pair(&self) -> (usize, usize) {
        for p in (0..self.profiles).rev() {
            for u in (0..self.users).rev() {
                if !self
                    .rules
                    .iter()
                    .any(|r| r.profiles.contains(&p) && r.users.contains(&u))
                {
                    return (p, u);
                }
            }
        }
        panic!("every profile/user pair is named by some rule")
    }
}

fn wednesday_utc_noon() -> Timestamp {
    "2025-06-11T12:00:00Z".parse().unwrap()
}

#[derive(Debug, Clone)]
struct BenchRequest {
    user: Username,
    profile: String,
    mode: Mode,
    time: Timestamp,
}

impl BenchRequest {
    fn sentinel(&self) -> Request<'_> {
        Request::new(&self.user, &self.profile, self.mode, self.time)
    }

    /// The Cedar request: `User::"<user>"` asks `Action::"GetCredentials"`
    /// on `Profile::"<profile>"`; the context holds the mode and, for every
    /// time zone, the local weekday (1 = Monday) and minute of the day.
    fn cedar(&self) -> CedarRequest {
        let mut pairs = vec![(
            "mode".to_owned(),
            RestrictedExpression::new_string(self.mode.as_str().to_owned()),
        )];
        for (tz, key) in ZONES {
            let local = self.time.in_tz(tz.unwrap_or("UTC")).unwrap();
            let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
            pairs.push((
                format!("{key}_day"),
                RestrictedExpression::new_long(i64::from(local.weekday().to_monday_one_offset())),
            ));
            pairs.push((
                format!("{key}_minute"),
                RestrictedExpression::new_long(minute),
            ));
        }
        let context = Context::from_pairs(pairs).unwrap();
        CedarRequest::new(
            EntityUid::from_str(&format!("User::{:?}", self.user.as_str())).unwrap(),
            EntityUid::from_str("Action::\"GetCredentials\"").unwrap(),
            EntityUid::from_str(&format!("Profile::{:?}", self.profile)).unwrap(),
            context,
            None,
        )
        .unwrap()
    }
}

fn decision(c: &mut Criterion) {
    let mut sizes: Vec<usize> = SIZES.iter().map(|&n| size(n)).collect();
    sizes.dedup();
    let sets: Vec<(usize, RuleSet)> = sizes
        .into_iter()
        .map(|n| (n, RuleSet::generate(n)))
        .collect();

    let mut group = c.benchmark_group("decision/sentinel");
    group.throughput(Throughput::Elements(1));
    for (n, set) in &sets {
        let policy = CompiledPolicy::parse(&set.to_yaml(), "bench.yaml").unwrap();
        assert_eq!(policy.rule_count(), *n);
        let owned = set.requests();
        let requests: Vec<Request<'_>> = owned.iter().map(BenchRequest::sentinel).collect();
        let outcomes: Vec<String> = requests
            .iter()
            .map(|r| {
                let d = policy.evaluate(r);
                match d.rule_index {
                    Some(i) => format!("{}@{i}", d.effect),
                    None => format!("{}@default", d.effect),
                }
            })
            .collect();
        eprintln!("sentinel {n} rules: {}", outcomes.join(" "));
        group.bench_with_input(BenchmarkId::from_parameter(n), &requests, |b, requests| {
            let mut i = 0;
            b.iter(|| {
                let d = policy.evaluate(black_box(&requests[i]));
                i += 1;
                if i == requests.len() {
                    i = 0;
                }
                d
            });
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decision/cedar");
    group.throughput(Throughput::Elements(1));
    for (n, set) in &sets {
        let policies = PolicySet::from_str(&set.to_cedar()).unwrap();
        assert_eq!(policies.policies().count(), n - 1);
        let entities = Entities::empty();
        let authorizer = Authorizer::new();
        let requests: Vec<CedarRequest> = set.requests().iter().map(BenchRequest::cedar).collect();
        let outcomes: Vec<String> = requests
            .iter()
            .map(|r| {
                let resp = authorizer.is_authorized(r, &policies, &entities);
                assert!(
                    resp.diagnostics().errors().next().is_none(),
                    "Cedar evaluation error"
                );
                format!(
                    "{:?}/{}",
                    resp.decision(),
                    resp.diagnostics().reason().count()
                )
            })
            .collect();
        eprintln!(
            "cedar    {n} rules: {} (decision/determining policies)",
            outcomes.join(" ")
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &requests, |b, requests| {
            let mut i = 0;
            b.iter(|| {
                let resp = authorizer.is_authorized(black_box(&requests[i]), &policies, &entities);
                i += 1;
                if i == requests.len() {
                    i = 0;
                }
                resp
            });
        });
    }
    group.finish();
}

fn compile(c: &mut Criterion) {
    let n = size(COMPILE_SIZE);
    let set = RuleSet::generate(n);
    let yaml = set.to_yaml();
    let doc = PolicyDocument::parse(&yaml, "bench.yaml").unwrap();
    let json = doc.to_json_pretty();
    let cedar = set.to_cedar();
    eprintln!(
        "compile {n} rules: YAML {} KiB, JSON {} KiB, Cedar {} KiB",
        yaml.len() / 1024,
        json.len() / 1024,
        cedar.len() / 1024
    );

    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_with_input(
        BenchmarkId::new("parse_validate_compile", n),
        &yaml,
        |b, text| b.iter(|| CompiledPolicy::parse(black_box(text), "bench.yaml").unwrap()),
    );
    group.bench_with_input(
        BenchmarkId::new("parse_validate_compile_json", n),
        &json,
        |b, text| b.iter(|| CompiledPolicy::parse(black_box(text), "bench.json").unwrap()),
    );
    // The phases: parse + validate (text to a checked document), then
    // validate + compile of a document built in code.
    group.bench_with_input(BenchmarkId::new("parse_validate", n), &yaml, |b, text| {
        b.iter(|| PolicyDocument::parse(black_box(text), "bench.yaml").unwrap())
    });
    group.bench_with_input(
        BenchmarkId::new("parse_validate_json", n),
        &json,
        |b, text| b.iter(|| PolicyDocument::parse(black_box(text), "bench.json").unwrap()),
    );
    // The floors: what the YAML parser (events only, no tree) and
    // serde_json (syntax only, nothing kept) take for the same text.
    group.bench_with_input(
        BenchmarkId::new("yaml_scanner_floor", n),
        &yaml,
        |b, text| {
            b.iter(|| {
                let mut parser = saphyr_parser::Parser::new_from_str(black_box(text));
                let mut events = 0usize;
                while let Some(event) = parser.next_event() {
                    event.unwrap();
                    events += 1;
                }
                events
            })
        },
    );
    group.bench_with_input(
        BenchmarkId::new("json_syntax_floor", n),
        &json,
        |b, text| {
            b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(text)).unwrap())
        },
    );
    group.bench_with_input(BenchmarkId::new("compile_only", n), &doc, |b, doc| {
        b.iter_batched(
            || doc.clone(),
            |doc| CompiledPolicy::new(doc, "bench.yaml").unwrap(),
            BatchSize::LargeInput,
        );
    });
    group.bench_with_input(
        BenchmarkId::new("cedar_policy_set_parse", n),
        &cedar,
        |b, text| b.iter(|| PolicySet::from_str(black_box(text)).unwrap()),
    );
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = decision, compile
}
criterion_main!(benches);
