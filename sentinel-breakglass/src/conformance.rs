//! The [`BreakGlassStore`] conformance suite, run unchanged against every
//! backend. Enabled by the `test-util` feature.
//!
//! Each check takes a fresh, empty store whose clock is the given
//! [`ManualClock`], so expiry, cooldowns and quota windows can be tested
//! without waiting.

// Test-support code: a failed expectation is reported by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use sentinel_policy::ReasonCode;

use crate::error::Error;
use crate::model::{BreakGlassQuery, BreakGlassStatus, NewBreakGlass};
use crate::rules::RateLimits;
use crate::store::{BreakGlassStore, Clock, Invocation, ManualClock};

const HOUR: Duration = Duration::from_secs(3600);

/// What `invoker` asks for on `profile`, for `minutes`.
pub fn new(invoker: &str, profile: &str, minutes: u64) -> NewBreakGlass {
    NewBreakGlass {
        invoker: crate::model::Username::parse(invoker).unwrap(),
        profile: profile.into(),
        reason_code: ReasonCode::Incident,
        justification: format!("{profile} is down and {invoker} is on call"),
        duration: Duration::from_secs(minutes * 60),
    }
}

/// An invocation without rate limits.
pub fn unlimited(invoker: &str, profile: &str, minutes: u64) -> Invocation {
    Invocation::unchecked(new(invoker, profile, minutes), RateLimits::none())
}

/// Invoke, get, not found; the stored event is what was returned.
pub async fn invoke_and_get(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let e = store.invoke(&unlimited("alice", "prod", 60)).await.unwrap();
    assert_eq!(e.status, BreakGlassStatus::Active);
    assert_eq!(e.created_at.as_microsecond(), clock.now().as_microsecond());
    assert_eq!(e.expires_at.duration_since(e.created_at).as_secs(), 3600);
    assert!(!e.escalated);
    assert_eq!(store.get(&e.id).await.unwrap(), e);
    assert!(matches!(
        store.get("nope").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(store.get("").await, Err(Error::NotFound { .. })));
    assert!(matches!(
        store.close("nope", "sec", "done").await,
        Err(Error::NotFound { .. })
    ));
    let mut checked = unlimited("alice", "dev", 60);
    checked.rule = Some("oncall".into());
    let e = store.invoke(&checked).await.unwrap();
    assert_eq!(
        store.get(&e.id).await.unwrap().rule.as_deref(),
        Some("oncall")
    );
    for bad in [new("alice", "prod", 0), new("alice", "prod", 241), {
        let mut n = new("alice", "prod", 60);
        n.justification = "too short".into();
        n
    }] {
        let r = store
            .invoke(&Invocation::unchecked(bad, RateLimits::none()))
            .await;
        assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    }
}

/// One active event per (invoker, profile); closing or expiry frees it;
/// other users and profiles are independent.
pub async fn one_active_per_invoker_and_profile(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let first = store.invoke(&unlimited("alice", "prod", 30)).await.unwrap();
    match store.invoke(&unlimited("alice", "prod", 30)).await {
        Err(Error::Conflict { id, .. }) => assert_eq!(id, first.id),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Usernames are canonical: a.lice is another person, with an event of
    // her own.
    store
        .invoke(&unlimited("a.lice", "prod", 30))
        .await
        .unwrap();
    store.invoke(&unlimited("alice", "dev", 30)).await.unwrap();
    store.invoke(&unlimited("bob", "prod", 30)).await.unwrap();
    assert_eq!(
        store
            .find_active("alice", "prod")
            .await
            .unwrap()
            .map(|e| e.id),
        Some(first.id.clone())
    );
    assert_eq!(store.find_active("carol", "prod").await.unwrap(), None);

    store
        .close(&first.id, "security", "incident resolved")
        .await
        .unwrap();
    assert_eq!(store.find_active("alice", "prod").await.unwrap(), None);
    let second = store.invoke(&unlimited("alice", "prod", 30)).await.unwrap();
    clock.advance(Duration::from_secs(30 * 60));
    assert_eq!(store.find_active("alice", "prod").await.unwrap(), None);
    assert_eq!(
        store.get(&second.id).await.unwrap().status,
        BreakGlassStatus::Expired
    );
    store.invoke(&unlimited("alice", "prod", 30)).await.unwrap();
}

/// Closing needs a reason and works only on an active event; the close is
/// recorded.
pub async fn close_rules(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let e = store.invoke(&unlimited("alice", "prod", 60)).await.unwrap();
    for (by, reason) in [("security", ""), ("security", "   "), ("", "done")] {
        let r = store.close(&e.id, by, reason).await;
        assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
    }
    assert!(store.get(&e.id).await.unwrap().is_active(clock.now()));
    clock.advance(Duration::from_secs(60));
    let closed = store.close(&e.id, "security", " restored ").await.unwrap();
    assert_eq!(closed.status, BreakGlassStatus::Closed);
    assert_eq!(closed.closed_by.as_deref(), Some("security"));
    assert_eq!(closed.close_reason.as_deref(), Some("restored"));
    assert_eq!(
        closed.closed_at.map(|t| t.as_microsecond()),
        Some(clock.now().as_microsecond())
    );
    assert_eq!(store.get(&e.id).await.unwrap(), closed);
    match store.close(&e.id, "security", "again").await {
        Err(Error::InvalidTransition { from, .. }) => assert_eq!(from, BreakGlassStatus::Closed),
        other => panic!("{other:?}"),
    }
    let short = store.invoke(&unlimited("bob", "prod", 10)).await.unwrap();
    clock.advance(Duration::from_secs(10 * 60));
    match store.close(&short.id, "security", "late").await {
        Err(Error::InvalidTransition { from, .. }) => assert_eq!(from, BreakGlassStatus::Expired),
        other => panic!("{other:?}"),
    }
}

/// Cooldown since the user's last event on the profile, counted from the
/// invocation, also after a close.
pub async fn cooldown(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let limits = RateLimits::none().with_cooldown(HOUR);
    let inv = |who: &str| Invocation::unchecked(new(who, "prod", 15), limits.clone());
    let e = store.invoke(&inv("alice")).await.unwrap();
    store.close(&e.id, "alice", "fixed").await.unwrap();
    clock.advance(Duration::from_secs(20 * 60));
    match store.invoke(&inv("alice")).await {
        Err(Error::RateLimited { retry_at, .. }) => {
            assert_eq!(
                retry_at.map(|t| t.as_microsecond()),
                Some(e.created_at.as_microsecond() + 3_600_000_000)
            );
        }
        other => panic!("expected the cooldown, got {other:?}"),
    }
    store.invoke(&inv("bob")).await.unwrap();
    store
        .invoke(&Invocation::unchecked(
            new("alice", "dev", 15),
            limits.clone(),
        ))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(40 * 60));
    store.invoke(&inv("alice")).await.unwrap();
}

/// Per-user and per-profile quotas within the window; events age out.
pub async fn quotas(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let limits = RateLimits::none().with_quotas(Some(2), Some(3), 24 * HOUR);
    let inv = |who: &str| Invocation::unchecked(new(who, "prod", 10), limits.clone());
    for who in ["alice", "alice"] {
        store.invoke(&inv(who)).await.unwrap();
        clock.advance(Duration::from_secs(3600));
    }
    let r = store.invoke(&inv("alice")).await;
    assert!(
        matches!(&r, Err(Error::RateLimited { reason, .. }) if reason.contains("\"alice\"")),
        "{r:?}"
    );
    store.invoke(&inv("bob")).await.unwrap();
    clock.advance(Duration::from_secs(3600));
    let r = store.invoke(&inv("carol")).await;
    assert!(
        matches!(&r, Err(Error::RateLimited { reason, .. }) if reason.contains("all users")),
        "{r:?}"
    );
    // Another profile has its own count.
    store
        .invoke(&Invocation::unchecked(
            new("carol", "dev", 10),
            limits.clone(),
        ))
        .await
        .unwrap();
    // 21 h later alice's first event has aged out of the window.
    clock.advance(Duration::from_secs(21 * 3600));
    store.invoke(&inv("alice")).await.unwrap();
}

/// The escalation threshold flags the event that reaches it.
pub async fn escalation(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let limits = RateLimits::none().with_escalation(2);
    let inv = Invocation::unchecked(new("alice", "prod", 10), limits);
    let first = store.invoke(&inv).await.unwrap();
    assert!(!first.escalated);
    clock.advance(Duration::from_secs(15 * 60));
    let second = store.invoke(&inv).await.unwrap();
    assert!(second.escalated);
    assert!(store.get(&second.id).await.unwrap().escalated);
}

/// Filters, the review time range and paging: newest first, every match
/// exactly once.
pub async fn list_filters_and_pages(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let start = clock.now();
    let mut ids = Vec::new();
    for i in 0..7u64 {
        let who = ["alice", "bob", "carol"][(i % 3) as usize];
        let profile = if i % 2 == 0 { "prod" } else { "dev" };
        let e = store.invoke(&unlimited(who, profile, 5)).await.unwrap();
        ids.push(e.id);
        clock.advance(Duration::from_secs(10 * 60));
    }
    let closed = store.invoke(&unlimited("dave", "prod", 60)).await.unwrap();
    store.close(&closed.id, "security", "done").await.unwrap();
    ids.push(closed.id.clone());
    clock.advance(Duration::from_secs(60));
    let active = store.invoke(&unlimited("erin", "prod", 60)).await.unwrap();
    ids.push(active.id.clone());
    ids.reverse();

    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list(&BreakGlassQuery::all().limit(2).after(token))
            .await
            .unwrap();
        assert!(page.events.len() <= 2);
        seen.extend(page.events.into_iter().map(|e| e.id));
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids, "every event once, newest first");

    let count =
        |q: BreakGlassQuery| async move { store.list(&q.limit(1000)).await.unwrap().events.len() };
    assert_eq!(count(BreakGlassQuery::all().invoker("alice")).await, 3);
    assert_eq!(count(BreakGlassQuery::all().profile("prod")).await, 6);
    assert_eq!(
        count(BreakGlassQuery::all().status(BreakGlassStatus::Active)).await,
        1
    );
    assert_eq!(
        count(BreakGlassQuery::all().status(BreakGlassStatus::Closed)).await,
        1
    );
    assert_eq!(
        count(BreakGlassQuery::all().status(BreakGlassStatus::Expired)).await,
        7
    );
    assert_eq!(
        count(
            BreakGlassQuery::all()
                .profile("prod")
                .status(BreakGlassStatus::Expired)
        )
        .await,
        4
    );
    // Paging a filtered listing loses nothing.
    let mut n = 0;
    let mut token = None;
    loop {
        let page = store
            .list(
                &BreakGlassQuery::all()
                    .invoker("alice")
                    .limit(1)
                    .after(token),
            )
            .await
            .unwrap();
        n += page.events.len();
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(n, 3);

    // Review: who held access between minute 12 and minute 31? Events
    // started at 0, 10, 20, 30 (5 minutes each): those of 10 (ends 15),
    // 20 and 30.
    let at = |m: i64| start + jiff::SignedDuration::from_mins(m);
    let review = store
        .list(&BreakGlassQuery::all().between(at(12), at(31)))
        .await
        .unwrap();
    assert_eq!(review.events.len(), 3, "{:?}", review.events);
    assert!(
        review
            .events
            .iter()
            .all(|e| e.created_at < at(31) && e.ends_at() > at(12))
    );

    let bad = store
        .list(&BreakGlassQuery::all().after(Some("garbage".into())))
        .await;
    assert!(
        matches!(
            bad,
            Err(Error::Invalid {
                field: "page_token",
                ..
            })
        ),
        "{bad:?}"
    );
}

/// 50 parallel invocations for one (invoker, profile): exactly one active
/// event.
pub async fn racing_invocations(store: Arc<dyn BreakGlassStore>, clock: &ManualClock) {
    let _ = clock;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.invoke(&unlimited("alice", "prod", 60)).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 1);
    let listed = store
        .list(&BreakGlassQuery::all().invoker("alice").limit(1000))
        .await
        .unwrap();
    assert_eq!(listed.events.len(), 1);
}

/// 50 parallel invocations by different users on one profile with a
/// per-profile quota of 5: exactly 5 succeed.
pub async fn racing_quota(store: Arc<dyn BreakGlassStore>, clock: &ManualClock) {
    let _ = clock;
    let limits = RateLimits::none().with_quotas(None, Some(5), 24 * HOUR);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let store = Arc::clone(&store);
        let inv = Invocation::unchecked(new(&format!("user{i}"), "prod", 60), limits.clone());
        tasks.push(tokio::spawn(async move { store.invoke(&inv).await }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(Error::RateLimited { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(won, 5);
    let listed = store
        .list(&BreakGlassQuery::all().profile("prod").limit(1000))
        .await
        .unwrap();
    assert_eq!(listed.events.len(), 5);
}

/// Expired events are claimed once each, oldest expiry first; closed and
/// active ones never.
pub async fn claim_expired_once(store: &dyn BreakGlassStore, clock: &ManualClock) {
    let short = store.invoke(&unlimited("alice", "prod", 10)).await.unwrap();
    let medium = store.invoke(&unlimited("bob", "prod", 20)).await.unwrap();
    let closed = store.invoke(&unlimited("carol", "prod", 15)).await.unwrap();
    store
        .close(&closed.id, "carol", "done early")
        .await
        .unwrap();
    let long = store.invoke(&unlimited("dave", "prod", 60)).await.unwrap();
    assert!(store.claim_expired(10).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(30 * 60));
    let first = store.claim_expired(1).await.unwrap();
    assert_eq!(first.iter().map(|e| &e.id).collect::<Vec<_>>(), [&short.id]);
    assert_eq!(first[0].status, BreakGlassStatus::Expired);
    let rest = store.claim_expired(10).await.unwrap();
    assert_eq!(rest.iter().map(|e| &e.id).collect::<Vec<_>>(), [&medium.id]);
    assert!(store.claim_expired(10).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(60 * 60));
    let last = store.claim_expired(10).await.unwrap();
    assert_eq!(last.iter().map(|e| &e.id).collect::<Vec<_>>(), [&long.id]);
    // Claiming does not change what the event reads as.
    assert_eq!(
        store.get(&short.id).await.unwrap().status,
        BreakGlassStatus::Expired
    );
    assert_eq!(
        store.get(&closed.id).await.unwrap().status,
        BreakGlassStatus::Closed
    );
}

/// Racing sweepers: each expired event is claimed by exactly one.
pub async fn racing_claims(store: Arc<dyn BreakGlassStore>, clock: &ManualClock) {
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            store
                .invoke(&unlimited(&format!("user{i}"), "prod", 5))
                .await
                .unwrap()
                .id,
        );
    }
    clock.advance(Duration::from_secs(10 * 60));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.claim_expired(100).await.unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap().into_iter().map(|e| e.id));
    }
    claimed.sort();
    ids.sort();
    assert_eq!(claimed, ids, "each expired event claimed exactly once");
}
