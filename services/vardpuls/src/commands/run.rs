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

/// The services this process runs, each supervised (see supervisor.rs); `None` for those it
/// does not run.
#[derive(Default)]
struct Services {
    aggregator: Option<JoinHandle<anyhow::Result<()>>>,
    rollup: Option<JoinHandle<anyhow::Result<()>>>,
    exporter: Option<JoinHandle<anyhow::Result<()>>>,
    simulator: Option<JoinHandle<anyhow::Result<()>>>,
}

/// What one `vardpuls run` process serves: the shared HTTP routes and metrics, and the lines
/// of its banner.
struct Startup {
    registry: Registry,
    app: axum::Router,
    extra_metrics: Vec<server::ExtraFamilies>,
    where_to_look: Vec<String>,
    stop: Arc<AtomicBool>,
    /// Together in one process, a failed service is restarted in place; alone, its error ends
    /// the process for the platform to restart (see supervisor.rs).
    restart: bool,
    service_metrics: ServiceMetrics,
}

pub async fn run(mut config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let local_broker = start_local_broker_if_none(&mut config)?;
    if config.kafka.create_topics {
        vardpuls_kafka::admin::ensure_topics(&config.kafka).await.context("creating topics")?;
    }
    let registry = Registry::new();
    let service_metrics = ServiceMetrics::register(&registry)?;
    let mut startup = Startup {
        registry,
        // Every target serves /metrics and /healthz; ingest and exporter add their routes.
        app: axum::Router::new(),
        extra_metrics: Vec::new(),
        where_to_look: Vec::new(),
        stop: Arc::new(AtomicBool::new(false)),
        restart: args.target == Target::All,
        service_metrics,
    };
    let listener = server::bind(&config.ingest.listen).await?;
    let address = listener.local_addr()?;
    let mut services = Services::default();
    if matches!(args.target, Target::All | Target::Ingest) {
        startup.mount_ingest(&config, address)?;
    }
    if matches!(args.target, Target::All | Target::Aggregator) {
        services.aggregator = Some(startup.start_aggregator(&config)?);
    }
    if matches!(args.target, Target::All | Target::Rollup) {
        services.rollup = Some(startup.start_rollup(&config)?);
    }
    if matches!(args.target, Target::All | Target::Exporter) {
        services.exporter = Some(startup.start_exporter(&config, address)?);
    }
    if args.simulate {
        services.simulator = Some(startup.start_simulator(&config, args.simulate_days));
    }
    startup.where_to_look.push(format!("metrics     http://{address}/metrics"));
    let Startup { registry, app, extra_metrics, where_to_look, stop, .. } = startup;
    let mut http = JoinSet::new();
    http.spawn(server::serve(listener, app, registry, extra_metrics, config.ingest.connection_limits()));

    print_banner(&config, local_broker.as_ref().map(LocalBroker::name), &where_to_look);
    let outcome = services.until_one_stops(&mut http).await;
    // The aggregator finishes its batch and checkpoints before it leaves the group.
    stop.store(true, Ordering::Relaxed);
    services.join().await?;
    http.shutdown().await;
    drop(local_broker);
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Starts a local broker when no Kafka is configured and points the configuration at it.
fn start_local_broker_if_none(config: &mut Config) -> anyhow::Result<Option<LocalBroker>> {
    if !config.kafka.bootstrap_servers.is_empty() {
        return Ok(None);
    }
    // Not spawn_blocking: the broker dies with the thread that started it (see LocalBroker),
    // and pooled blocking threads end when idle. This is the main thread.
    let broker = tokio::task::block_in_place(|| LocalBroker::start_on(config.local.broker_port))?;
    config.kafka.bootstrap_servers = broker.bootstrap_servers().to_string();
    config.kafka.compatibility = broker.compatibility();
    // The local broker keeps its topics in memory: a previous run's checkpoints point at
    // offsets that no longer exist and would make the aggregator skip new events.
    discard_state(&config.aggregator.state_dir)?;
    Ok(Some(broker))
}

impl Startup {
    fn supervise(&self, name: &'static str, start: Start) -> JoinHandle<anyhow::Result<()>> {
        supervise(name, start, self.restart, self.stop.clone(), self.service_metrics.clone())
    }

    fn mount_ingest(&mut self, config: &Config, address: std::net::SocketAddr) -> anyhow::Result<()> {
        let producer = EventProducer::new(&config.kafka)?;
        let ingestor = Ingestor::new(producer, Some(IngestMetrics::register(&self.registry)?));
        let routes = vardpuls_ingest::http::router(ingestor, &config.ingest).context("ingest.mappings_dir")?;
        self.app = std::mem::take(&mut self.app).merge(routes);
        self.where_to_look.push(format!(
            "ingest      POST http://{address}/v1/events/{{phone|visits|listings|chats}} (NDJSON, bearer token)"
        ));
        if let Some(dir) = &config.ingest.mappings_dir {
            self.where_to_look.push(format!(
                "ingest      POST http://{address}/v1/exports/{{mapping}} (CSV exports, mappings in {})",
                dir.display()
            ));
        }
        Ok(())
    }

    fn start_aggregator(&mut self, config: &Config) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
        let metrics = AggregatorMetrics::register(&self.registry)?;
        let (kafka, settings, stop) = (config.kafka.clone(), config.aggregator.clone(), self.stop.clone());
        let assignment = vardpuls_aggregator::assignment::Assignment::of(&settings)?;
        self.where_to_look.push(format!(
            "aggregator  {assignment}, group {} -> vardpuls.kpi.v1 (state in {})",
            settings.consumer_group,
            settings.state_dir.display()
        ));
        let start: Start = Box::new(move || {
            let (kafka, settings, metrics, stop) = (kafka.clone(), settings.clone(), metrics.clone(), stop.clone());
            Ok(tokio::task::spawn_blocking(move || {
                vardpuls_aggregator::consumer::run(&kafka, settings, Some(metrics), stop)
            }))
        });
        Ok(self.supervise("aggregator", start))
    }

    fn start_rollup(&mut self, config: &Config) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
        let units = vardpuls_core::units::UnitRegistry::load(&config.aggregator.units_file)?;
        self.where_to_look.push(format!(
            "rollup      {} units from {}",
            units.len(),
            config.aggregator.units_file.display()
        ));
        let metrics = vardpuls_rollup::service::RollupMetrics::register(&self.registry)?;
        let (kafka, stop, rollup_config) = (config.kafka.clone(), self.stop.clone(), config.rollup.clone());
        let start: Start = Box::new(move || {
            let (kafka, units, metrics, stop) = (kafka.clone(), units.clone(), metrics.clone(), stop.clone());
            let rollup_config = rollup_config.clone();
            Ok(tokio::task::spawn_blocking(move || {
                vardpuls_rollup::service::run(&kafka, &rollup_config, units, Some(metrics), stop)
            }))
        });
        Ok(self.supervise("rollup", start))
    }

    fn start_exporter(
        &mut self,
        config: &Config,
        address: std::net::SocketAddr,
    ) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
        let state = exporter_state(config)?;
        let metrics = ExporterMetrics::register(&self.registry)?;
        let (kafka, stop, service_state) = (config.kafka.clone(), self.stop.clone(), state.clone());
        let group_id = config.exporter.group_id.clone();
        let start: Start = Box::new(move || {
            let (kafka, state, metrics, stop) = (kafka.clone(), service_state.clone(), metrics.clone(), stop.clone());
            let group_id = group_id.clone();
            Ok(tokio::task::spawn_blocking(move || {
                vardpuls_exporter::service::run(&kafka, &group_id, state, Some(metrics), stop)
            }))
        });
        let handle = self.supervise("exporter", start);
        let scrape_state = state.clone();
        self.extra_metrics.push(Arc::new(move || {
            let view = scrape_state.view.read().expect("lock");
            vardpuls_exporter::exposition::families(&view, &scrape_state.presenter, chrono::Utc::now())
        }));
        self.app = std::mem::take(&mut self.app).merge(vardpuls_exporter::api::router(state));
        self.where_to_look.push(format!("wallboard   http://{address}/wallboard"));
        self.where_to_look.push(format!("api         http://{address}/api/v1/kpis (OpenAPI: /api/v1/openapi.json)"));
        Ok(handle)
    }

    fn start_simulator(&mut self, config: &Config, days: u32) -> JoinHandle<anyhow::Result<()>> {
        let sim = Arc::new(vardpuls_simulator::stream::Simulation::new(
            vardpuls_simulator::registry::dalarna(),
            1,
            vardpuls_simulator::faults::Faults::demo(),
        ));
        let (kafka, stop) = (config.kafka.clone(), self.stop.clone());
        let start: Start = Box::new(move || {
            let (sim, stop) = (sim.clone(), stop.clone());
            let mut sink = vardpuls_simulator::sink::Sink::Kafka(EventProducer::new(&kafka)?);
            Ok(tokio::spawn(async move { vardpuls_simulator::live::run(&sim, &mut sink, days, stop).await }))
        });
        self.where_to_look
            .push(format!("simulator   Region Dalarna, live, after {days} days of history (with demo faults)"));
        self.supervise("simulator", start)
    }
}

impl Services {
    /// Waits for a shutdown signal (`Ok`) or for a service or the HTTP server to stop (`Err`).
    async fn until_one_stops(&mut self, http: &mut JoinSet<anyhow::Result<()>>) -> anyhow::Result<()> {
        tokio::select! {
            _ = shutdown_signal() => { tracing::info!("shutting down"); Ok(()) }
            Some(result) = http.join_next() => Err(anyhow::anyhow!("HTTP server stopped: {:?}", result)),
            result = wait(&mut self.aggregator) => {
                self.aggregator = None; // finished: its handle must not be awaited again
                Err(anyhow::anyhow!("aggregator stopped: {result:?}"))
            }
            result = wait(&mut self.rollup) => {
                self.rollup = None;
                Err(anyhow::anyhow!("roll-up stopped: {result:?}"))
            }
            result = wait(&mut self.exporter) => {
                self.exporter = None;
                Err(anyhow::anyhow!("exporter stopped: {result:?}"))
            }
            result = wait(&mut self.simulator) => {
                self.simulator = None;
                Err(anyhow::anyhow!("simulator stopped: {result:?}"))
            }
        }
    }

    /// Waits for every running service to end (after `stop` is set).
    async fn join(self) -> anyhow::Result<()> {
        for handle in [self.aggregator, self.rollup, self.exporter, self.simulator].into_iter().flatten() {
            handle.await.context("service panicked")??;
        }
        Ok(())
    }
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

fn print_banner(config: &Config, local_broker: Option<&str>, where_to_look: &[String]) {
    let kafka = &config.kafka.bootstrap_servers;
    println!("vardpuls is running.");
    match local_broker {
        Some(name) => println!("kafka       {kafka} (local {name} broker, in memory; stops with vardpuls)"),
        None => println!("kafka       {kafka}"),
    }
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
    let targets = Targets::load(&config.exporter.targets_file)?;
    let units = vardpuls_core::units::UnitRegistry::load(&config.aggregator.units_file)?;
    let presenter = Presenter { targets, units, min_cases: config.exporter.min_cases };
    let retention = Retention { days: config.exporter.history_days, ..Retention::default() };
    Ok(vardpuls_exporter::ExporterState::new(KpiView::new(retention), presenter))
}
