//! A throwaway PostgreSQL server, for tests and benchmarks.
//!
//! Takes the PostgreSQL binaries found on the machine (`initdb`, `pg_ctl`:
//! `$TWIN_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin`, then `PATH`);
//! gives a server of its own in a temporary folder, listening on a free
//! loopback port and a Unix socket in that folder, trusting local
//! connections, and stopped (its folder removed) when dropped. PostgreSQL
//! refuses to run as root, so as root the folder is made in the system's
//! temporary folder, handed to the `postgres` user, and the binaries run
//! as that user (`runuser`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running server and its folder.
pub struct TempServer {
    /// The folder holding the data directory and the socket.
    dir: PathBuf,
    bin: PathBuf,
    /// The TCP port on 127.0.0.1.
    pub port: u16,
    /// Whether the binaries run as the `postgres` user.
    as_postgres: bool,
}

/// The folder with `initdb` and `pg_ctl`, if PostgreSQL is installed.
pub fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TWIN_PG_BIN").map(PathBuf::from)
        && dir.join("initdb").is_file()
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn is_root() -> bool {
    // The effective user, as `id -u` tells it (no unsafe call to geteuid).
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

impl TempServer {
    /// Creates and starts a server under `parent` (a fresh folder is made
    /// in it); an error says which step failed and what it printed.
    pub fn start(parent: &Path) -> Result<TempServer, String> {
        let bin = binaries().ok_or("PostgreSQL is not installed (no initdb found)")?;
        let as_postgres = is_root();
        // The postgres user must reach the folder: as root it goes in the
        // system's temporary folder rather than under `parent`, whose
        // parents need not let other users through.
        let parent = if as_postgres {
            std::env::temp_dir()
        } else {
            parent.to_path_buf()
        };
        std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let dir = parent.join(format!("twin-pg-{}-{}", std::process::id(), free_port()?));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut server = TempServer {
            dir,
            bin,
            port: 0,
            as_postgres,
        };
        if as_postgres {
            server.check(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&server.dir)
                    .output(),
                "chown",
            )?;
        }
        let data = server.dir.join("data");
        server.check(
            server
                .command("initdb")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "-D",
                ])
                .arg(&data)
                .output(),
            "initdb",
        )?;
        // Another process may take a free port before the server does:
        // try a few.
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=40",
                server.port,
                server.dir.display()
            );
            let started = server
                .command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output();
            match server.check(started, "pg_ctl start") {
                Ok(()) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn check(&self, out: std::io::Result<Output>, what: &str) -> Result<(), String> {
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => {
                let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
                Err(format!(
                    "{what} failed: {}{}\n{log}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                ))
            }
            Err(e) => Err(format!("cannot run {what}: {e}")),
        }
    }

    /// Creates database `name`; gives its URL.
    pub fn database(&self, name: &str) -> Result<String, String> {
        let mut client = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .map_err(|e| format!("cannot connect: {e}"))?;
        // Each on its own: neither may run inside a transaction block.
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\""),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            client.batch_execute(&sql).map_err(|e| {
                format!(
                    "cannot create database {name}: {}",
                    super::schema::one_line(&e)
                )
            })?;
        }
        Ok(self.url(name))
    }

    /// The URL of database `name` on this server (TCP, user `postgres`).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server (fast: open connections are ended), as if it went
    /// away; [`TempServer::restart`] brings it back on the same port.
    pub fn stop(&self) -> Result<(), String> {
        self.check(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-w", "-m", "fast", "stop"])
                .output(),
            "pg_ctl stop",
        )
    }

    /// Starts the stopped server again on the same port.
    pub fn restart(&self) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=40",
            self.port,
            self.dir.display()
        );
        self.check(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .output(),
            "pg_ctl start",
        )
    }
}

impl Drop for TempServer {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts a server for a test under `parent`, or gives `None` (printing
/// why) when PostgreSQL is not installed; with `TWIN_E2E_REQUIRED=1`, or
/// when it is installed but does not start, the test fails instead.
pub fn for_test(parent: &Path) -> Option<TempServer> {
    let required = std::env::var("TWIN_E2E_REQUIRED").is_ok_and(|v| v == "1");
    if binaries().is_none() && !required {
        eprintln!("skipped: PostgreSQL is not installed (set TWIN_E2E_REQUIRED=1 to fail instead)");
        return None;
    }
    match TempServer::start(parent) {
        Ok(s) => Some(s),
        Err(e) => panic!("cannot start a PostgreSQL server for the test: {e}"),
    }
}
