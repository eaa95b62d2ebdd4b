//! `Pages`: sparse file content in 4 KiB pages.
//!
//! Only pages that were written hold a buffer; everything else (holes, space grown by
//! `set_len`) reads as the file's [`Fill`]: zeros, or deterministic garbage under fault D14.
//! Bytes of an allocated page that were never written also hold the fill, so "never written"
//! reads the same whether or not its page happens to be allocated.

use std::collections::BTreeMap;

use crate::rng::mix64;

/// The page size of simulated file content.
pub(crate) const PAGE: usize = 4096;
/// The page size as a file offset.
pub(crate) const PAGE_U64: u64 = PAGE as u64;
/// The sector size: the granularity of torn writes and latent read errors.
pub(crate) const SECTOR: u64 = 512;

const _: () = assert!(PAGE_U64.is_multiple_of(SECTOR));

/// What never-written bytes read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Zeros, as a file system guarantees for holes and `set_len` growth.
    Zero,
    /// Deterministic garbage, a pure function of this seed and the byte's offset (D14).
    Garbage(u64),
}

impl Fill {
    /// Fills `buf`, which holds the bytes at file offset `offset`, with this fill.
    pub(crate) fn apply(self, buf: &mut [u8], offset: u64) {
        match self {
            Fill::Zero => buf.fill(0),
            Fill::Garbage(seed) => garbage(seed, buf, offset),
        }
    }
}

/// Writes the garbage for `offset..offset + buf.len()` into `buf`: byte `o` is byte `o % 8` of
/// `mix64(seed ^ (o / 8))`, so any sub-range reads the same however it is cut.
pub(crate) fn garbage(seed: u64, buf: &mut [u8], offset: u64) {
    let mut i = 0;
    while i < buf.len() {
        let at = offset + i as u64;
        let word = mix64(seed ^ (at >> 3)).to_le_bytes();
        let start = (at & 7) as usize;
        let n = (8 - start).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&word[start..start + n]);
        i += n;
    }
}

/// One page. Owned, not reference-counted: the hot path writes a few bytes into the last page
/// of a file twice per append (cache, then durable at the sync), and an atomic uniqueness check
/// per write would cost more than the rare full copy (see `Inode::cache_is_durable`).
type Page = Box<[u8; PAGE]>;

/// Sparse content: page index to page.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pages {
    map: BTreeMap<u64, Page>,
}

impl Pages {
    /// Writes `data` at `offset`, allocating (and filling) pages as needed.
    ///
    /// Zeros written where no page exists, in a file whose never-written bytes read as zeros,
    /// allocate nothing: the page reads as zeros either way. A log preallocates its segments
    /// by writing zeros, so this keeps a 1 MiB segment that holds a few records at a few pages.
    pub(crate) fn write(&mut self, mut offset: u64, mut data: &[u8], fill: Fill) {
        while !data.is_empty() {
            let index = offset / PAGE_U64;
            let within = (offset % PAGE_U64) as usize;
            let n = (PAGE - within).min(data.len());
            let chunk = &data[..n];
            match self.map.get_mut(&index) {
                Some(page) => page[within..within + n].copy_from_slice(chunk),
                None if fill == Fill::Zero && is_zero(chunk) => {}
                None => {
                    let page = self.map.entry(index).or_insert_with(|| new_page(index, fill));
                    page[within..within + n].copy_from_slice(chunk);
                }
            }
            offset += n as u64;
            data = &data[n..];
        }
    }

    /// Reads `buf.len()` bytes at `offset`; unallocated pages read as `fill`. The caller bounds
    /// the read by the file length.
    pub(crate) fn read(&self, mut offset: u64, buf: &mut [u8], fill: Fill) {
        let mut done = 0;
        while done < buf.len() {
            let index = offset / PAGE_U64;
            let within = (offset % PAGE_U64) as usize;
            let n = (PAGE - within).min(buf.len() - done);
            let chunk = &mut buf[done..done + n];
            match self.map.get(&index) {
                Some(page) => chunk.copy_from_slice(&page[within..within + n]),
                None => fill.apply(chunk, offset),
            }
            done += n;
            offset += n as u64;
        }
    }

    /// Cuts the content at `len`: pages past it are freed and the tail of the last page is
    /// reset to `fill`, so growing the file again reads never-written bytes there.
    pub(crate) fn truncate(&mut self, len: u64, fill: Fill) {
        let pages_kept = len.div_ceil(PAGE_U64);
        drop(self.map.split_off(&pages_kept));
        let within = (len % PAGE_U64) as usize;
        if within != 0 {
            if let Some(page) = self.map.get_mut(&(len / PAGE_U64)) {
                fill.apply(&mut page[within..], len);
            }
        }
    }

    /// XORs `mask` into the byte at `offset` (allocating its page if needed).
    pub(crate) fn xor_byte(&mut self, offset: u64, mask: u8, fill: Fill) {
        let index = offset / PAGE_U64;
        let page = self.map.entry(index).or_insert_with(|| new_page(index, fill));
        page[(offset % PAGE_U64) as usize] ^= mask;
    }

    /// How many pages hold a buffer.
    pub(crate) fn pages_allocated(&self) -> usize {
        self.map.len()
    }
}

/// Whether every byte is zero. Branch-free over words so it vectorises.
pub(crate) fn is_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let mut acc = 0u64;
    for w in &mut words {
        acc |= u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    }
    acc == 0 && words.remainder().iter().all(|b| *b == 0)
}

fn new_page(index: u64, fill: Fill) -> Page {
    let mut page = Box::new([0u8; PAGE]);
    if let Fill::Garbage(_) = fill {
        fill.apply(&mut page[..], index * PAGE_U64);
    }
    page
}

/// How many pages a file of `len` bytes is charged for against the capacity.
pub(crate) fn pages_for(len: u64) -> u64 {
    len.div_ceil(PAGE_U64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_space_costs_no_pages_and_reads_as_fill() {
        let mut pages = Pages::default();
        pages.write(10_000_000, b"x", Fill::Zero);
        assert_eq!(pages.pages_allocated(), 1);
        let mut buf = [7u8; 16];
        pages.read(0, &mut buf, Fill::Zero);
        assert_eq!(buf, [0; 16]);
    }

    #[test]
    fn zeros_written_into_a_hole_allocate_nothing_but_garbage_files_still_store_them() {
        let mut pages = Pages::default();
        pages.write(0, &[0u8; 3 * PAGE], Fill::Zero);
        assert_eq!(pages.pages_allocated(), 0);
        pages.write(10, b"x", Fill::Zero);
        pages.write(0, &[0u8; 20], Fill::Zero); // an existing page is overwritten
        let mut buf = [1u8; 20];
        pages.read(0, &mut buf, Fill::Zero);
        assert_eq!(buf, [0u8; 20]);
        let mut garbage = Pages::default();
        garbage.write(0, &[0u8; 16], Fill::Garbage(3));
        let mut back = [1u8; 16];
        garbage.read(0, &mut back, Fill::Garbage(3));
        assert_eq!(back, [0u8; 16], "written zeros read as zeros, not as garbage");
        assert!(is_zero(&[0; 13]) && !is_zero(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn garbage_is_the_same_however_the_range_is_cut() {
        let mut whole = [0u8; 100];
        garbage(9, &mut whole, 1003);
        let mut parts = [0u8; 100];
        garbage(9, &mut parts[..37], 1003);
        garbage(9, &mut parts[37..], 1040);
        assert_eq!(whole, parts);
        assert!(whole.iter().any(|b| *b != 0));
    }

    #[test]
    fn writes_across_pages_read_back_and_truncate_resets_the_tail() {
        let mut pages = Pages::default();
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8 | 1).collect();
        pages.write(4000, &data, Fill::Zero);
        let mut back = vec![0u8; data.len()];
        pages.read(4000, &mut back, Fill::Zero);
        assert_eq!(back, data);
        pages.truncate(4100, Fill::Zero);
        let mut tail = [1u8; 10];
        pages.read(4100, &mut tail, Fill::Zero);
        assert_eq!(tail, [0; 10]);
        assert_eq!(pages.pages_allocated(), 2);
    }
}
