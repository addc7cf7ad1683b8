//! End-to-end tests. Each test starts its own broker (nisshi, in memory, on a free port), so
//! tests run in parallel without sharing topics.

mod aggregator;
mod alerting;
mod backfill;
mod door;
mod http_ingest;
mod import;
mod import_mapped;
mod live_day;
mod observability;
mod order;
mod privacy;
mod scenario;
mod simulator;
mod supervision;
mod support;
mod tls;
