//! Filesystem store. An object is written to a locked temp file, fsync'd, made read-only, then
//! hard-linked into place (`objects/ab/cd/abcd...`) and the directory fsync'd. A hard link,
//! unlike rename, fails when the name exists, so an object is never overwritten even by a racing
//! writer. A crash leaves at most a temp file, which nobody can mistake for an object and which
//! the next open removes once no process holds its lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use uuid::Uuid;

use super::PutOutcome;
use super::chunker::Chunker;
use crate::domain::Sha256Digest;
use crate::error::{Code, Error, Result, ResultExt};

const CHUNK: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

/// Asks the kernel to start writing a just-written range to disk now, rather than all at the
/// final fsync: the disk then works while the next chunks are still being hashed, and the fsync
/// that makes the object durable has little left to do. Advisory; errors surface at fsync.
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor and an in-bounds range; the call only schedules I/O.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            offset as libc::off64_t,
            len as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl FsStore {
    pub fn open(root: &Path) -> Result<FsStore> {
        for dir in [root.join("objects"), root.join("tmp")] {
            std::fs::create_dir_all(&dir)
                .context(|| format!("creating store directory {}", dir.display()))?;
        }
        let store = FsStore {
            root: root.to_owned(),
        };
        store.remove_abandoned_temp_files()?;
        Ok(store)
    }

    pub fn describe(&self) -> String {
        format!("fs:{}", self.root.display())
    }

    fn object_path(&self, sha: &Sha256Digest) -> PathBuf {
        let hex = sha.to_hex();
        self.root
            .join("objects")
            .join(&hex[0..2])
            .join(&hex[2..4])
            .join(hex)
    }

    /// Temp files of writers that died (kill -9, power loss). A live writer holds an exclusive
    /// lock on its temp file, so a file we can lock is abandoned.
    fn remove_abandoned_temp_files(&self) -> Result<()> {
        let dir = self.root.join("tmp");
        let entries = std::fs::read_dir(&dir).context(|| format!("listing {}", dir.display()))?;
        for entry in entries {
            let path = entry
                .context(|| format!("listing {}", dir.display()))?
                .path();
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if file.try_lock().is_ok() {
                tracing::info!(path = %path.display(), "removing abandoned partial object");
                std::fs::remove_file(&path)
                    .context(|| format!("removing abandoned temp file {}", path.display()))?;
            }
        }
        Ok(())
    }

    pub async fn put(&self, reader: Box<dyn Read + Send>) -> Result<PutOutcome> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put_blocking(reader))
            .await
            .map_err(|e| Error::new(Code::Store, format!("store writer panicked: {e}")))?
    }

    fn put_blocking(&self, reader: Box<dyn Read + Send>) -> Result<PutOutcome> {
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}.partial", Uuid::new_v4()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .context(|| format!("creating temp object {}", tmp.display()))?;
        file.lock()
            .context(|| format!("locking temp object {}", tmp.display()))?;
        let result = self.fill_and_publish(reader, file, &tmp);
        // The temp name is only ever a staging name: remove it whether we published or failed.
        if let Err(e) = std::fs::remove_file(&tmp)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %tmp.display(), error = %e, "could not remove temp object");
        }
        result
    }

    /// Reads and hashes on this thread while a second thread writes, so hashing overlaps I/O.
    fn fill_and_publish(
        &self,
        reader: Box<dyn Read + Send>,
        file: File,
        tmp: &Path,
    ) -> Result<PutOutcome> {
        let (to_writer, chunks) = mpsc::sync_channel::<Vec<u8>>(2);
        let (recycle, spare) = mpsc::channel::<Vec<u8>>();
        let mut chunker = Chunker::new(reader, CHUNK);
        let (read_result, write_result) = std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> io::Result<File> {
                let mut file = file;
                let mut offset = 0u64;
                for buf in chunks {
                    file.write_all(&buf)?;
                    start_writeback(&file, offset, buf.len() as u64);
                    offset += buf.len() as u64;
                    let _ = recycle.send(buf);
                }
                file.sync_all()?;
                Ok(file)
            });
            let read_result = loop {
                let mut buf = spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
                match chunker.next_chunk(&mut buf) {
                    Ok(true) => {
                        if to_writer.send(buf).is_err() {
                            break Ok(()); // the writer failed; its error is reported below
                        }
                    }
                    Ok(false) => break Ok(()),
                    Err(e) => break Err(e),
                }
            };
            drop(to_writer);
            let write_result = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("store writer thread panicked")));
            (read_result, write_result)
        });
        write_result.context(|| format!("writing temp object {}", tmp.display()))?;
        read_result.map_err(|e| Error::with_source(Code::BadInput, "reading the input", e))?;
        let (sha256, size) = chunker.finish();

        std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o444))
            .context(|| format!("making {} read-only", tmp.display()))?;
        let dest = self.object_path(&sha256);
        let parent = dest.parent().expect("object paths have a parent");
        std::fs::create_dir_all(parent)
            .context(|| format!("creating store directory {}", parent.display()))?;
        let created = match std::fs::hard_link(tmp, &dest) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => {
                return Err(e).context(|| format!("publishing object {sha256}"));
            }
        };
        fsync_dir(parent).context(|| format!("syncing store directory {}", parent.display()))?;
        Ok(PutOutcome {
            sha256,
            size,
            created,
        })
    }

    pub async fn rehash(&self, sha: &Sha256Digest) -> Result<Option<(Sha256Digest, u64)>> {
        let path = self.object_path(sha);
        tokio::task::spawn_blocking(move || -> Result<Option<(Sha256Digest, u64)>> {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e).context(|| format!("opening {}", path.display())),
            };
            let mut chunker = Chunker::new(file, CHUNK);
            let mut buf = Vec::with_capacity(CHUNK);
            while chunker
                .next_chunk(&mut buf)
                .context(|| format!("reading {}", path.display()))?
            {}
            Ok(Some(chunker.finish()))
        })
        .await
        .map_err(|e| Error::new(Code::Store, format!("store reader panicked: {e}")))?
    }

    pub async fn exists(&self, sha: &Sha256Digest) -> Result<bool> {
        let path = self.object_path(sha);
        tokio::fs::try_exists(&path)
            .await
            .context(|| format!("checking {}", path.display()))
    }

    pub async fn list(&self) -> Result<Vec<Sha256Digest>> {
        let root = self.root.join("objects");
        tokio::task::spawn_blocking(move || -> Result<Vec<Sha256Digest>> {
            let mut out = Vec::new();
            for entry in walkdir::WalkDir::new(&root).min_depth(3).max_depth(3) {
                let entry = entry.map_err(|e| {
                    Error::new(Code::Store, format!("listing {}: {e}", root.display()))
                })?;
                if entry.file_type().is_file()
                    && let Some(sha) = entry.file_name().to_str().and_then(|n| n.parse().ok())
                {
                    out.push(sha);
                }
            }
            out.sort();
            Ok(out)
        })
        .await
        .map_err(|e| Error::new(Code::Store, format!("store lister panicked: {e}")))?
    }

    /// Removes an object; false when it was already gone, so an interrupted purge can rerun.
    pub async fn delete(&self, sha: &Sha256Digest) -> Result<bool> {
        let path = self.object_path(sha);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e).context(|| format!("deleting object {sha}")),
        }
        if let Some(parent) = path.parent() {
            fsync_dir(parent).context(|| format!("syncing {}", parent.display()))?;
        }
        Ok(true)
    }
}
