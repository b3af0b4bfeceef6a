//! The function: a long-lived child process served by our own Lambda Runtime API on loopback.
//!
//! Paths and headers as AWS documents them
//! (<https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>):
//! `GET /2018-06-01/runtime/invocation/next` answers with the event and
//! `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch milliseconds),
//! `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! `POST /2018-06-01/runtime/invocation/{id}/response`, `.../{id}/error` and
//! `POST /2018-06-01/runtime/init/error` answer 202.
//!
//! Environment as Lambda sets it for a function
//! (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>).
//!
//! Each process gets a listener of its own: when a process is killed (timeout, crash, init
//! error), its listener and every connection on it go too, so a request the dead process left
//! waiting can never take the next process's invocation.

use std::collections::HashMap;
use std::ffi::OsString;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// How long Lambda gives a function's init phase (on-demand: 10 s,
/// <https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-ib>).
const INIT_LIMIT: Duration = Duration::from_secs(10);

/// How one invocation ended.
#[derive(Debug)]
pub enum Outcome {
    /// `POST .../response`: the response body.
    Response(Bytes),
    /// `POST .../error`: the error type header and the body.
    Error { error_type: String, body: String },
    /// The function did not answer before its deadline: it was killed.
    Timeout,
    /// The process exited before answering.
    Crash(String),
    /// The process could not be started at all (no such file, not executable): not the
    /// function's failure, so the run stops instead of retrying or diverting records.
    CannotStart(String),
    /// The runtime reported an init error (`/init/error`).
    InitError(String),
}

impl Outcome {
    pub fn describe(&self) -> String {
        match self {
            Outcome::Response(_) => "response".into(),
            Outcome::Error { error_type, body } => format!("function error {error_type}: {body}"),
            Outcome::Timeout => "timed out".into(),
            Outcome::Crash(s) => format!("crashed: {s}"),
            Outcome::CannotStart(s) => s.clone(),
            Outcome::InitError(s) => format!("init error: {s}"),
        }
    }
}

struct Invocation {
    id: String,
    body: Bytes,
    timeout: Duration,
    arn: String,
    trace_id: String,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Option<Invocation>>,
    slot_notify: Notify,
    /// Deadline of the invocation the process took, set by `next`.
    taken: Mutex<Option<Instant>>,
    taken_notify: Notify,
    results: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<String>>,
    init_notify: Notify,
}

struct Instance {
    child: tokio::process::Child,
    server: JoinHandle<()>,
    shared: Arc<Shared>,
}

impl Instance {
    async fn stop(mut self) {
        self.server.abort();
        let _ = self.child.kill().await;
    }
}

/// The function's command and its Lambda settings.
pub struct Function {
    command: Vec<OsString>,
    pub name: String,
    pub arn: String,
    timeout: Duration,
    memory_mb: u32,
    instance: Option<Instance>,
    /// Processes started so far.
    pub starts: u64,
}

impl Function {
    pub fn new(command: Vec<OsString>, timeout: Duration) -> Function {
        let name = std::path::Path::new(&command[0])
            .file_name()
            .map_or_else(|| "function".to_owned(), |n| n.to_string_lossy().into_owned());
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let arn = format!("arn:aws:lambda:{region}:123456789012:function:{name}");
        Function { command, name, arn, timeout, memory_mb: 1024, instance: None, starts: 0 }
    }

    /// Whether the command can be started: a path names an executable file, a bare name one on
    /// `PATH`. Checked before polling, so that a typo stops the run at once instead of failing
    /// the first batch.
    pub fn check(&self) -> Result<()> {
        let program = std::path::Path::new(&self.command[0]);
        let shown = program.display();
        if program.components().count() > 1 {
            return executable(program)
                .with_context(|| format!("cannot start the function {shown}"));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        if std::env::split_paths(&path).any(|dir| executable(&dir.join(program)).is_ok()) {
            return Ok(());
        }
        anyhow::bail!("cannot start the function {shown}: no such program on PATH")
    }

    async fn start(&mut self) -> Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::default());
        let server = tokio::spawn(serve(listener, shared.clone()));
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        let cwd = std::env::current_dir().unwrap_or_default();
        let child = tokio::process::Command::new(&self.command[0])
            .args(&self.command[1..])
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", self.memory_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", self.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/[$LATEST]{}", hex_id(32)))
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", &region)
            .env("LAMBDA_TASK_ROOT", &cwd)
            .env("TZ", ":UTC")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) => {
                server.abort();
                return Err(e).with_context(|| {
                    format!("cannot start the function {}", self.command[0].to_string_lossy())
                });
            }
        };
        self.starts += 1;
        self.instance = Some(Instance { child, server, shared });
        Ok(())
    }

    /// Stops the process (it is started again for the next invocation).
    pub async fn stop(&mut self) {
        if let Some(i) = self.instance.take() {
            i.stop().await;
        }
    }

    /// Sends one event to the function (started first if it is not running) and waits for the
    /// outcome. Returns the request id too.
    pub async fn invoke(&mut self, body: Bytes) -> (String, Outcome) {
        let id = request_id();
        let t = Instant::now();
        let outcome = self.invoke_inner(&id, body).await;
        if std::env::var_os("MSK_LAMBDA_DEBUG").is_some() {
            eprintln!("invoke {id}: {:?} in {:?}", outcome, t.elapsed());
        }
        if matches!(outcome, Outcome::Timeout | Outcome::Crash(_) | Outcome::InitError(_)) {
            // Lambda resets the execution environment after a timeout or a runtime exit
            // (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-invoke-with-errors).
            self.stop().await;
        }
        (id, outcome)
    }

    async fn invoke_inner(&mut self, id: &str, body: Bytes) -> Outcome {
        // A process that exited between invocations is replaced before the event goes out,
        // as Lambda starts a new execution environment: the exit is not this batch's failure.
        if let Some(inst) = self.instance.as_mut() {
            if matches!(inst.child.try_wait(), Ok(Some(_))) {
                self.stop().await;
            }
        }
        let cold = self.instance.is_none();
        if cold {
            if let Err(e) = self.start().await {
                return Outcome::CannotStart(format!("{e:#}"));
            }
        }
        let timeout = self.timeout;
        let inst = self.instance.as_mut().expect("started");
        let shared = inst.shared.clone();
        let (tx, mut rx) = oneshot::channel();
        shared.results.lock().unwrap().insert(id.to_owned(), tx);
        *shared.taken.lock().unwrap() = None;
        *shared.slot.lock().unwrap() = Some(Invocation {
            id: id.to_owned(),
            body,
            timeout,
            arn: self.arn.clone(),
            trace_id: trace_id(),
        });
        shared.slot_notify.notify_one();
        // Until the process takes the event: its init (cold) or nothing (warm) may run, then the
        // function's own timeout from the moment it took the event.
        let take_limit = Instant::now() + timeout + if cold { INIT_LIMIT } else { Duration::ZERO };
        let outcome = loop {
            let deadline = shared.taken.lock().unwrap().unwrap_or(take_limit);
            let taken = shared.taken_notify.notified();
            let init = shared.init_notify.notified();
            if let Some(e) = shared.init_error.lock().unwrap().take() {
                break Outcome::InitError(e);
            }
            tokio::select! {
                r = &mut rx => break r.unwrap_or(Outcome::Crash("no outcome".into())),
                () = tokio::time::sleep_until(deadline.into()) => break Outcome::Timeout,
                status = inst.child.wait() => {
                    // An answer sent just before exiting still counts.
                    if let Ok(r) = rx.try_recv() { break r; }
                    break Outcome::Crash(match status {
                        Ok(s) => format!("the process exited ({s})"),
                        Err(e) => e.to_string(),
                    });
                }
                () = taken => continue,
                () = init => continue,
            }
        };
        shared.results.lock().unwrap().remove(id);
        shared.slot.lock().unwrap().take();
        outcome
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", "application/json".parse().unwrap());
    r
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> std::result::Result<Response<Full<Bytes>>, std::convert::Infallible> {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#));
    };
    let method = req.method().clone();
    let error_type = req
        .headers()
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned();
    if method == Method::GET && rest == "invocation/next" {
        let inv = loop {
            let notified = shared.slot_notify.notified();
            if let Some(inv) = shared.slot.lock().unwrap().take() {
                break inv;
            }
            notified.await;
        };
        let deadline = SystemTime::now() + inv.timeout;
        *shared.taken.lock().unwrap() = Some(Instant::now() + inv.timeout);
        shared.taken_notify.notify_one();
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let mut r = Response::new(Full::new(inv.body));
        let h = r.headers_mut();
        h.insert("content-type", "application/json".parse().unwrap());
        h.insert("Lambda-Runtime-Aws-Request-Id", inv.id.parse().unwrap());
        h.insert("Lambda-Runtime-Deadline-Ms", deadline_ms.to_string().parse().unwrap());
        h.insert("Lambda-Runtime-Invoked-Function-Arn", inv.arn.parse().unwrap());
        h.insert("Lambda-Runtime-Trace-Id", inv.trace_id.parse().unwrap());
        return Ok(r);
    }
    if method != Method::POST {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#));
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, r#"{"errorMessage":"bad body"}"#)),
    };
    if rest == "init/error" {
        *shared.init_error.lock().unwrap() =
            Some(format!("{error_type}: {}", String::from_utf8_lossy(&body)));
        shared.init_notify.notify_one();
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    let Some(rest) = rest.strip_prefix("invocation/") else {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#));
    };
    let (id, outcome) = if let Some(id) = rest.strip_suffix("/response") {
        (id, Outcome::Response(body))
    } else if let Some(id) = rest.strip_suffix("/error") {
        (id, Outcome::Error { error_type, body: String::from_utf8_lossy(&body).into_owned() })
    } else {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorMessage":"not found"}"#));
    };
    match shared.results.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        None => Ok(reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        )),
    }
}

fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish()
}

fn hex_id(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&format!("{:016x}", random_u64()));
    }
    s.truncate(len);
    s
}

/// A request id shaped like Lambda's (a UUID v4).
fn request_id() -> String {
    let h = hex_id(32);
    format!("{}-{}-4{}-a{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[17..20], &h[20..32])
}

/// An X-Ray trace header as Lambda passes it (`Root=1-<epoch hex>-<96 bits>;Parent=...;Sampled=0`).
fn trace_id() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("Root=1-{secs:08x}-{};Parent={};Sampled=0", hex_id(24), hex_id(16))
}

/// Ok if `path` is a file this process may execute.
fn executable(path: &std::path::Path) -> Result<()> {
    let meta = std::fs::metadata(path)?;
    anyhow::ensure!(meta.is_file(), "not a file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        anyhow::ensure!(meta.permissions().mode() & 0o111 != 0, "not executable (chmod +x)");
    }
    Ok(())
}
