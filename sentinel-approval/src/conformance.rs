//! The [`RequestStore`] conformance suite, run unchanged against every
//! backend. Enabled by the `test-util` feature.
//!
//! Each check takes a fresh, empty store whose clock is the given
//! [`ManualClock`], so expiry and access windows can be tested without
//! waiting.

// Test-support code: a failed expectation is reported by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::model::{AccessRequest, NewRequest, RequestQuery, RequestStatus};
use crate::store::{Clock, ManualClock, RequestStore};

/// Files a pending request of `requester` for `profile` at the clock's time.
pub fn request(clock: &ManualClock, requester: &str, profile: &str, minutes: u64) -> AccessRequest {
    AccessRequest::new(
        NewRequest {
            requester: crate::model::Username::parse(requester).unwrap(),
            profile: profile.into(),
            justification: format!("{requester} needs {profile} for a ticket"),
            duration: Duration::from_secs(minutes * 60),
        },
        clock.now(),
    )
    .unwrap()
}

/// Create, get, create-again conflict, not found.
pub async fn create_get_conflict(store: &dyn RequestStore, clock: &ManualClock) {
    let r = request(clock, "alice", "prod", 60);
    store.create(&r).await.unwrap();
    assert_eq!(store.get(&r.id).await.unwrap(), r);
    assert!(matches!(
        store.create(&r).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store.get("nope").await,
        Err(Error::NotFound { .. })
    ));
    for result in [
        store.approve("nope", "bob", None).await,
        store.deny("nope", "bob", None).await,
        store.cancel("nope", "alice").await,
    ] {
        assert!(matches!(result, Err(Error::NotFound { .. })), "{result:?}");
    }
}

/// Approve, deny and cancel move only pending requests, with the
/// decision recorded; only the requester cancels.
pub async fn transitions(store: &dyn RequestStore, clock: &ManualClock) {
    let a = request(clock, "alice", "prod", 60);
    let b = request(clock, "alice", "prod", 60);
    let c = request(clock, "alice", "dev", 60);
    for r in [&a, &b, &c] {
        store.create(r).await.unwrap();
    }
    clock.advance(Duration::from_secs(90));
    let approved = store
        .approve(&a.id, "bob", Some("  ok for INC-1  "))
        .await
        .unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert_eq!(approved.approver.as_deref(), Some("bob"));
    assert_eq!(approved.approver_comment.as_deref(), Some("ok for INC-1"));
    assert_eq!(approved.approved_at, Some(clock.now()));
    assert_eq!(approved.updated_at, clock.now());
    assert_eq!(approved.created_at, a.created_at);
    assert_eq!(store.get(&a.id).await.unwrap(), approved);
    for (result, action) in [
        (store.approve(&a.id, "carol", None).await, "approved"),
        (store.deny(&a.id, "carol", Some("no")).await, "denied"),
        (store.cancel(&a.id, "alice").await, "cancelled"),
    ] {
        match result {
            Err(Error::InvalidTransition {
                from: RequestStatus::Approved,
                action: a,
                ..
            }) => assert_eq!(a, action),
            other => panic!("expected invalid transition from approved, got {other:?}"),
        }
    }
    let denied = store.deny(&b.id, "carol", None).await.unwrap();
    assert_eq!(denied.status, RequestStatus::Denied);
    assert_eq!(denied.approver.as_deref(), Some("carol"));
    assert_eq!(denied.approver_comment, None);
    assert_eq!(denied.approved_at, None);
    assert!(matches!(
        store.approve(&b.id, "bob", None).await,
        Err(Error::InvalidTransition {
            from: RequestStatus::Denied,
            ..
        })
    ));
    // Only the requester cancels.
    assert!(matches!(
        store.cancel(&c.id, "bob").await,
        Err(Error::Forbidden { .. })
    ));
    let cancelled = store.cancel(&c.id, "alice").await.unwrap();
    assert_eq!(cancelled.status, RequestStatus::Cancelled);
    assert_eq!(cancelled.approver, None);
    assert!(matches!(
        store.approve(&c.id, "bob", None).await,
        Err(Error::InvalidTransition {
            from: RequestStatus::Cancelled,
            ..
        })
    ));
    // Bad input is refused before anything is read.
    assert!(matches!(
        store.approve(&c.id, " ", None).await,
        Err(Error::Invalid {
            field: "approver",
            ..
        })
    ));
    assert!(matches!(
        store.deny(&c.id, "bob", Some(&"x".repeat(1001))).await,
        Err(Error::Invalid {
            field: "comment",
            ..
        })
    ));
}

/// The requester cannot approve or deny their own request; a name that is
/// not a canonical username (another spelling of theirs) is refused as
/// invalid, never taken for someone else.
pub async fn self_approval_refused(store: &dyn RequestStore, clock: &ManualClock) {
    let r = request(clock, "alice", "prod", 60);
    store.create(&r).await.unwrap();
    assert!(matches!(
        store.approve(&r.id, "alice", None).await,
        Err(Error::SelfApproval { .. })
    ));
    assert!(matches!(
        store.deny(&r.id, "alice", None).await,
        Err(Error::SelfApproval { .. })
    ));
    for spelled in ["Alice", "ALICE-", "alice smith"] {
        assert!(
            matches!(
                store.approve(&r.id, spelled, None).await,
                Err(Error::Invalid {
                    field: "approver",
                    ..
                })
            ),
            "{spelled} approving alice's request"
        );
    }
    assert_eq!(
        store.get(&r.id).await.unwrap().status,
        RequestStatus::Pending
    );
    // Someone else may, a.lice too: another IAM user than alice.
    store.approve(&r.id, "a.lice", None).await.unwrap();
}

/// A pending request expires 24 h after creation, decided on read; an
/// expired request cannot be decided.
pub async fn expiry_on_read(store: &dyn RequestStore, clock: &ManualClock) {
    let r = request(clock, "dave", "prod", 60);
    let decided = request(clock, "dave", "prod", 60);
    store.create(&r).await.unwrap();
    store.create(&decided).await.unwrap();
    store.deny(&decided.id, "erin", None).await.unwrap();
    clock.advance(Duration::from_secs(24 * 3600 - 1));
    assert_eq!(
        store.get(&r.id).await.unwrap().status,
        RequestStatus::Pending
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        store.get(&r.id).await.unwrap().status,
        RequestStatus::Expired
    );
    assert_eq!(
        store.get(&decided.id).await.unwrap().status,
        RequestStatus::Denied,
        "decided requests do not expire"
    );
    for result in [
        store.approve(&r.id, "erin", None).await,
        store.deny(&r.id, "erin", None).await,
        store.cancel(&r.id, "dave").await,
    ] {
        assert!(
            matches!(
                result,
                Err(Error::InvalidTransition {
                    from: RequestStatus::Expired,
                    ..
                })
            ),
            "{result:?}"
        );
    }
    let expired = store
        .list(&RequestQuery::all().status(RequestStatus::Expired))
        .await
        .unwrap();
    assert_eq!(
        expired
            .requests
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec![r.id.as_str()]
    );
    let pending = store
        .list(&RequestQuery::all().status(RequestStatus::Pending))
        .await
        .unwrap();
    assert!(pending.requests.is_empty());
}

/// The access window starts at approval, not at creation, and ends
/// `duration` later.
pub async fn window_starts_at_approval(store: &dyn RequestStore, clock: &ManualClock) {
    let r = request(clock, "frank", "prod", 60);
    store.create(&r).await.unwrap();
    let filed = clock.now();
    assert_eq!(
        store.find_approved("frank", "prod", filed).await.unwrap(),
        None,
        "pending grants nothing"
    );
    // Approved three hours later: longer than the duration after filing.
    clock.advance(Duration::from_secs(3 * 3600));
    let approved = store.approve(&r.id, "grace", None).await.unwrap();
    let at = clock.now();
    assert_eq!(approved.approved_at, Some(at));
    let found = store.find_approved("frank", "prod", at).await.unwrap();
    assert_eq!(found.as_ref().map(|f| f.id.as_str()), Some(r.id.as_str()));
    assert_eq!(found.unwrap().status, RequestStatus::Approved);
    let before = at.checked_sub(jiff::SignedDuration::from_secs(1)).unwrap();
    assert_eq!(
        store.find_approved("frank", "prod", before).await.unwrap(),
        None,
        "not before approval"
    );
    let last = at
        .checked_add(jiff::SignedDuration::from_secs(3599))
        .unwrap();
    assert!(
        store
            .find_approved("frank", "prod", last)
            .await
            .unwrap()
            .is_some()
    );
    let end = at
        .checked_add(jiff::SignedDuration::from_secs(3600))
        .unwrap();
    assert_eq!(
        store.find_approved("frank", "prod", end).await.unwrap(),
        None,
        "window over at approved_at + duration"
    );
    assert_eq!(store.find_approved("frank", "dev", at).await.unwrap(), None);
    assert_eq!(
        store.find_approved("grace", "prod", at).await.unwrap(),
        None
    );
    // The approval outlives the 24 h pending deadline when approved late.
    let late = request(clock, "frank", "staging", 120);
    store.create(&late).await.unwrap();
    clock.advance(Duration::from_secs(23 * 3600));
    store.approve(&late.id, "grace", None).await.unwrap();
    clock.advance(Duration::from_secs(3600 + 60));
    let now = clock.now();
    let found = store.find_approved("frank", "staging", now).await.unwrap();
    assert_eq!(found.map(|f| f.id), Some(late.id.clone()));
    assert_eq!(
        store.get(&late.id).await.unwrap().status,
        RequestStatus::Approved
    );
    // Of two open windows, the one ending last is returned.
    let short = request(clock, "frank", "ops", 30);
    let long = request(clock, "frank", "ops", 240);
    store.create(&short).await.unwrap();
    store.create(&long).await.unwrap();
    store.approve(&long.id, "grace", None).await.unwrap();
    store.approve(&short.id, "grace", None).await.unwrap();
    let found = store
        .find_approved("frank", "ops", clock.now())
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.id), Some(long.id));
}

/// Listing filters and pages without losing or repeating anything.
pub async fn list_filters_and_pages(store: &dyn RequestStore, clock: &ManualClock) {
    let mut ids = Vec::new();
    for i in 0..25 {
        let requester = if i % 2 == 0 { "heidi" } else { "ivan" };
        let profile = if i % 3 == 0 { "prod" } else { "dev" };
        let r = request(clock, requester, profile, 60);
        store.create(&r).await.unwrap();
        ids.push(r.id);
        clock.advance(Duration::from_secs(1));
    }
    store.approve(&ids[0], "judy", None).await.unwrap();
    store.deny(&ids[3], "judy", None).await.unwrap();
    // Page through heidi's requests three at a time.
    let mut seen = Vec::new();
    let mut q = RequestQuery::all().requester("heidi").limit(3);
    loop {
        let page = store.list(&q).await.unwrap();
        assert!(page.requests.len() <= 3);
        for r in &page.requests {
            assert_eq!(r.requester, "heidi");
        }
        seen.extend(page.requests.into_iter().map(|r| r.id));
        match page.next_page_token {
            Some(t) => q = q.after(Some(t)),
            None => break,
        }
    }
    let expected: Vec<String> = ids.iter().step_by(2).rev().cloned().collect();
    assert_eq!(seen, expected, "newest first, nothing lost or repeated");
    // Filters combine; a filter with a small limit never drops matches.
    let mut prod_pending = Vec::new();
    let mut q = RequestQuery::all()
        .profile("prod")
        .status(RequestStatus::Pending)
        .limit(2);
    loop {
        let page = store.list(&q).await.unwrap();
        prod_pending.extend(page.requests.into_iter().map(|r| r.id));
        match page.next_page_token {
            Some(t) => q = q.after(Some(t)),
            None => break,
        }
    }
    let expected: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0 && *i != 0 && *i != 3)
        .map(|(_, id)| id.clone())
        .rev()
        .collect();
    assert_eq!(prod_pending, expected, "9 prod requests, two decided");
    let approved = store
        .list(&RequestQuery::all().status(RequestStatus::Approved))
        .await
        .unwrap();
    assert_eq!(approved.requests.len(), 1);
    assert_eq!(approved.requests[0].id, ids[0]);
    let ivan_dev = store
        .list(
            &RequestQuery::all()
                .requester("ivan")
                .profile("dev")
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(ivan_dev.requests.len(), 8);
    // No filter: everything, newest first, paged.
    let first = store.list(&RequestQuery::all().limit(20)).await.unwrap();
    assert_eq!(first.requests.len(), 20);
    let rest = store
        .list(
            &RequestQuery::all()
                .limit(20)
                .after(first.next_page_token.clone()),
        )
        .await
        .unwrap();
    assert_eq!(rest.requests.len(), 5);
    assert_eq!(rest.next_page_token, None);
    let all: Vec<String> = first
        .requests
        .iter()
        .chain(&rest.requests)
        .map(|r| r.id.clone())
        .collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(all, newest_first);
    assert!(matches!(
        store
            .list(&RequestQuery::all().after(Some("garbage".into())))
            .await,
        Err(Error::Invalid {
            field: "page_token",
            ..
        })
    ));
}

/// 50 parallel approvals of one request: exactly one succeeds, the rest
/// see it approved.
pub async fn racing_approvals(store: Arc<dyn RequestStore>, clock: &ManualClock) {
    let r = request(clock, "kim", "prod", 60);
    store.create(&r).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&store);
            let id = r.id.clone();
            tokio::spawn(async move { store.approve(&id, &format!("approver{i}"), None).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(won) => winners.push(won),
            Err(
                Error::InvalidTransition {
                    from: RequestStatus::Approved,
                    ..
                }
                | Error::Conflict { .. },
            ) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one approval wins");
    let end = store.get(&r.id).await.unwrap();
    assert_eq!(end.status, RequestStatus::Approved);
    assert_eq!(end.approver, winners[0].approver, "the winner is recorded");
}

/// Approvals racing the requester's cancel: exactly one change lands, and
/// the record shows it.
pub async fn approve_racing_cancel(store: Arc<dyn RequestStore>, clock: &ManualClock) {
    for _ in 0..5 {
        let r = request(clock, "lena", "prod", 60);
        store.create(&r).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..10 {
            let store = Arc::clone(&store);
            let id = r.id.clone();
            tasks.push(tokio::spawn(async move {
                if i == 5 {
                    store.cancel(&id, "lena").await
                } else {
                    store.approve(&id, "mallory", None).await
                }
            }));
        }
        let mut wins = Vec::new();
        for t in tasks {
            match t.await.unwrap() {
                Ok(won) => wins.push(won.status),
                Err(
                    Error::InvalidTransition {
                        from: RequestStatus::Approved | RequestStatus::Cancelled,
                        ..
                    }
                    | Error::Conflict { .. },
                ) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(wins.len(), 1, "exactly one change wins: {wins:?}");
        assert_eq!(store.get(&r.id).await.unwrap().status, wins[0]);
    }
}

/// Requests that expired undecided are claimed once each, oldest expiry
/// first; decided and still pending ones never. Racing claimers split them
/// without overlap.
pub async fn claim_expired_once(store: Arc<dyn RequestStore>, clock: &ManualClock) {
    let first = request(clock, "alice", "prod", 60);
    store.create(&first).await.unwrap();
    clock.advance(Duration::from_secs(60));
    let mut rest = Vec::new();
    for i in 0..6 {
        let r = request(clock, &format!("user{i}"), "prod", 60);
        store.create(&r).await.unwrap();
        rest.push(r.id);
    }
    let decided = request(clock, "bob", "prod", 60);
    store.create(&decided).await.unwrap();
    store.approve(&decided.id, "carol", None).await.unwrap();
    assert!(store.claim_expired(10).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(24 * 3600));
    let late = request(clock, "dave", "prod", 60);
    store.create(&late).await.unwrap();

    let claimed = store.claim_expired(1).await.unwrap();
    assert_eq!(
        claimed.iter().map(|r| &r.id).collect::<Vec<_>>(),
        [&first.id]
    );
    assert_eq!(claimed[0].status, RequestStatus::Expired);

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.claim_expired(100).await.unwrap()
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.extend(t.await.unwrap().into_iter().map(|r| r.id));
    }
    got.sort();
    rest.sort();
    assert_eq!(got, rest, "each expired request claimed exactly once");
    assert!(store.claim_expired(10).await.unwrap().is_empty());
    assert_eq!(
        store.get(&late.id).await.unwrap().status,
        RequestStatus::Pending
    );
}
