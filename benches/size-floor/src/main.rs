//! The floor for the size of the `sentinel` binary: a program that links
//! the third-party code Sentinel cannot do without and nothing of
//! Sentinel's own. It loads the AWS configuration the way Sentinel does
//! (profiles, SSO, `credential_process`, rustls on *ring*), makes each AWS
//! call Sentinel makes (STS, DynamoDB, SSM, SNS), opens a SQLite file,
//! serves one HTTP route with axum, parses its arguments with clap, reads
//! YAML events (saphyr) and JSON (serde_json) and looks up a time zone in
//! the bundled database (jiff), so that the optimiser keeps exactly that
//! code. Built with the workspace's release profile, its size beside
//! `sentinel`'s says how much of the binary is Sentinel's own:
//!
//! ```sh
//! cargo build --release -p sentinel-cli -p sentinel-size-floor
//! ls -l target/release/sentinel target/release/size-floor
//! ```
//!
//! Running it makes the calls against whatever endpoint the environment
//! names (`AWS_ENDPOINT_URL`); it is built to be measured, not run.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use axum::Router;
use axum::routing::get;

/// The one argument: a policy-like document.
#[derive(Debug, clap::Parser)]
struct Args {
    /// YAML text.
    document: String,
    /// A time zone name.
    #[arg(long, default_value = "UTC")]
    zone: String,
}

async fn calls(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let events = saphyr_parser::Parser::new_from_str(&args.document).count();
    let json: serde_json::Value = serde_json::from_str(&args.document)?;
    let zone = jiff::tz::TimeZone::get(&args.zone)?;
    println!(
        "{events} {json} {}",
        zone.to_datetime(jiff::Timestamp::now())
    );

    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .load()
        .await;

    let sts = aws_sdk_sts::Client::new(&config);
    sts.get_caller_identity().send().await?;
    sts.get_session_token().send().await?;
    sts.assume_role()
        .role_arn("arn:aws:iam::123456789012:role/r")
        .role_session_name("s")
        .source_identity("s")
        .send()
        .await?;

    let ddb = aws_sdk_dynamodb::Client::new(&config);
    ddb.get_item().table_name("t").send().await?;
    ddb.put_item().table_name("t").send().await?;
    ddb.update_item().table_name("t").send().await?;
    ddb.query().table_name("t").send().await?;
    ddb.scan().table_name("t").send().await?;
    ddb.transact_write_items().send().await?;
    ddb.create_table().table_name("t").send().await?;
    ddb.update_time_to_live().table_name("t").send().await?;

    let ssm = aws_sdk_ssm::Client::new(&config);
    ssm.get_parameter().name("p").send().await?;
    ssm.get_parameters_by_path().path("/p").send().await?;
    ssm.put_parameter().name("p").value("v").send().await?;

    let sns = aws_sdk_sns::Client::new(&config);
    sns.publish().topic_arn("arn").message("m").send().await?;

    let db = rusqlite::Connection::open_in_memory()?;
    db.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY)")?;

    let app: Router = Router::new().route("/", get(|| async { "{}" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() -> ExitCode {
    let args = <Args as clap::Parser>::parse();
    let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(calls(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("size-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
