//! The HTTP API of `twinc run` (RUNTIME.md, "HTTP API").
//!
//! Takes the [`Shared`] view an [`ApiObserver`] keeps up to date, the
//! runner's [`Metrics`] and a [`WhatIf`] runner; gives a [`Server`]: axum
//! on a tokio runtime of its own, on its own thread, so the runner never
//! waits on an HTTP client. Routes:
//!
//! - `GET /health`: liveness, twin count, uptime (never needs the token);
//! - `GET /metrics`: Prometheus text ([`metrics`]);
//! - `GET /twins`, `GET /twins/{id}`: the fleet and one twin ([`view`]);
//! - `POST /twins/{id}/whatif`: a what-if forked from the twin
//!   ([`whatif`]), run on tokio's blocking pool, at most
//!   [`WHATIF_AT_ONCE`] at a time;
//! - `GET /twins/{id}/stream`: server-sent events, one per tick.
//!
//! With a token every route but `/health` needs `Authorization: Bearer
//! TOKEN` (compared in constant time); errors are JSON `{"error": ...}`.

pub mod metrics;
pub mod view;
pub mod whatif;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use tokio::sync::{Semaphore, broadcast, oneshot};

use crate::live::run::Metrics;
pub use view::{ApiObserver, Shared, View, observe};
use whatif::{Refusal, WhatIf, parse_request};

/// How many what-if runs may go at once; more are refused with 503.
pub const WHATIF_AT_ONCE: usize = 2;

/// What the server needs.
pub struct Options {
    /// Where to listen (port 0: any free port; see [`Server::addr`]).
    pub addr: SocketAddr,
    /// The bearer token every route but `/health` requires, if any.
    pub token: Option<String>,
    /// The view the observer keeps.
    pub shared: Arc<Shared>,
    /// The runner's counters.
    pub metrics: Arc<Metrics>,
    /// What-if runs.
    pub whatif: WhatIf,
}

/// The state every handler sees.
struct App {
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    whatif: Arc<WhatIf>,
    token: Option<String>,
    slots: Arc<Semaphore>,
    whatif_ok: AtomicU64,
    whatif_refused: AtomicU64,
}

/// A running API server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `options.addr` (here, so a port in use is an error before
    /// anything runs) and serves on a thread of its own.
    pub fn start(options: Options) -> Result<Server, String> {
        let addr = options.addr;
        let listener = std::net::TcpListener::bind(addr)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let local = listener
            .local_addr()
            .and_then(|a| listener.set_nonblocking(true).map(|()| a))
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("twin-api")
            .build()
            .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
        let app = Arc::new(App {
            shared: options.shared,
            metrics: options.metrics,
            whatif: Arc::new(options.whatif),
            token: options.token,
            slots: Arc::new(Semaphore::new(WHATIF_AT_ONCE)),
            whatif_ok: AtomicU64::new(0),
            whatif_refused: AtomicU64::new(0),
        });
        let router = router(app);
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("twin-api".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "the HTTP API cannot listen");
                            return;
                        }
                    };
                    tokio::select! {
                        served = axum::serve(listener, router).into_future() => {
                            if let Err(e) = served {
                                tracing::error!(error = %e, "the HTTP API stopped");
                            }
                        }
                        _ = stopped => {}
                    }
                });
                // Open event streams and what-ifs are abandoned, not awaited.
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(|e| format!("cannot start the HTTP thread: {e}"))?;
        Ok(Server {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn router(app: Arc<App>) -> Router {
    let guarded = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/twins", get(twins))
        .route("/twins/{id}", get(twin))
        .route("/twins/{id}/whatif", post(what_if))
        .route("/twins/{id}/stream", get(stream))
        .route_layer(middleware::from_fn_with_state(app.clone(), auth));
    Router::new()
        .route("/health", get(health))
        .merge(guarded)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such route") })
        .with_state(app)
}

/// A JSON error.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn no_twin(view: &View, id: &str) -> Response {
    let hint = twin_compiler::units::closest(id, view.ids.iter().map(|s| s.as_str()))
        .map_or(String::new(), |b| format!(" (did you mean `{b}`?)"));
    error(StatusCode::NOT_FOUND, format!("no twin `{id}`{hint}"))
}

/// Lets a request through when no token is set or it carries the token.
async fn auth(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let ok = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.as_bytes())));
        if !ok {
            let mut response = error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token (Authorization: Bearer TOKEN)",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

async fn health(State(app): State<Arc<App>>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "twins": app.shared.current().ids.len(),
        "uptime_s": view::round(app.shared.started.elapsed().as_secs_f64()),
    }))
}

async fn metrics_text(State(app): State<Arc<App>>) -> Response {
    let view = app.shared.current();
    let text = metrics::render(
        &app.metrics,
        view.t,
        &metrics::Extra {
            twins: view.ids.len(),
            uptime_s: app.shared.started.elapsed().as_secs_f64(),
            whatif_runs: app.whatif_ok.load(Ordering::Relaxed),
            whatif_refused: app.whatif_refused.load(Ordering::Relaxed),
        },
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn twins(State(app): State<Arc<App>>) -> Json<Value> {
    let view = app.shared.current();
    let t = view.epoch.map(view::round);
    let list: Vec<Value> = view
        .ids
        .iter()
        .map(|id| json!({"id": id, "twin": view.model.name, "t": t}))
        .collect();
    Json(Value::Array(list))
}

async fn twin(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let view = app.shared.current();
    match view.index(&id) {
        Some(i) => Json(view.twin_json(i)).into_response(),
        None => no_twin(&view, &id),
    }
}

async fn what_if(State(app): State<Arc<App>>, Path(id): Path<String>, body: Bytes) -> Response {
    let view = app.shared.current();
    let Some(i) = view.index(&id) else {
        return no_twin(&view, &id);
    };
    let refuse = |status, message: String| {
        app.whatif_refused.fetch_add(1, Ordering::Relaxed);
        error(status, message)
    };
    let request = match parse_request(&body) {
        Ok(r) => r,
        Err(r) => return refusal(&app, r),
    };
    let Ok(permit) = app.slots.clone().try_acquire_owned() else {
        let mut response = refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("busy: {WHATIF_AT_ONCE} what-if runs are going; try again when one ends"),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let fork = view.fork(i);
    let epoch = view.epoch.unwrap_or(0.0);
    let whatif = app.whatif.clone();
    let ran = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        whatif.run(&request, &view.model, &fork, &id, epoch)
    })
    .await;
    match ran {
        Ok(Ok(report)) => {
            app.whatif_ok.fetch_add(1, Ordering::Relaxed);
            Json(report).into_response()
        }
        Ok(Err(r)) => refusal(&app, r),
        Err(e) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the what-if run failed: {e}"),
        ),
    }
}

fn refusal(app: &App, r: Refusal) -> Response {
    app.whatif_refused.fetch_add(1, Ordering::Relaxed);
    match r {
        Refusal::Bad { field, message } => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": format!("{field}: {message}"), "field": field})),
        )
            .into_response(),
        Refusal::Failed(m) => error(StatusCode::INTERNAL_SERVER_ERROR, m),
    }
}

async fn stream(State(app): State<Arc<App>>, Path(id): Path<String>) -> Response {
    let view = app.shared.current();
    if view.index(&id).is_none() {
        return no_twin(&view, &id);
    }
    let rx = app.shared.subscribe();
    let events = futures_util::stream::unfold((rx, id), |(mut rx, id)| async move {
        loop {
            match rx.recv().await {
                Ok(view) => {
                    let Some(i) = view.index(&id) else { continue };
                    let data = view.twin_json(i).to_string();
                    let event = Event::default()
                        .event("tick")
                        .id(view.tick.to_string())
                        .data(data);
                    return Some((Ok::<Event, Infallible>(event), (rx, id)));
                }
                // A slow reader skips ticks; the runner never waits.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
