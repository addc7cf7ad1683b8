//! The exporter: what operations centres, analysts and on-call staff see.
//!
//! It rebuilds a view of `vardpuls.kpi.v1` ([`service`], [`view`]), decides targets, status and
//! suppression ([`targets`], [`presentation`]) and serves them as Prometheus series
//! ([`exposition`]), a JSON API and a wallboard ([`api`]). [`rules`] generates the Prometheus
//! alert rules from the same catalogue and targets.

pub mod api;
pub mod comparisons;
pub mod config;
pub mod exposition;
pub mod metrics;
pub mod presentation;
pub mod rules;
pub mod service;
pub mod state;
pub mod targets;
pub mod view;
pub mod year_of_days;

pub use config::ExporterConfig;
pub use state::ExporterState;
