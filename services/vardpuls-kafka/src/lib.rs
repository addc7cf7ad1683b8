//! Everything vardpuls says to Kafka goes through here: one place for client settings (TLS,
//! SASL, idempotence), topic layout, keys and dead-lettering.

pub mod admin;
pub mod config;
pub mod local_broker;
pub mod partitioner;
pub mod producer;
pub mod reader;

pub use config::{BrokerCompatibility, KafkaConfig};
pub use local_broker::{BrokerTls, LocalBroker};
pub use partitioner::partition_of;
pub use producer::EventProducer;
