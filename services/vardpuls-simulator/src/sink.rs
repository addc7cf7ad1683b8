//! Where simulated events go: Kafka (the input topics, keyed by unit) or NDJSON files, one per
//! topic (`phone.ndjson`, ...), the format `vardpuls import` and the benchmarks read.

use crate::SimEvent;
use anyhow::Context;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use vardpuls_core::Topic;
use vardpuls_kafka::EventProducer;

pub enum Sink {
    Kafka(EventProducer),
    Files { dir: PathBuf, writers: HashMap<Topic, std::io::BufWriter<std::fs::File>> },
}

impl Sink {
    pub fn files(dir: &Path) -> anyhow::Result<Sink> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Sink::Files { dir: dir.to_path_buf(), writers: HashMap::new() })
    }

    /// Sends a batch; for Kafka, resolves when every event is acknowledged.
    pub async fn send(&mut self, events: &[SimEvent]) -> anyhow::Result<()> {
        match self {
            Sink::Kafka(producer) => {
                for chunk in events.chunks(20_000) {
                    let sends: Vec<_> =
                        chunk.iter().map(|e| producer.send(e.topic, Some(&e.key), e.payload.clone())).collect();
                    for result in futures::future::join_all(sends).await {
                        result.context("producing a simulated event")?;
                    }
                }
            }
            Sink::Files { dir, writers } => {
                for e in events {
                    let writer = match writers.entry(e.topic) {
                        std::collections::hash_map::Entry::Occupied(w) => w.into_mut(),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            let path = dir.join(format!("{}.ndjson", e.topic.short_name()));
                            let file =
                                std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                            slot.insert(std::io::BufWriter::with_capacity(vardpuls_core::FILE_BUFFER_BYTES, file))
                        }
                    };
                    writer.write_all(&e.payload)?;
                    writer.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }

    pub fn finish(&mut self) -> anyhow::Result<()> {
        if let Sink::Files { writers, .. } = self {
            for w in writers.values_mut() {
                w.flush()?;
            }
        }
        Ok(())
    }
}

/// Totals of what was sent, by topic.
#[derive(Debug, Default, Clone)]
pub struct Sent {
    pub by_topic: HashMap<Topic, u64>,
}

impl Sent {
    pub fn add(&mut self, events: &[SimEvent]) {
        for e in events {
            *self.by_topic.entry(e.topic).or_default() += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.by_topic.values().sum()
    }
}
