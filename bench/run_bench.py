#!/usr/bin/env python3
"""`make bench`: vardpuls' benchmarks on this machine, printed as a table and written to
bench/results.json. Every figure comes from real processes: the `vardpuls` binary as the image
ships it (`--profile dist`), a local broker (nisshi or tansu; Kafka protocol, in memory) and
DuckDB from PyPI.

(a) replay throughput through the whole pipeline: events already in Kafka -> aggregator ->
    KPI records, events/s;
(b) aggregation only, from NDJSON files (`vardpuls aggregate-files`), events/s;
(c) DuckDB computing the same daily KPIs, breakdowns included, from the same files
    (tests/crosscheck/duckdb_daily_kpis.py), events/s, and the ratio (b)/(c);
(d) end-to-end latency p50/p99 from produce to the value on the exporter's /metrics at a steady
    rate (`vardpuls measure-latency`);
(e) peak RSS (VmHWM) of each service, and of one aggregator instance's engine over a long
    national history (`vardpuls aggregate-files --state-dir --partitions 6 --instances 2`,
    checkpointing as the aggregator does, the history in parts continued by new processes);
(f) restart to caught up after kill -9 with a backlog.
(j) HTTP ingest throughput and the all-in-one process's peak RSS under 20 concurrent clients.
(k) import of a call-detail export (Windows-1252, `;`, local times) through its mapping file
    (examples/import/call-detail.toml), rows/s: mapped and validated only (`--dry-run`), and
    produced to the broker; next to DuckDB reading the same CSV into typed columns.

Sizes are options; the defaults are the issue's (10 million events for (a), 1 million backlog).
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Events per simulated national day (1 200 units), used to size the simulations.
NATIONAL_EVENTS_PER_DAY = 220_000
PIPELINE_KEYS = ("a_replay_through_pipeline", "d_end_to_end_latency", "e_peak_rss_mib", "f_restart_to_caught_up",
                 "f_restart_with_restating_backlog", "h_restatement_latency", "i_backfill_year_of_region_chats", "checkpoint_bytes")


def write_call_detail(path, rows):
    """A call-detail export of `rows` calls over 300 units in March 2026, as
    examples/import/call-detail.csv lays it out (Windows-1252, `;`, CRLF, local times): most
    calls answered, some called back, some abandoned, one in twenty to 1177. The DST night is
    avoided: those rows are refused by design and would measure the refusal path."""
    rnd = random.Random(7)
    start = datetime.datetime(2026, 3, 2, 7, 0, 0)
    fmt = "%Y-%m-%d %H:%M:%S"
    with open(path, "w", encoding="cp1252", newline="") as out:
        out.write("Samtals-ID;HSA-id;Linje;Ankomst;Inom telefontid;Besvarat;Väntetid (s);Återuppringning bokad;"
                  "Återuppringning utförd;Nådd;Avbrutet\r\n")
        for i in range(rows):
            arrived = start + datetime.timedelta(days=i % 20, seconds=(i * 37) % 36000)
            unit = f"SE2321000180-E{rnd.randrange(300):05d}"
            line = "1177" if rnd.random() < 0.05 else "Vårdcentral"
            in_hours = "Nej" if rnd.random() < 0.03 else "Ja"
            answered = wait = booked = done = reached = abandoned = ""
            wait_s = rnd.randrange(5, 900)
            kind = rnd.random()
            if kind < 0.6:
                answered, wait = (arrived + datetime.timedelta(seconds=wait_s)).strftime(fmt), str(wait_s)
            elif kind < 0.9:
                booked = (arrived + datetime.timedelta(seconds=40)).strftime(fmt)
                done = (arrived + datetime.timedelta(seconds=3600 + wait_s * 5)).strftime(fmt)
                reached = "Ja" if rnd.random() < 0.9 else "Nej"
            else:
                abandoned, wait = (arrived + datetime.timedelta(seconds=wait_s)).strftime(fmt), str(wait_s)
            out.write(f"T-{i};{unit};{line};{arrived.strftime(fmt)};{in_hours};{answered};{wait};{booked};{done};{reached};{abandoned}\r\n")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except Exception:  # noqa: BLE001 - not up yet, or an error status
        return None, ""


def wait(what, timeout, check, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def cpu_seconds(pid):
    # utime and stime, fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name).
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def metric_sum(text, name, exclude=None):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if exclude and exclude in line:
                continue
            total += float(line.rsplit(" ", 1)[1])
    return total


class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = str(args.binary)
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="vardpuls-bench-"))
        self.processes = []
        self.results = {}

    def run(self, *argv, env=None, capture=True):
        started = time.monotonic()
        out = subprocess.run([self.bin, *argv], env={**os.environ, **(env or {})}, capture_output=capture, text=True)
        if out.returncode != 0:
            sys.exit(f"vardpuls {' '.join(map(str, argv))} failed ({out.returncode}):\n{out.stdout or ''}{out.stderr or ''}")
        return time.monotonic() - started, (out.stdout or "") + (out.stderr or "")

    def spawn(self, *argv, env=None, name="vardpuls"):
        log = open(self.work / f"{name}.log", "w")
        p = subprocess.Popen([self.bin, *argv], env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(p)
        return p

    def stop_processes(self):
        for p in self.processes:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.processes = []

    def cleanup(self):
        self.stop_processes()
        if os.environ.get("VARDPULS_BENCH_KEEP"):
            print(f"kept {self.work} (logs of every process)", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    def simulate(self, out_dir, events, start, env=None, exact=False, registry="national", days=None):
        # Whole days, about `events`; or exactly `events`, the last day cut short.
        days = days or max(1, round(events / NATIONAL_EVENTS_PER_DAY)) + (2 if exact else 0)
        argv = ["simulate", "--registry", registry, "--from", start, "--days", str(days), "--seed", "7"]
        if exact:
            argv += ["--max-events", str(events)]
        if out_dir:
            argv += ["--out", str(out_dir)]
        seconds, output = self.run(*argv, env=env)
        count = int(re.search(r"(\d+) events in", output).group(1))
        return count, seconds, days

    # (b) and (c). (b) computes the files in one pass (`--batch` above their largest file's
    # lines), as DuckDB does and an analyst would; the default batch would take two rounds.
    def files(self):
        files = self.work / "files"
        count, _, days = self.simulate(files, self.args.file_events, "2026-01-05")

        # Both sides report their own time from reading the files to having every value in
        # memory: neither interpreter nor process start-up nor printing the values is counted.
        def reported_seconds(output):
            return float(re.search(r" in ([0-9.]+) s", output).group(1))

        def duckdb():
            script = ROOT / "tests/crosscheck/duckdb_daily_kpis.py"
            out = subprocess.run([sys.executable, str(script), str(files)], check=True, capture_output=True, text=True)
            return reported_seconds(out.stderr), out.stderr.strip()

        # Consecutive runs on this machine differ by up to 40 %: each side runs three times,
        # alternating, and the median counts.
        b_runs, c_runs = [], []
        for _ in range(3):
            b_runs.append(reported_seconds(self.run("aggregate-files", str(files), "--batch", "2000000", env={"RUST_LOG": "warn"})[1]))
            c_seconds, c_summary = duckdb()
            c_runs.append(c_seconds)
        seconds, c_seconds = sorted(b_runs)[1], sorted(c_runs)[1]
        b, c = count / seconds, count / c_seconds
        self.results["b_aggregation_from_files"] = {"events": count, "days": days, "seconds": round(seconds, 2), "events_per_s": round(b),
                                                    "runs_events_per_s": [round(count / x) for x in b_runs]}
        self.results["c_duckdb_from_files"] = {"events": count, "seconds": round(c_seconds, 2), "events_per_s": round(c),
                                               "runs_events_per_s": [round(count / x) for x in c_runs],
                                               "kpis": f"every daily KPI with its breakdowns ({c_summary})"}
        self.results["ratio_b_over_c"] = round(b / c, 2)

        # (g) the same files, each shuffled: days are closed and restated over and over.
        shuffled = self.work / "files-shuffled"
        shuffled.mkdir()
        for path in files.glob("*.ndjson"):
            lines = path.read_bytes().splitlines(keepends=True)
            random.Random(7).shuffle(lines)
            (shuffled / path.name).write_bytes(b"".join(lines))
        g_runs = [reported_seconds(self.run("aggregate-files", str(shuffled), "--batch", "50000", env={"RUST_LOG": "warn"})[1])
                  for _ in range(3)]
        g_seconds = sorted(g_runs)[1]
        self.results["g_aggregation_from_shuffled_files"] = {
            "events": count, "seconds": round(g_seconds, 2), "events_per_s": round(count / g_seconds),
            "runs_events_per_s": [round(count / x) for x in g_runs],
            "note": "the files of (b), each shuffled, in batches of 50 000 lines; (b) reads them time-ordered in one batch"}
        shutil.rmtree(shuffled, ignore_errors=True)
        shutil.rmtree(files, ignore_errors=True)

    # (e) at 400 days: one aggregator instance's state over a long history. The history is
    # simulated in parts of `--state-part-days` (a national year of files would need ~25 GB of
    # disk at once), and each part continues the instance's checkpoints in a new process, as a
    # restarted instance would: slot 0 of 2 over 6-partition topics, decoding on the engine's
    # thread, batches of 50 000 lines. Its peak RSS over all parts is the figure.
    def state(self):
        files, state_dir = self.work / "history", self.work / "history-state"
        first = datetime.date(2025, 10, 1)
        argv = [self.bin, "aggregate-files", str(files), "--batch", "50000", "--state-dir", str(state_dir),
                "--partitions", "6", "--instances", "2", "--instance", "0", "--decode-threads", "1"]
        parts, events, seconds, counted = [], 0, 0.0, 0
        for start in range(0, self.args.state_days, self.args.state_part_days):
            days = min(self.args.state_part_days, self.args.state_days - start)
            shutil.rmtree(files, ignore_errors=True)
            count, _, _ = self.simulate(files, days * NATIONAL_EVENTS_PER_DAY, str(first + datetime.timedelta(days=start)))
            began = time.monotonic()
            p = subprocess.Popen(argv, env={**os.environ, "RUST_LOG": "warn"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            output = p.stdout.read()
            _, status, usage = os.wait4(p.pid, 0)
            if status != 0:
                raise SystemExit(f"aggregate-files failed: {output}")
            seconds += time.monotonic() - began
            events += count
            counted += int(re.search(r"(\d+) events in", output).group(1))
            parts.append({"from_day": start, "days": days, "peak_rss_mib": round(usage.ru_maxrss / 1024)})
        shutil.rmtree(files, ignore_errors=True)
        on_disk = sum(1 for _ in state_dir.glob("*/*.closed/*.json"))
        self.results["e_engine_state_history"] = {
            "days": self.args.state_days, "events": events, "events_of_the_instance": counted, "seconds": round(seconds, 1),
            "peak_rss_mib": max(x["peak_rss_mib"] for x in parts), "parts": parts,
            "checkpoint_bytes": sum(f.stat().st_size for f in state_dir.rglob("*") if f.is_file()), "closed_day_segments": on_disk,
            "note": "slot 0 of 2 aggregator instances (6 partitions a topic), the history in parts, each continuing the checkpoints in a new process"}
        shutil.rmtree(state_dir, ignore_errors=True)

    # (a), (e), (f), (d), with the aggregators in one consumer group or in fixed slots.
    def start_broker(self, name):
        """A broker (nisshi, or tansu where nisshi is missing) in memory on a free port: the
        process and its bootstrap address."""
        bootstrap = f"127.0.0.1:{free_port()}"
        url = f"tcp://{bootstrap}"
        broker = subprocess.Popen([self.args.broker, "broker", "--listener-url", url, "--advertised-listener-url", url,
                                   "--storage-engine", f"memory://{self.broker_name()}/", "--cluster-id", "vardpuls-bench"],
                                  stdout=open(self.work / f"broker-{name}.log", "w"), stderr=subprocess.STDOUT)
        self.processes.append(broker)
        return broker, bootstrap

    def broker_version(self):
        return subprocess.run([self.args.broker, "--version"], capture_output=True, text=True).stdout.strip()

    def broker_name(self):
        return self.broker_version().split()[0]

    def kafka_env(self, bootstrap):
        """How vardpuls reaches the broker, with tansu 0.6's workarounds where it is tansu."""
        compatibility = "tansu-0.6" if self.broker_version().startswith("tansu 0.6") else "kafka"
        return {"VARDPULS_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "VARDPULS_KAFKA__COMPATIBILITY": compatibility}

    def pipeline(self, assignment, replay_only=False):
        broker, bootstrap = self.start_broker(assignment)
        env = {**self.kafka_env(bootstrap), "VARDPULS_KAFKA_PARTITIONS": "6", "RUST_LOG": os.environ.get("VARDPULS_BENCH_RUST_LOG", "warn"),
               "VARDPULS_AGGREGATOR_UNITS_FILE": str(ROOT / "deploy/units.csv"),
               "VARDPULS_EXPORTER_TARGETS_FILE": str(ROOT / "deploy/targets.toml")}
        wait("the broker", 60, lambda: subprocess.run([self.bin, "topics"], env={**os.environ, **env}, capture_output=True).returncode == 0, 0.5)

        count, produce_seconds, days = self.simulate(None, self.args.events, "2025-01-06", env)
        state = self.work / f"state-{assignment}"
        # Instances share the checkpoint directory (as in production), in fixed slots (a
        # StatefulSet) or as one consumer group (a Deployment).
        slots = {"VARDPULS_AGGREGATOR_INSTANCES": str(self.args.aggregators)} if assignment == "slots" else {}
        agg_envs = [{**env, **slots, "VARDPULS_AGGREGATOR_STATE_DIR": str(state), "VARDPULS_INGEST_LISTEN": f"127.0.0.1:{free_port()}",
                     "HOSTNAME": f"bench-aggregator-{i}"} for i in range(self.args.aggregators)]
        broker_cpu = cpu_seconds(broker.pid)
        started = time.monotonic()
        aggregators = [self.spawn("run", "--target", "aggregator", env=e, name=f"aggregator-{assignment}-{i}") for i, e in enumerate(agg_envs)]

        def consumed_by_each(exclude=None):
            each = []
            for e in agg_envs:
                status, text = http_get(f"http://{e['VARDPULS_INGEST_LISTEN']}/metrics")
                each.append(metric_sum(text, "vardpuls_aggregator_messages_total", exclude) if status == 200 else 0.0)
            return each

        def consumed(exclude=None):
            return sum(consumed_by_each(exclude))

        # Consumed is not yet published: while batches are full, values not final yet wait for
        # a live computation (docs/aggregator.md, "Catching up").
        def nothing_waiting():
            for e in agg_envs:
                status, text = http_get(f"http://{e['VARDPULS_INGEST_LISTEN']}/metrics")
                if status != 200 or metric_sum(text, "vardpuls_aggregator_shards_waiting") > 0:
                    return False
            return True

        # Events consumed over time, in all and by each instance: start-up, steady rate, and a
        # tail where one instance works alone show here, not in the mean.
        progress = []

        def replayed():
            each = consumed_by_each()
            progress.append([round(time.monotonic() - started, 1), int(sum(each)), [int(n) for n in each]])
            return sum(each) >= count and nothing_waiting()

        wait("the aggregator to consume the replay", self.args.timeout, replayed, 0.5)
        replay_seconds = time.monotonic() - started
        self.results["a_replay_through_pipeline"] = {"events": count, "days": days, "seconds": round(replay_seconds, 1),
                                                     "events_per_s": round(count / replay_seconds),
                                                     "aggregator_instances": self.args.aggregators, "assignment": assignment,
                                                     "produce_seconds": round(produce_seconds, 1),
                                                     "cpu_seconds": {"broker": round(cpu_seconds(broker.pid) - broker_cpu, 1),
                                                                     **{f"aggregator_{i}": round(cpu_seconds(a.pid), 1) for i, a in enumerate(aggregators)}}}
        rss = {f"aggregator_{i}_after_replay": round(peak_rss_mib(a.pid)) for i, a in enumerate(aggregators)}
        # Where each instance's time went: batches, and seconds in batches and in checkpoints.
        for i, e in enumerate(agg_envs):
            text = http_get(f"http://{e['VARDPULS_INGEST_LISTEN']}/metrics")[1]
            self.results["a_replay_through_pipeline"][f"aggregator_{i}"] = {
                "batches": metric_sum(text, "vardpuls_aggregator_batch_seconds_count"),
                "batch_seconds": round(metric_sum(text, "vardpuls_aggregator_batch_seconds_sum"), 1),
                "checkpoint_seconds": round(metric_sum(text, "vardpuls_aggregator_checkpoint_seconds_sum"), 1)}
        self.results["a_replay_through_pipeline"]["progress"] = progress
        if replay_only:
            self.stop_processes()
            shutil.rmtree(state, ignore_errors=True)
            return

        # (f) kill -9 every aggregator while the live feed goes on; restart them, and wait until
        # they have taken the backlog: the days after the replay's, as a live feed would have
        # sent them meanwhile.
        def restart_with_backlog(start, name):
            nonlocal aggregators
            for a in aggregators:
                a.send_signal(signal.SIGKILL)
                a.wait()
            backlog, _, _ = self.simulate(None, self.args.backlog, start, env, exact=True)
            started = time.monotonic()
            aggregators = [self.spawn("run", "--target", "aggregator", env=e, name=f"aggregator-{assignment}-{i}-{name}") for i, e in enumerate(agg_envs)]
            wait("the restarted aggregators to catch up", self.args.timeout, lambda: consumed('outcome="replayed"') >= backlog and nothing_waiting(), 0.2)
            return round(time.monotonic() - started, 2), backlog

        after_replay = (datetime.date(2025, 1, 6) + datetime.timedelta(days=days)).isoformat()
        seconds, backlog = restart_with_backlog(after_replay, "restarted")
        self.results["f_restart_to_caught_up"] = {"backlog_events": backlog, "seconds": seconds, "assignment": assignment,
                                                  "backlog_from": after_replay}

        exp_port = free_port()
        exporter = self.spawn("run", "--target", "exporter", env={**env, "VARDPULS_INGEST_LISTEN": f"127.0.0.1:{exp_port}"}, name="exporter")
        rollup = self.spawn("run", "--target", "rollup", env={**env, "VARDPULS_INGEST_LISTEN": f"127.0.0.1:{free_port()}"}, name="rollup")
        ingest = self.spawn("run", "--target", "ingest", env={**env, "VARDPULS_INGEST_LISTEN": f"127.0.0.1:{free_port()}"}, name="ingest")
        wait("the exporter to rebuild its view", self.args.timeout, lambda: http_get(f"http://127.0.0.1:{exp_port}/readyz")[0] == 200, 0.5)

        # (d) at a steady rate, with every service running.
        _, output = self.run("measure-latency", "--exporter", f"127.0.0.1:{exp_port}", "--rate", str(self.args.rate),
                             "--seconds", str(self.args.latency_seconds), env=env)
        m = re.search(r"p50 ([\d.]+) s, p90 ([\d.]+) s, p99 ([\d.]+) s, max ([\d.]+) s", output)
        self.results["d_end_to_end_latency"] = {"rate_events_per_s": self.args.rate, "seconds": self.args.latency_seconds,
                                                "p50_s": float(m.group(1)), "p90_s": float(m.group(2)), "p99_s": float(m.group(3)),
                                                "max_s": float(m.group(4)), "summary": output.strip().splitlines()[-1]}
        for name, p in [("exporter", exporter), ("rollup", rollup), ("ingest", ingest)] + [(f"aggregator_{i}", a) for i, a in enumerate(aggregators)]:
            rss[name] = round(peak_rss_mib(p.pid))
        self.results["e_peak_rss_mib"] = rss

        # (h) a late event for a 30-day-old closed day, produce to republished record, while the
        # phone partitions' progress is today (after (d)).
        _, output = self.run("measure-restatement", "--days-ago", "30", "--events", "100", env=env)
        m = re.search(r"p50 ([\d.]+) s, p90 ([\d.]+) s, p99 ([\d.]+) s, max ([\d.]+) s", output)
        self.results["h_restatement_latency"] = {"days_ago": 30, "p50_s": float(m.group(1)), "p90_s": float(m.group(2)),
                                                 "p99_s": float(m.group(3)), "max_s": float(m.group(4)),
                                                 "summary": output.strip().splitlines()[-1]}

        # (i) backfill: the year before the replay of one region's chats (Dalarna), imported into
        # the live national deployment, newest day first; every day is restated.
        history = self.work / "backfill"
        self.simulate(history, 0, "2024-01-06", env={**env}, exact=False, registry="dalarna", days=365)
        chats = history / "chats.ndjson"
        lines = chats.read_bytes().splitlines(keepends=True)
        lines.reverse()
        chats.write_bytes(b"".join(lines))
        before = consumed()
        started = time.monotonic()
        self.run("import", "--topic", "chats", str(chats), env=env)
        wait("the aggregators to take the backfill", self.args.timeout, lambda: consumed() - before >= len(lines) and nothing_waiting(), 0.2)
        seconds = time.monotonic() - started
        self.results["i_backfill_year_of_region_chats"] = {"events": len(lines), "seconds": round(seconds, 1),
                                                           "events_per_s": round(len(lines) / seconds),
                                                           "note": "Dalarna's chats of the year before the replay, newest day first, imported while the national replay's state is live"}
        shutil.rmtree(history, ignore_errors=True)

        # (f') the same with a backlog of days the progress has passed (every event restates).
        seconds, backlog = restart_with_backlog("2026-06-01", "restarted-again")
        self.results["f_restart_with_restating_backlog"] = {
            "backlog_events": backlog, "seconds": seconds, "assignment": assignment,
            "note": "a backlog dated months before the partitions' progress (today, after (d)): every event restates its day"}
        state_bytes = sum(f.stat().st_size for f in state.rglob("*") if f.is_file())
        self.results["checkpoint_bytes"] = state_bytes
        # This run's broker and services stop here, so they take nothing from the next part.
        self.stop_processes()
        shutil.rmtree(state, ignore_errors=True)

    # (j) HTTP ingest under load: `vardpuls run --target all` (every service in one process, as
    # on a laptop), 20 clients posting NDJSON bodies of 1 000 lines at once, each answered 503
    # sent again after its Retry-After. Throughput counts lines Kafka acknowledged; the peak
    # RSS is the process's, through the load and the aggregator catching up after it.
    def ingest_load(self):
        import threading
        import http.client
        _, bootstrap = self.start_broker("ingest")
        listen = f"127.0.0.1:{free_port()}"
        env = {**self.kafka_env(bootstrap), "VARDPULS_KAFKA_PARTITIONS": "6", "RUST_LOG": os.environ.get("VARDPULS_BENCH_RUST_LOG", "warn"),
               "VARDPULS_INGEST_LISTEN": listen, "VARDPULS_INGEST_TOKENS": "bench-token",
               "VARDPULS_AGGREGATOR_STATE_DIR": str(self.work / "state-ingest"),
               "VARDPULS_AGGREGATOR_UNITS_FILE": str(ROOT / "deploy/units.csv"),
               "VARDPULS_EXPORTER_TARGETS_FILE": str(ROOT / "deploy/targets.toml")}
        wait("the broker", 60, lambda: subprocess.run([self.bin, "topics"], env={**os.environ, **env}, capture_output=True).returncode == 0, 0.5)
        files = self.work / "ingest-files"
        self.simulate(files, self.args.ingest_events, "2026-02-02", env=env, exact=True)
        bodies = []
        for topic in ("phone", "visits", "listings", "chats"):
            lines = (files / f"{topic}.ndjson").read_bytes().splitlines(keepends=True)
            bodies += [(topic, b"".join(lines[i:i + 1000]), len(lines[i:i + 1000])) for i in range(0, len(lines), 1000)]
        shutil.rmtree(files, ignore_errors=True)
        random.Random(7).shuffle(bodies)
        events = sum(n for _, _, n in bodies)
        everything = self.spawn("run", "--target", "all", env=env, name="all-in-one")
        wait("vardpuls to answer", 60, lambda: http_get(f"http://{listen}/healthz")[0] == 200, 0.2)
        host, port_text = listen.split(":")
        lock, queue, stats = threading.Lock(), list(bodies), {"accepted": 0, "busy": 0, "not_stored": 0}

        def client():
            connection = http.client.HTTPConnection(host, int(port_text), timeout=120)
            while True:
                with lock:
                    if not queue:
                        return
                    topic, body, _ = queue.pop()
                while True:
                    connection.request("POST", f"/v1/events/{topic}", body=body,
                                       headers={"Authorization": "Bearer bench-token", "Content-Type": "application/x-ndjson"})
                    response = connection.getresponse()
                    answer = response.read()
                    if response.status == 200:
                        with lock:
                            stats["accepted"] += json.loads(answer)["accepted"]
                        break
                    if response.status != 503:
                        raise SystemExit(f"ingest answered {response.status}: {answer[:200]!r}")
                    with lock:
                        stats["busy" if b"busy" in answer else "not_stored"] += 1
                    time.sleep(float(response.getheader("Retry-After", "1")))

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        rss_after_load = peak_rss_mib(everything.pid)
        wait("the aggregator to catch up", self.args.timeout,
             lambda: metric_sum(http_get(f"http://{listen}/metrics")[1], "vardpuls_aggregator_messages_total") >= events, 0.5)
        self.results["j_http_ingest_20_clients"] = {
            "events": events, "accepted": stats["accepted"], "seconds": round(seconds, 1),
            "events_per_s": round(stats["accepted"] / seconds), "clients": 20, "lines_per_request": 1000,
            "answered_503_busy": stats["busy"], "answered_503_not_stored": stats["not_stored"],
            "peak_rss_mib_after_load": round(rss_after_load), "peak_rss_mib_caught_up": round(peak_rss_mib(everything.pid)),
            "catch_up_seconds_after_load": round(time.monotonic() - started - seconds, 1),
            "note": "vardpuls run --target all (ingest, aggregator, roll-up, exporter in one process) on the local broker; Kafka-acknowledged lines"}
        self.stop_processes()
        shutil.rmtree(self.work / "state-ingest", ignore_errors=True)

    # (k) a call-detail export as telephony systems write it, one row per call, imported with
    # the shipped mapping. Both sides report their own time from opening the file to the last
    # row done: vardpuls' summary ("elapsed"), DuckDB's execute() around
    # CREATE TABLE AS read_csv with typed columns; each runs three times, the median counts.
    def import_exports(self):
        rows = self.args.import_rows
        path = self.work / "call-detail.csv"
        write_call_detail(path, rows)
        mapping = str(ROOT / "examples/import/call-detail.toml")

        def vardpuls_seconds(output):
            return float(re.search(r"elapsed\s+([0-9.]+) s", output).group(1))

        def events_of(output):
            return int(re.search(r"produced\s+(\d+)", output).group(1))

        dry = [self.run("import", "--mapping", mapping, "--dry-run", str(path), env={"RUST_LOG": "warn"})[1] for _ in range(3)]
        dry_seconds = sorted(vardpuls_seconds(o) for o in dry)[1]
        events = events_of(dry[0])

        _, bootstrap = self.start_broker("import")
        env = {**self.kafka_env(bootstrap), "VARDPULS_KAFKA_PARTITIONS": "6", "RUST_LOG": "warn"}
        wait("the broker", 60, lambda: subprocess.run([self.bin, "topics"], env={**os.environ, **env}, capture_output=True).returncode == 0, 0.5)
        produced = [self.run("import", "--mapping", mapping, str(path), env=env)[1] for _ in range(3)]
        produced_seconds = sorted(vardpuls_seconds(o) for o in produced)[1]
        self.stop_processes()

        import duckdb
        duck_runs = []
        for _ in range(3):
            con = duckdb.connect()
            started = time.monotonic()
            con.execute(f"""CREATE TABLE calls AS SELECT * FROM read_csv('{path}', delim=';', header=true, encoding='latin-1',
                            timestampformat='%Y-%m-%d %H:%M:%S', types={{'Väntetid (s)': 'INTEGER'}})""")
            duck_runs.append(time.monotonic() - started)
            assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == rows
            con.close()
        duck_seconds = sorted(duck_runs)[1]
        self.results["k_import_call_detail_csv"] = {
            "rows": rows, "events": events, "bytes": path.stat().st_size,
            "dry_run": {"seconds": round(dry_seconds, 2), "rows_per_s": round(rows / dry_seconds), "events_per_s": round(events / dry_seconds)},
            "to_broker": {"seconds": round(produced_seconds, 2), "rows_per_s": round(rows / produced_seconds),
                          "events_per_s": round(events / produced_seconds)},
            "duckdb_read_csv": {"seconds": round(duck_seconds, 2), "rows_per_s": round(rows / duck_seconds)},
            "ratio_dry_run_over_duckdb": round(duck_seconds / dry_seconds, 2),
            "note": "vardpuls: read, transcode, map, resolve local times, derive ids, validate every event (and produce, acks=all, to the local broker); "
                    "DuckDB: read_csv into typed columns (timestamps, integer), no events"}
        path.unlink()

    def machine(self):
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
        mem = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal"))
        return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / 1024 / 1024, 1), "os": platform.platform(),
                "broker": f"{self.broker_version()} (memory storage)", "build": pathlib.Path(self.bin).parent.name}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=pathlib.Path, required=True)
    parser.add_argument("--broker", default=shutil.which("nisshi") or shutil.which("tansu") or str(pathlib.Path.home() / ".cargo/bin/nisshi"),
                        help="the Kafka-protocol broker program (nisshi, or tansu 0.6)")
    parser.add_argument("--events", type=int, default=10_000_000, help="(a) replay size")
    parser.add_argument("--file-events", type=int, default=2_000_000, help="(b), (c) input size")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="(f) backlog size")
    parser.add_argument("--rate", type=int, default=2000, help="(d) events/s")
    parser.add_argument("--aggregators", type=int, default=os.cpu_count() or 1, help="aggregator instances in the group (default: one per core)")
    parser.add_argument("--assignment", choices=["group", "slots", "both"], default="both",
                        help="aggregators as one consumer group (a Deployment; top-level figures), in fixed slots "
                             "(a StatefulSet; figures under fixed_slots), or both (the default)")
    parser.add_argument("--latency-seconds", type=int, default=60)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--out", type=pathlib.Path, help="default bench/results.json (bench/results-replay.json with --only replay)")
    parser.add_argument("--state-days", type=int, default=400, help="(e) history for the engine's state; 0 skips it")
    parser.add_argument("--state-part-days", type=int, default=50, help="(e) days of history simulated and aggregated at a time")
    parser.add_argument("--ingest-events", type=int, default=1_200_000, help="(j) events posted over HTTP by 20 clients")
    parser.add_argument("--import-rows", type=int, default=1_000_000, help="(k) rows of the call-detail export")
    parser.add_argument("--only", choices=["files", "pipeline", "replay", "ingest", "state", "import"],
                        help="run one part (replay: the pipeline's (a) alone, for quick profiling)")
    args = parser.parse_args()
    args.out = args.out or ROOT / ("bench/results-replay.json" if args.only == "replay" else "bench/results.json")

    bench = Bench(args)
    try:
        bench.results["machine"] = bench.machine()
        if args.only in (None, "files"):
            bench.files()
        if args.only in (None, "pipeline", "replay"):
            replay_only = args.only == "replay"
            if args.assignment in ("group", "both"):
                bench.pipeline("group", replay_only)
            if args.assignment in ("slots", "both"):
                group_figures = {k: bench.results.pop(k) for k in PIPELINE_KEYS if k in bench.results}
                bench.pipeline("slots", replay_only)
                bench.results["fixed_slots"] = {k: bench.results.pop(k) for k in PIPELINE_KEYS if k in bench.results}
                bench.results.update(group_figures)
        if args.only in (None, "ingest"):
            bench.ingest_load()
        if args.only in (None, "state") and args.state_days > 0:
            bench.state()
        if args.only in (None, "import"):
            bench.import_exports()
    finally:
        bench.cleanup()
    r = bench.results
    rows = []
    if "b_aggregation_from_files" in r:
        rows += [("(b) aggregation from files", f"{r['b_aggregation_from_files']['events_per_s']:,} events/s", f"{r['b_aggregation_from_files']['events']:,} events"),
                 ("(c) DuckDB, same files", f"{r['c_duckdb_from_files']['events_per_s']:,} events/s", f"ratio (b)/(c) = {r['ratio_b_over_c']}")]
    for mode, p in [("consumer group", r), ("fixed slots", r.get("fixed_slots", {}))]:
        if "a_replay_through_pipeline" not in p:
            continue
        a = p["a_replay_through_pipeline"]
        rows += [(f"(a) replay through the pipeline, {mode}", f"{a['events_per_s']:,} events/s", f"{a['events']:,} events in {a['seconds']} s")]
        if "d_end_to_end_latency" not in p:
            continue  # --only replay
        d, e, f = p["d_end_to_end_latency"], p["e_peak_rss_mib"], p["f_restart_to_caught_up"]
        rows += [(f"(d) end-to-end latency, {mode}", f"p50 {d['p50_s']} s, p99 {d['p99_s']} s", f"at {d['rate_events_per_s']} events/s"),
                 (f"(e) peak RSS, {mode}", ", ".join(f"{k} {v} MiB" for k, v in e.items()), ""),
                 (f"(f) restart to caught up, {mode}", f"{f['seconds']} s", f"{f['backlog_events']:,} events of backlog")]
        if "f_restart_with_restating_backlog" in p:
            g = p["f_restart_with_restating_backlog"]
            rows += [(f"(f') restart, restating backlog, {mode}", f"{g['seconds']} s", f"{g['backlog_events']:,} events, each restating its day")]
    if "j_http_ingest_20_clients" in r:
        j = r["j_http_ingest_20_clients"]
        rows += [("(j) HTTP ingest, 20 clients, all-in-one", f"{j['events_per_s']:,} events/s",
                  f"{j['accepted']:,} events in {j['seconds']} s; peak RSS {j['peak_rss_mib_after_load']} MiB after the load, "
                  f"{j['peak_rss_mib_caught_up']} MiB caught up; {j['answered_503_busy']} busy answers")]
    if "k_import_call_detail_csv" in r:
        k = r["k_import_call_detail_csv"]
        rows += [("(k) import, call-detail CSV, dry run", f"{k['dry_run']['rows_per_s']:,} rows/s", f"{k['rows']:,} rows, {k['events']:,} events, {k['dry_run']['seconds']} s"),
                 ("(k) import, call-detail CSV, to the broker", f"{k['to_broker']['rows_per_s']:,} rows/s", f"{k['to_broker']['events_per_s']:,} events/s"),
                 ("(k) DuckDB read_csv, same file", f"{k['duckdb_read_csv']['rows_per_s']:,} rows/s", f"ratio dry run / DuckDB = {k['ratio_dry_run_over_duckdb']}")]
    if "e_engine_state_history" in r:
        h = r["e_engine_state_history"]
        rows += [("(e) one instance's engine, long history", f"{h['peak_rss_mib']} MiB peak RSS", f"{h['days']} national days ({h['events']:,} events), slot 0 of 2")]
    width = max(len(x[0]) for x in rows) if rows else 0
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<40} {note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # A replay alone is written whole, not merged into a file whose (d)-(i) came from another run.
    if args.only and args.only != "replay" and args.out.exists():
        # One part re-run: keep the other part's figures.
        r = {**json.loads(args.out.read_text()), **r}
    args.out.write_text(json.dumps(r, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
