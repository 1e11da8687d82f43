//! Notifiers against a real HTTP server on loopback and SNS on the emulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sentinel_approval::{
    AccessRequest, BreakGlassSubject, Error, EventType, FanOut, LogNotifier, MemoryRequestStore,
    NewRequest, Notification, Notifier, NotifyError, NotifyingRequestStore, RequestStatus,
    RequestStore, RequestStoreExt, RetryPolicy, SnsNotifier, WebhookNotifier,
};
use sentinel_store::Timeouts;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request the receiver saw.
#[derive(Debug, Clone)]
struct Seen {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A minimal HTTP/1.1 receiver: answers the scripted statuses in order
/// (then 200), records every request, stops when dropped.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(statuses: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut statuses = statuses.into_iter();
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let header_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(header_end) = header_end else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
                let headers: HashMap<String, String> = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let len: usize = headers
                    .get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < header_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[header_end..].to_vec();
                seen2.lock().unwrap().push(Seen { headers, body });
                let status = statuses.next().unwrap_or(200);
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        Self { url, seen, task }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::new(3, Duration::from_millis(20))
}

fn request() -> AccessRequest {
    AccessRequest::new(
        NewRequest {
            requester: sentinel_approval::Username::parse("alice").unwrap(),
            profile: "prod".into(),
            justification: "INC-4711: restart the payment workers".into(),
            duration: Duration::from_secs(3600),
        },
        Timestamp::now(),
    )
    .unwrap()
}

fn notification() -> Notification {
    let r = request();
    Notification::request(EventType::RequestCreated, &r, r.created_at)
}

#[tokio::test]
async fn webhook_delivers_signed_payload() {
    let rx = Receiver::start(vec![]).await;
    let secret = "s3cr3t-signing-key";
    let hook = WebhookNotifier::new(&rx.url)
        .unwrap()
        .with_secret(secret)
        .with_retry(fast_retry());
    let n = notification();
    hook.notify(&n).await.unwrap();

    let seen = rx.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.headers["content-type"], "application/json");
    assert_eq!(s.headers["x-sentinel-event"], "request.created");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&s.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(s.headers["x-sentinel-signature"], expected);
    assert_eq!(s.body, n.to_json().unwrap());
    let v: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
    assert_eq!(v["subject"]["id"], n.subject_id());
    assert!(!String::from_utf8_lossy(&s.body).contains(secret));
    assert!(!format!("{hook:?}").contains(secret));

    // Without a secret there is no signature header.
    let unsigned = WebhookNotifier::new(&rx.url).unwrap();
    unsigned.notify(&n).await.unwrap();
    assert!(!rx.seen()[1].headers.contains_key("x-sentinel-signature"));
}

#[tokio::test]
async fn webhook_retries_5xx() {
    let rx = Receiver::start(vec![503, 503, 200]).await;
    let hook = WebhookNotifier::new(&rx.url)
        .unwrap()
        .with_retry(fast_retry());
    hook.notify(&notification()).await.unwrap();
    assert_eq!(rx.seen().len(), 3);
}

#[tokio::test]
async fn webhook_gives_up_after_retries_on_5xx() {
    let rx = Receiver::start(vec![500; 10]).await;
    let hook = WebhookNotifier::new(&rx.url)
        .unwrap()
        .with_retry(RetryPolicy::new(2, Duration::from_millis(10)));
    let err = hook.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Delivery { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(rx.seen().len(), 3);
}

#[tokio::test]
async fn webhook_does_not_retry_4xx() {
    let rx = Receiver::start(vec![400]).await;
    let hook = WebhookNotifier::new(&rx.url)
        .unwrap()
        .with_secret("do-not-leak")
        .with_retry(fast_retry());
    let err = hook.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Rejected { status: 400, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&sentinel_approval::redact_url(&rx.url)),
        "{msg}"
    );
    assert!(!msg.contains("do-not-leak"));
    assert_eq!(rx.seen().len(), 1);
}

#[tokio::test]
async fn webhook_does_not_follow_redirects() {
    let rx = Receiver::start(vec![307]).await;
    let hook = WebhookNotifier::new(&rx.url)
        .unwrap()
        .with_retry(fast_retry());
    let err = hook.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Rejected { status: 307, .. }),
        "{err}"
    );
    assert_eq!(rx.seen().len(), 1);
}

#[tokio::test]
async fn webhook_connection_refused_fails_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    drop(listener);
    let hook = WebhookNotifier::new(&url).unwrap().with_retry(fast_retry());
    let err = hook.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Delivery { attempts: 4, .. }),
        "{err}"
    );
    // The URL is shown without its path (which may hold a token).
    let shown = url.trim_end_matches("/hook").to_owned() + "/…";
    assert!(err.to_string().contains(&shown), "{err}");
    assert!(!err.to_string().contains("/hook"), "{err}");
}

#[tokio::test]
async fn webhook_times_out() {
    // Accepts the connection but never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut socks = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            socks.push(s);
        }
    });
    let hook = WebhookNotifier::new(&url)
        .unwrap()
        .with_timeout(Duration::from_millis(100))
        .with_retry(RetryPolicy::new(1, Duration::from_millis(10)));
    let err = hook.notify(&notification()).await.unwrap_err();
    assert!(
        matches!(err, NotifyError::Delivery { attempts: 2, .. }),
        "{err}"
    );
    holder.abort();
}

#[tokio::test]
async fn webhook_silent_endpoint_fails_within_the_total_limit() {
    // Accepts the connection, never answers: the attempts are cut by the
    // per-attempt limit, the whole delivery by the total limit.
    let silent = sentinel_testkit::SilentServer::start();
    let url = format!("{}/hooks/T0/SECRETTOKEN?sig=abc", silent.url());
    let hook = WebhookNotifier::new(&url)
        .unwrap()
        .with_timeouts(Timeouts {
            connect: Duration::from_secs(1),
            attempt: Duration::from_millis(400),
            operation: Duration::from_secs(1),
        })
        .unwrap()
        .with_retry(RetryPolicy::new(10, Duration::from_millis(50)));
    let started = std::time::Instant::now();
    let err = hook.notify(&notification()).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "it returned at all"
    );
    let msg = err.to_string();
    assert!(matches!(err, NotifyError::Delivery { .. }), "{msg}");
    assert!(msg.contains("total limit of 1s"), "{msg}");
    assert!(msg.contains(&format!("{}/…", silent.url())), "{msg}");
    assert!(
        !msg.contains("SECRETTOKEN") && !msg.contains("sig=abc"),
        "{msg}"
    );
}

#[tokio::test]
async fn sns_silent_endpoint_fails_with_a_named_timeout() {
    let silent = sentinel_testkit::SilentServer::start();
    let config = sentinel_testkit::sdk_config_with_timeouts(
        &silent.url(),
        Timeouts::all(Duration::from_secs(1)),
    )
    .await;
    let notifier = SnsNotifier::new(
        aws_sdk_sns::Client::new(&config),
        "arn:aws:sns:us-east-1:123456789012:sentinel",
    );
    let err = notifier.notify(&notification()).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, NotifyError::Sns { .. }), "{msg}");
    assert!(
        msg.contains(&format!("SNS at {} did not answer in time", silent.url())),
        "{msg}"
    );
    assert!(msg.contains("after 1s"), "{msg}");
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn payload_has_stable_snake_case_keys() {
    let n = notification();
    let v: serde_json::Value = serde_json::from_slice(&n.to_json().unwrap()).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["event_type"], "request.created");
    let at: Timestamp = v["occurred_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, n.occurred_at);
    assert!(v["occurred_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        keys(&v),
        set(&["event_type", "occurred_at", "schema_version", "subject"])
    );
    assert_eq!(
        keys(&v["subject"]),
        set(&[
            "id",
            "requester",
            "profile",
            "justification",
            "duration_seconds",
            "status",
            "approver",
            "approver_comment",
            "created_at",
            "approved_at",
            "expires_at",
        ])
    );
    assert_eq!(v["subject"]["duration_seconds"], 3600);
    assert_eq!(v["subject"]["status"], "pending");

    let bg = Notification::break_glass(
        EventType::BreakGlassInvoked,
        BreakGlassSubject {
            id: "bg1".into(),
            invoker: "alice".into(),
            profile: "prod".into(),
            reason_code: "incident".into(),
            justification: "database is down, restoring from backup".into(),
            status: "active".into(),
            expires_at: Timestamp::now(),
            closed_by: None,
            close_reason: None,
            escalated: false,
        },
        Timestamp::now(),
    );
    let v: serde_json::Value = serde_json::from_slice(&bg.to_json().unwrap()).unwrap();
    assert_eq!(v["event_type"], "breakglass.invoked");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        keys(&v["subject"]),
        set(&[
            "id",
            "invoker",
            "profile",
            "reason_code",
            "justification",
            "status",
            "expires_at",
            "closed_by",
            "close_reason",
            "escalated",
        ])
    );
}

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn events(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["event_type"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

/// A writer that always fails.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn notifying_store_sends_only_after_success() {
    let buf = Buf::default();
    let store = NotifyingRequestStore::new(
        MemoryRequestStore::new(),
        Arc::new(LogNotifier::new(buf.clone())),
    );
    let r = request();
    store.create(&r).await.unwrap();
    assert!(matches!(
        store.approve(&r.id, "alice", None).await,
        Err(Error::SelfApproval { .. })
    ));
    assert!(matches!(
        store.cancel(&r.id, "mallory").await,
        Err(Error::Forbidden { .. })
    ));
    assert!(store.create(&r).await.is_err());
    assert_eq!(buf.events(), ["request.created"]);
    store.approve(&r.id, "bob", Some("ok")).await.unwrap();
    assert!(store.deny(&r.id, "carol", None).await.is_err());
    assert_eq!(buf.events(), ["request.created", "request.approved"]);

    let r2 = request();
    store.create(&r2).await.unwrap();
    store.deny(&r2.id, "bob", None).await.unwrap();
    let r3 = request();
    store.create(&r3).await.unwrap();
    store.cancel(&r3.id, "alice").await.unwrap();
    assert_eq!(
        buf.events(),
        [
            "request.created",
            "request.approved",
            "request.created",
            "request.denied",
            "request.created",
            "request.cancelled",
        ]
    );
}

#[tokio::test]
async fn sweep_announces_each_expiry_once() {
    let buf = Buf::default();
    let clock = sentinel_testkit::test_clock();
    let store = NotifyingRequestStore::new(
        MemoryRequestStore::with_clock(Arc::new(clock.clone())),
        Arc::new(LogNotifier::new(buf.clone())),
    );
    let r = AccessRequest::new(
        NewRequest {
            requester: sentinel_approval::Username::parse("alice").unwrap(),
            profile: "prod".into(),
            justification: "INC-4711: restart the payment workers".into(),
            duration: Duration::from_secs(3600),
        },
        sentinel_approval::Clock::now(&clock),
    )
    .unwrap();
    store.create(&r).await.unwrap();
    assert_eq!(store.sweep_expired().await.unwrap(), 0);
    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(store.sweep_expired().await.unwrap(), 1);
    assert_eq!(store.sweep_expired().await.unwrap(), 0);
    assert_eq!(buf.events(), ["request.created", "request.expired"]);
}

#[tokio::test]
async fn failed_notification_never_fails_the_change() {
    let store = NotifyingRequestStore::new(
        MemoryRequestStore::new(),
        Arc::new(LogNotifier::new(Broken)),
    );
    let r = request();
    store.create(&r).await.unwrap();
    let approved = store.approve(&r.id, "bob", None).await.unwrap();
    assert_eq!(approved.status, RequestStatus::Approved);
    assert_eq!(
        store.inner().get(&r.id).await.unwrap().status,
        RequestStatus::Approved
    );
}

#[tokio::test]
async fn fan_out_continues_past_failures() {
    let a = Buf::default();
    let b = Buf::default();
    let fan = FanOut::new(vec![
        Arc::new(LogNotifier::new(a.clone())),
        Arc::new(LogNotifier::new(Broken)),
        Arc::new(LogNotifier::new(b.clone())),
    ]);
    let err = fan.notify(&notification()).await.unwrap_err();
    match &err {
        NotifyError::FanOut { total, failures } => {
            assert_eq!(*total, 3);
            assert_eq!(failures.len(), 1);
            assert_eq!(failures[0].0, 1);
        }
        other => panic!("{other}"),
    }
    assert!(err.to_string().contains("disk full"), "{err}");
    assert_eq!(a.events(), ["request.created"]);
    assert_eq!(b.events(), ["request.created"]);
    assert!(FanOut::default().notify(&notification()).await.is_ok());
}

#[tokio::test]
async fn sns_publishes_to_emulator() {
    let endpoint = sentinel_testkit::require_aws!();
    let config = sentinel_testkit::sdk_config(&endpoint).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .create_topic()
        .name(sentinel_testkit::unique_name("notify"))
        .send()
        .await
        .expect("create_topic against the emulator")
        .topic_arn
        .expect("topic arn");
    let notifier = SnsNotifier::new(sns.clone(), &topic);
    let id = notifier.publish(&notification()).await.unwrap();
    assert!(id.is_some_and(|id| !id.is_empty()));
    notifier.notify(&notification()).await.unwrap();

    let missing = SnsNotifier::new(sns, format!("{topic}-missing"));
    let err = missing.notify(&notification()).await.unwrap_err();
    assert!(matches!(err, NotifyError::Sns { .. }), "{err}");
    assert!(err.to_string().contains("-missing"), "{err}");
}
