//! The client against a scripted server on loopback: what it sends, what it accepts, how it
//! keeps serving.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::report::{BatchItemFailure, ItemIdentifier};

/// What the server does for the next request.
enum Step {
    /// Writes these bytes (in pieces of at most `split` bytes, flushed one by one).
    Reply(Vec<u8>),
    /// Writes the reply, then closes the connection; the next request comes on a new one.
    ReplyAndClose(Vec<u8>),
    /// Closes the connection without answering (after reading the request).
    Close,
}

/// A request as the server read it: the head as text, and the body.
#[derive(Debug, Clone)]
struct Request {
    head: String,
    body: Vec<u8>,
    /// Which connection it came on, counting from 0.
    connection: usize,
}

impl Request {
    fn line(&self) -> &str {
        self.head.lines().next().unwrap()
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A server on loopback that answers requests as `script` says, writing replies in pieces of
/// `split` bytes; returns the endpoint and the requests it read.
async fn server(script: Vec<Step>, split: usize) -> (Endpoint, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = Endpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    tokio::spawn(async move {
        let mut connection = 0;
        let (mut stream, _) = listener.accept().await.unwrap();
        for step in script {
            let request = read_request(&mut stream, connection).await;
            seen.lock().unwrap().push(request);
            let (reply, close) = match step {
                Step::Reply(reply) => (reply, false),
                Step::ReplyAndClose(reply) => (reply, true),
                Step::Close => (Vec::new(), true),
            };
            for piece in reply.chunks(split) {
                stream.write_all(piece).await.unwrap();
                stream.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            if close {
                drop(stream);
                connection += 1;
                stream = listener.accept().await.unwrap().0;
            }
        }
        // Keep the last connection open until the client is done with it.
        let _ = stream.read(&mut [0; 1]).await;
    });
    (endpoint, requests)
}

async fn read_request(stream: &mut TcpStream, connection: usize) -> Request {
    let mut data = Vec::new();
    let end = loop {
        if let Some(i) = memchr::memmem::find(&data, b"\r\n\r\n") {
            break i + 4;
        }
        let mut buf = [0; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "the client closed the connection");
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(data[..end].to_vec()).unwrap();
    let mut request = Request { head, body: data[end..].to_vec(), connection };
    let length: usize = request.header("content-length").map_or(0, |l| l.parse().unwrap());
    while request.body.len() < length {
        let mut buf = [0; 4096];
        let n = stream.read(&mut buf).await.unwrap();
        request.body.extend_from_slice(&buf[..n]);
    }
    request
}

/// A `/next` answer with Content-Length.
fn invocation(id: &str, event: &[u8]) -> Vec<u8> {
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLAMBDA-RUNTIME-DEADLINE-MS: 1795752378765\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1\r\nContent-Length: {}\r\n\r\n",
        event.len()
    )
    .into_bytes();
    reply.extend_from_slice(event);
    reply
}

const ACCEPTED: &[u8] = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n";

#[test]
fn endpoints_as_lambda_and_emulators_set_them() {
    let lambda = Endpoint::parse("127.0.0.1:9001").unwrap();
    assert_eq!((lambda.authority.as_str(), lambda.prefix.as_str()), ("127.0.0.1:9001", ""));
    assert_eq!(lambda.address(), "127.0.0.1:9001");
    let emulator = Endpoint::parse("http://127.0.0.1:9000/.rt").unwrap();
    assert_eq!((emulator.authority.as_str(), emulator.prefix.as_str()), ("127.0.0.1:9000", "/.rt"));
    let slash = Endpoint::parse("http://localhost:9000/").unwrap();
    assert_eq!((slash.authority.as_str(), slash.prefix.as_str()), ("localhost:9000", ""));
    assert_eq!(Endpoint::parse("http://localhost/x/").unwrap().address(), "localhost:80");
    assert_eq!(Endpoint::parse("[::1]:9001").unwrap().address(), "[::1]:9001");
    assert_eq!(Endpoint::parse("[::1]").unwrap().address(), "[::1]:80");
    for unusable in ["", "https://localhost:9001", "http://", "http://u@h:1", "h:1/?q", "unix://x"]
    {
        assert_eq!(Endpoint::parse(unusable), None, "{unusable}");
    }
}

#[tokio::test]
async fn an_event_arriving_in_pieces_is_read_whole_with_its_headers() {
    let event: Vec<u8> = (0..200_000u32).map(|i| b"0123456789abcdef"[i as usize % 16]).collect();
    let (endpoint, requests) = server(vec![Step::Reply(invocation("id-1", &event))], 7_001).await;
    let mut client = Client::new(endpoint);
    let next = client.next().await.unwrap();
    assert_eq!(client.event(), event);
    assert_eq!(
        next,
        Next {
            request_id: "id-1".into(),
            deadline_ms: 1_795_752_378_765,
            invoked_function_arn: Some("arn:aws:lambda:us-east-1:123456789012:function:f".into()),
            xray_trace_id: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
            tenant_id: None,
            invocation_id: None,
        }
    );
    let request = requests.lock().unwrap()[0].clone();
    assert_eq!(request.line(), "GET /2018-06-01/runtime/invocation/next HTTP/1.1");
    assert_eq!(request.header("host"), Some(client.endpoint.authority.as_str()));
    assert!(request.header("user-agent").unwrap().starts_with("msk-lambda/"));
}

#[tokio::test]
async fn chunked_events_and_emulator_paths() {
    let mut reply = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: a-b\r\nLambda-Runtime-Deadline-Ms: 600000\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    reply.extend_from_slice(
        b"5;ext=1\r\nhello\r\n1C\r\n, and some more of the event\r\n0\r\nx-trailer: t\r\n\r\n",
    );
    // The next answer follows on the same connection: the chunked body ended where it should.
    let mut script = vec![Step::Reply(reply)];
    script.push(Step::Reply(invocation("id-2", b"{}")));
    let (mut endpoint, requests) = server(script, 3).await;
    endpoint.prefix = "/.rt".into();
    let mut client = Client::new(endpoint);
    let next = client.next().await.unwrap();
    assert_eq!(client.event(), b"hello, and some more of the event");
    assert_eq!((next.request_id.as_str(), next.deadline_ms), ("a-b", 600_000));
    assert_eq!(next.invoked_function_arn, None);
    assert_eq!(client.next().await.unwrap().request_id, "id-2");
    assert_eq!(client.event(), b"{}");
    let requests = requests.lock().unwrap();
    assert_eq!(requests[0].line(), "GET /.rt/2018-06-01/runtime/invocation/next HTTP/1.1");
    assert_eq!(requests[1].connection, 0, "one keep-alive connection");
}

/// Interim responses before the final one (any number, with headers of their own) are read
/// past, on `/next` and on a post, and the connection stays usable.
#[tokio::test]
async fn interim_responses_are_skipped() {
    let mut next =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n".to_vec();
    next.extend_from_slice(&invocation("id-1", b"{}"));
    let mut accepted = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    accepted.extend_from_slice(ACCEPTED);
    let script =
        vec![Step::Reply(next), Step::Reply(accepted), Step::Reply(invocation("id-2", b"[]"))];
    let (endpoint, requests) = server(script, 5).await;
    let mut client = Client::new(endpoint);
    let next = client.next().await.unwrap();
    assert_eq!((next.request_id.as_str(), client.event()), ("id-1", &b"{}"[..]));
    client.post(&next, "response", None, b"{}").await.unwrap();
    assert_eq!(client.scratch[..], *b"{\"status\":\"OK\"}\n", "the final answer's body");
    assert_eq!(client.next().await.unwrap().request_id, "id-2");
    assert_eq!(client.event(), b"[]");
    let requests = requests.lock().unwrap();
    assert!(requests.iter().all(|r| r.connection == 0), "one keep-alive connection");
}

#[tokio::test]
async fn no_content_is_waited_through_and_unusable_answers_are_errors() {
    let (endpoint, _) = server(
        vec![
            Step::Reply(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()),
            Step::Reply(invocation("after-204", b"[]")),
            Step::Reply(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops".to_vec()),
            Step::Reply(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 0\r\n\r\n".to_vec()),
            Step::Reply(invocation("../../init/error", b"{}")),
            Step::Reply(b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\nLambda-Runtime-Deadline-Ms: soon\r\nContent-Length: 0\r\n\r\n".to_vec()),
            Step::Reply(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()),
        ],
        1 << 20,
    )
    .await;
    let mut client = Client::new(endpoint);
    assert_eq!(client.next().await.unwrap().request_id, "after-204");
    let e = client.next().await.unwrap_err().to_string();
    assert_eq!(e, "the Lambda Runtime API answered 500 to /next: oops");
    let e = client.next().await.unwrap_err().to_string();
    assert_eq!(e, "the Lambda Runtime API's /next response has no Lambda-Runtime-Aws-Request-Id");
    let e = client.next().await.unwrap_err().to_string();
    assert_eq!(e, r#"the Lambda Runtime API sent an unusable request id: "../../init/error""#);
    let e = client.next().await.unwrap_err().to_string();
    assert_eq!(e, r#"the Lambda Runtime API sent an unusable Lambda-Runtime-Deadline-Ms: "soon""#);
    let e = client.next().await.unwrap_err().to_string();
    assert!(e.contains("not an HTTP/1.x response"), "{e}");
}

#[tokio::test]
async fn closed_connections_are_opened_again() {
    let (endpoint, requests) = server(
        vec![
            Step::Reply(invocation("1", b"1")),
            // Closed without a word (as an idle connection may be): the request is sent again.
            Step::Close,
            Step::Reply(invocation("3", b"3")),
            Step::ReplyAndClose(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nLambda-Runtime-Aws-Request-Id: 4\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 1\r\n\r\n4".to_vec(),
            ),
            // A body up to the end of the connection.
            Step::ReplyAndClose(
                b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: 5\r\nLambda-Runtime-Deadline-Ms: 1\r\n\r\nto the end".to_vec(),
            ),
            Step::Reply(invocation("6", b"6")),
        ],
        1 << 20,
    )
    .await;
    let mut client = Client::new(endpoint);
    assert_eq!(client.next().await.unwrap().request_id, "1");
    assert_eq!(client.next().await.unwrap().request_id, "3");
    assert_eq!(client.next().await.unwrap().request_id, "4");
    assert_eq!(client.next().await.unwrap().request_id, "5");
    assert_eq!(client.event(), b"to the end");
    assert_eq!(client.next().await.unwrap().request_id, "6");
    let connections: Vec<usize> = requests.lock().unwrap().iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 0, 1, 1, 2, 3]);
}

/// Answers by the event: `ok`, `fail` (one failed record), `err` (an invocation error),
/// `panic`; checks the context it is given.
struct Scripted;

impl Invoke for Scripted {
    async fn serve(
        &self,
        event: &[u8],
        context: &lambda_runtime::Context,
    ) -> Result<BatchResponse, InvocationError> {
        assert_eq!(context.deadline, 1_795_752_378_765);
        assert_eq!(
            std::env::var("_X_AMZN_TRACE_ID").ok(),
            context.xray_trace_id,
            "the trace header is in the environment"
        );
        tokio::task::yield_now().await;
        match event {
            b"ok" => Ok(BatchResponse::default()),
            b"fail" => Ok(BatchResponse {
                batch_item_failures: vec![BatchItemFailure {
                    item_identifier: ItemIdentifier { partition: "t-0".into(), offset: 7 },
                }],
            }),
            b"err" => Err(InvocationError::Internal("the event was err".into())),
            b"panic" => panic!("the event was panic"),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[tokio::test]
async fn responses_errors_and_panics_are_posted_and_serving_goes_on() {
    let with_invocation_id = {
        let reply = invocation("id-2", b"fail");
        let at = memchr::memmem::find(&reply, b"Content-Length").unwrap();
        [&reply[..at], b"Lambda-Runtime-Invocation-Id: inv-2\r\n", &reply[at..]].concat()
    };
    let (endpoint, requests) = server(
        vec![
            Step::Reply(invocation("id-1", b"ok")),
            Step::Reply(ACCEPTED.to_vec()),
            Step::Reply(with_invocation_id),
            // A rejected response is logged, and the next invocation served.
            Step::Reply(b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n".to_vec()),
            Step::Reply(invocation("id-3", b"err")),
            Step::Reply(ACCEPTED.to_vec()),
            Step::Reply(invocation("id-4", b"panic")),
            Step::Reply(ACCEPTED.to_vec()),
            Step::Reply(invocation("id-5", b"ok")),
            // The connection lost while posting: the runtime ends with the reason.
            Step::Close,
            Step::Close,
        ],
        1 << 20,
    )
    .await;
    let e = run(endpoint, &Scripted).await.unwrap_err().to_string();
    assert!(
        e.starts_with("cannot post the invocation's response to the Lambda Runtime API: "),
        "{e}"
    );
    let requests = requests.lock().unwrap();
    let posts: Vec<(&str, &[u8])> =
        requests.iter().skip(1).step_by(2).map(|r| (r.line(), r.body.as_slice())).collect();
    assert_eq!(
        &posts[..4],
        [
            ("POST /2018-06-01/runtime/invocation/id-1/response HTTP/1.1", &br#"{"batchItemFailures":[]}"#[..]),
            (
                "POST /2018-06-01/runtime/invocation/id-2/response HTTP/1.1",
                br#"{"batchItemFailures":[{"itemIdentifier":{"partition":"t-0","offset":7}}]}"#
            ),
            (
                "POST /2018-06-01/runtime/invocation/id-3/error HTTP/1.1",
                br#"{"errorType":"MskLambda.InternalError","errorMessage":"internal error in msk-lambda: the event was err"}"#
            ),
            (
                "POST /2018-06-01/runtime/invocation/id-4/error HTTP/1.1",
                br#"{"errorType":"&alloc::boxed::Box<dyn core::any::Any + core::marker::Send>","errorMessage":"Lambda panicked: the event was panic"}"#
            ),
        ]
    );
    assert_eq!(requests[1].header("lambda-runtime-function-error-type"), None);
    assert_eq!(requests[1].header("lambda-runtime-invocation-id"), None);
    assert_eq!(requests[3].header("lambda-runtime-invocation-id"), Some("inv-2"));
    assert_eq!(requests[5].header("lambda-runtime-function-error-type"), Some("unhandled"));
    assert_eq!(requests[7].header("lambda-runtime-function-error-type"), Some("unhandled"));
    // The post of id-5 was sent twice: once on the old connection, once on a new one.
    assert_eq!(requests.len(), 11);
    assert_eq!(requests[10].line(), "POST /2018-06-01/runtime/invocation/id-5/response HTTP/1.1");
    assert_eq!((requests[9].connection, requests[10].connection), (0, 1));
}

#[tokio::test]
async fn the_event_buffer_is_kept_between_invocations() {
    let big = vec![b'x'; 100_000];
    let (endpoint, _) = server(
        vec![Step::Reply(invocation("1", &big)), Step::Reply(invocation("2", b"{}"))],
        1 << 20,
    )
    .await;
    let mut client = Client::new(endpoint);
    client.next().await.unwrap();
    let capacity = client.event.capacity();
    assert!(capacity >= 100_000);
    client.next().await.unwrap();
    assert_eq!(client.event(), b"{}");
    assert_eq!(client.event.capacity(), capacity);
}

/// A large event goes to memory mapped for huge pages, which later events reuse; a larger one
/// gets a larger mapping, a chunked one too. Every byte arrives as sent.
#[tokio::test]
async fn large_events_are_read_into_a_mapping_kept_between_invocations() {
    let event = |len: usize, seed: u8| -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
    };
    let large = event(crate::event_memory::MAPPED_FROM + 100_000, 1);
    let larger = event(3 * crate::event_memory::MAPPED_FROM, 2);
    let chunked_body = event(crate::event_memory::MAPPED_FROM + 7, 3);
    let mut chunked = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: c\r\nLambda-Runtime-Deadline-Ms: 1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in chunked_body.chunks(1_000_003) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (endpoint, _) = server(
        vec![
            Step::Reply(invocation("1", &large)),
            Step::Reply(invocation("2", b"{}")),
            Step::Reply(invocation("3", &larger)),
            Step::Reply(chunked),
        ],
        65_537,
    )
    .await;
    let mut client = Client::new(endpoint);
    client.next().await.unwrap();
    assert!(client.event.is_mapped());
    assert!(client.event() == large);
    let capacity = client.event.capacity();
    client.next().await.unwrap();
    assert_eq!((client.event(), client.event.capacity()), (&b"{}"[..], capacity));
    assert!(client.event.is_mapped());
    client.next().await.unwrap();
    assert!(client.event() == larger);
    assert!(client.event.capacity() > capacity);
    client.next().await.unwrap();
    assert!(client.event.is_mapped());
    assert!(client.event() == chunked_body);
}

#[test]
fn heads_are_read_as_http_1_writes_them() {
    let head = parse_head(
        b"HTTP/1.0 202\r\nLambda-Runtime-Trace-Id:\tRoot=1-x; Sampled=0 \r\nX-Other: skipped\r\nCONTENT-length:  12\r\nLambda-Runtime-Aws-Tenant-Id:\r\ncontent-length: 13\r\n\r\n",
    )
    .unwrap();
    assert_eq!(head.status, 202);
    assert_eq!(head.get("lambda-runtime-trace-id"), Some("Root=1-x; Sampled=0"));
    assert_eq!(head.get("content-length"), Some("12"), "the first of a name counts");
    assert_eq!(head.get("lambda-runtime-aws-tenant-id"), Some(""));
    assert_eq!(head.get("connection"), None);
    assert!(matches!(head.framing(), Ok(Framing::Length(12))));
    assert!(head.keep_alive());
    let close = parse_head(b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n\r\n").unwrap();
    assert!(!close.keep_alive());
    assert!(matches!(close.framing(), Ok(Framing::UntilClose)));
    let gzip = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap();
    assert!(gzip.framing().is_err());
    for bad in [
        &b"HTTP/1.1 20 OK\r\n\r\n"[..],
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 2000\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
    ] {
        assert!(parse_head(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_and_a_huge_length_is_not_allocated_up_front() {
    let (endpoint, _) = server(
        vec![Step::ReplyAndClose(
            b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 1000000000000\r\n\r\nabc".to_vec(),
        )],
        1 << 20,
    )
    .await;
    let mut client = Client::new(endpoint);
    let e = client.next().await.unwrap_err().to_string();
    assert!(e.starts_with("cannot get the next invocation from the Lambda Runtime API: "), "{e}");
    assert!(client.event.capacity() <= MAX_PRESIZED + 4096);
}

/// A failed INIT phase is posted to `/runtime/init/error` as the custom-runtime contract asks:
/// the error type in the header and the body, the whole error chain as the message.
#[tokio::test]
async fn init_errors_are_posted_to_init_error() {
    let (endpoint, requests) = server(vec![Step::Reply(ACCEPTED.to_vec())], 1 << 20).await;
    let mut client = Client::new(endpoint);
    let error: Error = "the state could not be built: connection refused".into();
    client.post_init_error(&error).await.unwrap();
    let request = requests.lock().unwrap()[0].clone();
    assert_eq!(request.line(), "POST /2018-06-01/runtime/init/error HTTP/1.1");
    assert_eq!(request.header("lambda-runtime-function-error-type"), Some("Runtime.InitError"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "errorType": "Runtime.InitError",
            "errorMessage": "the state could not be built: connection refused"
        })
    );
}
