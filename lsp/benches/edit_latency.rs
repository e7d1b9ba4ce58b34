//! Editing a 10,000-line model: how long from `didChange` to the
//! `publishDiagnostics` of that version.
//!
//! The server runs in-process on its own runtime (two workers, as in
//! `twinc lsp`) and is spoken to in framed JSON-RPC over in-memory pipes,
//! so the figures include encoding, decoding and position conversion. The
//! document is `twin_tests::generated_model(10_000)`; the script types
//! ` + 1 kW` into a `let` of one twin a character at a time (half-typed
//! states are syntax and unit errors), undoes it in one edit, then adds and
//! removes a comment with an emoji, in 20 twins in turn: 200 edits. Each
//! change is sent as soon as the previous one's diagnostics arrive, so the
//! background full checks overlap the next edits, as with a fast typist.
//!
//! Prints the percentiles of one replay of the 200 edits, then lets
//! criterion measure the same edits in a loop.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_main};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

/// The client side of an in-process server.
struct Client {
    to_server: DuplexStream,
    from_server: BufReader<DuplexStream>,
}

impl Client {
    async fn send(&mut self, message: Value) {
        let body = message.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        let _ = self.to_server.write_all(framed.as_bytes()).await;
    }

    async fn recv(&mut self) -> Option<Value> {
        let mut length = None;
        loop {
            let mut line = String::new();
            if self.from_server.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse::<usize>().ok();
            }
        }
        let mut body = vec![0; length?];
        self.from_server.read_exact(&mut body).await.ok()?;
        serde_json::from_slice(&body).ok()
    }

    /// Waits for the diagnostics of `version`; gives how many there are.
    async fn diagnostics(&mut self, version: i64) -> usize {
        while let Some(v) = self.recv().await {
            if v["method"] == "textDocument/publishDiagnostics" && v["params"]["version"] == version
            {
                return v["params"]["diagnostics"].as_array().map_or(0, Vec::len);
            }
        }
        panic!("the server stopped");
    }
}

const URI: &str = "file:///bench/plant.twin";

/// The 200 texts of the script, from the generated model.
fn script(model: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let text = model.to_string();
    for round in 0..20 {
        let twin = format!("twin Unit{} {{", (round * 7) % 20);
        let Some(start) = text.find(&twin) else {
            panic!("no {twin}");
        };
        let Some(rel) = text[start..].find(" * 0.9\n") else {
            panic!("no let in {twin}");
        };
        let at = start + rel + " * 0.9".len();
        let typed = " + 1 kW";
        for n in 1..=typed.len() {
            let mut t = text.clone();
            t.insert_str(at, &typed[..n]);
            texts.push(t);
        }
        texts.push(text.clone());
        let mut t = text.clone();
        t.insert_str(at, " // 🚀 温度");
        texts.push(t);
        texts.push(text.clone());
    }
    texts.truncate(200);
    texts
}

struct Session {
    runtime: tokio::runtime::Runtime,
    client: Client,
    version: i64,
    texts: Vec<String>,
    next: usize,
}

impl Session {
    fn start() -> Session {
        let model = twin_tests::generated_model(10_000);
        let runtime = match twin_lsp::runtime() {
            Ok(r) => r,
            Err(e) => panic!("no runtime: {e}"),
        };
        let (client_out, server_in) = tokio::io::duplex(1 << 22);
        let (server_out, client_in) = tokio::io::duplex(1 << 22);
        let cache = std::env::temp_dir().join("twin-lsp-bench");
        runtime.spawn(async move {
            let (service, socket) = twin_lsp::service(Some(cache));
            tower_lsp_server::Server::new(server_in, server_out, socket)
                .serve(service)
                .await;
        });
        let mut client = Client {
            to_server: client_out,
            from_server: BufReader::new(client_in),
        };
        runtime.block_on(async {
            client
                .send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}))
                .await;
            while let Some(v) = client.recv().await {
                if v["id"] == 1 {
                    break;
                }
            }
            client
                .send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
                .await;
            client
                .send(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
                    "textDocument": {"uri": URI, "languageId": "twin", "version": 1, "text": model}}}))
                .await;
            let n = client.diagnostics(1).await;
            assert_eq!(n, 0, "the generated model checks clean");
        });
        Session {
            runtime,
            client,
            version: 1,
            texts: script(&model),
            next: 0,
        }
    }

    /// Sends the next edit of the script; gives its latency.
    fn edit(&mut self) -> Duration {
        self.version += 1;
        let version = self.version;
        let text = &self.texts[self.next % self.texts.len()];
        self.next += 1;
        let message = json!({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": URI, "version": version},
            "contentChanges": [{"text": text}]}});
        let client = &mut self.client;
        self.runtime.block_on(async {
            let start = Instant::now();
            client.send(message).await;
            client.diagnostics(version).await;
            start.elapsed()
        })
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn edit_latency(c: &mut Criterion) {
    let mut session = Session::start();
    let mut latencies: Vec<Duration> = (0..200).map(|_| session.edit()).collect();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "200 edits into {} lines, didChange -> publishDiagnostics: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        session.texts[0].lines().count(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 1.0)),
    );
    let mut group = c.benchmark_group("lsp_10k_lines");
    group.sample_size(20);
    group.bench_function("did_change_to_publish", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| session.edit()).sum())
    });
    group.finish();

    // The fast path alone, on one edit of the script.
    let model = twin_tests::generated_model(10_000);
    let base = twin_lsp::incremental::Base::new(
        &model,
        twin_lsp::incremental::full_check("plant.twin", &model),
    );
    let edited = &session.texts[3];
    let mut group = c.benchmark_group("lsp_10k_lines");
    group.sample_size(20);
    group.bench_function("fast_path_recheck", |b| {
        b.iter(|| twin_lsp::incremental::recheck(&base, "plant.twin", edited).is_some())
    });
    group.finish();

    // The full check behind the fast path, for comparison.
    let mut group = c.benchmark_group("lsp_10k_lines");
    group.sample_size(10);
    group.bench_function("full_analysis", |b| {
        b.iter(|| {
            twin_lsp::analysis::Analysis::new(
                "plant.twin",
                &model,
                1,
                twin_lsp::index::ModuleKey::File(URI.into()),
            )
            .index
            .occurrences
            .len()
        })
    });
    group.finish();
}

// The macro generates an undocumented function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::edit_latency);
}
use group::benches;
criterion_main!(benches);
