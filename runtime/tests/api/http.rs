//! A minimal HTTP/1.1 client over a plain `TcpStream`, enough for the API
//! tests: one request per connection (`Connection: close`), bodies with a
//! length or chunked, and server-sent events read chunk by chunk. Writing
//! it here keeps an HTTP client crate (and its TLS stack) out of the build
//! and lets the tests see the exact bytes the server sends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_str(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("not JSON ({e}): {}", self.body),
        }
    }
}

/// Safety net against a server that never answers; no test waits on it.
const GIVE_UP: Duration = Duration::from_secs(60);

fn connect(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> BufReader<TcpStream> {
    let mut stream = match TcpStream::connect(addr) {
        Ok(s) => s,
        Err(e) => panic!("cannot connect to {addr}: {e}"),
    };
    let _ = stream.set_read_timeout(Some(GIVE_UP));
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.push_str(body);
    if let Err(e) = stream.write_all(head.as_bytes()) {
        panic!("cannot send {method} {path}: {e}");
    }
    BufReader::new(stream)
}

fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    if let Err(e) = reader.read_line(&mut line) {
        panic!("cannot read the response: {e}");
    }
    line.trim_end_matches(['\r', '\n']).to_string()
}

fn head(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>) {
    let status_line = line(reader);
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let l = line(reader);
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (status, headers)
}

/// The next chunk of a chunked body (`None` at the last, empty one).
fn chunk(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let size = line(reader);
    let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        .unwrap_or_else(|_| panic!("not a chunk size: {size:?}"));
    if size == 0 {
        return None;
    }
    let mut data = vec![0; size];
    if let Err(e) = reader.read_exact(&mut data) {
        panic!("cannot read a chunk: {e}");
    }
    let _ = line(reader);
    Some(String::from_utf8_lossy(&data).into_owned())
}

/// Sends a request and reads the whole response.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut reader = connect(addr, method, path, headers, body);
    let (status, headers) = head(&mut reader);
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let mut body = String::new();
    if chunked {
        while let Some(c) = chunk(&mut reader) {
            body.push_str(&c);
        }
    } else if let Err(e) = reader.read_to_string(&mut body) {
        panic!("cannot read the body: {e}");
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET path`.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    request(addr, "GET", path, &[], "")
}

/// `POST path` with a JSON body.
pub fn post(addr: SocketAddr, path: &str, body: &str) -> Reply {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body,
    )
}

/// An open event stream.
pub struct Events {
    reader: BufReader<TcpStream>,
    buffer: String,
    /// The response's status.
    pub status: u16,
    /// Its headers.
    pub headers: Vec<(String, String)>,
}

/// One server-sent event: its fields (`event`, `id`, `data`).
pub type SseEvent = Vec<(String, String)>;

impl Events {
    /// Opens `GET path` and reads the response head; from then on the
    /// server has subscribed this client.
    pub fn open(addr: SocketAddr, path: &str) -> Events {
        let mut reader = connect(addr, "GET", path, &[], "");
        let (status, headers) = head(&mut reader);
        Events {
            reader,
            buffer: String::new(),
            status,
            headers,
        }
    }

    /// The next event that has data (keep-alive comments are skipped).
    pub fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let fields: SseEvent = block
                    .lines()
                    .filter(|l| !l.starts_with(':'))
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()))
                    .collect();
                if fields.iter().any(|(k, _)| k == "data") {
                    return Some(fields);
                }
                continue;
            }
            self.buffer.push_str(&chunk(&mut self.reader)?);
        }
    }
}
