//! Warm invocations as Lambda runs them: a Runtime API on loopback serving functions that were
//! started the way Lambda starts them, invocations alternated between the functions in one run.
//!
//! usage: warm-invocations [--gap-ms MS] --function NAME=BINARY... --event PATH:WARMUP:RUNS...
//!
//! Each function is its own process with its own listener and only the environment Lambda
//! sets for a function (`AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT`, `AWS_LAMBDA_FUNCTION_NAME`,
//! `_VERSION`, `_MEMORY_SIZE`, the log group and stream, `AWS_REGION`, `TZ`, `LANG`, `PATH`,
//! ...; nothing from this process's environment). Its output goes to a pipe that is drained,
//! as Lambda's log capture does.
//!
//! For each event, in turn: `WARMUP + RUNS` rounds; in each round every function gets one
//! invocation of the event (the order reversed every other round), one at a time. The time of
//! an invocation runs from just before the first byte of the `/next` response (headers with
//! the Lambda-Runtime-* headers, then the event) is written to the socket, to when the last
//! byte of the function's `/response` body has been read; the server's own work (building
//! the `/next` response, answering 202) is outside it. The first WARMUP rounds are not counted.
//! Every function must answer every invocation with the same response (failures compared as a
//! set), else the run fails.
//!
//! Besides, the CPU time each function's process took per invocation (all its threads, user
//! and kernel, from /proc/PID/task/*/schedstat: read before each invocation and again after
//! it and the gap that follows): a load on the machine from others lengthens wall times, much
//! less CPU times.
//!
//! Output, one line per function and event:
//! `event=PATH bytes=N function=NAME runs=N median_us=X p25_us=X p75_us=X min_us=X cpu_us=X faults=N
//! to_next_us=X rss_growth_b=N`
//! (`cpu_us`: median CPU time per invocation; `faults`: median page faults per invocation, from
//! /proc/PID/stat, counted the same way; `to_next_us`: median time from the start of the
//! `/next` response to the function's next `GET /next`, where Lambda's invoke phase ends;
//! `rss_growth_b`: how much the process's resident memory grew per counted invocation, from
//! `VmRSS` before the first and after the last, which shows memory a function keeps from one
//! invocation to the next).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One invocation, ready to write: the whole `/next` response.
struct Job {
    id: String,
    response: Vec<u8>,
}

/// How an invocation ended, and how long it took.
struct Done {
    id: String,
    /// When the `/next` response started.
    started: Instant,
    elapsed: Duration,
    outcome: Result<Vec<u8>, String>,
}

/// What the connections of one function share.
struct Api {
    jobs: Mutex<Receiver<Job>>,
    /// When each invocation's `/next` response started, by request id.
    started: Mutex<HashMap<String, Instant>>,
    done: Sender<Done>,
    /// When the last `GET /next` arrived.
    last_next: Mutex<Option<Instant>>,
}

struct Function {
    name: String,
    child: Child,
    jobs: Sender<Job>,
    done: Receiver<Done>,
    output: Arc<Mutex<Vec<u8>>>,
    api: Arc<Api>,
}

fn main() {
    let mut functions = Vec::new();
    let mut events = Vec::new();
    let mut gap = Duration::from_millis(2);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--function" => {
                let (name, binary) = value.split_once('=').unwrap_or_else(|| usage());
                functions.push((name.to_owned(), binary.to_owned()));
            }
            "--event" => {
                let mut parts = value.rsplitn(3, ':');
                let runs: usize =
                    parts.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| usage());
                let warmup: usize =
                    parts.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| usage());
                let path = parts.next().unwrap_or_else(|| usage()).to_owned();
                events.push((path, warmup, runs));
            }
            "--gap-ms" => gap = Duration::from_millis(value.parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    if functions.is_empty() || events.is_empty() {
        usage();
    }
    let mut functions: Vec<Function> =
        functions.into_iter().map(|(name, binary)| start(name, &binary)).collect();
    let mut serial = 0u64;
    for (path, warmup, runs) in &events {
        let event = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); functions.len()];
        let mut cpu: Vec<Vec<u64>> = vec![Vec::new(); functions.len()];
        let mut faults: Vec<Vec<u64>> = vec![Vec::new(); functions.len()];
        let mut to_next: Vec<Vec<Duration>> = vec![Vec::new(); functions.len()];
        // Resident memory (KiB) before the first counted invocation and after the last.
        let mut rss: Vec<Option<(u64, u64)>> = vec![None; functions.len()];
        let mut expected: Option<(String, serde_json::Value)> = None;
        for round in 0..warmup + runs {
            let mut order: Vec<usize> = (0..functions.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                serial += 1;
                if round == *warmup {
                    let first = resident_kib(functions[i].child.id());
                    rss[i] = Some((first, first));
                }
                let faults_before = minor_faults(functions[i].child.id());
                let cpu_before = cpu_ns(functions[i].child.id());
                let (started, elapsed, response) = invoke(&mut functions[i], &event, serial);
                std::thread::sleep(gap);
                // Lambda's invoke phase ends when the runtime asks for the next event.
                let next_at = *functions[i].api.last_next.lock().unwrap();
                let next_at = next_at.filter(|t| *t > started);
                let cpu_after = cpu_ns(functions[i].child.id());
                let faults_after = minor_faults(functions[i].child.id());
                let response = normalized(&response);
                match &expected {
                    None => expected = Some((functions[i].name.clone(), response)),
                    Some((first, want)) => assert!(
                        *want == response,
                        "{} answered {response}, {first} answered {want} to {path}",
                        functions[i].name
                    ),
                }
                if round >= *warmup {
                    times[i].push(elapsed);
                    cpu[i].push(cpu_after - cpu_before);
                    faults[i].push(faults_after - faults_before);
                    to_next[i].push(next_at.map_or(Duration::MAX, |t| t - started));
                    if let Some((_, last)) = &mut rss[i] {
                        *last = resident_kib(functions[i].child.id());
                    }
                }
            }
        }
        for (((((function, mut times), mut cpu), mut faults), mut to_next), rss) in
            functions.iter().zip(times).zip(cpu).zip(faults).zip(to_next).zip(rss)
        {
            if times.is_empty() {
                continue;
            }
            times.sort();
            cpu.sort();
            faults.sort();
            to_next.sort();
            let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
            let us = |d: Duration| d.as_secs_f64() * 1e6;
            let (first, last) = rss.unwrap_or_default();
            let growth = (last as f64 - first as f64) * 1024.0 / times.len() as f64;
            println!(
                "event={path} bytes={} function={} runs={} median_us={:.1} p25_us={:.1} p75_us={:.1} min_us={:.1} cpu_us={:.1} faults={} to_next_us={:.1} rss_growth_b={growth:.0}",
                event.len(),
                function.name,
                times.len(),
                us(at(0.5)),
                us(at(0.25)),
                us(at(0.75)),
                us(times[0]),
                cpu[cpu.len() / 2] as f64 / 1e3,
                faults[faults.len() / 2],
                us(to_next[to_next.len() / 2]),
            );
        }
    }
    for mut function in functions {
        stop(&mut function.child);
    }
}

/// The CPU time of all threads of process `pid` so far, in nanoseconds.
fn cpu_ns(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the function runs");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The resident memory of process `pid` now, in KiB (`VmRSS`).
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the function runs");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The minor page faults of process `pid` so far (all its threads).
fn minor_faults(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the function runs");
    // Fields after the command (which may hold spaces), from the 3rd: minflt is the 10th.
    let fields = &stat[stat.rfind(')').expect("a stat line") + 2..];
    fields.split_whitespace().nth(7).and_then(|f| f.parse().ok()).expect("minflt")
}

/// SIGTERM (a profiler wrapping the function then writes its data), SIGKILL after 5 s.
fn stop(child: &mut Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn usage() -> ! {
    eprintln!(
        "usage: warm-invocations [--gap-ms MS] --function NAME=BINARY... --event PATH:WARMUP:RUNS..."
    );
    std::process::exit(2)
}

/// The response with its failures sorted: functions may list partitions in any order.
fn normalized(response: &[u8]) -> serde_json::Value {
    let mut value: serde_json::Value = serde_json::from_slice(response).unwrap_or_else(|e| {
        panic!("the response is not JSON ({e}): {}", String::from_utf8_lossy(response))
    });
    if let Some(failures) = value["batchItemFailures"].as_array_mut() {
        failures.sort_by_key(|f| f.to_string());
    }
    value
}

/// Starts a function as Lambda does: its own Runtime API listener, Lambda's environment only.
fn start(name: String, binary: &str) -> Function {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = listener.local_addr().unwrap().port();
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let api = Arc::new(Api {
        jobs: Mutex::new(jobs_rx),
        started: Mutex::default(),
        done: done_tx,
        last_next: Mutex::default(),
    });
    let shared = Arc::clone(&api);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let api = Arc::clone(&api);
            std::thread::spawn(move || serve(stream, &api));
        }
    });
    let cwd = std::env::current_dir().unwrap();
    // As Lambda sets them for a function on an OS-only runtime (provided.al2023), less the
    // credentials:
    // https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("_HANDLER", "bootstrap")
        .env("LAMBDA_TASK_ROOT", &cwd)
        .env("LAMBDA_RUNTIME_DIR", &cwd)
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
        .env(
            "LD_LIBRARY_PATH",
            "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let output = Arc::new(Mutex::new(Vec::new()));
    for mut pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let output = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                let mut out = output.lock().unwrap();
                out.extend_from_slice(&buf[..n]);
                // The last 64 KiB, for the message when the function fails.
                if out.len() > 1 << 17 {
                    let excess = out.len() - (1 << 16);
                    out.drain(..excess);
                }
            }
        });
    }
    Function { name, child, jobs: jobs_tx, done: done_rx, output, api: shared }
}

/// One invocation of `function` with `event`: how long it took, and the response body.
fn invoke(function: &mut Function, event: &[u8], serial: u64) -> (Instant, Duration, Vec<u8>) {
    let id = format!("{:08x}-0000-4000-8000-{serial:012x}", std::process::id());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let deadline = (now + Duration::from_secs(900)).as_millis();
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:{}\r\nLambda-Runtime-Trace-Id: Root=1-{:08x}-{serial:024x};Parent={serial:016x};Sampled=0;Lineage=1:0a1b2c3d:0\r\nDate: Thu, 01 Jan 2026 00:00:00 GMT\r\nContent-Length: {}\r\n\r\n",
        function.name,
        now.as_secs(),
        event.len()
    )
    .into_bytes();
    response.extend_from_slice(event);
    function.jobs.send(Job { id: id.clone(), response }).expect("the server is up");
    let done = match function.done.recv_timeout(Duration::from_secs(120)) {
        Ok(done) => done,
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
            fail(function, "no answer in 120 s")
        }
    };
    if done.id != id {
        fail(function, &format!("answered {} instead of {id}", done.id));
    }
    match done.outcome {
        Ok(body) => (done.started, done.elapsed, body),
        Err(e) => fail(function, &e),
    }
}

fn fail(function: &mut Function, why: &str) -> ! {
    let _ = function.child.kill();
    std::thread::sleep(Duration::from_millis(100));
    let output = function.output.lock().unwrap();
    panic!("{}: {why}; its output:\n{}", function.name, String::from_utf8_lossy(&output));
}

/// Serves the requests of one connection.
fn serve(stream: TcpStream, api: &Api) {
    stream.set_nodelay(true).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    loop {
        let Some((method, path, headers)) = read_head(&mut reader) else { return };
        let prefix = "/2018-06-01/runtime/";
        let Some(rest) = path.strip_prefix(prefix) else {
            let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        if method == "GET" && rest == "invocation/next" {
            *api.last_next.lock().unwrap() = Some(Instant::now());
            let job = api.jobs.lock().unwrap().recv();
            let Ok(job) = job else { return };
            let started = Instant::now();
            api.started.lock().unwrap().insert(job.id, started);
            if writer.write_all(&job.response).is_err() {
                return;
            }
            continue;
        }
        let Some(body) = read_body(&mut reader, &headers) else { return };
        let finished = Instant::now();
        let _ = writer.write_all(
            b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n",
        );
        let (id, outcome) = match rest.strip_prefix("invocation/").and_then(|r| r.rsplit_once('/'))
        {
            Some((id, "response")) => (id, Ok(body)),
            Some((id, "error")) => (id, Err(format!("/error: {}", String::from_utf8_lossy(&body)))),
            _ => ("", Err(format!("{method} {path}: {}", String::from_utf8_lossy(&body)))),
        };
        let started = api.started.lock().unwrap().remove(id).unwrap_or(finished);
        let elapsed = finished - started;
        let _ = api.done.send(Done { id: id.to_owned(), started, elapsed, outcome });
    }
}

/// The request line and headers (names lowercased), or `None` when the connection ends.
fn read_head(
    reader: &mut BufReader<TcpStream>,
) -> Option<(String, String, HashMap<String, String>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Some((method, path, headers));
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

/// The request body: by Content-Length, or chunked.
fn read_body(
    reader: &mut BufReader<TcpStream>,
    headers: &HashMap<String, String>,
) -> Option<Vec<u8>> {
    if headers.get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    line.clear();
                    reader.read_line(&mut line).ok()?;
                    if line.trim().is_empty() {
                        return Some(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).ok()?;
            let mut crlf = [0; 2];
            reader.read_exact(&mut crlf).ok()?;
        }
    }
    let length: usize = headers.get("content-length").map_or(Some(0), |l| l.parse().ok())?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(body)
}
