//! `twinc history MANIFEST`: a time range of a deployment's history as CSV.
//!
//! Takes the deployment manifest (to find `runtime.history`: an SQLite
//! file or a PostgreSQL database, which give the same CSV), a table, a
//! time range, a twin and a list of names; gives CSV on stdout or in a
//! file, values in their declared units with the unit in the header
//! (`bearing_temp[degC]`). The formats are described in
//! [`twin_runtime::live::history::export`]. Exit 0 on success, 2 with one
//! line on a bad manifest, a missing history, an unknown name or a bad
//! time.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use twin_runtime::live::history::HistoryError;
use twin_runtime::live::history::export::{Query, Reader, Table, parse_time};
use twin_runtime::live::history::postgres::PgReader;
use twin_runtime::live::manifest::{History, Manifest};

use crate::load::Failure;

/// The tables `--table` picks from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TableArg {
    /// Every output of every twin, at the manifest's `decimate` resolution.
    Signals,
    /// Accepted sensor samples.
    Samples,
    /// Alarm raises and clears.
    Alarms,
    /// Actuator commands.
    Commands,
    /// Rejected samples (the dead letters), with their raw payloads.
    Rejected,
}

/// Arguments of `twinc history`.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The deployment manifest whose history to read.
    manifest: PathBuf,
    /// From this time (seconds, or an RFC 3339 timestamp), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Up to this time (seconds, or an RFC 3339 timestamp), inclusive.
    #[arg(long)]
    to: Option<String>,
    /// Only this twin (instance id).
    #[arg(long)]
    twin: Option<String>,
    /// Only these signals (sensors for samples and rejected, alarms,
    /// actuators), comma-separated, in this order.
    #[arg(long, value_delimiter = ',')]
    signals: Vec<String>,
    /// Which table to export.
    #[arg(long, value_enum, default_value_t = TableArg::Signals)]
    table: TableArg,
    /// Write the CSV to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `twinc history`; gives the exit status.
pub fn run(args: &HistoryArgs) -> u8 {
    match export(args) {
        Ok(()) => 0,
        Err(f) => f.report(),
    }
}

fn export(args: &HistoryArgs) -> Result<(), Failure> {
    let manifest =
        Manifest::load(&args.manifest).map_err(|e| Failure::usage(e.join("\nerror: ")))?;
    let time = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(parse_time)
            .transpose()
            .map_err(|e| Failure::usage(format!("--{flag}: {e}")))
    };
    let query = Query {
        table: match args.table {
            TableArg::Signals => Table::Signals,
            TableArg::Samples => Table::Samples,
            TableArg::Alarms => Table::Alarms,
            TableArg::Commands => Table::Commands,
            TableArg::Rejected => Table::Rejected,
        },
        from: time("from", &args.from)?,
        to: time("to", &args.to)?,
        twin: args.twin.clone(),
        names: args
            .signals
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    let mut reader = match &manifest.runtime.history {
        History::Sqlite(path) => {
            Store::Sqlite(Reader::open(path).map_err(|e| Failure::usage(e.to_string()))?)
        }
        History::Postgres(url) => Store::Postgres(PgReader::open(url).map_err(|e| {
            Failure::usage(format!("{}: runtime.history: {e}", args.manifest.display()))
        })?),
        History::Off => {
            return Err(Failure::usage(format!(
                "{}: runtime.history is \"off\": there is no history to read",
                args.manifest.display()
            )));
        }
    };
    let result = match &args.out {
        Some(file) => {
            let f = std::fs::File::create(file)
                .map_err(|e| Failure::usage(format!("cannot write `{}`: {e}", file.display())))?;
            let mut w = BufWriter::new(f);
            reader
                .export(&query, &mut w)
                .and_then(|_| w.flush().map_err(flush_failed))
        }
        None => {
            let mut w = BufWriter::new(std::io::stdout().lock());
            reader
                .export(&query, &mut w)
                .and_then(|_| w.flush().map_err(flush_failed))
        }
    };
    result.map_err(|e| Failure::usage(e.to_string()))
}

/// The history a manifest names, opened for reading.
enum Store {
    Sqlite(Reader),
    Postgres(PgReader),
}

impl Store {
    fn export(&mut self, q: &Query, out: &mut dyn Write) -> Result<u64, HistoryError> {
        match self {
            Store::Sqlite(r) => r.export(q, out),
            Store::Postgres(r) => r.export(q, out),
        }
    }
}

fn flush_failed(e: std::io::Error) -> HistoryError {
    HistoryError(format!("cannot write the export: {e}"))
}
