//! The SNS notifier.

use async_trait::async_trait;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use sentinel_store::aws::{EndpointRecorder, no_answer};

use super::{Notification, Notifier, NotifyError};

/// Publishes each notification's JSON to an SNS topic with the message
/// attribute `event_type` (String), so subscriptions can filter on it.
/// Takes an already-built client; it never loads AWS config itself.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    endpoint: EndpointRecorder,
}

impl SnsNotifier {
    /// Publishes to `topic_arn` with `client`. The client keeps its
    /// configuration (timeouts included); a timeout names the endpoint
    /// that did not answer.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        let endpoint = EndpointRecorder::new();
        let client = aws_sdk_sns::Client::from_conf(
            client
                .config()
                .to_builder()
                .interceptor(endpoint.clone())
                .build(),
        );
        Self {
            client,
            topic_arn: topic_arn.into(),
            endpoint,
        }
    }

    /// The topic ARN.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publishes `n` and returns the SNS message id.
    pub async fn publish(&self, n: &Notification) -> Result<Option<String>, NotifyError> {
        let event = n.event_type;
        let err = |reason: String| NotifyError::Sns {
            topic: self.topic_arn.clone(),
            event,
            reason,
        };
        let body = String::from_utf8(n.to_json()?).map_err(|e| err(e.to_string()))?;
        let attribute = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(event.as_str())
            .build()
            .map_err(|e| err(e.to_string()))?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .message_attributes("event_type", attribute)
            .send()
            .await
            .map_err(|e| {
                err(no_answer("SNS", &self.endpoint, &e)
                    .unwrap_or_else(|| DisplayErrorContext(&e).to_string()))
            })?;
        Ok(out.message_id)
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.publish(n).await.map(|_| ())
    }
}
