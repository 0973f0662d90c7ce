//! The object store: write-once, content-addressed by SHA-256, on a filesystem or S3.
//!
//! Every object is hashed in the same single pass that writes it, so the hash names exactly the
//! bytes that reached durable storage, and memory stays bounded (a few chunk buffers) whatever the
//! size of the input.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::{Config, StoreBackend};
use crate::domain::Sha256Digest;
use crate::error::{Code, Error, Result, ResultExt};

mod chunker;
pub mod fs;
pub mod s3;
mod stamp;
mod writeback;

pub(crate) use writeback::{STAGING_WINDOW, write_behind};

pub use fs::FsStore;
pub use s3::{S3Settings, S3Store};
pub use stamp::FileStamp;

/// What a `put` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub sha256: Sha256Digest,
    pub size: u64,
    /// False when identical bytes were already stored: nothing was written or overwritten.
    pub created: bool,
    /// MD5 of the bytes, when asked for (Swift clients check it as the ETag).
    pub md5: Option<[u8; 16]>,
}

/// What to store: an open file (copied by the kernel where it can) or any byte stream.
pub enum Input {
    File(std::fs::File),
    Stream(Box<dyn Read + Send>),
    /// A file a door already received and hashed as it arrived (a tus upload). The filesystem
    /// store adopts it with a hard link instead of copying it; the file must not change after.
    Staged {
        path: PathBuf,
        sha256: Sha256Digest,
        size: u64,
        /// The file's stamp when the door had read back every byte it wrote; the store hashes
        /// the file again unless it still matches.
        stamp: Option<FileStamp>,
    },
}

impl Input {
    fn into_reader(self) -> Result<Box<dyn Read + Send>> {
        match self {
            Input::File(f) => Ok(Box::new(f)),
            Input::Stream(r) => Ok(r),
            Input::Staged { path, .. } => {
                let f = std::fs::File::open(&path)
                    .context(|| format!("opening staged upload {}", path.display()))?;
                Ok(Box::new(f))
            }
        }
    }
}

/// Told how many bytes have been stored so far, for progress bars.
#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn Fn(u64) + Send + Sync>>);

impl Progress {
    pub fn new(report: impl Fn(u64) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(report)))
    }

    pub fn add(&self, bytes: u64) {
        if let Some(report) = &self.0 {
            report(bytes);
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// What a `put` must check before anything becomes visible, per-object protections a store may
/// enforce itself (S3 Object Lock), and progress reporting.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// Retain-until date for a new original; ignored by stores without Object Lock.
    pub retain_until: Option<DateTime<Utc>>,
    /// The sender's SHA-256: a mismatch stores nothing.
    pub expected_sha256: Option<Sha256Digest>,
    /// The sender's MD5 (a Swift `ETag`): a mismatch stores nothing.
    pub expected_md5: Option<[u8; 16]>,
    /// Compute the MD5 as well.
    pub want_md5: bool,
    /// Refuse empty input: nothing is stored.
    pub reject_empty: bool,
    pub progress: Progress,
}

impl PutOptions {
    /// An expected MD5 can only be checked if one is computed.
    fn with_md5_when_expected(&self) -> PutOptions {
        PutOptions {
            want_md5: self.want_md5 || self.expected_md5.is_some(),
            ..self.clone()
        }
    }

    /// Checks the finished digests against what the sender promised, before publishing.
    fn check(&self, sha256: &Sha256Digest, size: u64, md5: Option<[u8; 16]>) -> Result<()> {
        if self.reject_empty && size == 0 {
            return Err(Error::bad_input("the content is empty (zero bytes)"));
        }
        if let Some(want) = &self.expected_sha256
            && want != sha256
        {
            return Err(Error::new(
                Code::ChecksumMismatch,
                format!("the content hashes to SHA-256 {sha256}, but the sender said {want}"),
            ));
        }
        if let (Some(want), Some(got)) = (self.expected_md5, md5)
            && want != got
        {
            return Err(Error::new(
                Code::ChecksumMismatch,
                format!(
                    "the content's MD5 is {}, but the ETag sent was {}",
                    hex::encode(got),
                    hex::encode(want)
                ),
            ));
        }
        Ok(())
    }
}

/// One object of a batch between `Store::put_batched` and `Store::publish`.
pub enum Batched {
    /// Written and hashed on a filesystem store, awaiting the batch's syncs.
    Unpublished(fs::Unpublished),
    /// Already durable and visible.
    Stored(PutOutcome),
}

pub enum Store {
    Fs(FsStore),
    S3(S3Store),
}

impl Store {
    pub async fn open(config: &Config) -> Result<Store> {
        match config.store.backend {
            StoreBackend::Fs => Ok(Store::Fs(FsStore::open(&config.store_path())?)),
            StoreBackend::S3 => Ok(Store::S3(S3Store::open(&config.store.s3).await?)),
        }
    }

    /// A short description for messages ("fs:/data/store", "s3://bucket/prefix").
    pub fn describe(&self) -> String {
        match self {
            Store::Fs(s) => s.describe(),
            Store::S3(s) => s.describe(),
        }
    }

    /// Streams `reader` into the store, hashing as it goes. Never overwrites: identical bytes
    /// already present give `created: false`. On any failure nothing is left visible.
    pub async fn put(&self, input: Input, opts: &PutOptions) -> Result<PutOutcome> {
        let opts = opts.with_md5_when_expected();
        match self {
            Store::Fs(s) => s.put(input, opts).await,
            Store::S3(s) => {
                let staged = match &input {
                    Input::Staged { sha256, .. } => Some(*sha256),
                    _ => None,
                };
                let opts = PutOptions {
                    expected_sha256: opts.expected_sha256.or(staged),
                    ..opts
                };
                s.put(input.into_reader()?, &opts).await
            }
        }
    }

    /// The first half of a put for a batch (`publish`): on a filesystem store the bytes are
    /// written and hashed but neither durable nor visible yet; S3 stores them whole (a PUT is
    /// durable when it is answered), as does the adoption of a staged upload.
    pub async fn put_batched(&self, input: Input, opts: &PutOptions) -> Result<Batched> {
        match (self, input) {
            (Store::Fs(s), input @ (Input::File(_) | Input::Stream(_))) => {
                let opts = opts.with_md5_when_expected();
                Ok(Batched::Unpublished(s.put_unpublished(input, opts).await?))
            }
            (_, input) => Ok(Batched::Stored(self.put(input, opts).await?)),
        }
    }

    /// Makes a batch from `put_batched` durable and visible, in order: one filesystem sync
    /// before the objects are linked into place and one after, however many there are.
    pub async fn publish(&self, batch: Vec<Batched>) -> Vec<Result<PutOutcome>> {
        let mut unpublished = Vec::new();
        let mut order = Vec::with_capacity(batch.len());
        for item in batch {
            match item {
                Batched::Stored(put) => order.push(Some(Ok(put))),
                Batched::Unpublished(w) => {
                    unpublished.push(w);
                    order.push(None);
                }
            }
        }
        let mut published = match self {
            Store::Fs(s) if !unpublished.is_empty() => match s.publish_batch(unpublished).await {
                Ok(each) => each,
                Err(e) => order
                    .iter()
                    .filter(|o| o.is_none())
                    .map(|_| Err(Error::new(e.code(), e.to_string())))
                    .collect(),
            },
            _ => Vec::new(),
        }
        .into_iter();
        order
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    published.next().unwrap_or_else(|| {
                        Err(Error::new(Code::Store, "an object was not published"))
                    })
                })
            })
            .collect()
    }

    /// Free space left for objects, where the store can tell (a filesystem); `None` for S3.
    pub fn free_space(&self) -> Result<Option<u64>> {
        match self {
            Store::Fs(s) => s.free_space().map(Some),
            Store::S3(_) => Ok(None),
        }
    }

    /// A seekable local file with an object's bytes, for FFmpeg: the object itself on the
    /// filesystem store, a verified download into `scratch` from S3 (removed when dropped).
    pub async fn fetch(&self, sha256: &Sha256Digest, scratch: &Path) -> Result<LocalCopy> {
        match self {
            Store::Fs(s) => Ok(LocalCopy {
                path: s.local_path(sha256)?,
                owned: false,
            }),
            Store::S3(s) => {
                std::fs::create_dir_all(scratch)
                    .context(|| format!("creating {}", scratch.display()))?;
                let path = scratch.join(format!("{}.{}", sha256.to_hex(), uuid::Uuid::new_v4()));
                let copy = LocalCopy { path, owned: true };
                s.download(sha256, &copy.path).await?;
                Ok(copy)
            }
        }
    }

    /// A blocking reader over an object's bytes, for copying on a blocking thread (it must not
    /// be read on an async one: an S3 reader waits on the runtime).
    pub async fn blocking_reader(
        &self,
        sha256: &Sha256Digest,
    ) -> Result<Box<dyn std::io::Read + Send>> {
        match self {
            Store::Fs(s) => {
                let path = s.local_path(sha256)?;
                let file =
                    std::fs::File::open(&path).context(|| format!("opening {}", path.display()))?;
                Ok(Box::new(file))
            }
            Store::S3(s) => Ok(Box::new(tokio_util::io::SyncIoBridge::new(
                s.reader(sha256).await?,
            ))),
        }
    }

    /// `len` bytes of an object from `start`, for a player seeking through footage.
    pub async fn range_reader(
        &self,
        sha256: &Sha256Digest,
        start: u64,
        len: u64,
    ) -> Result<Box<dyn tokio::io::AsyncRead + Send + Unpin>> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        match self {
            Store::Fs(s) => {
                let path = s.local_path(sha256)?;
                let mut file = tokio::fs::File::open(&path)
                    .await
                    .context(|| format!("opening {}", path.display()))?;
                file.seek(std::io::SeekFrom::Start(start))
                    .await
                    .context(|| format!("seeking to {start} in {}", path.display()))?;
                Ok(Box::new(file.take(len)))
            }
            Store::S3(s) => Ok(Box::new(s.range_reader(sha256, start, len).await?)),
        }
    }

    /// Re-reads an object and hashes it; `None` when it is missing.
    pub async fn rehash(&self, sha256: &Sha256Digest) -> Result<Option<(Sha256Digest, u64)>> {
        match self {
            Store::Fs(s) => s.rehash(sha256).await,
            Store::S3(s) => s.rehash(sha256).await,
        }
    }

    pub async fn exists(&self, sha256: &Sha256Digest) -> Result<bool> {
        match self {
            Store::Fs(s) => s.exists(sha256).await,
            Store::S3(s) => s.exists(sha256).await,
        }
    }

    /// Every object the store holds, by hash, in hash order.
    pub async fn list(&self) -> Result<Vec<Sha256Digest>> {
        match self {
            Store::Fs(s) => s.list().await,
            Store::S3(s) => s.list().await,
        }
    }

    /// Removes an object (retention purge). Fails, changing nothing, when the store protects it;
    /// returns false when the object was already gone.
    pub async fn delete(&self, sha256: &Sha256Digest) -> Result<bool> {
        match self {
            Store::Fs(s) => s.delete(sha256).await,
            Store::S3(s) => s.delete(sha256).await,
        }
    }

    /// True when the store itself enforces retention (S3 Object Lock).
    pub fn has_object_lock(&self) -> bool {
        match self {
            Store::Fs(_) => false,
            Store::S3(s) => s.has_object_lock(),
        }
    }

    /// Moves an object's retain-until date later; never earlier. No-op without Object Lock.
    pub async fn extend_retention(
        &self,
        sha256: &Sha256Digest,
        until: DateTime<Utc>,
    ) -> Result<()> {
        match self {
            Store::Fs(_) => Ok(()),
            Store::S3(s) => s.extend_retention(sha256, until).await,
        }
    }

    /// Until when the store refuses to delete the object (S3 Object Lock); none elsewhere.
    pub async fn retain_until(&self, sha256: &Sha256Digest) -> Result<Option<DateTime<Utc>>> {
        match self {
            Store::S3(s) if s.has_object_lock() => s.retain_until(sha256).await,
            _ => Ok(None),
        }
    }

    /// Mirrors a legal hold onto the object. No-op without Object Lock.
    pub async fn set_legal_hold(&self, sha256: &Sha256Digest, on: bool) -> Result<()> {
        match self {
            Store::Fs(_) => Ok(()),
            Store::S3(s) => s.set_legal_hold(sha256, on).await,
        }
    }
}

/// A local file holding an object's bytes; a downloaded copy is deleted on drop.
pub struct LocalCopy {
    pub path: PathBuf,
    owned: bool,
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
