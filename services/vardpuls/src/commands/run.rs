//! `vardpuls run`: start services. Without a configured Kafka it starts a local broker on
//! `127.0.0.1:9092` first, creates the topics, and stops the broker on exit.

use crate::configuration::Config;
use crate::server;
use anyhow::Context;
use prometheus::Registry;
use std::process::ExitCode;
use tokio::task::JoinSet;
use vardpuls_ingest::Ingestor;
use vardpuls_ingest::metrics::IngestMetrics;
use vardpuls_kafka::{EventProducer, LocalBroker};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Every service in this process: for a laptop or a demo.
    All,
    /// HTTP ingest (and the shared /metrics, /healthz).
    Ingest,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum, default_value = "all")]
    target: Target,
}

pub async fn run(mut config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let local_broker = if config.kafka.bootstrap_servers.is_empty() {
        let port = config.local.broker_port;
        // Not spawn_blocking: the broker dies with the thread that started it (see LocalBroker),
        // and pooled blocking threads end when idle. This is the main thread.
        let broker = tokio::task::block_in_place(|| LocalBroker::start_on(port))?;
        config.kafka.bootstrap_servers = broker.bootstrap_servers().to_string();
        Some(broker)
    } else {
        None
    };
    if config.kafka.create_topics {
        vardpuls_kafka::admin::ensure_topics(&config.kafka).await.context("creating topics")?;
    }

    let registry = Registry::new();
    let mut services = JoinSet::new();
    let mut where_to_look = Vec::new();
    if matches!(args.target, Target::All | Target::Ingest) {
        let producer = EventProducer::new(&config.kafka)?;
        let ingestor = Ingestor::new(producer, Some(IngestMetrics::register(&registry)?));
        let app = vardpuls_ingest::http::router(ingestor, &config.ingest);
        let listener = server::bind(&config.ingest.listen).await?;
        let address = listener.local_addr()?;
        where_to_look.push(format!(
            "ingest      POST http://{address}/v1/events/{{phone|visits|listings|chats}} (NDJSON, bearer token)"
        ));
        where_to_look.push(format!("metrics     http://{address}/metrics"));
        services.spawn(server::serve(listener, app, registry.clone()));
    }

    print_banner(&config, local_broker.is_some(), &where_to_look);
    tokio::select! {
        _ = shutdown_signal() => tracing::info!("shutting down"),
        Some(result) = services.join_next() => {
            result.context("service panicked")?.context("service stopped")?;
        }
    }
    services.shutdown().await;
    drop(local_broker);
    Ok(ExitCode::SUCCESS)
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
        "  curl -H 'Authorization: Bearer {token}' --data-binary @schemas/examples/vardpuls.phone.v1/valid/call_received.json http://{}/v1/events/phone",
        config.ingest.listen
    );
    println!(
        "  VARDPULS_KAFKA_BOOTSTRAP_SERVERS={kafka} cargo run -q -p vardpuls -- import --topic phone deploy/local/sample/phone.ndjson"
    );
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
