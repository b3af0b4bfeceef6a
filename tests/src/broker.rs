//! A real Kafka-protocol broker on loopback for the producer tests: tansu, with in-memory
//! storage, started per test on a free port.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
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
        // Its own empty working folder: tansu reads a `.env` from there.
        let dir =
            std::env::temp_dir().join(format!("msk-lambda-tansu-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("tansu.log")).unwrap();
        let child = Command::new("tansu")
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
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
