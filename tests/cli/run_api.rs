//! `twinc run` with its HTTP API: the address in use and a missing token
//! variable are one-line errors naming the manifest key (exit 2); a run
//! logs the address it listens on, serves its twins there, and exits 0
//! when its data ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};

use super::{scratch, stderr, twinc};

/// A manifest for the pump example fed JSON lines on stdin.
fn manifest(name: &str, runtime: &str) -> String {
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/pump/pump.twin");
    let text = format!(
        r#"model = "{model}"

[runtime]
mode = "replay"
history = "off"
{runtime}

[[source]]
name = "feed"
kind = "stdin"

[instances]
ids = ["pump-1"]

[sensors.current]
source = "feed"
topic = "plant/{{id}}/current"
path = "/value"
time = "/ts"
"#
    );
    scratch(name, &text).display().to_string()
}

#[test]
fn run_refuses_an_address_in_use_and_a_missing_token() {
    let taken = match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr().map(|a| (l, a)))
    {
        Ok(pair) => pair,
        Err(e) => panic!("cannot bind: {e}"),
    };
    let path = manifest("api_in_use.toml", &format!("api = \"{}\"", taken.1));
    let o = twinc(&["run", &path]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("runtime.api") && errors[0].contains(&taken.1.to_string()),
        "{err}"
    );

    let path = manifest(
        "api_token.toml",
        "api = \"127.0.0.1:0\"\ntoken_env = \"TWINC_TEST_TOKEN_THAT_IS_NOT_SET\"",
    );
    let o = Command::new(env!("CARGO_BIN_EXE_twinc"))
        .args(["run", &path])
        .env_remove("TWINC_TEST_TOKEN_THAT_IS_NOT_SET")
        .output();
    let o = match o {
        Ok(o) => o,
        Err(e) => panic!("cannot run twinc: {e}"),
    };
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("runtime.token_env"), "{}", stderr(&o));
}

/// `GET path` → (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => panic!("cannot connect to {addr}: {e}"),
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    if let Err(e) = stream
        .write_all(request.as_bytes())
        .and_then(|()| stream.read_to_string(&mut response))
    {
        panic!("GET {path}: {e}");
    }
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let body = response
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

#[test]
fn run_serves_its_twins_on_the_logged_address() {
    let path = manifest("api_serves.toml", "api = \"127.0.0.1:0\"");
    let child = Command::new(env!("CARGO_BIN_EXE_twinc"))
        .args(["run", &path])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!("cannot run twinc: {e}"),
    };
    let Some(err) = child.stderr.take() else {
        panic!("no stderr");
    };
    let mut err = BufReader::new(err);
    let mut seen = String::new();
    let addr: SocketAddr = loop {
        let mut line = String::new();
        match err.read_line(&mut line) {
            Ok(0) | Err(_) => panic!("twinc ended before listening:\n{seen}"),
            Ok(_) => {}
        }
        seen.push_str(&line);
        if line.contains("HTTP API listening")
            && let Some(a) = line.split("addr=").nth(1)
            && let Ok(a) = a.trim().parse()
        {
            break a;
        }
    };
    // Keep draining the log so twinc never blocks on a full pipe.
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });
    let Some(mut input) = child.stdin.take() else {
        panic!("no stdin");
    };
    for ts in [0, 1] {
        let line = format!(
            "{{\"topic\": \"plant/pump-1/current\", \"payload\": {{\"value\": 12.5, \"ts\": {ts}}}}}\n"
        );
        if let Err(e) = input
            .write_all(line.as_bytes())
            .and_then(|()| input.flush())
        {
            panic!("cannot feed twinc: {e}");
        }
    }
    let (status, health) = get(addr, "/health");
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    // The twin shows up at its first tick.
    let mut body = None;
    for _ in 0..100_000 {
        let (status, text) = get(addr, "/twins/pump-1");
        if status == 200 {
            body = Some(text);
            break;
        }
        assert_eq!(status, 404, "{text}");
        std::thread::yield_now();
    }
    let Some(body) = body else {
        panic!("pump-1 never showed up");
    };
    assert!(body.contains("\"current\":{\"age_s\""), "{body}");
    assert!(body.contains("\"value\":12.5"), "{body}");
    // The data ends: twinc stops by itself, cleanly.
    drop(input);
    let status = child.wait();
    let log = drain.join().unwrap_or_default();
    match status {
        Ok(s) => assert_eq!(s.code(), Some(0), "{seen}{log}"),
        Err(e) => panic!("{e}"),
    }
}
