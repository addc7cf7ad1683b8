//! Creates the vardpuls topics when they are missing.

use crate::config::KafkaConfig;
use anyhow::Context;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;
use vardpuls_core::Topic;

/// Creates every vardpuls topic that does not exist yet, with `config.partitions` partitions.
/// Existing topics are left as they are.
pub async fn ensure_topics(config: &KafkaConfig) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        config.client_config().create().context("creating Kafka admin client")?;
    let new_topics: Vec<NewTopic> = Topic::ALL
        .iter()
        .map(|t| {
            let topic = NewTopic::new(t.name(), config.partitions, TopicReplication::Fixed(config.replication_factor));
            if t.is_compacted() { topic.set("cleanup.policy", "compact") } else { topic }
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(&new_topics, &options).await.context("creating topics")?;
    for result in results {
        match result {
            Ok(name) => {
                tracing::info!(topic = %name, partitions = config.partitions, "created topic")
            }
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}
