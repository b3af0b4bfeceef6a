//! The Runtime API client [`Consumer::run`](crate::Consumer::run) serves invocations with.
//!
//! `lambda_runtime` (behind [`into_runtime`](crate::Consumer::into_runtime)) collects each
//! event from hyper's read buffers into a new `Bytes`: a full batch's 6 MB are copied twice in
//! user space, into pages freshly faulted in on every invocation. This client reads the
//! `/next` body from the socket straight into one buffer, sized from its Content-Length and
//! kept from one invocation to the next, and the event is parsed where it lies. It speaks the
//! little HTTP/1.1 the Runtime API needs: one keep-alive connection, bodies framed by
//! Content-Length or chunked.
//!
//! Around each invocation it does what `lambda_runtime::Runtime::run` does with the layers
//! `into_runtime` adds: the `Lambda runtime invoke` span of its `TracingLayer` (`requestId`,
//! `xrayTraceId`, `tenantId`; `lambda_runtime::layers::trace::request_span` itself),
//! `_X_AMZN_TRACE_ID` set from the trace header, an invocation error posted to `/error` as a
//! `Diagnostic` with `Lambda-Runtime-Function-Error-Type: unhandled`, a panic posted to `/error`
//! the way its `CatchPanicService` posts it (and the next invocation served),
//! `Lambda-Runtime-Invocation-Id` echoed, a non-2xx answer to a post logged and serving
//! continued, a failure to reach the Runtime API ending the process with an error. A failed
//! INIT phase (the environment, the state) is posted to `/runtime/init/error` before the
//! process ends, as the custom-runtime contract asks, so that Lambda reports its message.

use std::any::Any;
use std::future::Future;
use std::io::{self, Write as _};
use std::ops::Range;
use std::panic::AssertUnwindSafe;

use bytes::BufMut as _;
use futures_util::FutureExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tracing::Instrument as _;

use crate::error::InvocationError;
use crate::event_memory::EventMemory;
use crate::report::BatchResponse;
use crate::Error;

const USER_AGENT: &str = concat!("msk-lambda/", env!("CARGO_PKG_VERSION"));
/// The longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The most memory set aside for a body before its bytes arrive.
const MAX_PRESIZED: usize = 64 << 20;
/// How much is read at a time while looking for the end of a head or a chunk-size line.
const HEAD_READ: usize = 8 * 1024;

/// Where the Runtime API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `host:port` (or `host`), for connecting and for the Host header.
    authority: String,
    /// A path the API's paths go under (cargo-lambda's emulator: `/.rt`), no trailing slash.
    prefix: String,
}

impl Endpoint {
    /// From `AWS_LAMBDA_RUNTIME_API`: `host:port` as Lambda sets it, or an `http://` URL with
    /// an optional path as emulators set it. `None` for anything else (`https://`, say), which
    /// is left to `lambda_runtime`.
    pub(crate) fn parse(value: &str) -> Option<Endpoint> {
        let rest = match value.strip_prefix("http://") {
            Some(rest) => rest,
            None if value.contains("://") => return None,
            None => value,
        };
        let (authority, path) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') || path.contains(['?', '#']) {
            return None;
        }
        Some(Endpoint {
            authority: authority.to_owned(),
            prefix: path.trim_end_matches('/').to_owned(),
        })
    }

    /// The address to connect to: the authority, with port 80 when it names none.
    fn address(&self) -> String {
        let has_port = self
            .authority
            .rsplit_once(':')
            .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()));
        if has_port {
            self.authority.clone()
        } else {
            format!("{}:80", self.authority)
        }
    }
}

/// One invocation, from the headers of its `/next` response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Next {
    pub(crate) request_id: String,
    pub(crate) deadline_ms: u64,
    pub(crate) invoked_function_arn: Option<String>,
    pub(crate) xray_trace_id: Option<String>,
    pub(crate) tenant_id: Option<String>,
    /// `Lambda-Runtime-Invocation-Id`, echoed in the response.
    pub(crate) invocation_id: Option<String>,
}

impl Next {
    /// The context `lambda_runtime` would build: what the tracing span and the
    /// [`InvocationContext`] are made from.
    pub(crate) fn lambda_context(&self) -> lambda_runtime::Context {
        let mut context = lambda_runtime::Context::default();
        context.request_id.clone_from(&self.request_id);
        context.deadline = self.deadline_ms;
        context.invoked_function_arn = self
            .invoked_function_arn
            .clone()
            .unwrap_or_else(|| "No header lambda-runtime-invoked-function-arn found.".to_owned());
        context.xray_trace_id.clone_from(&self.xray_trace_id);
        context.tenant_id.clone_from(&self.tenant_id);
        context
    }
}

/// What serves an invocation: the consumer, or a test's stand-in.
pub(crate) trait Invoke {
    fn serve(
        &self,
        event: &[u8],
        context: &lambda_runtime::Context,
    ) -> impl Future<Output = Result<BatchResponse, InvocationError>>;
}

/// Serves invocations until the Runtime API cannot be reached or answers `/next` with
/// something that is not an invocation.
pub(crate) async fn run(endpoint: Endpoint, handler: &impl Invoke) -> Result<(), Error> {
    let mut client = Client::new(endpoint);
    loop {
        let next = client.next().await?;
        let context = next.lambda_context();
        match &context.xray_trace_id {
            Some(trace_id) => std::env::set_var("_X_AMZN_TRACE_ID", trace_id),
            None => std::env::remove_var("_X_AMZN_TRACE_ID"),
        }
        let span = lambda_runtime::layers::trace::request_span(&context);
        let outcome = AssertUnwindSafe(handler.serve(client.event(), &context))
            .catch_unwind()
            .instrument(span.clone())
            .await;
        async {
            match outcome {
                Ok(Ok(response)) => {
                    let body = serde_json::to_vec(&response).map_err(|e| e.to_string())?;
                    client.post(&next, "response", None, &body).await
                }
                Ok(Err(e)) => client.post_error(&next, e.into()).await,
                Err(panic) => {
                    tracing::error!(error = ?panic, "user handler panicked");
                    client.post_error(&next, panic_diagnostic(&panic)).await
                }
            }
        }
        .instrument(span)
        .await?;
    }
}

/// The diagnostic `lambda_runtime`'s `CatchPanicService` posts for a panic.
fn panic_diagnostic(panic: &Box<dyn Any + Send>) -> lambda_runtime::Diagnostic {
    let error_message = if let Some(msg) = panic.downcast_ref::<&str>() {
        format!("Lambda panicked: {msg}")
    } else if let Some(msg) = panic.downcast_ref::<String>() {
        format!("Lambda panicked: {msg}")
    } else {
        "Lambda panicked".to_owned()
    };
    lambda_runtime::Diagnostic {
        error_type: std::any::type_name::<&Box<dyn Any + Send>>().to_owned(),
        error_message,
    }
}

/// The client: one connection, and the buffer the events are read into.
pub(crate) struct Client {
    endpoint: Endpoint,
    connection: Option<Connection>,
    /// `GET /next`, as sent.
    next_request: Vec<u8>,
    /// The event of the invocation `next` returned last; its memory is kept (a large event's
    /// in a mapping advised for huge pages, see [`EventMemory`]).
    event: EventMemory,
    /// The bodies of the answers to posts.
    scratch: EventMemory,
}

impl Client {
    pub(crate) fn new(endpoint: Endpoint) -> Client {
        let next_request = format!(
            "GET {}/2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\n\r\n",
            endpoint.prefix, endpoint.authority
        )
        .into_bytes();
        Client {
            endpoint,
            connection: None,
            next_request,
            event: EventMemory::new(),
            scratch: EventMemory::new(),
        }
    }

    /// The event of the invocation [`next`](Client::next) returned.
    pub(crate) fn event(&self) -> &[u8] {
        &self.event
    }

    /// Waits for the next invocation (`GET /next`); its event is then [`event`](Client::event).
    pub(crate) async fn next(&mut self) -> Result<Next, Error> {
        loop {
            let head =
                exchange(&mut self.connection, &self.endpoint, &self.next_request, &mut self.event)
                    .await
                    .map_err(|e| {
                        format!("cannot get the next invocation from the Lambda Runtime API: {e}")
                    })?;
            // An emulator's way of keeping the function alive with no event pending.
            if head.status == 204 {
                continue;
            }
            if !(200..300).contains(&head.status) {
                return Err(format!(
                    "the Lambda Runtime API answered {} to /next: {}",
                    head.status,
                    String::from_utf8_lossy(&self.event)
                )
                .into());
            }
            return next_from(&head);
        }
    }

    /// Posts an invocation error to `/invocation/{id}/error`.
    async fn post_error(
        &mut self,
        next: &Next,
        diagnostic: lambda_runtime::Diagnostic,
    ) -> Result<(), Error> {
        let body = serde_json::to_vec(&diagnostic).map_err(|e| e.to_string())?;
        self.post(next, "error", Some(("Lambda-Runtime-Function-Error-Type", "unhandled")), &body)
            .await
    }

    /// Posts an INIT-phase failure to `/runtime/init/error`, with the `Diagnostic`
    /// `lambda_runtime` would make of the error. The process ends after it either way.
    pub(crate) async fn post_init_error(&mut self, error: &Error) -> Result<(), Error> {
        let diagnostic = lambda_runtime::Diagnostic {
            error_type: "Runtime.InitError".to_owned(),
            error_message: crate::error::chain(&**error),
        };
        let body = serde_json::to_vec(&diagnostic).map_err(|e| e.to_string())?;
        let header = ("Lambda-Runtime-Function-Error-Type", "Runtime.InitError");
        self.post_to("init/error", "the init error", [header].into_iter(), &body).await
    }

    /// Posts `body` to `/invocation/{id}/{what}`. A non-2xx answer is logged, not returned:
    /// serving goes on, as with `lambda_runtime`.
    async fn post(
        &mut self,
        next: &Next,
        what: &str,
        header: Option<(&str, &str)>,
        body: &[u8],
    ) -> Result<(), Error> {
        let path = format!("invocation/{}/{what}", next.request_id);
        let headers = header
            .into_iter()
            .chain(next.invocation_id.as_deref().map(|id| ("Lambda-Runtime-Invocation-Id", id)));
        self.post_to(&path, &format!("the invocation's {what}"), headers, body).await
    }

    /// Posts `body` (`what` it is, for messages) to `/runtime/{path}` with `headers`; a
    /// non-2xx answer is logged.
    async fn post_to<'h>(
        &mut self,
        path: &str,
        what: &str,
        headers: impl Iterator<Item = (&'h str, &'h str)>,
        body: &[u8],
    ) -> Result<(), Error> {
        let mut request = Vec::with_capacity(512 + body.len());
        let _ = write!(
            request,
            "POST {}/2018-06-01/runtime/{path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {USER_AGENT}\r\nContent-Length: {}\r\n",
            self.endpoint.prefix,
            self.endpoint.authority,
            body.len()
        );
        for (name, value) in headers {
            let _ = write!(request, "{name}: {value}\r\n");
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        let head = exchange(&mut self.connection, &self.endpoint, &request, &mut self.scratch)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "Lambda Runtime API request failed");
                format!("cannot post {what} to the Lambda Runtime API: {e}")
            })?;
        if !(200..300).contains(&head.status) {
            tracing::error!(
                status = head.status,
                body = %String::from_utf8_lossy(&self.scratch),
                "Lambda Runtime API returned non-200 response"
            );
            if head.status == 410 {
                tracing::error!(
                    "Lambda Runtime API rejected the response: invocation timed out or response was stale"
                );
            }
        }
        Ok(())
    }
}

/// The invocation a `/next` response's headers describe.
fn next_from(head: &Head) -> Result<Next, Error> {
    let request_id = head
        .get("lambda-runtime-aws-request-id")
        .ok_or("the Lambda Runtime API's /next response has no Lambda-Runtime-Aws-Request-Id")?;
    // It goes into the paths of the posts.
    if request_id.is_empty()
        || !request_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(
            format!("the Lambda Runtime API sent an unusable request id: {request_id:?}").into()
        );
    }
    let deadline_ms = head
        .get("lambda-runtime-deadline-ms")
        .ok_or("the Lambda Runtime API's /next response has no Lambda-Runtime-Deadline-Ms")?;
    let deadline_ms = deadline_ms.parse().map_err(|_| {
        format!(
            "the Lambda Runtime API sent an unusable Lambda-Runtime-Deadline-Ms: {deadline_ms:?}"
        )
    })?;
    let owned = |name| head.get(name).map(str::to_owned);
    Ok(Next {
        request_id: request_id.to_owned(),
        deadline_ms,
        invoked_function_arn: owned("lambda-runtime-invoked-function-arn"),
        xray_trace_id: owned("lambda-runtime-trace-id"),
        tenant_id: owned("lambda-runtime-aws-tenant-id"),
        // A header value: it goes back in a header.
        invocation_id: owned("lambda-runtime-invocation-id")
            .filter(|id| id.bytes().all(|b| b.is_ascii_graphic() || b == b' ')),
    })
}

/// The response headers the client reads; the others are skipped.
const HEADERS: [&str; 9] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "lambda-runtime-aws-request-id",
    "lambda-runtime-deadline-ms",
    "lambda-runtime-invoked-function-arn",
    "lambda-runtime-trace-id",
    "lambda-runtime-aws-tenant-id",
    "lambda-runtime-invocation-id",
];

/// A response's status and the headers of [`HEADERS`] (the first of each name).
#[derive(Debug)]
struct Head {
    status: u16,
    /// The head as received, and where the value of each of [`HEADERS`] is in it.
    text: Vec<u8>,
    values: [Option<Range<usize>>; HEADERS.len()],
}

impl Head {
    /// The value of header `name` (one of [`HEADERS`]), if it is there and UTF-8.
    fn get(&self, name: &str) -> Option<&str> {
        let i = HEADERS.iter().position(|h| *h == name);
        debug_assert!(i.is_some(), "{name} is not read");
        let value = self.values[i?].clone()?;
        std::str::from_utf8(&self.text[value]).ok()
    }

    /// Whether the connection stays open after this response.
    fn keep_alive(&self) -> bool {
        !self
            .get("connection")
            .is_some_and(|v| v.split(',').any(|token| token.trim().eq_ignore_ascii_case("close")))
    }

    fn framing(&self) -> io::Result<Framing> {
        if (100..200).contains(&self.status) || self.status == 204 || self.status == 304 {
            return Ok(Framing::Length(0));
        }
        if let Some(encoding) = self.get("transfer-encoding") {
            return if encoding
                .rsplit(',')
                .next()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("chunked"))
            {
                Ok(Framing::Chunked)
            } else {
                Err(invalid(format!("unsupported Transfer-Encoding: {encoding}")))
            };
        }
        match self.get("content-length") {
            Some(length) => length
                .parse()
                .map(Framing::Length)
                .map_err(|_| invalid(format!("bad Content-Length: {length:?}"))),
            None => Ok(Framing::UntilClose),
        }
    }
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Sends `request` and reads the response's body into `body`, connecting first if need be.
/// A request that fails before any of the answer arrived on a connection used before (which
/// the server may have closed meanwhile) is sent again once, on a new connection.
async fn exchange(
    connection: &mut Option<Connection>,
    endpoint: &Endpoint,
    request: &[u8],
    body: &mut EventMemory,
) -> io::Result<Head> {
    let mut retried = false;
    loop {
        let conn = match connection {
            Some(conn) => conn,
            None => connection.insert(Connection::open(endpoint).await?),
        };
        let reused = conn.used;
        conn.used = true;
        let head = match conn.send(request).await {
            Ok(head) => head,
            Err(Failure { error, answered }) => {
                *connection = None;
                if reused && !answered && !retried {
                    retried = true;
                    continue;
                }
                return Err(error);
            }
        };
        let read = conn.read_body(&head, body).await;
        if read.is_err() || !head.keep_alive() || matches!(head.framing(), Ok(Framing::UntilClose))
        {
            *connection = None;
        }
        read?;
        return Ok(head);
    }
}

/// Why a request failed, and whether any of the answer had arrived.
struct Failure {
    error: io::Error,
    answered: bool,
}

struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet consumed: `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    used: bool,
}

impl Connection {
    async fn open(endpoint: &Endpoint) -> io::Result<Connection> {
        let stream = TcpStream::connect(endpoint.address()).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buf: Vec::with_capacity(HEAD_READ), pos: 0, used: false })
    }

    /// Writes the request and reads the response's head, past any interim (1xx) responses:
    /// HTTP/1.1 lets a server send any number before the final one (`100 Continue`, `103 Early
    /// Hints`), and a client skips them, as hyper does.
    async fn send(&mut self, request: &[u8]) -> Result<Head, Failure> {
        let unanswered = |error| Failure { error, answered: false };
        self.stream.write_all(request).await.map_err(unanswered)?;
        let mut interim = false;
        loop {
            let end = loop {
                if let Some(i) = find(&self.buf[self.pos..], b"\r\n\r\n") {
                    break self.pos + i + 4;
                }
                let answered = interim || self.buf.len() > self.pos;
                if self.buf.len() - self.pos > MAX_HEAD {
                    let error = invalid("response head too long".into());
                    return Err(Failure { error, answered });
                }
                self.fill().await.map_err(|error| Failure { error, answered })?;
            };
            let head = parse_head(&self.buf[self.pos..end])
                .map_err(|error| Failure { error, answered: true })?;
            self.pos = end;
            // 101 (Switching Protocols) is final, and never asked for here.
            if (100..200).contains(&head.status) && head.status != 101 {
                interim = true;
                continue;
            }
            return Ok(head);
        }
    }

    /// Reads more of the stream into `buf`; fails at its end.
    async fn fill(&mut self) -> io::Result<()> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.reserve(HEAD_READ);
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }

    /// Reads the body the head announces into `out` (cleared first).
    async fn read_body(&mut self, head: &Head, out: &mut EventMemory) -> io::Result<()> {
        out.clear();
        match head.framing()? {
            Framing::Length(n) => self.read_exact_into(out, n).await,
            Framing::Chunked => loop {
                let line = self.read_line().await?;
                let size = line.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| invalid(format!("bad chunk size: {size:?}")))?;
                if size == 0 {
                    // Trailers, up to the empty line.
                    while !self.read_line().await?.is_empty() {}
                    return Ok(());
                }
                self.read_exact_into(out, size).await?;
                if !self.read_line().await?.is_empty() {
                    return Err(invalid("a chunk does not end with CRLF".into()));
                }
            },
            Framing::UntilClose => {
                let out = out.heap_mut();
                out.extend_from_slice(&self.buf[self.pos..]);
                self.pos = self.buf.len();
                loop {
                    out.reserve(HEAD_READ);
                    if self.stream.read_buf(out).await? == 0 {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Appends the next `n` bytes of the stream to `out`: those already buffered, then the rest
    /// read from the socket straight into `out`, in as few reads as the socket allows.
    async fn read_exact_into(&mut self, out: &mut EventMemory, n: usize) -> io::Result<()> {
        // Lambda's events are at most 6 MB: a length far beyond is not trusted with memory
        // before its bytes arrive.
        out.reserve(n.min(MAX_PRESIZED))?;
        let buffered = n.min(self.buf.len() - self.pos);
        out.extend_from_slice(&self.buf[self.pos..self.pos + buffered])?;
        self.pos += buffered;
        let mut left = n - buffered;
        while left > 0 {
            let read = match out.room_mut() {
                Some([]) => {
                    out.reserve(left.min(MAX_PRESIZED))?;
                    continue;
                }
                Some(room) => {
                    let take = left.min(room.len());
                    let room = &mut room[..take];
                    let read = self.stream.read(room).await?;
                    out.filled(read);
                    read
                }
                None => self.stream.read_buf(&mut out.heap_mut().limit(left)).await?,
            };
            if read == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            left -= read;
        }
        Ok(())
    }

    /// The next line, without its CRLF.
    async fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.pos..self.pos + i]).into_owned();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(invalid("line too long".into()));
            }
            self.fill().await?;
        }
    }
}

/// The status and headers of a response head (up to and including its empty line).
fn parse_head(head: &[u8]) -> io::Result<Head> {
    let line_end = |from: usize| find(&head[from..], b"\r\n").map_or(head.len(), |i| from + i);
    let end = line_end(0);
    let status_line = &head[..end];
    let status = match status_line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', _, b' ', code @ ..] if code.len() >= 3 => {
            (code.len() == 3 || code[3] == b' ')
                .then(|| std::str::from_utf8(&code[..3]).ok()?.parse().ok())
                .flatten()
        }
        _ => None,
    }
    .ok_or_else(|| {
        invalid(format!("not an HTTP/1.x response: {:?}", String::from_utf8_lossy(status_line)))
    })?;
    let mut values: [Option<Range<usize>>; HEADERS.len()] = Default::default();
    let mut at = end + 2;
    while at < head.len() {
        let end = line_end(at);
        if end == at {
            break;
        }
        let line = at..end;
        let colon = memchr::memchr(b':', &head[line.clone()]).ok_or_else(|| {
            invalid(format!("bad header line: {:?}", String::from_utf8_lossy(&head[line.clone()])))
        })?;
        let name = &head[trimmed(head, at..at + colon)];
        let known = HEADERS
            .iter()
            .position(|h| h.len() == name.len() && name.eq_ignore_ascii_case(h.as_bytes()));
        if let Some(slot) = known.map(|i| &mut values[i]).filter(|slot| slot.is_none()) {
            *slot = Some(trimmed(head, at + colon + 1..end));
        }
        at = end + 2;
    }
    Ok(Head { status, text: head.to_vec(), values })
}

/// `range` of `text` without the spaces and tabs around it.
fn trimmed(text: &[u8], mut range: Range<usize>) -> Range<usize> {
    while range.start < range.end && matches!(text[range.start], b' ' | b'\t') {
        range.start += 1;
    }
    while range.end > range.start && matches!(text[range.end - 1], b' ' | b'\t') {
        range.end -= 1;
    }
    range
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memchr_iter(needle[0], haystack).find(|&i| haystack[i..].starts_with(needle))
}

#[cfg(test)]
mod tests;
