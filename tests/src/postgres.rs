//! A real PostgreSQL server on loopback for the tests that write to a database: a new cluster
//! per test, started by `scripts/postgres` (as the benchmark and local runs start theirs) on a
//! free port, stopped and removed when dropped.

use std::path::PathBuf;
use std::process::Command;

/// A running throwaway PostgreSQL server; stopped, and its folder removed, when dropped.
pub struct Postgres {
    dir: PathBuf,
    /// `postgresql://postgres:PASSWORD@127.0.0.1:PORT/postgres`.
    pub url: String,
}

impl Postgres {
    /// Starts a server with the test settings of `scripts/postgres` (durability off).
    pub fn start() -> Postgres {
        Postgres::start_with(&[])
    }

    /// Starts a server with these settings too (`NAME=VALUE`, as `postgres -c` takes them).
    /// Fails with the script's message, which says how to install PostgreSQL, when it is
    /// missing.
    pub fn start_with(settings: &[&str]) -> Postgres {
        let dir = crate::broker::temp_dir("postgres");
        let mut command = Command::new(script());
        command.arg("start").arg(&dir).args(["--owner", &std::process::id().to_string()]);
        for setting in settings {
            command.args(["-c", setting]);
        }
        let output = command.output().expect("scripts/postgres runs");
        assert!(
            output.status.success(),
            "scripts/postgres could not start a PostgreSQL server: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Postgres { dir, url }
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        let (_, port) = self.url.rsplit_once(':').unwrap();
        port.split('/').next().unwrap().parse().unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `scripts/postgres` of this checkout.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres")
}
