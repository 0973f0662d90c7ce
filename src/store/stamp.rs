//! Whether a file is still exactly as its writer left it, known without reading it again.
//!
//! The tus door reads back each write to a staged upload and compares it with the bytes that
//! arrived, which are the bytes it hashes; after its last write and fsync it takes the file's
//! stamp. Anything that writes to, truncates or replaces the file after that changes the stamp:
//! the inode, the length, or the change time, which the kernel sets on every write and which no
//! call can set back (only moving the system clock could). A matching stamp therefore stands in
//! for hashing a staged gigabyte a second time before the store adopts it.
//!
//! The kernel keeps the change time in clock ticks on Linux before 6.13, so there a write landing
//! in the same tick (a few milliseconds) as the door's own last write, through a descriptor
//! already open on the private staging file, would leave the stamp as it was. From 6.13, reading
//! the time (as taking a stamp does) makes the next change take a fine-grained one on ext4, XFS,
//! btrfs and tmpfs.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;

/// What a file's metadata says about its contents: equal stamps, no write in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    /// The stamp of an open file now (one `fstat`).
    pub fn of(file: &File) -> io::Result<Self> {
        let m = file.metadata()?;
        Ok(Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }

    /// The file's length in bytes when stamped.
    pub fn size(&self) -> u64 {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_write_after_the_stamp_changes_it_and_a_read_does_not() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.write_all(b"footage").unwrap();
        let stamp = FileStamp::of(&file).unwrap();
        let mut back = [0u8; 7];
        file.read_exact_at(&mut back, 0).unwrap();
        assert_eq!(
            FileStamp::of(&file).unwrap(),
            stamp,
            "reading changes nothing"
        );
        // Beyond a clock tick, so that kernels before 6.13 see the change as well.
        std::thread::sleep(std::time::Duration::from_millis(20));
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .write_all_at(b"F", 0)
            .unwrap();
        assert_ne!(
            FileStamp::of(&file).unwrap(),
            stamp,
            "the same length, other bytes"
        );
    }
}
