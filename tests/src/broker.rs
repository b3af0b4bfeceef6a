//! A real Kafka-protocol broker on loopback for the producer tests: tansu, with in-memory
//! storage, started per test on a free port; and what goes in front of it: stunnel (TLS, mTLS)
//! with certificates made by openssl, and a proxy that counts requests.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running tansu broker; stopped when dropped.
pub struct Tansu {
    child: Option<Child>,
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The broker's port.
    pub port: u16,
}

impl Tansu {
    /// Starts tansu on a free loopback port. Fails with instructions when it is missing.
    pub fn start() -> Tansu {
        Tansu::start_with(None, false)
    }

    /// Starts tansu on a free loopback port, advertising `advertised` (`host:port`, where a
    /// TLS endpoint or proxy in front of it listens) instead of its own address, and requiring
    /// SASL authentication when `authentication` is set.
    pub fn start_with(advertised: Option<&str>, authentication: bool) -> Tansu {
        let installed = Command::new("tansu")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "tansu is not installed: run `cargo install tansu --locked --features dynostore` (about 8 minutes), or `scripts/test`, which installs it"
        );
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised_url = advertised.map_or_else(|| url.clone(), |a| format!("tcp://{a}"));
        // Its own empty working folder: tansu reads a `.env` from there.
        let dir =
            std::env::temp_dir().join(format!("msk-lambda-tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("tansu.log")).unwrap();
        let child = Command::new("tansu")
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &advertised_url])
            .args(["--storage-engine", "memory://tansu/"])
            .args(authentication.then_some("--authentication"))
            .current_dir(&dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "tansu did not start on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Tansu { child: Some(child), address: format!("127.0.0.1:{port}"), port }
    }

    /// Stops the broker now.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Established TCP connections from this machine to the broker's port.
    pub fn client_connections(&self) -> usize {
        let port = format!("{:04X}", self.port);
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .flat_map(|table| {
                table
                    .lines()
                    .skip(1)
                    .filter(|line| {
                        let fields: Vec<&str> = line.split_whitespace().collect();
                        // remote address is field 2 (`ADDR:PORT`), state field 3 (01 = ESTABLISHED)
                        fields.len() > 3
                            && fields[2].ends_with(&format!(":{port}"))
                            && fields[3] == "01"
                    })
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .count()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A fresh temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("msk-lambda-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn openssl(dir: &Path, args: &[&str]) {
    let output =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A certificate authority made with openssl for one test, and the certificates it signs
/// (ECDSA P-256, valid for two days).
pub struct TestCa {
    /// The folder holding the files.
    pub dir: PathBuf,
    name: String,
}

/// A certificate and its private key, PEM files.
pub struct Issued {
    /// The certificate.
    pub certificate: PathBuf,
    /// The private key (PKCS#8).
    pub private_key: PathBuf,
}

impl TestCa {
    /// A new CA named `name` (its certificate is `<dir>/<name>.pem`).
    pub fn new(name: &str) -> TestCa {
        let dir = temp_dir(&format!("ca-{name}"));
        let (key, pem, subject) =
            (format!("{name}.key"), format!("{name}.pem"), format!("/CN={name}"));
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &pem,
                "-days",
                "2",
                "-subj",
                &subject,
            ],
        );
        TestCa { dir, name: name.to_owned() }
    }

    /// The CA's certificate (PEM).
    pub fn certificate(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    /// A certificate for `subject_alt_name` (e.g. `DNS:localhost`) with the extended key
    /// usage `usage` (`serverAuth` or `clientAuth`), signed by this CA.
    pub fn issue(&self, file: &str, subject_alt_name: &str, usage: &str) -> Issued {
        let ext = format!("{file}.ext");
        std::fs::write(
            self.dir.join(&ext),
            format!("subjectAltName={subject_alt_name}\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\nkeyUsage=digitalSignature\n"),
        )
        .unwrap();
        let (key, csr, pem) = (format!("{file}.key"), format!("{file}.csr"), format!("{file}.pem"));
        openssl(
            &self.dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={file}"),
            ],
        );
        let (ca_pem, ca_key) = (format!("{}.pem", self.name), format!("{}.key", self.name));
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
        Issued { certificate: self.dir.join(pem), private_key: self.dir.join(key) }
    }
}

/// Debian's stunnel4 on a loopback port: TLS in front of a plaintext broker port, with the
/// given server certificate, optionally demanding a client certificate signed by a CA.
pub struct Stunnel {
    child: Child,
    /// The port it accepts TLS on.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
}

impl Stunnel {
    /// Starts stunnel on `port`, forwarding to `127.0.0.1:target`. With `client_ca`, clients
    /// must present a certificate that CA signed (`verifyChain`, `requireCert`).
    pub fn start(port: u16, target: u16, server: &Issued, client_ca: Option<&Path>) -> Stunnel {
        let installed = Command::new("stunnel4")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        assert!(
            installed,
            "stunnel4 is not installed: run scripts/install-test-tools (apt-get install stunnel4)"
        );
        let dir = temp_dir("stunnel");
        let log = dir.join("stunnel.log");
        let mut conf = format!(
            "foreground = yes\npid =\ndebug = 5\noutput = {}\n[kafka]\naccept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{target}\ncert = {}\nkey = {}\n",
            log.display(),
            server.certificate.display(),
            server.private_key.display()
        );
        if let Some(ca) = client_ca {
            conf.push_str(&format!(
                "verifyChain = yes\nrequireCert = yes\nCAfile = {}\n",
                ca.display()
            ));
        }
        let conf_path = dir.join("stunnel.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new("stunnel4")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("stunnel4 starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "stunnel did not start on {port}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Stunnel { child, port, log }
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a [`CountingProxy`] saw from clients: per Kafka API key, requests and bytes.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Requests per API key (0 = Produce, 1 = Fetch, 3 = Metadata).
    pub requests: HashMap<i16, usize>,
    /// Request bytes per API key (frames, length prefix included).
    pub bytes: HashMap<i16, usize>,
    /// Client connections accepted.
    pub connections: usize,
}

/// A TCP proxy on loopback in front of a broker that reads the Kafka request frames clients
/// send (a 4-byte length, then the request header, whose first field is the API key:
/// <https://kafka.apache.org/protocol#protocol_messages>) and counts them. It can also make
/// the connections open at one moment go silent ([`CountingProxy::silence_open_connections`]).
pub struct CountingProxy {
    /// The port it listens on.
    pub port: u16,
    counts: Arc<Mutex<Counts>>,
    /// One flag per connection accepted: set, the connection forwards nothing more.
    silenced: Arc<Mutex<Vec<Arc<AtomicBool>>>>,
}

impl CountingProxy {
    /// Listens on `port`, forwarding to `127.0.0.1:target`.
    pub fn start(port: u16, target: u16) -> CountingProxy {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let counts = Arc::new(Mutex::new(Counts::default()));
        let shared = Arc::clone(&counts);
        let silenced = Arc::new(Mutex::new(Vec::new()));
        let flags = Arc::clone(&silenced);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else { continue };
                shared.lock().unwrap().connections += 1;
                let silent = Arc::new(AtomicBool::new(false));
                flags.lock().unwrap().push(Arc::clone(&silent));
                let silent_too = Arc::clone(&silent);
                let counts = Arc::clone(&shared);
                let (mut client_read, mut server_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut length = [0u8; 4];
                    while client_read.read_exact(&mut length).is_ok() {
                        let mut frame = vec![0u8; u32::from_be_bytes(length) as usize];
                        if client_read.read_exact(&mut frame).is_err() || frame.len() < 2 {
                            break;
                        }
                        let api_key = i16::from_be_bytes([frame[0], frame[1]]);
                        {
                            let mut counts = counts.lock().unwrap();
                            *counts.requests.entry(api_key).or_default() += 1;
                            *counts.bytes.entry(api_key).or_default() += frame.len() + 4;
                        }
                        // Silenced: read and dropped, the connection left open.
                        if silent.load(Ordering::SeqCst) {
                            continue;
                        }
                        if server_write.write_all(&length).is_err()
                            || server_write.write_all(&frame).is_err()
                        {
                            break;
                        }
                    }
                    let _ = server_write.shutdown(Shutdown::Both);
                });
                let (mut server_read, mut client_write) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = server_read.read(&mut buf) {
                        if !silent_too.load(Ordering::SeqCst)
                            && client_write.write_all(&buf[..n]).is_err()
                        {
                            break;
                        }
                    }
                    // A silenced connection stays open: a broker that stopped answering.
                    if !silent_too.load(Ordering::SeqCst) {
                        let _ = client_write.shutdown(Shutdown::Both);
                    }
                });
            }
        });
        CountingProxy { port, counts, silenced }
    }

    /// Every connection open now goes silent: what clients send on it is read and dropped,
    /// nothing comes back, and it stays open (a broker that hangs, or a network path that
    /// drops packets, as the client sees it). Connections made later are forwarded as before.
    pub fn silence_open_connections(&self) {
        for flag in self.silenced.lock().unwrap().iter() {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// What it has seen so far.
    pub fn counts(&self) -> Counts {
        self.counts.lock().unwrap().clone()
    }

    /// Produce requests (API key 0) so far.
    pub fn produce_requests(&self) -> usize {
        self.counts().requests.get(&0).copied().unwrap_or(0)
    }
}

/// The virtualenv `scripts/install-test-tools` puts moto and kafka-python in.
pub fn python_tools_venv() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
    });
    cache.join("msk-lambda").join("python-tools-venv")
}

/// moto's server mode (a local AWS API, from PyPI) on a loopback port; stopped when dropped.
pub struct MotoServer {
    child: Child,
    /// `http://127.0.0.1:PORT`: the `endpoint_url` (or `AWS_ENDPOINT_URL`) for AWS SDKs.
    pub endpoint: String,
}

impl MotoServer {
    /// Starts `moto_server` from the tools virtualenv on a free port.
    pub fn start() -> MotoServer {
        let program = python_tools_venv().join("bin").join("moto_server");
        assert!(
            program.exists(),
            "moto is not installed at {}: run scripts/install-test-tools",
            program.display()
        );
        let port = free_port();
        let dir = temp_dir("moto");
        let log = std::fs::File::create(dir.join("moto.log")).unwrap();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(&dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("moto_server starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not start on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        MotoServer { child, endpoint: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An rskafka client over TLS, trusting `ca` and presenting `identity` if given: an
/// independent client to create topics and read records back through a TLS endpoint (a
/// broker behind stunnel advertises only the TLS port).
pub async fn tls_client(
    address: &str,
    ca: &Path,
    identity: Option<&Issued>,
) -> rskafka::client::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(certificate.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(issued) => {
            let chain: Vec<_> = CertificateDer::pem_file_iter(&issued.certificate)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(&issued.private_key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    rskafka::client::ClientBuilder::new(vec![address.to_owned()])
        .tls_config(Arc::new(config))
        .build()
        .await
        .unwrap()
}
