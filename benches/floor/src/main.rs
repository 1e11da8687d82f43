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

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

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
    ([(header::CONTENT_TYPE, "application/json")], BODY).into_response()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(token)) = (args.next(), args.next()) else {
        eprintln!("usage: floor-endpoint PORT TOKEN");
        return ExitCode::from(2);
    };
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("floor-endpoint: PORT {port:?} is not a port number");
        return ExitCode::from(2);
    };
    let floor = Arc::new(Floor {
        token,
        host: format!("127.0.0.1:{port}"),
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
