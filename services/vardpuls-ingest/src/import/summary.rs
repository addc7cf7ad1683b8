//! What an import did: read, produced and refused records, by reason.

use crate::pipeline::Outcome;
use rdkafka::error::KafkaError;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
use vardpuls_core::Topic;
use vardpuls_core::rejection::Rule;

#[derive(Debug, Clone)]
pub struct Summary {
    pub topic: Topic,
    /// Records read: NDJSON lines, CSV or Parquet rows.
    pub read: u64,
    /// Valid events produced to the topic (a mapped row may imply several).
    pub produced: u64,
    /// Invalid records produced to the dead-letter topic.
    pub rejected: u64,
    pub rejected_by_rule: BTreeMap<Rule, u64>,
    /// Records (valid or dead letters) Kafka did not acknowledge. Non-zero means re-run.
    pub delivery_failed: u64,
    pub first_delivery_error: Option<String>,
    pub elapsed: Duration,
    /// The first events produced, as JSON: what `--dry-run` shows of a mapping.
    pub preview: Vec<String>,
}

impl Summary {
    pub fn new(topic: Topic) -> Summary {
        Summary {
            topic,
            read: 0,
            produced: 0,
            rejected: 0,
            rejected_by_rule: BTreeMap::new(),
            delivery_failed: 0,
            first_delivery_error: None,
            elapsed: Duration::ZERO,
            preview: Vec::new(),
        }
    }

    pub(crate) fn row_read(&mut self) {
        self.read += 1;
    }

    /// One event produced, or one record dead-lettered.
    pub(crate) fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Accepted { .. } => self.produced += 1,
            Outcome::Rejected { reason } => {
                self.rejected += 1;
                *self.rejected_by_rule.entry(reason.rule).or_default() += 1;
            }
        }
    }

    pub(crate) fn delivered(&mut self, result: Result<(), KafkaError>) {
        if let Err(e) = result {
            self.delivery_failed += 1;
            self.first_delivery_error.get_or_insert_with(|| e.to_string());
        }
    }

    pub(crate) fn progress_message(&self) -> String {
        format!("{} records, {} rejected", self.read, self.rejected)
    }

    pub fn records_per_second(&self) -> f64 {
        self.read as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Adds another file's counts (for a multi-file import's total).
    pub fn merge(&mut self, other: &Summary) {
        self.read += other.read;
        self.produced += other.produced;
        self.rejected += other.rejected;
        for (rule, n) in &other.rejected_by_rule {
            *self.rejected_by_rule.entry(*rule).or_default() += n;
        }
        self.delivery_failed += other.delivery_failed;
        if self.first_delivery_error.is_none() {
            self.first_delivery_error.clone_from(&other.first_delivery_error);
        }
        self.elapsed += other.elapsed;
        let room = super::PREVIEW_EVENTS.saturating_sub(self.preview.len());
        self.preview.extend(other.preview.iter().take(room).cloned());
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "topic            {}", self.topic)?;
        writeln!(f, "read             {}", self.read)?;
        writeln!(f, "produced         {}", self.produced)?;
        writeln!(f, "rejected (DLQ)   {}", self.rejected)?;
        for (rule, n) in &self.rejected_by_rule {
            writeln!(f, "  {:<30} {n}", rule.as_str())?;
        }
        if self.delivery_failed > 0 {
            writeln!(
                f,
                "DELIVERY FAILED  {} (first error: {}); re-run the import, event ids make it safe",
                self.delivery_failed,
                self.first_delivery_error.as_deref().unwrap_or("?")
            )?;
        }
        write!(f, "elapsed          {:.1} s ({:.0} records/s)", self.elapsed.as_secs_f64(), self.records_per_second())
    }
}
