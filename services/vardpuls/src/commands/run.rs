//! `vardpuls run`: start services. Without a configured Kafka it starts a local broker on
//! `127.0.0.1:9092` first, creates the topics, and stops the broker on exit.

use crate::configuration::Config;
use crate::server;
use crate::supervisor::{ServiceMetrics, Start, supervise};
use anyhow::Context;
use prometheus::Registry;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::{JoinHandle, JoinSet};
use vardpuls_aggregator::metrics::AggregatorMetrics;
use vardpuls_exporter::metrics::ExporterMetrics;
use vardpuls_exporter::presentation::Presenter;
use vardpuls_exporter::targets::Targets;
use vardpuls_exporter::view::{KpiView, Retention};
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::metrics::IngestMetrics;
use vardpuls_kafka::{EventProducer, LocalBroker};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Every service in this process: for a laptop or a demo.
    All,
    /// HTTP ingest.
    Ingest,
    /// The KPI engine: input topics to `vardpuls.kpi.v1`.
    Aggregator,
    /// Unit values summed to kommun and region, in `vardpuls.kpi.v1`.
    Rollup,
    /// KPIs as Prometheus metrics, JSON API and wallboard, from `vardpuls.kpi.v1`.
    Exporter,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "all")]
    target: Target,
    /// Also run the simulator live (Region Dalarna, the last `--simulate-days` days first), so
    /// there is something to see without own data. `make run` turns it on.
    #[arg(long)]
    simulate: bool,
    #[arg(long, default_value_t = 35)]
    simulate_days: u32,
}

pub async fn run(mut config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let local_broker = if config.kafka.bootstrap_servers.is_empty() {
        let port = config.local.broker_port;
        // Not spawn_blocking: the broker dies with the thread that started it (see LocalBroker),
        // and pooled blocking threads end when idle. This is the main thread.
        let broker = tokio::task::block_in_place(|| LocalBroker::start_on(port))?;
        config.kafka.bootstrap_servers = broker.bootstrap_servers().to_string();
        // The local broker keeps its topics in memory: a previous run's checkpoints point at
        // offsets that no longer exist and would make the aggregator skip new events.
        discard_state(&config.aggregator.state_dir)?;
        Some(broker)
    } else {
        None
    };
    if config.kafka.create_topics {
        vardpuls_kafka::admin::ensure_topics(&config.kafka).await.context("creating topics")?;
    }

    let registry = Registry::new();
    let mut where_to_look = Vec::new();
    // Every target serves /metrics and /healthz; ingest adds its routes.
    let mut app = axum::Router::new();
    let listener = server::bind(&config.ingest.listen).await?;
    let address = listener.local_addr()?;
    if matches!(args.target, Target::All | Target::Ingest) {
        let producer = EventProducer::new(&config.kafka)?;
        let ingestor = Ingestor::new(producer, Some(IngestMetrics::register(&registry)?));
        app = app.merge(vardpuls_ingest::http::router(ingestor, &config.ingest).context("ingest.mappings_dir")?);
        where_to_look.push(format!(
            "ingest      POST http://{address}/v1/events/{{phone|visits|listings|chats}} (NDJSON, bearer token)"
        ));
        if let Some(dir) = &config.ingest.mappings_dir {
            where_to_look.push(format!(
                "ingest      POST http://{address}/v1/exports/{{mapping}} (CSV exports, mappings in {})",
                dir.display()
            ));
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    // Together in one process, a failed service is restarted in place; alone, its error ends
    // the process for the platform to restart (see supervisor.rs).
    let restart = args.target == Target::All;
    let services = ServiceMetrics::register(&registry)?;
    let mut aggregator: Option<JoinHandle<anyhow::Result<()>>> = None;
    if matches!(args.target, Target::All | Target::Aggregator) {
        let metrics = AggregatorMetrics::register(&registry)?;
        let (kafka, settings, service_stop) = (config.kafka.clone(), config.aggregator.clone(), stop.clone());
        let assignment = vardpuls_aggregator::assignment::Assignment::of(&settings)?;
        where_to_look.push(format!(
            "aggregator  {assignment}, group {} -> vardpuls.kpi.v1 (state in {})",
            settings.consumer_group,
            settings.state_dir.display()
        ));
        let start: Start = Box::new(move || {
            let (kafka, settings, metrics, stop) =
                (kafka.clone(), settings.clone(), metrics.clone(), service_stop.clone());
            Ok(tokio::task::spawn_blocking(move || {
                vardpuls_aggregator::consumer::run(&kafka, settings, Some(metrics), stop)
            }))
        });
        aggregator = Some(supervise("aggregator", start, restart, stop.clone(), services.clone()));
    }
    let mut rollup: Option<JoinHandle<anyhow::Result<()>>> = None;
    if matches!(args.target, Target::All | Target::Rollup) {
        let units = vardpuls_core::units::UnitRegistry::load(&config.aggregator.units_file)?;
        where_to_look.push(format!(
            "rollup      {} units from {}",
            units.len(),
            config.aggregator.units_file.display()
        ));
        let metrics = vardpuls_rollup::service::RollupMetrics::register(&registry)?;
        let (kafka, service_stop, rollup_config) = (config.kafka.clone(), stop.clone(), config.rollup.clone());
        let start: Start = Box::new(move || {
            let (kafka, units, metrics, stop) = (kafka.clone(), units.clone(), metrics.clone(), service_stop.clone());
            let rollup_config = rollup_config.clone();
            Ok(tokio::task::spawn_blocking(move || {
                vardpuls_rollup::service::run(&kafka, &rollup_config, units, Some(metrics), stop)
            }))
        });
        rollup = Some(supervise("rollup", start, restart, stop.clone(), services.clone()));
    }
    let mut extra_metrics: Vec<server::ExtraFamilies> = Vec::new();
    let mut exporter: Option<JoinHandle<anyhow::Result<()>>> = None;
    if matches!(args.target, Target::All | Target::Exporter) {
        let state = exporter_state(&config)?;
        let metrics = ExporterMetrics::register(&registry)?;
        let (kafka, service_stop, service_state) = (config.kafka.clone(), stop.clone(), state.clone());
        let exporter_group_id = config.exporter.group_id.clone();
        let start: Start = Box::new(move || {
            let (kafka, state, metrics, stop) =
                (kafka.clone(), service_state.clone(), metrics.clone(), service_stop.clone());
            let group_id = exporter_group_id.clone();
            Ok(tokio::task::spawn_blocking(move || {
                vardpuls_exporter::service::run(&kafka, &group_id, state, Some(metrics), stop)
            }))
        });
        exporter = Some(supervise("exporter", start, restart, stop.clone(), services.clone()));
        let scrape_state = state.clone();
        extra_metrics.push(Arc::new(move || {
            let view = scrape_state.view.read().expect("lock");
            vardpuls_exporter::exposition::families(&view, &scrape_state.presenter, chrono::Utc::now())
        }));
        app = app.merge(vardpuls_exporter::api::router(state));
        where_to_look.push(format!("wallboard   http://{address}/wallboard"));
        where_to_look.push(format!("api         http://{address}/api/v1/kpis (OpenAPI: /api/v1/openapi.json)"));
    }
    let mut simulator: Option<JoinHandle<anyhow::Result<()>>> = None;
    if args.simulate {
        let sim = Arc::new(vardpuls_simulator::stream::Simulation::new(
            vardpuls_simulator::registry::dalarna(),
            1,
            vardpuls_simulator::faults::Faults::demo(),
        ));
        let (kafka, days, service_stop) = (config.kafka.clone(), args.simulate_days, stop.clone());
        let start: Start = Box::new(move || {
            let (sim, stop) = (sim.clone(), service_stop.clone());
            let mut sink = vardpuls_simulator::sink::Sink::Kafka(EventProducer::new(&kafka)?);
            Ok(tokio::spawn(async move { vardpuls_simulator::live::run(&sim, &mut sink, days, stop).await }))
        });
        simulator = Some(supervise("simulator", start, restart, stop.clone(), services.clone()));
        where_to_look
            .push(format!("simulator   Region Dalarna, live, after {days} days of history (with demo faults)"));
    }
    where_to_look.push(format!("metrics     http://{address}/metrics"));
    let mut http = JoinSet::new();
    http.spawn(server::serve(listener, app, registry.clone(), extra_metrics, config.ingest.connection_limits()));

    print_banner(&config, local_broker.is_some(), &where_to_look);
    let outcome: anyhow::Result<()> = tokio::select! {
        _ = shutdown_signal() => { tracing::info!("shutting down"); Ok(()) }
        Some(result) = http.join_next() => Err(anyhow::anyhow!("HTTP server stopped: {:?}", result)),
        result = wait(&mut aggregator) => {
            aggregator = None; // finished: its handle must not be awaited again
            Err(anyhow::anyhow!("aggregator stopped: {result:?}"))
        }
        result = wait(&mut rollup) => {
            rollup = None;
            Err(anyhow::anyhow!("roll-up stopped: {result:?}"))
        }
        result = wait(&mut exporter) => {
            exporter = None;
            Err(anyhow::anyhow!("exporter stopped: {result:?}"))
        }
        result = wait(&mut simulator) => {
            simulator = None;
            Err(anyhow::anyhow!("simulator stopped: {result:?}"))
        }
    };
    // The aggregator finishes its batch and checkpoints before it leaves the group.
    stop.store(true, Ordering::Relaxed);
    for handle in [aggregator, rollup, exporter, simulator].into_iter().flatten() {
        handle.await.context("service panicked")??;
    }
    http.shutdown().await;
    drop(local_broker);
    outcome.map(|()| ExitCode::SUCCESS)
}

fn discard_state(state_dir: &std::path::Path) -> anyhow::Result<()> {
    if state_dir.exists() {
        tracing::info!(dir = %state_dir.display(), "new in-memory broker: discarding the previous run's aggregator state");
        std::fs::remove_dir_all(state_dir).with_context(|| format!("removing {}", state_dir.display()))?;
    }
    Ok(())
}

/// Resolves when the service ends; never, when there is none.
async fn wait(handle: &mut Option<JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
    match handle.as_mut() {
        Some(h) => h.await.context("service panicked")?,
        None => std::future::pending().await,
    }
}

fn print_banner(config: &Config, local: bool, where_to_look: &[String]) {
    let kafka = &config.kafka.bootstrap_servers;
    println!("vardpuls is running.");
    println!("kafka       {kafka}{}", if local { " (local tansu broker, in memory; stops with vardpuls)" } else { "" });
    for line in where_to_look {
        println!("{line}");
    }
    let token = config.ingest.tokens.first().map(String::as_str).unwrap_or("<set VARDPULS_INGEST_TOKENS>");
    println!();
    println!("try it:");
    println!(
        "  curl -H 'Authorization: Bearer {token}' --data-binary @deploy/local/sample/phone.ndjson http://{}/v1/events/phone",
        config.ingest.listen
    );
    println!(
        "  VARDPULS_KAFKA_BOOTSTRAP_SERVERS={kafka} cargo run -q -p vardpuls -- import --topic visits deploy/local/sample/visits.ndjson"
    );
    println!("  VARDPULS_KAFKA_BOOTSTRAP_SERVERS={kafka} cargo run -q -p vardpuls -- tail --topic kpi");
    println!("  VARDPULS_KAFKA_BOOTSTRAP_SERVERS={kafka} cargo run -q -p vardpuls -- tail --topic dlq");
    println!("stop with Ctrl-C.");
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The exporter's shared state: targets and units loaded, an empty view to rebuild.
fn exporter_state(config: &Config) -> anyhow::Result<vardpuls_exporter::ExporterState> {
    let targets = Targets::load(&config.exporter.targets_file, &vardpuls_exporter::known_kpis())?;
    let units = vardpuls_core::units::UnitRegistry::load(&config.aggregator.units_file)?;
    let presenter = Presenter { targets, units, min_cases: config.exporter.min_cases };
    let retention = Retention { days: config.exporter.history_days, ..Retention::default() };
    Ok(vardpuls_exporter::ExporterState::new(KpiView::new(retention), presenter))
}
