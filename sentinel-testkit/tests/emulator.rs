//! Smoke test against the AWS emulator: checks that `sdk_config` really talks
//! to moto (endpoint, credentials, region) when `scripts/test` runs it.

use aws_sdk_ssm::types::ParameterType;
use sentinel_testkit::{require_aws, sdk_config, unique_name};

#[tokio::test]
async fn ssm_parameter_round_trip() {
    let endpoint = require_aws!();
    let config = sdk_config(&endpoint).await;
    let ssm = aws_sdk_ssm::Client::new(&config);
    let name = format!("/sentinel-testkit/{}/value", unique_name("smoke"));

    ssm.put_parameter()
        .name(&name)
        .value("hello")
        .r#type(ParameterType::String)
        .send()
        .await
        .expect("put_parameter against the emulator");
    let got = ssm
        .get_parameter()
        .name(&name)
        .send()
        .await
        .expect("get_parameter against the emulator");

    assert_eq!(
        got.parameter().and_then(|p| p.value()),
        Some("hello"),
        "{got:?}"
    );
}
