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

use super::chunker::{Chunker, Digests, Hashes};
use super::writeback::{OBJECT_WINDOW, write_behind};
use super::{FileStamp, Input, Progress, PutOptions, PutOutcome};
use crate::domain::Sha256Digest;
use crate::error::{Code, Error, Result, ResultExt};

/// Small enough that a chunk is still in the CPU cache when the writer copies it to the kernel
/// right after it was hashed; a handful are in flight.
const CHUNK: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

/// An object written to its locked temp file and hashed, not yet durable or visible (see
/// `FsStore::publish_batch`). Its temp file is removed when it is dropped, whether or not it was
/// published (the object's own name is a second link to the same bytes).
pub struct Unpublished {
    tmp: PathBuf,
    file: File,
    digests: Digests,
}

impl Drop for Unpublished {
    fn drop(&mut self) {
        remove_temp(&self.tmp);
    }
}

/// A temp name is only ever a staging name: removed whether its object was published or not.
fn remove_temp(tmp: &Path) {
    if let Err(e) = std::fs::remove_file(tmp)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %tmp.display(), error = %e, "could not remove temp object");
    }
}

enum CopyError {
    /// The kernel cannot copy between these files; nothing was written.
    Unsupported,
    Io(io::Error),
}

/// How much of the stored copy is mapped at a time to be hashed. A mapping's pages count in the
/// process's resident set until it is unmapped; a megabyte keeps that small while still
/// faulting in a mapping's pages at once.
const MAP: usize = 1 << 20;

/// For a file input: the kernel copies it into the temp object (`copy_file_range`, as `cp` does,
/// with no trip through user memory), and a second thread hashes each copied range by mapping
/// the temp object. The hash is therefore of the bytes that were stored, read back from the page
/// cache while still hot, and the source is read once.
fn copy_and_hash(source: &File, dest: &File, progress: &Progress) -> Result<Digests, CopyError> {
    use std::os::fd::AsRawFd;
    const STEP: usize = 8 << 20;
    let (copied, ranges) = mpsc::sync_channel::<(u64, usize)>(8);
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || -> io::Result<Digests> {
            let page = page_size();
            let mut hashes = Hashes::new(false);
            // Each copied range is hashed a mapping of at most `MAP` at a time.
            let pieces = ranges.into_iter().flat_map(|(offset, len)| {
                let end = offset + len as u64;
                (offset..end)
                    .step_by(MAP)
                    .map(move |at| (at, ((end - at) as usize).min(MAP)))
            });
            for (at, len) in pieces {
                let start = at - at % page;
                // SAFETY: the temp object is private to this writer (created here, exclusively
                // locked), so nothing truncates or rewrites it while it is mapped.
                let map = unsafe {
                    memmap2::MmapOptions::new()
                        .populate() // one fault-in per mapping instead of one per page
                        .offset(start)
                        .len((at - start) as usize + len)
                        .map(dest)?
                };
                hashes.update(&map[(at - start) as usize..]);
            }
            Ok(hashes.finish())
        });
        let mut offset = 0u64;
        let copy_result = loop {
            // SAFETY: valid descriptors; null offsets mean "use and advance the file offsets".
            let n = unsafe {
                libc::copy_file_range(
                    source.as_raw_fd(),
                    std::ptr::null_mut(),
                    dest.as_raw_fd(),
                    std::ptr::null_mut(),
                    STEP,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                let unsupported = offset == 0
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                    );
                break Err(if unsupported {
                    CopyError::Unsupported
                } else {
                    CopyError::Io(e)
                });
            }
            if n == 0 {
                break Ok(());
            }
            let n = n as usize;
            if let Err(e) = write_behind(dest, offset, n as u64, OBJECT_WINDOW) {
                break Err(CopyError::Io(e));
            }
            if copied.send((offset, n)).is_err() {
                break Ok(()); // the hasher failed; its error is reported below
            }
            offset += n as u64;
            progress.add(n as u64);
        };
        drop(copied);
        let hashed = hasher
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("hashing thread panicked")));
        copy_result?;
        hashed.map_err(CopyError::Io)
    })
}

/// For a file of at most a chunk (it may have grown since: the loop takes what is there).
fn copy_small(
    source: File,
    dest: &File,
    want_md5: bool,
    progress: &Progress,
) -> io::Result<Digests> {
    let chunk = (source.metadata()?.len() as usize).clamp(4096, CHUNK);
    let mut chunker = Chunker::new(source, chunk, want_md5);
    let mut buf = Vec::with_capacity(chunk);
    let mut out = dest;
    while chunker.next_chunk(&mut buf)? {
        out.write_all(&buf)?;
        progress.add(buf.len() as u64);
    }
    Ok(chunker.finish())
}

/// For a stream (a network upload): read and hash on this thread while a second thread writes.
fn stream_and_hash(
    reader: Box<dyn Read + Send>,
    file: &File,
    want_md5: bool,
    progress: &Progress,
) -> Result<Digests> {
    let (to_writer, chunks) = mpsc::sync_channel::<Vec<u8>>(4);
    let (recycle, spare) = mpsc::channel::<Vec<u8>>();
    let mut chunker = Chunker::new(reader, CHUNK, want_md5);
    let (read_result, write_result) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<()> {
            let mut out = file;
            let mut offset = 0u64;
            for buf in chunks {
                out.write_all(&buf)?;
                write_behind(file, offset, buf.len() as u64, OBJECT_WINDOW)?;
                offset += buf.len() as u64;
                let _ = recycle.send(buf);
            }
            Ok(())
        });
        let read_result = loop {
            // A buffer the writer is done with goes back to the reader.
            let mut buf = spare.try_recv().unwrap_or_default();
            match chunker.next_chunk(&mut buf) {
                Ok(true) => {
                    progress.add(buf.len() as u64);
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
    write_result.context(|| "writing".to_string())?;
    read_result.map_err(|e| Error::with_source(Code::BadInput, "reading the input", e))?;
    Ok(chunker.finish())
}

/// Reads a whole file through and hashes it, from its start (positioned reads: the handle's
/// offset is left alone).
fn hash_file(file: &File) -> io::Result<Digests> {
    use std::os::unix::fs::FileExt;
    let mut hashes = Hashes::new(false);
    let mut buf = vec![0u8; CHUNK];
    let mut at = 0u64;
    loop {
        let n = match file.read_at(&mut buf, at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hashes.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hashes.finish())
}

/// Hashes a staged upload again while it is made durable; an error unless it holds exactly the
/// `size` bytes hashing to `sha256` that were received.
fn rehash_staged(path: &Path, file: &File, sha256: &Sha256Digest, size: u64) -> Result<()> {
    let (synced, rehashed) = std::thread::scope(|scope| {
        let syncing = scope.spawn(|| file.sync_all());
        let rehashed = hash_file(file);
        let synced = syncing
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("sync thread panicked")));
        (synced, rehashed)
    });
    synced.context(|| format!("syncing staged upload {}", path.display()))?;
    let found = rehashed.context(|| format!("re-reading staged upload {}", path.display()))?;
    if found.sha256 != *sha256 || found.size != size {
        return Err(Error::new(
            Code::ChecksumMismatch,
            format!(
                "staged upload {} holds {} bytes hashing to {}, not the {size} bytes hashing to \
                 {sha256} that were received: it was written to by something else",
                path.display(),
                found.size,
                found.sha256
            ),
        ));
    }
    Ok(())
}

/// Hard-links the open `file` to `dest` by its descriptor (`/proc/self/fd`, the unprivileged
/// way: `AT_EMPTY_PATH` needs `CAP_DAC_READ_SEARCH`). `std::fs::hard_link` would not follow the
/// descriptor's link. A file that has lost its last name (another renamed over it) cannot be
/// linked again: `NotFound`, never the file that took its name.
fn link_open_file(file: &File, dest: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let to = CString::new(dest.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths, only read by the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `path` still leads to the open `file` (not removed, not replaced).
fn still_named(path: &Path, file: &File) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let open = file
        .metadata()
        .context(|| format!("reading {}", path.display()))?;
    match std::fs::symlink_metadata(path) {
        Ok(named) => Ok(named.dev() == open.dev() && named.ino() == open.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).context(|| format!("checking {}", path.display())),
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as u64 } else { 4096 }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl FsStore {
    pub fn open(root: &Path) -> Result<FsStore> {
        // Objects are linked through their descriptors (`link_open_file`): without /proc every
        // put would fail, with an error that reads as if a file had been replaced.
        if !Path::new("/proc/self/fd").is_dir() {
            return Err(Error::new(
                Code::Config,
                "the filesystem store needs /proc (it links each object through /proc/self/fd): \
                 mount /proc where bwv runs",
            ));
        }
        for dir in [root.join("objects"), root.join("tmp")] {
            std::fs::create_dir_all(&dir)
                .context(|| format!("creating store directory {}", dir.display()))?;
        }
        // The store's own entries (and its entry in the directory above) are durable before any
        // object is acknowledged under them.
        fsync_dir(root).context(|| format!("syncing {}", root.display()))?;
        let above = match root.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        // A directory above that bwv may pass through but not read cannot be opened to sync;
        // whoever made the store's directory there is answerable for its entry.
        match fsync_dir(above) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            synced => synced.context(|| format!("syncing {}", above.display()))?,
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
            // A writer that finished between our open and our lock has removed its file.
            if file.try_lock().is_ok() && still_named(&path, &file)? {
                tracing::info!(path = %path.display(), "removing abandoned partial object");
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(e).context(|| {
                            format!("removing abandoned temp file {}", path.display())
                        });
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    pub async fn put(&self, input: Input, opts: PutOptions) -> Result<PutOutcome> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put_blocking(input, &opts))
            .await
            .map_err(|e| Error::new(Code::Store, format!("store writer panicked: {e}")))?
    }

    fn put_blocking(&self, input: Input, opts: &PutOptions) -> Result<PutOutcome> {
        if let Input::Staged {
            path,
            sha256,
            size,
            stamp,
        } = input
        {
            return self.adopt(&path, sha256, size, stamp, opts);
        }
        let written = self.write(input, opts)?;
        written
            .file
            .sync_all()
            .context(|| format!("syncing temp object {}", written.tmp.display()))?;
        self.publish(&written.file, written.digests)
    }

    /// Writes and hashes `input` into a locked temp file and checks it against `opts`; nothing
    /// is durable or visible yet.
    fn write(&self, input: Input, opts: &PutOptions) -> Result<Unpublished> {
        let (tmp, file) = self.create_temp()?;
        let filled = self.fill(input, &file, &tmp, opts).and_then(|digests| {
            opts.check(&digests.sha256, digests.size, digests.md5)?;
            Ok(digests)
        });
        match filled {
            Ok(digests) => Ok(Unpublished { tmp, file, digests }),
            // Removed while still locked: a cleaner that could lock it would find it named.
            Err(e) => {
                remove_temp(&tmp);
                drop(file);
                Err(e)
            }
        }
    }

    /// A new temp file, locked, that still has its name. Between creating the file and locking
    /// it, another process opening the store can take it for a dead writer's and remove it (it
    /// can lock it, after all); the name is then gone and a link from it would fail. So once
    /// locked, the name must still lead to this file, or another is made. A cleaner that comes
    /// later cannot lock it, so the name then stays.
    fn create_temp(&self) -> Result<(PathBuf, File)> {
        loop {
            let tmp = self
                .root
                .join("tmp")
                .join(format!("{}.partial", Uuid::new_v4()));
            let file = OpenOptions::new()
                .read(true) // hashing maps what was written
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .context(|| format!("creating temp object {}", tmp.display()))?;
            file.lock()
                .context(|| format!("locking temp object {}", tmp.display()))?;
            if still_named(&tmp, &file)? {
                return Ok((tmp, file));
            }
            tracing::debug!(path = %tmp.display(), "temp object removed by a cleaner; making another");
        }
    }

    /// The first half of a batched put: the bytes written and hashed, neither durable nor
    /// visible until `publish_batch`.
    pub async fn put_unpublished(&self, input: Input, opts: PutOptions) -> Result<Unpublished> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write(input, &opts))
            .await
            .map_err(|e| Error::new(Code::Store, format!("store writer panicked: {e}")))?
    }

    /// Makes a batch of written objects durable with one filesystem sync, links each into place,
    /// and makes the links durable with a second: two flushes for the whole batch instead of two
    /// for every object, and still no object name that could lead to bytes not yet on disk.
    /// A sync that fails fails every object; a link that fails fails its own.
    pub async fn publish_batch(&self, batch: Vec<Unpublished>) -> Result<Vec<Result<PutOutcome>>> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            store.sync_filesystem()?;
            let published: Vec<Result<PutOutcome>> = batch
                .iter()
                .map(|w| {
                    let sha256 = w.digests.sha256;
                    let created = store
                        .link_unsynced(&w.file, &sha256)
                        .context(|| format!("publishing object {sha256}"))?;
                    Ok(PutOutcome {
                        sha256,
                        size: w.digests.size,
                        created,
                        md5: w.digests.md5,
                    })
                })
                .collect();
            store.sync_filesystem()?;
            Ok(published)
        })
        .await
        .map_err(|e| Error::new(Code::Store, format!("store publisher panicked: {e}")))?
    }

    /// Everything written to the store's filesystem so far reaches the disk (`syncfs`).
    fn sync_filesystem(&self) -> Result<()> {
        use std::os::fd::AsRawFd;
        let root = File::open(&self.root).context(|| format!("opening {}", self.root.display()))?;
        // SAFETY: a valid open descriptor; the call only flushes.
        if unsafe { libc::syncfs(root.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error())
                .context(|| format!("syncing the filesystem of {}", self.root.display()));
        }
        Ok(())
    }

    fn fill(&self, input: Input, file: &File, tmp: &Path, opts: &PutOptions) -> Result<Digests> {
        let stream = |reader| {
            stream_and_hash(reader, file, opts.want_md5, &opts.progress)
                .map_err(|e| e.context(format!("writing temp object {}", tmp.display())))
        };
        match input {
            // A small file (a bulk migration holds thousands) in one read on this thread: no
            // copy thread or mapping to set up for a few bytes.
            Input::File(source) if source.metadata().is_ok_and(|m| m.len() <= CHUNK as u64) => {
                copy_small(source, file, opts.want_md5, &opts.progress)
                    .context(|| format!("copying the input into temp object {}", tmp.display()))
            }
            // The kernel copy has no MD5 pass; the rare caller that wants one streams instead.
            Input::File(source) if !opts.want_md5 => {
                match copy_and_hash(&source, file, &opts.progress) {
                    Ok(done) => Ok(done),
                    Err(CopyError::Unsupported) => stream(Box::new(source)),
                    Err(CopyError::Io(e)) => Err(e).context(|| {
                        format!("copying the input into temp object {}", tmp.display())
                    }),
                }
            }
            Input::File(source) => stream(Box::new(source)),
            Input::Stream(reader) => stream(reader),
            Input::Staged { .. } => unreachable!("staged files are adopted, not filled"),
        }
    }

    /// Takes over a staged upload whose bytes were hashed as they arrived: made durable and
    /// read-only, then linked into place, so a large upload is never copied again. The catalogue
    /// must never name bytes that are not exactly those, whatever else wrote to the file: unless
    /// the file still has the stamp the door took when it had read back every byte it wrote
    /// (`FileStamp`), it is hashed once more (while it is made durable). On another filesystem it
    /// is copied instead, and the copy's hash must agree.
    fn adopt(
        &self,
        path: &Path,
        sha256: Sha256Digest,
        size: u64,
        stamp: Option<FileStamp>,
        opts: &PutOptions,
    ) -> Result<PutOutcome> {
        opts.check(&sha256, size, None)?;
        let file =
            File::open(path).context(|| format!("opening staged upload {}", path.display()))?;
        let now = FileStamp::of(&file).context(|| format!("reading {}", path.display()))?;
        let len = now.size();
        if len != size {
            return Err(Error::new(
                Code::Store,
                format!(
                    "staged upload {} is {len} bytes, expected {size}",
                    path.display()
                ),
            ));
        }
        if stamp == Some(now) {
            file.sync_all()
                .context(|| format!("syncing staged upload {}", path.display()))?;
        } else {
            rehash_staged(path, &file, &sha256, size)?;
        }
        let created = match self.link(&file, &sha256) {
            Ok(created) => created,
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                let copied = self.put_blocking(Input::File(file), opts)?;
                if copied.sha256 != sha256 {
                    return Err(Error::new(
                        Code::ChecksumMismatch,
                        format!(
                            "staged upload {} changed after it was received",
                            path.display()
                        ),
                    ));
                }
                return Ok(copied);
            }
            Err(e) => {
                return Err(e).context(|| {
                    format!(
                        "publishing staged upload {} as object {sha256}",
                        path.display()
                    )
                });
            }
        };
        Ok(PutOutcome {
            sha256,
            size,
            created,
            md5: None,
        })
    }

    /// Makes `from` read-only and hard-links it to the object's path, then syncs the directory
    /// and the two above it; false when those bytes were there already (nothing is replaced).
    /// The directories above are synced every time, not only by the writer that made them: a
    /// second writer can find them made, link its object in and answer before the first has
    /// synced them, and a crash then would take its acknowledged object with them. Syncing a
    /// directory with nothing unsynced costs next to nothing.
    fn link(&self, from: &File, sha256: &Sha256Digest) -> io::Result<bool> {
        let dest = self.object_path(sha256);
        let parent = dest.parent().expect("object paths have a parent");
        let created = self.link_unsynced(from, sha256)?;
        // objects/ab/cd: the entry in `cd`, that of `cd` in `ab`, that of `ab` in `objects`.
        for dir in parent.ancestors().take(3) {
            fsync_dir(dir)?;
        }
        Ok(created)
    }

    /// `link` without the directory syncs, for a batch that syncs the filesystem once. Through
    /// the open file, not its name: the object is then the very file that was hashed or checked,
    /// even if something has since renamed another file over the name it had.
    fn link_unsynced(&self, from: &File, sha256: &Sha256Digest) -> io::Result<bool> {
        from.set_permissions(std::fs::Permissions::from_mode(0o444))?;
        let dest = self.object_path(sha256);
        let parent = dest.parent().expect("object paths have a parent");
        std::fs::create_dir_all(parent)?;
        match link_open_file(from, &dest) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Links the finished temp file into place under its hash, unless those bytes are there.
    fn publish(&self, file: &File, digests: Digests) -> Result<PutOutcome> {
        let sha256 = digests.sha256;
        let created = self
            .link(file, &sha256)
            .context(|| format!("publishing object {sha256}"))?;
        Ok(PutOutcome {
            sha256,
            size: digests.size,
            created,
            md5: digests.md5,
        })
    }

    /// Bytes free for objects on the store's filesystem.
    pub fn free_space(&self) -> Result<u64> {
        free_space_at(&self.root)
    }

    /// Where an object's bytes are, for readers that need a seekable file (the media pipeline).
    /// Objects are read-only and never replaced, so reading in place is safe.
    pub fn local_path(&self, sha: &Sha256Digest) -> Result<PathBuf> {
        let path = self.object_path(sha);
        if path.is_file() {
            Ok(path)
        } else {
            Err(Error::not_found(format!(
                "object {sha} is not in the store"
            )))
        }
    }

    pub async fn rehash(&self, sha: &Sha256Digest) -> Result<Option<(Sha256Digest, u64)>> {
        let path = self.object_path(sha);
        tokio::task::spawn_blocking(move || -> Result<Option<(Sha256Digest, u64)>> {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e).context(|| format!("opening {}", path.display())),
            };
            // Most stored objects are far smaller than a chunk (thumbnails, posters, short
            // clips): a whole chunk zeroed for each would cost more than reading it.
            let len = file
                .metadata()
                .context(|| format!("reading the size of {}", path.display()))?
                .len();
            let chunk = usize::try_from(len).map_or(CHUNK, |len| len.clamp(1, CHUNK));
            let mut chunker = Chunker::new(file, chunk, false);
            let mut buf = Vec::with_capacity(chunk);
            while chunker
                .next_chunk(&mut buf)
                .context(|| format!("reading {}", path.display()))?
            {}
            let d = chunker.finish();
            Ok(Some((d.sha256, d.size)))
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

/// Bytes an unprivileged writer can still put on the filesystem holding `path`.
pub fn free_space_at(path: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::new(Code::Config, format!("path {} holds a NUL", path.display())))?;
    // SAFETY: an all-zero statvfs is valid, and the path is a NUL-terminated string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error())
            .context(|| format!("checking free space on {}", path.display()));
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file renamed over the checked file's name is never what gets linked: the checked file
    /// is linked while it has another name, and the link fails once it has none.
    #[test]
    fn a_link_leads_to_the_file_that_was_open_never_to_what_its_name_now_names() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        std::fs::write(at("staged"), b"the bytes that were checked").unwrap();
        let checked = File::open(at("staged")).unwrap();
        std::fs::hard_link(at("staged"), at("second name")).unwrap();
        std::fs::write(at("other"), b"bytes put in their place").unwrap();
        std::fs::rename(at("other"), at("staged")).unwrap();

        link_open_file(&checked, &at("object")).unwrap();
        assert_eq!(
            std::fs::read(at("object")).unwrap(),
            b"the bytes that were checked"
        );
        let again = link_open_file(&checked, &at("object")).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);

        for name in ["object", "second name"] {
            std::fs::remove_file(at(name)).unwrap();
        }
        let unnamed = link_open_file(&checked, &at("object")).unwrap_err();
        assert_eq!(unnamed.kind(), io::ErrorKind::NotFound);
        assert!(!at("object").exists());
    }
}
