//! `twinc run MANIFEST.toml`: a twin in production.
//!
//! Takes a deployment manifest (RUNTIME.md); checks it and the model it
//! names, sets up the history (an SQLite file or a PostgreSQL database;
//! it resumes from the history's last checkpoint when it has one), the sinks and the sources, and runs the fleet until
//! SIGINT or SIGTERM (or, in replay mode, until the data runs out), then
//! flushes and checkpoints and exits 0. A bad manifest or
//! binding is exit 2 with one line per problem naming the file and the
//! key; a model with errors is exit 1. The HTTP API (`runtime.api`) is
//! served on a thread of its own from before the first tick; an address
//! in use or an unset `runtime.token_env` variable is exit 2. Logs go to
//! stderr as text or, with `--log-format json`, as JSON lines.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use clap::{Args, ValueEnum};
use twin_runtime::live::Observer;
use twin_runtime::live::api::{self, Server, whatif::WhatIf};
use twin_runtime::live::history::{HistoryError, PostgresHistory, SqliteHistory, Stored};
use twin_runtime::live::manifest::{History, Manifest, SourceKind};
use twin_runtime::live::mqtt;
use twin_runtime::live::publish::StdoutSink;
use twin_runtime::live::run::Runner;

use crate::load::{self, Failure};

/// Log formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `twinc run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The deployment manifest.
    manifest: PathBuf,
    /// How logs are written on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// Runs `twinc run`; gives the exit status.
pub fn run(args: &RunArgs) -> u8 {
    init_logs(args.log_format);
    match deploy(args) {
        Ok(()) => 0,
        Err(f) => f.report(),
    }
}

/// The twin's own logs at `info`, libraries' at `warn` (Cranelift logs
/// every function it compiles at `info`); `RUST_LOG` (e.g.
/// `twin_runtime=debug`) changes that.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("warn,twin_runtime=info,twinc=info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// How long before a checkpoint a sample may be stamped and still have
/// reached the runner only after it: such samples (late ones) are handed
/// back to the twins on a resume too (s).
const LATE_SAMPLES_S: f64 = 60.0;

/// The samples a history holds from a little before checkpoint `cp` was
/// taken ([`LATE_SAMPLES_S`]), read with `read`: the broker has forgotten
/// them, so the resumed twins get them from there. None when they cannot
/// be read: the run is worth more than their effect on the state, and
/// they stay in the history either way.
fn after_checkpoint(
    cp: &twin_runtime::live::Checkpoint,
    model: &twin_compiler::ir::Model,
    read: impl FnOnce(f64) -> Result<Vec<Stored>, HistoryError>,
) -> Vec<Stored> {
    let taken = cp.origin + cp.fleet.k as f64 * model.step;
    match read(taken - LATE_SAMPLES_S) {
        Ok(samples) => samples,
        Err(e) => {
            tracing::error!(error = %e, "the twins resume without the samples received after the checkpoint");
            Vec::new()
        }
    }
}

fn deploy(args: &RunArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let manifest =
        Manifest::load(&args.manifest).map_err(|e| Failure::usage(e.join("\nerror: ")))?;
    let loaded = load::load_and_check(&manifest.model)?;
    let twin = load::pick_twin(&loaded, manifest.twin.as_deref()).map_err(|f| match f {
        Failure::Usage(m) => Failure::usage(format!("{}: twin: {m}", args.manifest.display())),
        other => other,
    })?;
    let model = twin_compiler::ir::lower::lower(&loaded.checked.program, twin)
        .map_err(|e| Failure::model(format!("{}: {e}", manifest.model.display())))?;
    let problems = manifest.check_against(&model);
    if !problems.is_empty() {
        return Err(Failure::usage(problems.join("\nerror: ")));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| Failure::usage(format!("cannot watch signals: {e}")))?;
    }
    let mut observers: Vec<Box<dyn Observer>> = Vec::new();
    // Samples received after the checkpoint: the broker has forgotten
    // them, so the twins get them from the history.
    let mut since = Vec::new();
    let resume = match &manifest.runtime.history {
        History::Sqlite(path) => {
            let mut store = SqliteHistory::open(path, &model, manifest.runtime.decimate)
                .map_err(|e| Failure::usage(e.to_string()))?;
            let resume = store
                .last_checkpoint()
                .map_err(|e| Failure::usage(e.to_string()))?;
            if let Some(cp) = &resume {
                since = after_checkpoint(cp, &model, |t| store.samples_since(t));
            }
            // Ticks and commands never wait for the disk.
            store.write_in_background();
            observers.push(Box::new(store));
            resume
        }
        History::Postgres(url) => {
            let in_manifest = |e: HistoryError| {
                Failure::usage(format!("{}: runtime.history: {e}", args.manifest.display()))
            };
            let store = PostgresHistory::open(url, &model, manifest.runtime.decimate)
                .map_err(in_manifest)?;
            let resume = store.last_checkpoint().map_err(in_manifest)?;
            if let Some(cp) = &resume {
                since = after_checkpoint(cp, &model, |t| store.samples_since(t));
            }
            observers.push(Box::new(store));
            resume
        }
        History::Off => None,
    };
    for (i, source) in manifest.sources.iter().enumerate() {
        if source.kind == SourceKind::Stdout {
            observers.push(Box::new(StdoutSink::new(manifest.clone(), i)));
        }
    }
    // MQTT sinks publish on their source's connection, which opens once
    // the runner can take its messages.
    let mut links = mqtt::links(&manifest).map_err(|e| Failure::usage(e.join("\nerror: ")))?;
    for link in &links {
        if let Some(sink) = link.sink(&manifest) {
            observers.push(Box::new(sink));
        }
    }
    let api = match manifest.runtime.api {
        Some(addr) => {
            let token = api_token(&args.manifest, manifest.runtime.token_env.as_deref())?;
            let (observer, shared) = api::observe(&model);
            observers.push(Box::new(observer));
            Some((addr, token, shared))
        }
        None => None,
    };
    let model_file = manifest.model.clone();
    let mut runner = Runner::new(manifest, model, observers, resume, stop);
    runner.reapply(&since);
    drop(since);
    runner
        .metrics()
        .compile_us
        .store(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    // Kept until the run ends: dropping it stops the server.
    let _server = match api {
        Some((addr, token, shared)) => {
            let server = Server::start(api::Options {
                addr,
                token,
                shared,
                metrics: runner.metrics(),
                whatif: WhatIf::new(model_file),
            })
            .map_err(|e| {
                Failure::usage(format!("{}: runtime.api: {e}", args.manifest.display()))
            })?;
            tracing::info!(addr = %server.addr(), "HTTP API listening");
            Some(server)
        }
        None => None,
    };
    tracing::info!(
        twin = runner.fleet().model().name,
        twins = runner.fleet().ids().len(),
        native = runner.fleet().is_native(),
        bytes_per_twin = runner.fleet().bytes_per_instance(),
        shared_params = runner.fleet().shared_params(),
        "running"
    );
    for link in &mut links {
        link.start(runner.sender(), runner.handled());
    }
    runner.start_local_sources();
    runner.watch_model();
    runner.run();
    // After the last checkpoint: acknowledge what the runner handled, and
    // leave the rest in the broker's session for the next run.
    for link in links {
        link.stop();
    }
    match runner.last_tick_time() {
        Some(t) => tracing::info!(last_tick = twin_runtime::sim::format_time(t), "stopped"),
        None => tracing::info!("stopped before the first tick"),
    }
    Ok(())
}

/// The API's bearer token from the variable `runtime.token_env` names; a
/// named variable that is unset or empty is an error (never an open API).
fn api_token(manifest: &Path, var: Option<&str>) -> Result<Option<String>, Failure> {
    let Some(var) = var else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(token) if !token.trim().is_empty() => Ok(Some(token.trim().to_string())),
        _ => Err(Failure::usage(format!(
            "{}: runtime.token_env: the environment variable `{var}` is not set",
            manifest.display()
        ))),
    }
}
