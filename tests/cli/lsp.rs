//! `twinc lsp` end to end: the built binary as a child process, spoken to
//! in JSON-RPC over its stdin and stdout as an editor would.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running server and what it has said that nobody has read yet.
struct Lsp {
    child: Child,
    stdin: ChildStdin,
    incoming: Receiver<Value>,
    pending: Vec<Value>,
    next_id: i64,
}

const WAIT: Duration = Duration::from_secs(60);

impl Lsp {
    fn start(cache: &Path) -> Lsp {
        let mut child = match Command::new(env!("CARGO_BIN_EXE_twinc"))
            .arg("lsp")
            .env("XDG_CACHE_HOME", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => panic!("cannot start twinc lsp: {e}"),
        };
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            panic!("no pipes to twinc lsp");
        };
        let (tx, incoming) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(n) = line.strip_prefix("Content-Length: ") {
                        length = n.parse::<usize>().ok();
                    }
                }
                let Some(n) = length else { return };
                let mut body = vec![0; n];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(v) = serde_json::from_slice::<Value>(&body) else {
                    return;
                };
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Lsp {
            child,
            stdin,
            incoming,
            pending: Vec::new(),
            next_id: 0,
        }
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        let framed = format!("Content-Length: {}\r\n\r\n{body}", body.len());
        if let Err(e) = self.stdin.write_all(framed.as_bytes()) {
            panic!("cannot write to twinc lsp: {e}");
        }
        let _ = self.stdin.flush();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The first message (read before or now) that `pick` accepts.
    fn wait_for(&mut self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pick) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(v) if pick(&v) => return v,
                Ok(v) => self.pending.push(v),
                Err(RecvTimeoutError::Timeout) => panic!("no {what} within {WAIT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("twinc lsp stopped before {what}"),
            }
        }
    }

    /// Sends a request; gives the whole response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        self.wait_for(method, |v| v["id"] == id && v.get("method").is_none())
    }

    /// The diagnostics published for `version` of `uri`.
    fn diagnostics(&mut self, uri: &str, version: i64) -> Vec<Value> {
        let v = self.wait_for("publishDiagnostics", |v| {
            v["method"] == "textDocument/publishDiagnostics"
                && v["params"]["uri"] == uri
                && v["params"]["version"] == version
        });
        v["params"]["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// The UTF-16 column of byte `at` of `line`, counted independently of the
/// server's own conversion.
fn utf16_col(line: &str, at: usize) -> i64 {
    line[..at].encode_utf16().count() as i64
}

fn pos(line: i64, character: i64) -> Value {
    json!({ "line": line, "character": character })
}

const BROKEN: &str = "use std::filters::Lag
// 温度センサー 🚀 comments before the error
twin Pump {
    /// Motor current.
    sensor current: A range 0 A .. 60 A stale after 5 s
    /* 🚀 */ let 温度 = 1 m + 1 s
    let smooth = Lag(x: curent, tau: 30 s)
}\n";

const FIXED: &str = "use std::filters::Lag
// 温度センサー 🚀 comments before the error
twin Pump {
    /// Motor current.
    sensor current: A range 0 A .. 60 A stale after 5 s
    /* 🚀 */ let 温度 = 1 m + 1 m
    let smooth = Lag(x: current, tau: 30 s)
}\n";

#[test]
fn lsp_session_over_stdio() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lsp-cache");
    let mut lsp = Lsp::start(&dir);
    let init = lsp.request("initialize", json!({ "capabilities": {} }));
    let caps = &init["result"]["capabilities"];
    assert_eq!(caps["hoverProvider"], true, "{init}");
    assert!(
        caps["semanticTokensProvider"]["legend"].is_object(),
        "{init}"
    );
    lsp.notify("initialized", json!({}));

    let uri = "file:///work/pump.twin";
    lsp.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "twin", "version": 1, "text": BROKEN } }),
    );
    let diags = lsp.diagnostics(uri, 1);
    assert_eq!(diags.len(), 2, "{diags:#?}");
    // The unit mismatch, on a line with an emoji and CJK before it.
    let line5 = BROKEN.lines().nth(5).unwrap_or("");
    let start = line5.find("1 m").unwrap_or(0);
    let mismatch = &diags[0];
    assert_eq!(mismatch["code"], "E0004");
    assert_eq!(mismatch["range"]["start"], pos(5, utf16_col(line5, start)));
    assert_eq!(
        mismatch["range"]["end"],
        pos(5, utf16_col(line5, start + 3))
    );
    let related = &mismatch["relatedInformation"][0]["location"]["range"]["start"];
    assert_eq!(*related, pos(5, utf16_col(line5, start + 6)));
    // The unknown name with its did-you-mean, offered as a quick fix.
    let unknown = &diags[1];
    assert_eq!(unknown["code"], "E0002");
    let line6 = BROKEN.lines().nth(6).unwrap_or("");
    let at = line6.find("curent").unwrap_or(0) as i64;
    assert_eq!(unknown["range"]["start"], pos(6, at));
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": uri }, "range": unknown["range"],
                "context": { "diagnostics": [unknown] } }),
    );
    let edit = &actions["result"][0]["edit"]["changes"][uri][0];
    assert_eq!(edit["newText"], "current", "{actions}");

    // The fix clears them; a late, stale change is ignored.
    lsp.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": FIXED }] }),
    );
    assert_eq!(lsp.diagnostics(uri, 2), Vec::<Value>::new());
    lsp.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 1 }, "contentChanges": [{ "text": BROKEN }] }),
    );

    // Hover on the sensor: unit, range, staleness, doc.
    let fixed6 = FIXED.lines().nth(6).unwrap_or("");
    let hover = lsp.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": pos(6, fixed6.find("current").unwrap_or(0) as i64 + 2) }),
    );
    let text = hover["result"]["contents"]["value"].as_str().unwrap_or("");
    for want in [
        "**unit** `A`",
        "**range** 0 A .. 60 A",
        "**stale after** 5 s",
        "Motor current.",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }

    // Definition into the stdlib: a read-only file in the cache.
    let lag = line6.find("Lag").unwrap_or(0) as i64;
    let def = lsp.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": uri }, "position": pos(6, lag + 1) }),
    );
    let target = def["result"]["uri"].as_str().unwrap_or("");
    assert!(target.ends_with("/std/filters.twin"), "{def}");
    let path = target.trim_start_matches("file://");
    let source = std::fs::read_to_string(path).unwrap_or_default();
    let line = def["result"]["range"]["start"]["line"]
        .as_u64()
        .unwrap_or(0) as usize;
    assert!(
        source
            .lines()
            .nth(line)
            .unwrap_or("")
            .starts_with("component Lag<U>"),
        "{def}"
    );

    // Rename the sensor: its declaration, the argument and the hover line.
    let rename = lsp.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": pos(4, 12), "newName": "amps" }),
    );
    let edits = rename["result"]["changes"][uri]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(edits.len(), 2, "{rename}");
    assert!(edits.iter().all(|e| e["newText"] == "amps"));
    let bad = lsp.request(
        "textDocument/rename",
        json!({ "textDocument": { "uri": uri }, "position": pos(6, lag + 1), "newName": "Filter" }),
    );
    assert!(bad["error"]["message"].as_str().is_some(), "{bad}");

    // Completion after `12 ` offers units.
    let typing = FIXED.replace("    let smooth", "    let p = 12 \n    let smooth");
    lsp.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 3 }, "contentChanges": [{ "text": typing }] }),
    );
    let completion = lsp.request(
        "textDocument/completion",
        json!({ "textDocument": { "uri": uri }, "position": pos(6, 15) }),
    );
    let labels: Vec<&str> = completion["result"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["label"].as_str()).collect())
        .unwrap_or_default();
    for unit in ["A", "kW", "degC", "rpm"] {
        assert!(labels.contains(&unit), "{unit} in {labels:?}");
    }

    // Formatting gives the canonical layout.
    let messy = "twin A {\nlet x=1\n}\n";
    lsp.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 4 }, "contentChanges": [{ "text": messy }] }),
    );
    let format = lsp.request(
        "textDocument/formatting",
        json!({ "textDocument": { "uri": uri }, "options": { "tabSize": 4, "insertSpaces": true } }),
    );
    assert_eq!(
        format["result"][0]["newText"], "twin A {\n    let x = 1\n}\n",
        "{format}"
    );

    // A malformed request is an error response, not a crash.
    let bad = lsp.request("textDocument/hover", json!({ "nonsense": true }));
    assert!(bad["error"].is_object(), "{bad}");

    let shutdown = lsp.request("shutdown", Value::Null);
    assert!(shutdown.get("error").is_none(), "{shutdown}");
    lsp.notify("exit", Value::Null);
    let deadline = Instant::now() + WAIT;
    loop {
        match lsp.child.try_wait() {
            Ok(Some(status)) => {
                assert!(status.success(), "{status}");
                break;
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = lsp.child.kill();
                panic!("twinc lsp did not exit");
            }
        }
    }
}

/// An edit inside a twin is answered at once from the fast path; when the
/// typing pauses, the full check publishes again if it finds more (here:
/// the component the edit stopped using is now unused).
#[test]
fn lsp_fast_diagnostics_are_confirmed_by_a_full_check() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lsp-cache");
    let mut lsp = Lsp::start(&dir);
    lsp.request("initialize", json!({ "capabilities": {} }));
    lsp.notify("initialized", json!({}));
    let uri = "file:///work/confirm.twin";
    let used = "component Twice(x: A) -> A {\n    return 2 * x\n}\n\
                twin T {\n    sensor a: A\n    let y = Twice(x: a)\n}\n";
    lsp.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "twin", "version": 1, "text": used } }),
    );
    assert_eq!(lsp.diagnostics(uri, 1), Vec::<Value>::new());
    let unused = used.replace("Twice(x: a)", "3 * a");
    lsp.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": uri, "version": 2 }, "contentChanges": [{ "text": unused }] }),
    );
    // The fast path knows nothing of the component's use elsewhere.
    assert_eq!(lsp.diagnostics(uri, 2), Vec::<Value>::new());
    let confirmed = lsp.diagnostics(uri, 2);
    assert_eq!(confirmed.len(), 1, "{confirmed:#?}");
    assert_eq!(confirmed[0]["code"], "W0001");
    assert_eq!(confirmed[0]["tags"], json!([1]));
    lsp.request("shutdown", Value::Null);
    lsp.notify("exit", Value::Null);
    let _ = lsp.child.wait();
}
