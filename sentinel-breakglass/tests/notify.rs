//! The notifying wrapper: events after successful changes only, escalation
//! announced, failed deliveries never undo a change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sentinel_approval::{EventType, Notification, Notifier, NotifyError};
use sentinel_breakglass::{
    BreakGlassStore, BreakGlassStoreExt, Invocation, ManualClock, MemoryBreakGlassStore,
    NewBreakGlass, NotifyingBreakGlassStore, RateLimits, ReasonCode,
};

#[derive(Debug, Default)]
struct Recorder {
    seen: Mutex<Vec<Notification>>,
    fail: bool,
}

#[async_trait]
impl Notifier for Recorder {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.seen.lock().unwrap().push(n.clone());
        if self.fail {
            return Err(NotifyError::Config {
                reason: "the test notifier always fails".into(),
            });
        }
        Ok(())
    }
}

fn invocation(limits: RateLimits) -> Invocation {
    Invocation::unchecked(
        NewBreakGlass {
            invoker: sentinel_breakglass::Username::parse("alice").unwrap(),
            profile: "prod".into(),
            reason_code: ReasonCode::Security,
            justification: "credential leak, rotating keys now".into(),
            duration: Duration::from_secs(600),
        },
        limits,
    )
}

fn store(
    fail: bool,
) -> (
    Arc<Recorder>,
    ManualClock,
    NotifyingBreakGlassStore<MemoryBreakGlassStore>,
) {
    let clock = ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap());
    let rec = Arc::new(Recorder {
        fail,
        ..Recorder::default()
    });
    let inner = MemoryBreakGlassStore::with_clock(Arc::new(clock.clone()));
    (
        rec.clone(),
        clock,
        NotifyingBreakGlassStore::new(inner, rec),
    )
}

fn types(rec: &Recorder) -> Vec<EventType> {
    rec.seen
        .lock()
        .unwrap()
        .iter()
        .map(|n| n.event_type)
        .collect()
}

#[tokio::test]
async fn invoked_escalated_and_closed() {
    let (rec, clock, store) = store(false);
    let limits = RateLimits::none().with_escalation(2);
    let first = store.invoke(&invocation(limits.clone())).await.unwrap();
    store
        .close(&first.id, "security", "keys rotated")
        .await
        .unwrap();
    clock.advance(Duration::from_secs(60));
    let second = store.invoke(&invocation(limits.clone())).await.unwrap();
    assert!(second.escalated);
    // A refused invocation and a refused close send nothing.
    assert!(store.invoke(&invocation(limits)).await.is_err());
    assert!(store.close(&first.id, "security", "again").await.is_err());
    assert_eq!(
        types(&rec),
        [
            EventType::BreakGlassInvoked,
            EventType::BreakGlassClosed,
            EventType::BreakGlassInvoked,
            EventType::BreakGlassEscalated,
        ]
    );
    let last = rec.seen.lock().unwrap().last().cloned().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&last.to_json().unwrap()).unwrap();
    assert_eq!(v["event_type"], "breakglass.escalated");
    assert_eq!(v["subject"]["id"], second.id.as_str());
    assert_eq!(v["subject"]["escalated"], true);
    assert_eq!(v["subject"]["reason_code"], "security");
}

#[tokio::test]
async fn a_failed_notification_never_undoes_the_change() {
    let (rec, _clock, store) = store(true);
    let e = store.invoke(&invocation(RateLimits::none())).await.unwrap();
    assert!(
        store.inner().get(&e.id).await.unwrap().status
            == sentinel_breakglass::BreakGlassStatus::Active
    );
    store.close(&e.id, "security", "done").await.unwrap();
    assert_eq!(types(&rec).len(), 2);
}

#[tokio::test]
async fn sweep_announces_each_expiry_once() {
    let (rec, clock, store) = store(false);
    let e = store.invoke(&invocation(RateLimits::none())).await.unwrap();
    assert_eq!(store.sweep_expired().await.unwrap(), 0);
    clock.advance(Duration::from_secs(600));
    assert_eq!(store.sweep_expired().await.unwrap(), 1);
    assert_eq!(store.sweep_expired().await.unwrap(), 0);
    assert_eq!(
        types(&rec),
        [EventType::BreakGlassInvoked, EventType::BreakGlassExpired]
    );
    let last = rec.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.subject_id(), e.id);
    assert_eq!(last.occurred_at, e.expires_at);
}
