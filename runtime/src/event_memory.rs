//! The memory a large event is read into: mapped in whole 2 MiB units and advised for
//! transparent huge pages.
//!
//! Every 4 KiB page of new memory costs a page fault on first touch. On Firecracker VMs
//! (Lambda's own, and this project's CI machine) such a fault costs several microseconds, as
//! the host backs the page too: reading a 6 MB event file into a new `Vec` took 9–13 ms here,
//! 1,500 faults, longer than parsing, decoding and handling its 10,000 records. The same read
//! into memory the kernel can back with 2 MiB pages took 4–5 ms and 75 faults (`bench/run`'s
//! process table shows both, `read-event` against `user-events`).
//!
//! Where the kernel has no huge page to give (transparent huge pages off, memory fragmented,
//! another OS), the mapping is backed by ordinary pages, as the heap would be: the advice
//! costs one system call and nothing else. Only events of at least [`MAPPED_FROM`] bytes are
//! mapped; smaller ones go to the heap, where a mapping of their own would cost more than it
//! saves.

use std::io::{self, Read};
use std::ops::Deref;

use memmap2::{MmapMut, MmapOptions};

/// Huge pages are 2 MiB on x86-64 and on arm64 with 4 KiB base pages (Lambda's two
/// architectures); a mapping is rounded up to whole units of this so every part of it can be
/// backed by one.
const HUGE_PAGE: usize = 2 << 20;

/// Events at least this large are read into a mapping.
pub(crate) const MAPPED_FROM: usize = HUGE_PAGE;

/// An event's bytes, in the heap or in a mapping of their own.
pub(crate) struct EventMemory {
    memory: Memory,
    /// Where the event starts (after a byte order mark that a local run drops).
    start: usize,
    /// Where the event ends.
    end: usize,
}

enum Memory {
    Heap(Vec<u8>),
    Mapped(MmapMut),
}

impl EventMemory {
    /// Reads `reader` to its end. `expected` is its length as far as is known beforehand (a
    /// file's size): at least [`MAPPED_FROM`] bytes are read into a mapping, with room for
    /// the reader to turn out longer (a file being written) or shorter.
    pub(crate) fn read(mut reader: impl Read, expected: usize) -> io::Result<EventMemory> {
        if expected < MAPPED_FROM {
            let mut bytes = Vec::with_capacity(expected.saturating_add(1));
            reader.read_to_end(&mut bytes)?;
            return Ok(EventMemory::from(bytes));
        }
        // One byte over the expected length: a reader that fills the mapping is longer than
        // expected, and the rest goes to the heap.
        let capacity = (expected + 1).div_ceil(HUGE_PAGE) * HUGE_PAGE;
        let mut map = MmapOptions::new().len(capacity).map_anon()?;
        advise_huge_pages(&map);
        let mut filled = 0;
        while filled < capacity {
            match reader.read(&mut map[filled..]) {
                Ok(0) => {
                    return Ok(EventMemory { memory: Memory::Mapped(map), start: 0, end: filled })
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut bytes = map[..filled].to_vec();
        drop(map);
        reader.read_to_end(&mut bytes)?;
        Ok(EventMemory::from(bytes))
    }

    /// Leaves out the first `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Whether the bytes are in a mapping of their own (for tests).
    #[cfg(test)]
    fn is_mapped(&self) -> bool {
        matches!(self.memory, Memory::Mapped(_))
    }
}

impl From<Vec<u8>> for EventMemory {
    fn from(bytes: Vec<u8>) -> Self {
        let end = bytes.len();
        EventMemory { memory: Memory::Heap(bytes), start: 0, end }
    }
}

impl Deref for EventMemory {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let all: &[u8] = match &self.memory {
            Memory::Heap(bytes) => bytes,
            Memory::Mapped(map) => map,
        };
        &all[self.start..self.end]
    }
}

impl std::fmt::Debug for EventMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventMemory")
            .field("len", &self.len())
            .field("mapped", &matches!(self.memory, Memory::Mapped(_)))
            .finish()
    }
}

#[cfg(target_os = "linux")]
fn advise_huge_pages(map: &MmapMut) {
    // Only advice: refused (THP compiled out, an old kernel), the mapping keeps 4 KiB pages.
    let _ = map.advise(memmap2::Advice::HugePage);
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: &MmapMut) {}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn small_events_are_read_into_the_heap() {
        let event = pattern(1000);
        let memory = EventMemory::read(&event[..], event.len()).unwrap();
        assert!(!memory.is_mapped());
        assert_eq!(&*memory, &event[..]);
    }

    #[test]
    fn large_events_are_read_into_a_mapping() {
        let event = pattern(MAPPED_FROM + 12_345);
        let memory = EventMemory::read(&event[..], event.len()).unwrap();
        assert!(memory.is_mapped());
        assert_eq!(memory.len(), event.len());
        assert!(*memory == event[..]);
    }

    #[test]
    fn a_reader_shorter_than_expected_gives_what_it_has() {
        let event = pattern(MAPPED_FROM + 10);
        let memory = EventMemory::read(&event[..], event.len() + 5_000).unwrap();
        assert!(*memory == event[..]);
    }

    /// A file that grew between its size being taken and its end being read: nothing is lost,
    /// whether the growth stays inside the mapping's rounding or goes past it.
    #[test]
    fn a_reader_longer_than_expected_is_read_to_its_end() {
        for len in [MAPPED_FROM * 3 / 2, 2 * MAPPED_FROM, 2 * MAPPED_FROM + 1, 3 * MAPPED_FROM + 7]
        {
            let event = pattern(len);
            let memory = EventMemory::read(&event[..], MAPPED_FROM + 3).unwrap();
            assert_eq!(memory.len(), len);
            assert!(*memory == event[..]);
        }
    }

    #[test]
    fn skipped_bytes_are_left_out() {
        let mut memory = EventMemory::from(b"\xEF\xBB\xBF{}".to_vec());
        memory.skip(3);
        assert_eq!(&*memory, b"{}");
        memory.skip(10);
        assert_eq!(&*memory, b"");
    }

    #[test]
    fn read_errors_are_returned() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        for expected in [10, MAPPED_FROM] {
            let err = EventMemory::read(Failing, expected).unwrap_err();
            assert_eq!(err.to_string(), "disk on fire");
        }
    }
}
