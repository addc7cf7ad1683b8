//! `vardpuls rules`: generate the Prometheus alert rules from the KPI catalogue and the
//! targets file, or check that the checked-in files are what the generator makes.

use crate::configuration::Config;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use vardpuls_exporter::rules::{RuleSettings, generate, prometheus_rule};
use vardpuls_exporter::targets::Targets;

#[derive(clap::Args)]
pub struct Args {
    /// Directory the rule files are written to.
    #[arg(long, default_value = "deploy/prometheus")]
    out: PathBuf,
    /// Where the same rules go as a prometheus-operator PrometheusRule.
    #[arg(long, default_value = "deploy/k8s/prometheus-rule.yaml")]
    prometheus_rule: PathBuf,
    /// Do not write; fail when a file differs from what would be written.
    #[arg(long)]
    check: bool,
}

pub fn run(config: Config, args: Args) -> anyhow::Result<ExitCode> {
    let targets = Targets::load(&config.exporter.targets_file)?;
    let files = generate(&targets, &RuleSettings::default());
    let mut outputs: Vec<(PathBuf, String)> = files.iter().map(|f| (args.out.join(f.name), f.text.clone())).collect();
    outputs.push((args.prometheus_rule.clone(), prometheus_rule(&files)));
    let mut stale = Vec::new();
    for (path, text) in outputs {
        if args.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("out of date (run `make rules`): {}", stale.join(", "));
    Ok(ExitCode::FAILURE)
}
