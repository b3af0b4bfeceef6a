//! End-to-end runs under cargo-lambda's Runtime API emulator: `cargo lambda watch
//! --only-lambda-apis` on a loopback port, the function binary started against it, and events
//! sent with `cargo lambda invoke`, exactly as a user runs a function locally.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Fails with instructions when cargo-lambda is missing: these tests never skip silently.
pub fn require_cargo_lambda() {
    let ok = Command::new("cargo")
        .args(["lambda", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "cargo-lambda is not installed: run `cargo install cargo-lambda --locked` (about 11 minutes), or `scripts/test`, which installs it and runs every test"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("msk-lambda-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// `cargo lambda watch --only-lambda-apis`, bound to 127.0.0.1 only.
pub struct Emulator {
    child: Child,
    /// The port of both the Runtime API and the invoke endpoint.
    pub port: u16,
}

impl Emulator {
    /// Starts the emulator and waits until it accepts connections.
    pub fn start() -> Emulator {
        require_cargo_lambda();
        let port = free_port();
        let log = std::fs::File::create(scratch(&format!("watch-{port}.log"))).unwrap();
        let child = Command::new("cargo")
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("cargo lambda watch starts");
        let emulator = Emulator { child, port };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "the emulator did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        emulator
    }

    /// Starts a function binary against this emulator, as Lambda would, with extra `env`.
    pub fn function(&self, binary: &Path, env: &[(&str, &str)]) -> Function {
        let log = scratch(&format!("function-{}.log", self.port));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{}/.rt", self.port))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .envs(env.iter().copied())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("the function binary starts");
        Function { child, log }
    }

    /// Sends `event` through `cargo lambda invoke`: `Ok(response)` or `Err(error output)`.
    pub fn invoke(&self, event: &[u8]) -> Result<String, String> {
        let file = scratch(&format!("event-{}.json", self.port));
        std::fs::write(&file, event).unwrap();
        let out = Command::new("cargo")
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(self.port.to_string())
            .arg("--data-file")
            .arg(&file)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo lambda invoke runs");
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A function process; its stdout and stderr go to one log file.
pub struct Function {
    child: Child,
    log: PathBuf,
}

impl Function {
    /// Everything the function printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
