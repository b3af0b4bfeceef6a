//! The memory an event is read into: for a large one, mapped in whole 2 MiB units and advised
//! for transparent huge pages. Local runs read the event file into it; msk-lambda's Runtime API
//! client reads each `/next` body into one, kept from one invocation to the next.
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
}

enum Memory {
    Heap(Vec<u8>),
    /// The first `len` bytes of `map` hold the event.
    Mapped {
        map: MmapMut,
        len: usize,
    },
}

impl EventMemory {
    /// Empty, in the heap.
    pub(crate) fn new() -> EventMemory {
        EventMemory::from(Vec::new())
    }

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
        let mut memory = EventMemory::new();
        memory.reserve(expected + 1)?;
        while let Some(room) = memory.room_mut().filter(|room| !room.is_empty()) {
            match reader.read(room) {
                Ok(0) => return Ok(memory),
                Ok(n) => memory.filled(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        reader.read_to_end(memory.heap_mut())?;
        Ok(memory)
    }

    /// Empties it, keeping its memory: a mapping stays one, its pages already faulted in.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        match &mut self.memory {
            Memory::Heap(bytes) => bytes.clear(),
            Memory::Mapped { len, .. } => *len = 0,
        }
    }

    /// How many bytes it can hold without growing.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        match &self.memory {
            Memory::Heap(bytes) => bytes.capacity(),
            Memory::Mapped { map, .. } => map.len(),
        }
    }

    /// Makes room for `additional` more bytes. Held with the bytes already there, at least
    /// [`MAPPED_FROM`] go to a mapping (a new one, the bytes copied over, when the memory held
    /// is the heap or a smaller mapping: at least twice as large, so that a body growing
    /// piece by piece is not copied again and again); fewer stay in the heap.
    pub(crate) fn reserve(&mut self, additional: usize) -> io::Result<()> {
        let needed = self.end().saturating_add(additional);
        match &mut self.memory {
            Memory::Mapped { map, .. } if map.len() >= needed => Ok(()),
            Memory::Heap(bytes) if needed < MAPPED_FROM => {
                bytes.reserve(additional);
                Ok(())
            }
            _ => {
                let grown = match &self.memory {
                    Memory::Mapped { map, .. } => needed.max(map.len().saturating_mul(2)),
                    Memory::Heap(_) => needed,
                };
                let capacity = grown.div_ceil(HUGE_PAGE).saturating_mul(HUGE_PAGE);
                let mut map = MmapOptions::new().len(capacity).map_anon()?;
                advise_huge_pages(&map);
                let old = self.all();
                map[..old.len()].copy_from_slice(old);
                let len = old.len();
                self.memory = Memory::Mapped { map, len };
                Ok(())
            }
        }
    }

    /// Appends `bytes`, growing as [`reserve`](EventMemory::reserve) says.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reserve(bytes.len())?;
        match &mut self.memory {
            Memory::Heap(heap) => heap.extend_from_slice(bytes),
            Memory::Mapped { map, len } => {
                map[*len..*len + bytes.len()].copy_from_slice(bytes);
                *len += bytes.len();
            }
        }
        Ok(())
    }

    /// A mapping's room after the bytes, for a reader to write into (then
    /// [`filled`](EventMemory::filled)); `None` in the heap (see
    /// [`heap_mut`](EventMemory::heap_mut)).
    pub(crate) fn room_mut(&mut self) -> Option<&mut [u8]> {
        match &mut self.memory {
            Memory::Heap(_) => None,
            Memory::Mapped { map, len } => Some(&mut map[*len..]),
        }
    }

    /// `n` bytes of [`room_mut`](EventMemory::room_mut) have been written.
    pub(crate) fn filled(&mut self, n: usize) {
        if let Memory::Mapped { map, len } = &mut self.memory {
            *len = (*len + n).min(map.len());
        }
    }

    /// The bytes as a `Vec`, to append to: a mapping's bytes are moved to the heap first.
    pub(crate) fn heap_mut(&mut self) -> &mut Vec<u8> {
        if let Memory::Mapped { .. } = self.memory {
            self.memory = Memory::Heap(self.all().to_vec());
        }
        match &mut self.memory {
            Memory::Heap(bytes) => bytes,
            Memory::Mapped { .. } => unreachable!("moved to the heap above"),
        }
    }

    /// Leaves out the first `n` bytes.
    pub(crate) fn skip(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end());
    }

    /// Every byte held, those skipped included.
    fn all(&self) -> &[u8] {
        match &self.memory {
            Memory::Heap(bytes) => bytes,
            Memory::Mapped { map, len } => &map[..*len],
        }
    }

    fn end(&self) -> usize {
        self.all().len()
    }

    /// Whether the bytes are in a mapping of their own.
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self.memory, Memory::Mapped { .. })
    }
}

impl From<Vec<u8>> for EventMemory {
    fn from(bytes: Vec<u8>) -> Self {
        EventMemory { memory: Memory::Heap(bytes), start: 0 }
    }
}

impl Deref for EventMemory {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.all()[self.start..]
    }
}

impl std::fmt::Debug for EventMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventMemory")
            .field("len", &self.len())
            .field("mapped", &matches!(self.memory, Memory::Mapped { .. }))
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

    /// As the Runtime API client uses it: appended to, read into, emptied and used again.
    #[test]
    fn it_grows_into_a_mapping_and_keeps_it() {
        let mut memory = EventMemory::new();
        memory.extend_from_slice(b"head ").unwrap();
        assert!(!memory.is_mapped());
        memory.reserve(MAPPED_FROM).unwrap();
        assert!(memory.is_mapped());
        assert_eq!(&*memory, b"head ");
        let body = pattern(MAPPED_FROM - 5);
        let mut reader = &body[..];
        while !reader.is_empty() {
            let room = memory.room_mut().unwrap();
            let take = 1000.min(room.len());
            let n = reader.read(&mut room[..take]).unwrap();
            memory.filled(n);
        }
        assert_eq!(memory.len(), MAPPED_FROM);
        assert!(memory[..5] == *b"head " && memory[5..] == body[..]);
        let capacity = memory.capacity();
        // Emptied, a small body goes to the same mapping (its pages faulted in already).
        memory.clear();
        memory.extend_from_slice(b"{}").unwrap();
        assert!(memory.is_mapped());
        assert_eq!((&*memory, memory.capacity()), (&b"{}"[..], capacity));
        // Past its end: a larger mapping, the bytes so far carried over.
        let more = pattern(capacity);
        memory.extend_from_slice(&more).unwrap();
        assert!(memory.capacity() > capacity);
        assert!(memory[..2] == *b"{}" && memory[2..] == more[..]);
        // To the heap, for appending as a `Vec`.
        memory.heap_mut().extend_from_slice(b"!");
        assert!(!memory.is_mapped());
        assert_eq!(memory.len(), 2 + capacity + 1);
        assert_eq!(memory.last(), Some(&b'!'));
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
