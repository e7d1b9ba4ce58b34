//! A private mosquitto broker for the end-to-end tests and the MQTT
//! benchmark.
//!
//! Takes a scratch folder; gives a [`Mosquitto`] listening on a free
//! loopback port with a configuration of its own (anonymous clients, no
//! persistence to disk, queues large enough that nothing a test publishes
//! is dropped), killed when dropped. Its log goes to `mosquitto.log` in the
//! folder. When there is no mosquitto on this machine (`mosquitto` on
//! `PATH`, or in `/usr/sbin` or `/usr/local/sbin` where Debian and
//! Homebrew put it; `TWIN_MOSQUITTO` names another), [`Mosquitto::start`]
//! says so and the caller skips;
//! `TWIN_E2E_REQUIRED=1` (set by `.ci/run`) turns the skip into a failure
//! ([`required`]).
//!
//! This file is also compiled into `benches/mqtt.rs` (`#[path]`), so it
//! uses nothing from the test crate.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mosquitto process of our own.
pub struct Mosquitto {
    child: Child,
    /// The loopback port it listens on.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
}

/// Whether a missing broker is a failure rather than a skip.
pub fn required() -> bool {
    std::env::var("TWIN_E2E_REQUIRED").is_ok_and(|v| v == "1")
}

/// The mosquitto executable, if this machine has one: `TWIN_MOSQUITTO`
/// when set (that file or none), else the first on `PATH`, in `/usr/sbin`
/// or in `/usr/local/sbin`.
pub fn find() -> Option<PathBuf> {
    if let Some(exe) = std::env::var_os("TWIN_MOSQUITTO") {
        let exe = PathBuf::from(exe);
        return exe.is_file().then_some(exe);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("mosquitto"))
        .find(|p| p.is_file())
}

impl Mosquitto {
    /// Starts a broker whose configuration and log live in `dir`; gives it
    /// once it accepts connections, or why it cannot be had.
    pub fn start(dir: &Path) -> Result<Mosquitto, String> {
        let exe = find().ok_or(
            "mosquitto is not installed (not on PATH nor in /usr/sbin, or not where TWIN_MOSQUITTO says)",
        )?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // The free port is found by binding port 0 and letting it go, so
        // another process may take it in between: try a few.
        let mut last = String::new();
        for attempt in 0..5 {
            let port = free_port()?;
            let config = dir.join(format!("mosquitto-{attempt}.conf"));
            let log = dir.join("mosquitto.log");
            std::fs::write(&config, configuration(port))
                .map_err(|e| format!("{}: {e}", config.display()))?;
            let log_file = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let child = Command::new(&exe)
                .arg("-c")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
            let mut broker = Mosquitto { child, port, log };
            match broker.wait_until_listening() {
                Ok(()) => return Ok(broker),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("mosquitto exited ({status}): {}", log.trim()));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("mosquitto did not listen within 10 s".into())
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The broker's settings: loopback only, anyone may connect, nothing kept
/// on disk (a restarted *client* keeps its session; the broker is never
/// restarted), deep queues so that a fleet's worth of QoS 1 messages
/// published while the runtime is down all wait for it, Nagle off.
fn configuration(port: u16) -> String {
    format!(
        "listener {port} 127.0.0.1\n\
         allow_anonymous true\n\
         persistence false\n\
         max_inflight_messages 1000\n\
         max_queued_messages 1000000\n\
         max_queued_bytes 0\n\
         set_tcp_nodelay true\n\
         log_dest stderr\n\
         log_type error\n\
         log_type warning\n"
    )
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}
