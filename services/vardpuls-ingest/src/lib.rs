//! Getting data into vardpuls.
//!
//! Both ways in, file import and HTTP, go through [`pipeline::Ingestor`]: validate a record
//! with the topic's contract, produce it keyed by unit, or dead-letter it with its reason.

pub mod alerts;
pub mod http;
pub mod import;
pub mod metrics;
pub mod pipeline;

pub use pipeline::{Ingestor, Outcome};
