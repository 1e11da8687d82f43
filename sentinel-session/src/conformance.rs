//! The [`SessionStore`] conformance suite, run unchanged against every
//! backend. Enabled by the `test-util` feature.
//!
//! Each check takes a fresh, empty store whose clock is the given
//! [`ManualClock`], so expiry can be tested without waiting.

// Test-support code: a failed expectation is reported by panicking.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::model::{NewSession, ServerSession, SessionQuery, SessionStatus, UserRevocation};
use crate::store::{ManualClock, SessionStore, SessionStoreExt};

/// `s` as a username (test names are canonical).
fn u(s: &str) -> crate::model::Username {
    crate::model::Username::parse(s).unwrap()
}

/// Starts an active session for `user` on `profile` at the clock's time.
pub fn session(clock: &ManualClock, user: &str, profile: &str, minutes: u64) -> ServerSession {
    use crate::store::Clock;
    ServerSession::start(
        NewSession {
            user: u(user),
            profile: profile.into(),
            server_instance_id: "srv-1".into(),
            duration: Duration::from_secs(minutes * 60),
            source_identity: Some(format!(
                "sentinel.{user}.direct.{}",
                &crate::model::new_id().unwrap()[..16]
            )),
        },
        clock.now(),
    )
    .unwrap()
}

/// Create, get, create-again conflict, not found.
pub async fn create_get_conflict(store: &dyn SessionStore, clock: &ManualClock) {
    let s = session(clock, "alice", "prod", 60);
    store.create(&s).await.unwrap();
    assert_eq!(store.get(&s.id).await.unwrap(), s);
    assert!(matches!(
        store.create(&s).await,
        Err(Error::Conflict { .. })
    ));
    assert!(matches!(
        store.get("nope").await,
        Err(Error::NotFound { .. })
    ));
}

/// Touch counts requests; expiry is decided on read.
pub async fn touch_and_expiry(store: &dyn SessionStore, clock: &ManualClock) {
    let s = session(clock, "bob", "prod", 15);
    store.create(&s).await.unwrap();
    clock.advance(Duration::from_secs(60));
    let t = store.touch(&s.id).await.unwrap();
    assert_eq!(t.request_count, 1);
    assert!(t.last_access_at > s.last_access_at);
    store.touch(&s.id).await.unwrap();
    assert_eq!(store.get(&s.id).await.unwrap().request_count, 2);
    clock.advance(Duration::from_secs(15 * 60));
    let read = store.get(&s.id).await.unwrap();
    assert_eq!(read.status, SessionStatus::Expired, "expired on read");
    match store.touch(&s.id).await {
        Err(Error::InvalidTransition {
            from: SessionStatus::Expired,
            ..
        }) => {}
        other => panic!("expected expired, got {other:?}"),
    }
    match store.revoke(&s.id, "carol", "cleanup").await {
        Err(Error::InvalidTransition {
            from: SessionStatus::Expired,
            ..
        }) => {}
        other => panic!("expected expired, got {other:?}"),
    }
    assert!(matches!(
        store.touch("nope").await,
        Err(Error::NotFound { .. })
    ));
}

/// Revoke only from active, with distinct errors.
pub async fn revoke_transitions(store: &dyn SessionStore, clock: &ManualClock) {
    let s = session(clock, "carol", "staging", 60);
    store.create(&s).await.unwrap();
    let r = store
        .revoke(&s.id, "secops", "laptop stolen")
        .await
        .unwrap();
    assert_eq!(r.status, SessionStatus::Revoked);
    assert_eq!(r.revoked_by.as_deref(), Some("secops"));
    assert_eq!(r.revoked_reason.as_deref(), Some("laptop stolen"));
    match store.revoke(&s.id, "secops", "again").await {
        Err(Error::InvalidTransition {
            from: SessionStatus::Revoked,
            ..
        }) => {}
        other => panic!("expected already revoked, got {other:?}"),
    }
    match store.touch(&s.id).await {
        Err(Error::InvalidTransition {
            from: SessionStatus::Revoked,
            ..
        }) => {}
        other => panic!("expected revoked, got {other:?}"),
    }
    assert!(matches!(
        store.revoke("nope", "secops", "x").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.revoke(&s.id, "secops", " ").await,
        Err(Error::Invalid {
            field: "reason",
            ..
        })
    ));
}

/// Listing filters and pages without losing or repeating anything.
pub async fn list_filters_and_pages(store: &dyn SessionStore, clock: &ManualClock) {
    let mut ids = Vec::new();
    for i in 0..25 {
        let user = if i % 2 == 0 { "dave" } else { "erin" };
        let profile = if i % 3 == 0 { "prod" } else { "dev" };
        let s = session(clock, user, profile, 60);
        store.create(&s).await.unwrap();
        ids.push(s.id);
        clock.advance(Duration::from_secs(1));
    }
    store.revoke(&ids[0], "secops", "test").await.unwrap();
    // Page through dave's sessions three at a time.
    let mut seen = Vec::new();
    let mut q = SessionQuery::all().user("dave").limit(3);
    loop {
        let page = store.list(&q).await.unwrap();
        assert!(page.sessions.len() <= 3);
        for s in &page.sessions {
            assert_eq!(s.user, "dave");
        }
        seen.extend(page.sessions.into_iter().map(|s| s.id));
        match page.next_page_token {
            Some(t) => q = q.after(Some(t)),
            None => break,
        }
    }
    let expected: Vec<String> = ids.iter().step_by(2).rev().cloned().collect();
    assert_eq!(seen, expected, "newest first, nothing lost or repeated");
    // Filters combine; a filter with a limit never drops matches.
    let prod_active = store
        .list(
            &SessionQuery::all()
                .profile("prod")
                .status(SessionStatus::Active)
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(
        prod_active.sessions.len(),
        8,
        "9 prod sessions, one revoked"
    );
    let revoked = store
        .list(&SessionQuery::all().status(SessionStatus::Revoked))
        .await
        .unwrap();
    assert_eq!(revoked.sessions.len(), 1);
    let by_instance = store
        .list(
            &SessionQuery::all()
                .server_instance("srv-1")
                .user("erin")
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(by_instance.sessions.len(), 12);
    // No filter: everything, newest first, paged.
    let first = store.list(&SessionQuery::all().limit(20)).await.unwrap();
    assert_eq!(first.sessions.len(), 20);
    let rest = store
        .list(
            &SessionQuery::all()
                .limit(20)
                .after(first.next_page_token.clone()),
        )
        .await
        .unwrap();
    assert_eq!(rest.sessions.len(), 5);
    assert_eq!(rest.next_page_token, None);
    let all: Vec<String> = first
        .sessions
        .iter()
        .chain(&rest.sessions)
        .map(|s| s.id.clone())
        .collect();
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(all, newest_first);
    assert!(matches!(
        store
            .list(&SessionQuery::all().after(Some("garbage".into())))
            .await,
        Err(Error::Invalid {
            field: "page_token",
            ..
        })
    ));
    // Expired sessions list as expired.
    clock.advance(Duration::from_secs(3600));
    let expired = store
        .list(
            &SessionQuery::all()
                .user("dave")
                .status(SessionStatus::Expired)
                .limit(1000),
        )
        .await
        .unwrap();
    assert_eq!(expired.sessions.len(), 12, "13 of dave's, one revoked");
}

/// Lookup by SourceIdentity.
pub async fn find_by_source_identity(store: &dyn SessionStore, clock: &ManualClock) {
    let s = session(clock, "frank", "prod", 60);
    store.create(&s).await.unwrap();
    let si = s.source_identity.clone().unwrap();
    assert_eq!(store.find_by_source_identity(&si).await.unwrap(), Some(s));
    assert_eq!(
        store
            .find_by_source_identity("sentinel.nobody")
            .await
            .unwrap(),
        None
    );
}

/// The kill switch revokes every active session of the user and keeps
/// new sessions out until lifted or expired.
pub async fn kill_switch(store: &dyn SessionStore, clock: &ManualClock) {
    use crate::store::Clock;
    let a = session(clock, "grace", "prod", 60);
    let b = session(clock, "grace", "dev", 60);
    let other = session(clock, "heidi", "prod", 60);
    for s in [&a, &b, &other] {
        store.create(s).await.unwrap();
    }
    let rev = UserRevocation::new(
        &u("grace"),
        Some("prod"),
        "secops",
        "phished",
        clock.now(),
        None,
    )
    .unwrap();
    let report = store.revoke_user(&rev).await.unwrap();
    assert_eq!(report.revoked, vec![a.id.clone()]);
    assert_eq!(
        store.get(&a.id).await.unwrap().status,
        SessionStatus::Revoked
    );
    assert_eq!(
        store.get(&b.id).await.unwrap().status,
        SessionStatus::Active
    );
    assert!(store.user_revoked("grace", "prod").await.unwrap().is_some());
    assert!(store.user_revoked("grace", "dev").await.unwrap().is_none());
    assert!(store.user_revoked("heidi", "prod").await.unwrap().is_none());
    // All profiles, lapsing after an hour.
    let until = clock
        .now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let all = UserRevocation::new(
        &u("grace"),
        None,
        "secops",
        "offboarded",
        clock.now(),
        Some(until),
    )
    .unwrap();
    let report = store.revoke_user(&all).await.unwrap();
    assert_eq!(report.revoked, vec![b.id.clone()]);
    assert!(
        store
            .user_revoked("grace", "anything")
            .await
            .unwrap()
            .is_some()
    );
    clock.advance(Duration::from_secs(3601));
    assert!(
        store
            .user_revoked("grace", "anything")
            .await
            .unwrap()
            .is_none(),
        "lapsed"
    );
    assert!(
        store.user_revoked("grace", "prod").await.unwrap().is_some(),
        "prod still in force"
    );
    store
        .lift_user_revocation("grace", Some("prod"))
        .await
        .unwrap();
    assert!(store.user_revoked("grace", "prod").await.unwrap().is_none());
    assert!(matches!(
        store.lift_user_revocation("grace", Some("prod")).await,
        Err(Error::RevocationNotFound { .. })
    ));
}

/// `access` reads the kill switch and the session together, agreeing with
/// `user_revoked` and `get`: the covering revocation (an all-profile one
/// first), the session as of now, and `None` for a missing session.
pub async fn access_reads_revocation_and_session(store: &dyn SessionStore, clock: &ManualClock) {
    use crate::store::Clock;
    let s = session(clock, "ivan", "prod", 60);
    store.create(&s).await.unwrap();
    let a = store.access("ivan", "prod", Some(&s.id)).await.unwrap();
    assert_eq!(a.revocation, None);
    assert_eq!(
        a.session.as_ref().map(|x| x.status),
        Some(SessionStatus::Active)
    );
    assert_eq!(
        store.access("ivan", "prod", None).await.unwrap().session,
        None
    );
    assert_eq!(
        store
            .access("ivan", "prod", Some("missing"))
            .await
            .unwrap()
            .session,
        None
    );
    let dev = UserRevocation::new(
        &u("ivan"),
        Some("dev"),
        "secops",
        "audit",
        clock.now(),
        None,
    )
    .unwrap();
    store.put_user_revocation(&dev).await.unwrap();
    assert_eq!(
        store.access("ivan", "prod", None).await.unwrap().revocation,
        None,
        "a dev revocation does not cover prod"
    );
    assert_eq!(
        store.access("ivan", "dev", None).await.unwrap().revocation,
        Some(dev.clone())
    );
    let all =
        UserRevocation::new(&u("ivan"), None, "secops", "offboarded", clock.now(), None).unwrap();
    store.put_user_revocation(&all).await.unwrap();
    assert_eq!(
        store.access("ivan", "dev", None).await.unwrap().revocation,
        Some(all.clone()),
        "the all-profile revocation comes first"
    );
    assert_eq!(
        store.access("ivan", "prod", None).await.unwrap().revocation,
        store.user_revoked("ivan", "prod").await.unwrap()
    );
    assert_eq!(
        store.access("judy", "prod", None).await.unwrap().revocation,
        None
    );
    clock.advance(Duration::from_secs(61 * 60));
    let a = store.access("ivan", "prod", Some(&s.id)).await.unwrap();
    assert_eq!(a.session.map(|x| x.status), Some(SessionStatus::Expired));
}

/// 50 parallel revokes of one session: exactly one wins.
pub async fn racing_revokes(store: Arc<dyn SessionStore>, clock: &ManualClock) {
    let s = session(clock, "ivan", "prod", 60);
    store.create(&s).await.unwrap();
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = Arc::clone(&store);
            let id = s.id.clone();
            tokio::spawn(async move { store.revoke(&id, &format!("admin{i}"), "race").await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(Error::InvalidTransition {
                from: SessionStatus::Revoked,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
}

/// A revoke racing touches: the session ends revoked, and no touch lands
/// after the revoke.
pub async fn revoke_racing_touch(store: Arc<dyn SessionStore>, clock: &ManualClock) {
    let s = session(clock, "judy", "prod", 60);
    store.create(&s).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = Arc::clone(&store);
        let id = s.id.clone();
        tasks.push(tokio::spawn(async move {
            if i == 20 {
                store.revoke(&id, "secops", "race").await.map(|_| true)
            } else {
                store.touch(&id).await.map(|_| false)
            }
        }));
    }
    let mut touches = 0u64;
    for t in tasks {
        match t.await.unwrap() {
            Ok(true) => {}
            Ok(false) => touches += 1,
            Err(Error::InvalidTransition {
                from: SessionStatus::Revoked,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    let end = store.get(&s.id).await.unwrap();
    assert_eq!(end.status, SessionStatus::Revoked);
    assert_eq!(
        end.request_count, touches,
        "every successful touch counted, none lost"
    );
}
