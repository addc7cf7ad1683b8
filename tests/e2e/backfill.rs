//! `vardpuls aggregate-files` as a backfill: history in parts, each part continuing the
//! checkpoints of the one before, and split between instances as fixed slots split it. The
//! KPI records must be those of one run over all of it.

use crate::support::{tempdir, vardpuls_binary};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use vardpuls_core::Topic;

fn vardpuls(args: &[&str]) {
    let output = Command::new(vardpuls_binary()).args(args).env("RUST_LOG", "warn").output().unwrap();
    assert!(output.status.success(), "vardpuls {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// The records of an `--out` file by key, without `updated_at`: a final record is stamped when
/// its period closed and an open one with its latest event, but a record that did not change
/// in a later part keeps the stamp of the part that published it.
fn records(path: &Path) -> BTreeMap<String, serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            record.as_object_mut().unwrap().remove("updated_at");
            let key = vardpuls_core::outputs::KpiRecord::key(&serde_json::from_str(line).unwrap());
            (key, record)
        })
        .collect()
}

/// Splits every topic file of `all` into `before` and `after` where the events first reach
/// `cutoff` (an RFC 3339 UTC prefix), keeping the order they were sent in (late events stay
/// late, malformed lines stay where they are).
fn split(all: &Path, cutoff: &str, before: &Path, after: &Path) {
    for dir in [before, after] {
        std::fs::create_dir_all(dir).unwrap();
    }
    for topic in Topic::INPUTS {
        let name = format!("{}.ndjson", topic.short_name());
        let text = std::fs::read_to_string(all.join(&name)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let reaches = |line: &&str| {
            let event: Option<serde_json::Value> = serde_json::from_str(line).ok();
            let at = event
                .as_ref()
                .and_then(|e| e["occurred_at"].as_str())
                .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
            at.is_some_and(|at| at.with_timezone(&chrono::Utc).to_rfc3339().as_str() >= cutoff)
        };
        let at = lines.iter().position(reaches).unwrap_or(lines.len());
        std::fs::write(before.join(&name), lines[..at].iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
        std::fs::write(after.join(&name), lines[at..].iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    }
}

#[test]
fn a_backfill_in_parts_and_slots_publishes_what_one_run_publishes() {
    let dir = tempdir();
    let (all, first, second) = (dir.join("all"), dir.join("first"), dir.join("second"));
    // Dalarna over the spring DST change and a month end, with duplicates and disorder.
    vardpuls(&[
        "simulate",
        "--registry",
        "dalarna",
        "--from",
        "2026-03-26",
        "--days",
        "8",
        "--seed",
        "9",
        "--faults",
        "--out",
        all.to_str().unwrap(),
    ]);
    split(&all, "2026-03-30T", &first, &second);
    let path = |p: &Path| p.to_str().unwrap().to_string();

    let whole = dir.join("whole.ndjson");
    vardpuls(&["aggregate-files", &path(&all), "--partitions", "3", "--out", &path(&whole)]);
    let expected = records(&whole);
    assert!(expected.keys().any(|k| k.starts_with("chats_started/unit/") && k.ends_with("/2026-04")), "reaches April");

    // Two slots, each in two parts: the second continues the first's checkpoints.
    let mut merged = BTreeMap::new();
    for slot in ["0", "1"] {
        let state = dir.join(format!("state-{slot}"));
        for (part, files) in [("first", &first), ("second", &second)] {
            let out = dir.join(format!("{slot}-{part}.ndjson"));
            vardpuls(&[
                "aggregate-files",
                &path(files),
                "--partitions",
                "3",
                "--instances",
                "2",
                "--instance",
                slot,
                "--state-dir",
                &path(&state),
                "--batch",
                "5000",
                "--decode-threads",
                "1",
                "--out",
                &path(&out),
            ]);
            merged.extend(records(&out));
        }
    }
    let differing: Vec<&String> =
        expected.keys().chain(merged.keys()).filter(|k| expected.get(*k) != merged.get(*k)).collect();
    assert!(
        differing.is_empty(),
        "{} records differ, e.g. {:?}",
        differing.len(),
        &differing[..differing.len().min(5)]
    );
}
