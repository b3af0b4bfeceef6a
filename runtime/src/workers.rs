//! How many threads run partitions: [`Workers`] and `MSK_LAMBDA_WORKERS`.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;

/// The environment variable that sets the number of workers, overriding the code's setting:
/// a whole number from 1 up, or `auto`.
pub const WORKERS_ENV: &str = "MSK_LAMBDA_WORKERS";

/// How many worker threads run partitions; see [`Consumer::workers`](crate::Consumer::workers).
///
/// Lambda gives a function one vCPU up to about 1.8 GB of memory and up to 6 above: `Auto`
/// uses what the process may use, [`std::thread::available_parallelism`] (which honours CPU
/// quotas and affinity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workers {
    /// Exactly this many threads (1: the single-thread path, the default).
    Count(NonZeroUsize),
    /// One thread per CPU the process may use.
    Auto,
}

impl Workers {
    /// One worker: everything on the calling thread, the fastest for a 1-vCPU function.
    pub const ONE: Workers = Workers::Count(NonZeroUsize::MIN);

    /// The number of threads this stands for on this machine, now.
    pub fn resolve(self) -> NonZeroUsize {
        match self {
            Workers::Count(n) => n,
            Workers::Auto => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        }
    }

    /// `MSK_LAMBDA_WORKERS`, if set. A value that is neither a count nor `auto` is an error
    /// naming the variable.
    pub(crate) fn from_env() -> Result<Option<Workers>, String> {
        match std::env::var(WORKERS_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("{WORKERS_ENV} is not valid UTF-8; {}", ParseWorkersError))
            }
            Ok(text) => text.parse().map(Some).map_err(|e| format!("{WORKERS_ENV}={text:?}: {e}")),
        }
    }
}

impl Default for Workers {
    fn default() -> Self {
        Workers::ONE
    }
}

impl From<NonZeroUsize> for Workers {
    fn from(n: NonZeroUsize) -> Self {
        Workers::Count(n)
    }
}

impl fmt::Display for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::Count(n) => write!(f, "{n}"),
            Workers::Auto => f.write_str("auto"),
        }
    }
}

/// A worker count that is neither a whole number from 1 up nor `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseWorkersError;

impl fmt::Display for ParseWorkersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the number of workers is a whole number from 1 up, or `auto` (one per CPU the process may use)",
        )
    }
}

impl std::error::Error for ParseWorkersError {}

impl FromStr for Workers {
    type Err = ParseWorkersError;

    /// `auto` (any case) or a whole number from 1 up, surrounding spaces ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Workers::Auto);
        }
        s.parse::<NonZeroUsize>().map(Workers::Count).map_err(|_| ParseWorkersError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counts_and_auto() {
        assert_eq!("3".parse(), Ok(Workers::Count(NonZeroUsize::new(3).unwrap())));
        assert_eq!(" AUTO ".parse(), Ok(Workers::Auto));
        for bad in ["0", "-1", "", "two", "1.5"] {
            assert_eq!(bad.parse::<Workers>(), Err(ParseWorkersError), "{bad}");
        }
        assert!(Workers::Auto.resolve().get() >= 1);
        assert_eq!(Workers::default().resolve().get(), 1);
        assert_eq!(Workers::Auto.to_string(), "auto");
    }
}
