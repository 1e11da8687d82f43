//! The floor for the local credential server's speed: the least an
//! endpoint for `AWS_CONTAINER_CREDENTIALS_FULL_URI` can do. It checks the
//! `Authorization` token (in constant time) and the `Host`, and answers
//! fixed credential JSON; no policy, no revocation, no log.
//!
//! `scripts/bench-server` drives it with `wrk` beside `sentinel exec
//! --server`, in the same run, on the same machine:
//!
//! ```sh
//! cargo run --release -p sentinel-floor -- PORT TOKEN
//! ```
//!
//! It runs on the same runtime as the `sentinel` binary (Tokio, two
//! worker threads) and the same HTTP stack (axum on hyper).
//!
//! With a third argument, a directory, it also does the I/O that every
//! request to the credential server must do, in the least costly way, and
//! nothing else: one read of a SQLite file (WAL mode, a point read inside
//! one read transaction, as the revocation check does) and one append of a
//! fixed line to a log file under an exclusive `flock`, after checking the
//! file's length (as the hash-chained decision log does to see another
//! process's lines). That is the floor for a server that checks revocation
//! and logs every answer:
//!
//! ```sh
//! cargo run --release -p sentinel-floor -- PORT TOKEN DIR
//! ```

use std::fs::File;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq as _;

const BODY: &str = r#"{"AccessKeyId":"ASIAFLOOREXAMPLE0001","SecretAccessKey":"floor/secret/key/for/benchmarks/only/00000","Token":"FwoGZXIvYXdzEFloorTokenForBenchmarksOnly","Expiration":"2030-01-01T00:00:00Z"}"#;

#[derive(Debug)]
struct Floor {
    token: String,
    host: String,
    io: Option<Io>,
}

/// The I/O every request to the credential server does, at its cheapest.
#[derive(Debug)]
struct Io {
    db: Mutex<rusqlite::Connection>,
    log: Mutex<File>,
}

/// A line as long as a decision log line.
const LINE: &[u8] = concat!(
    r#"{"seq":1,"time":"2030-01-01T00:00:00.000000Z","request_id":"0123456789abcdef0123456789abcdef","#,
    r#""user":"alice","profile":"dev","mode":"server","effect":"allow","reason":"rule dev-through-the-server allows; served from cache","#,
    r#""source_identity":"sentinel.alice.0123456789abcdef","role_arn":"arn:aws:iam::123456789012:role/dev-admin","#,
    r#""policy":"file:/home/alice/.config/sentinel/policy.yaml","prev":"0000000000000000000000000000000000000000000000000000000000000000","#,
    r#""hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#,
    "\n"
)
.as_bytes();

impl Io {
    fn open(dir: &Path) -> Result<Self, String> {
        let path = dir.join("floor.db");
        let setup = rusqlite::Connection::open(&path).map_err(|e| e.to_string())?;
        setup
            .execute_batch(
                "PRAGMA journal_mode=WAL;
                 CREATE TABLE IF NOT EXISTS revocations (user TEXT PRIMARY KEY, reason TEXT NOT NULL);
                 INSERT OR REPLACE INTO revocations VALUES ('mallory', 'left the company');",
            )
            .map_err(|e| e.to_string())?;
        let db = rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| e.to_string())?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(dir.join("floor.log"))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            db: Mutex::new(db),
            log: Mutex::new(log),
        })
    }

    /// One revocation read and one log line; `false` on any failure.
    fn request(&self) -> bool {
        let db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        let read = (|| -> rusqlite::Result<bool> {
            db.prepare_cached("BEGIN")?.execute([])?;
            let revoked = db
                .prepare_cached("SELECT 1 FROM revocations WHERE user = ?1")?
                .exists(["alice"])?;
            db.prepare_cached("COMMIT")?.execute([])?;
            Ok(revoked)
        })();
        drop(db);
        if read != Ok(false) {
            return false;
        }
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        if log.lock().is_err() {
            return false;
        }
        let written = log.metadata().is_ok() && log.write_all(LINE).is_ok();
        let _ = log.unlock();
        written
    }
}

async fn credentials(State(floor): State<Arc<Floor>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let host_ok = headers
        .get(header::HOST)
        .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(floor.host.as_bytes()));
    if !host_ok || !bool::from(token.ct_eq(floor.token.as_bytes())) {
        return (StatusCode::FORBIDDEN, "{\"code\":\"forbidden\"}").into_response();
    }
    if let Some(io) = &floor.io
        && !io.request()
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{\"code\":\"internal\"}").into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], BODY).into_response()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(token)) = (args.next(), args.next()) else {
        eprintln!("usage: floor-endpoint PORT TOKEN [DIR]");
        return ExitCode::from(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("floor-endpoint: PORT {port:?} is not a port number");
        return ExitCode::from(2);
    };
    let io = match args.next().map(|dir| Io::open(Path::new(&dir))) {
        None => None,
        Some(Ok(io)) => Some(io),
        Some(Err(e)) => {
            eprintln!("floor-endpoint: cannot open the files in DIR: {e}");
            return ExitCode::FAILURE;
        }
    };
    let floor = Arc::new(Floor {
        token,
        host: format!("127.0.0.1:{port}"),
        io,
    });
    let app = Router::new().route("/", get(credentials)).with_state(floor);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("floor-endpoint: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        // As the local server does: no Nagle delay.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("floor-endpoint: {e}");
            ExitCode::FAILURE
        }
    }
}
