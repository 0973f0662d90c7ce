//! Reads an input in fixed-size chunks and hashes every byte as it passes: the single pass
//! shared by both stores.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

use crate::domain::Sha256Digest;

pub struct Chunker<R> {
    reader: R,
    hasher: Sha256,
    size: u64,
    chunk: usize,
}

impl<R: Read> Chunker<R> {
    pub fn new(reader: R, chunk: usize) -> Self {
        Chunker {
            reader,
            hasher: Sha256::new(),
            size: 0,
            chunk,
        }
    }

    /// Fills `buf` with up to one chunk, hashing it. Returns false, with `buf` empty, at the end.
    /// Reads into the buffer's spare capacity (`read_to_end`), so nothing is zeroed first.
    pub fn next_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        buf.reserve(self.chunk);
        (&mut self.reader)
            .take(self.chunk as u64)
            .read_to_end(buf)?;
        self.hasher.update(&buf[..]);
        self.size += buf.len() as u64;
        Ok(!buf.is_empty())
    }

    pub fn finish(self) -> (Sha256Digest, u64) {
        (Sha256Digest(self.hasher.finalize().into()), self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_across_chunk_boundaries() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut c = Chunker::new(&data[..], 4096);
        let mut buf = Vec::new();
        let mut sizes = Vec::new();
        while c.next_chunk(&mut buf).unwrap() {
            sizes.push(buf.len());
        }
        assert_eq!(sizes, vec![4096, 4096, 1808]);
        let (digest, size) = c.finish();
        assert_eq!(size, 10_000);
        assert_eq!(digest.0, <[u8; 32]>::from(Sha256::digest(&data)));
    }
}
