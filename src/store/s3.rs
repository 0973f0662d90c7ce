//! S3 store (AWS, MinIO, Ceph, any S3-compatible service) through aws-sdk-s3.
//!
//! Objects live at `<prefix>objects/<sha256>`. The hash is only known at the end of the stream,
//! so a large input is streamed as a multipart upload to `<prefix>staging/<uuid>` (parts of
//! `part_size`, one in flight, memory bounded) and then copied server-side to its content
//! address; an input smaller than one part is held in memory and put directly. Every upload
//! carries a SHA-256 checksum that S3 verifies, and `x-amz-meta-sha256` carries our own full-object
//! hash (S3's multipart checksums are composite, so they are not the evidence hash).
//!
//! With Object Lock on the bucket, each new original gets an explicit retain-until date (set
//! after the object exists, because some servers do not apply lock settings to multipart or copy
//! results), which can later be extended but never shortened, and legal holds are mirrored.

use std::io::Read;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    timeout::TimeoutConfig,
};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::{ByteStream, DateTime as S3DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart,
    MetadataDirective, ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus,
    ObjectLockRetention, ObjectLockRetentionMode,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::chunker::{Chunker, Digests};
use super::{PutOptions, PutOutcome};
use crate::config::{ChecksumMode, LockMode, S3Config};
use crate::domain::Sha256Digest;
use crate::error::{Code, Error, Result, ResultExt};

/// Largest object a single CopyObject may copy (an S3 limit); larger ones are copied in parts.
const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;
const COPY_PART: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    pub prefix: String,
    pub part_size: usize,
    pub lock_mode: LockMode,
}

pub struct S3Store {
    client: Client,
    settings: S3Settings,
    object_lock: bool,
    versioned: bool,
}

/// 404 from any operation. HEAD responses carry no error body, and some S3-compatible servers
/// answer a HEAD with a `NoSuchKey` body that the SDK does not map, so the status decides.
fn is_not_found<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
}

fn s3_error<E: std::error::Error>(what: impl std::fmt::Display, e: E) -> Error {
    Error::new(Code::Store, format!("{what}: {}", DisplayErrorContext(&e)))
}

impl S3Store {
    pub async fn open(cfg: &S3Config) -> Result<S3Store> {
        let (key_id, secret) = match (&cfg.access_key_id, &cfg.secret_access_key) {
            (Some(id), Some(secret)) => (id.clone(), secret.expose_secret().to_owned()),
            _ => match (
                std::env::var("AWS_ACCESS_KEY_ID"),
                std::env::var("AWS_SECRET_ACCESS_KEY"),
            ) {
                (Ok(id), Ok(secret)) => (id, secret),
                _ => {
                    return Err(Error::new(
                        Code::Config,
                        "S3 credentials missing: set store.s3.access_key_id and \
                         store.s3.secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                    ));
                }
            },
        };
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(cfg.region.clone()))
            .credentials_provider(Credentials::new(key_id, secret, None, None, "bwv-config"))
            .force_path_style(cfg.force_path_style)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .read_timeout(Duration::from_secs(120))
                    .build(),
            );
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        if cfg.checksum == ChecksumMode::WhenRequired {
            builder = builder
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        let settings = S3Settings {
            bucket: cfg.bucket.clone(),
            prefix: cfg.prefix.clone(),
            part_size: (cfg.part_size_mib as usize) << 20,
            lock_mode: cfg.object_lock.mode,
        };
        Self::from_client(Client::from_conf(builder.build()), settings).await
    }

    /// Wraps an already-configured client (tests use an in-process S3 server this way) and
    /// learns what the bucket supports.
    pub async fn from_client(client: Client, settings: S3Settings) -> Result<S3Store> {
        let bucket = settings.bucket.clone();
        if let Err(e) = client.head_bucket().bucket(&bucket).send().await {
            return Err(if is_not_found(&e) {
                Error::new(Code::Config, format!("S3 bucket {bucket:?} does not exist"))
            } else {
                s3_error(format!("cannot reach S3 bucket {bucket:?}"), e)
            });
        }
        let object_lock = match client
            .get_object_lock_configuration()
            .bucket(&bucket)
            .send()
            .await
        {
            Ok(out) => out
                .object_lock_configuration()
                .and_then(|c| c.object_lock_enabled())
                .is_some_and(|e| *e == ObjectLockEnabled::Enabled),
            Err(_) => false, // not configured, or not supported by this server
        };
        let versioned = match client.get_bucket_versioning().bucket(&bucket).send().await {
            Ok(out) => out.status() == Some(&BucketVersioningStatus::Enabled),
            Err(_) => false,
        };
        // Object Lock always comes with versioning, whatever the versioning call reported.
        let versioned = versioned || object_lock;
        Ok(S3Store {
            client,
            settings,
            object_lock,
            versioned,
        })
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.settings.bucket, self.settings.prefix)
    }

    pub fn has_object_lock(&self) -> bool {
        self.object_lock
    }

    fn key(&self, sha: &Sha256Digest) -> String {
        format!("{}objects/{}", self.settings.prefix, sha.to_hex())
    }

    fn bucket(&self) -> &str {
        &self.settings.bucket
    }

    pub async fn put(&self, reader: Box<dyn Read + Send>, opts: &PutOptions) -> Result<PutOutcome> {
        let part_size = self.settings.part_size;
        let progress = opts.progress.clone();
        let want_md5 = opts.want_md5;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(1);
        let reading = tokio::task::spawn_blocking(move || {
            let mut chunker = Chunker::new(reader, part_size, want_md5);
            loop {
                let mut buf = Vec::new();
                match chunker.next_chunk(&mut buf) {
                    Ok(true) => {
                        progress.add(buf.len() as u64);
                        if tx.blocking_send(Ok(buf)).is_err() {
                            return None;
                        }
                    }
                    Ok(false) => return Some(chunker.finish()),
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return None;
                    }
                }
            }
        });
        let input_error = |e| Error::with_source(Code::BadInput, "reading the input", e);
        let first = rx.recv().await.transpose().map_err(input_error)?;
        let second = match first {
            Some(_) => rx.recv().await.transpose().map_err(input_error)?,
            None => None,
        };
        match (first, second) {
            (first, None) => {
                let digests = finish_reading(reading).await?;
                opts.check(&digests.sha256, digests.size, digests.md5)?;
                self.put_small(digests, first.unwrap_or_default(), opts)
                    .await
            }
            (Some(first), Some(second)) => {
                let staging = format!("{}staging/{}", self.settings.prefix, Uuid::new_v4());
                let uploaded = self
                    .upload_multipart(&staging, [first, second], &mut rx)
                    .await;
                let digest = finish_reading(reading).await;
                let checked = digest.and_then(|d| {
                    opts.check(&d.sha256, d.size, d.md5)?;
                    Ok(d)
                });
                let (version, digests) = match (uploaded, checked) {
                    (Ok(version), Ok(digests)) => (version, digests),
                    (Err(e), _) | (Ok(_), Err(e)) => {
                        self.remove_staging(&staging, None).await;
                        return Err(e);
                    }
                };
                let published = self.publish(&staging, digests, opts).await;
                self.remove_staging(&staging, version).await;
                published
            }
            (None, Some(_)) => unreachable!("a second chunk is only read after a first"),
        }
    }

    async fn put_small(
        &self,
        digests: Digests,
        body: Vec<u8>,
        opts: &PutOptions,
    ) -> Result<PutOutcome> {
        let (sha256, size, md5) = (digests.sha256, digests.size, digests.md5);
        if self.exists(&sha256).await? {
            return Ok(PutOutcome {
                sha256,
                size,
                created: false,
                md5,
            });
        }
        let key = self.key(&sha256);
        self.client
            .put_object()
            .bucket(self.bucket())
            .key(&key)
            .body(ByteStream::from(body))
            .checksum_sha256(B64.encode(sha256.0))
            .metadata("sha256", sha256.to_hex())
            .send()
            .await
            .map_err(|e| s3_error(format!("uploading object {sha256}"), e))?;
        self.lock_new_object(&sha256, opts).await?;
        Ok(PutOutcome {
            sha256,
            size,
            created: true,
            md5,
        })
    }

    /// Uploads the parts to `staging`; returns the staging object's version, if versioned.
    async fn upload_multipart(
        &self,
        staging: &str,
        first: [Vec<u8>; 2],
        rest: &mut tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    ) -> Result<Option<String>> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(staging)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .send()
            .await
            .map_err(|e| s3_error("starting multipart upload", e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::new(Code::Store, "S3 returned no multipart upload id"))?
            .to_owned();
        let result = async {
            let mut parts = Vec::new();
            let [a, b] = first;
            for buf in [a, b] {
                parts.push(
                    self.upload_part(staging, &upload_id, parts.len() as i32 + 1, buf)
                        .await?,
                );
            }
            while let Some(buf) = rest.recv().await {
                let buf =
                    buf.map_err(|e| Error::with_source(Code::BadInput, "reading the input", e))?;
                parts.push(
                    self.upload_part(staging, &upload_id, parts.len() as i32 + 1, buf)
                        .await?,
                );
            }
            let done = self
                .client
                .complete_multipart_upload()
                .bucket(self.bucket())
                .key(staging)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| s3_error("completing multipart upload", e))?;
            Ok(done.version_id().map(str::to_owned))
        }
        .await;
        if result.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(self.bucket())
                .key(staging)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        number: i32,
        buf: Vec<u8>,
    ) -> Result<CompletedPart> {
        let out = self
            .client
            .upload_part()
            .bucket(self.bucket())
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .body(ByteStream::from(buf))
            .send()
            .await
            .map_err(|e| s3_error(format!("uploading part {number}"), e))?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .set_checksum_sha256(out.checksum_sha256().map(str::to_owned))
            .build())
    }

    /// Copies the staged upload to its content address unless those bytes are already there.
    async fn publish(
        &self,
        staging: &str,
        digests: Digests,
        opts: &PutOptions,
    ) -> Result<PutOutcome> {
        let (sha256, size, md5) = (digests.sha256, digests.size, digests.md5);
        if self.exists(&sha256).await? {
            return Ok(PutOutcome {
                sha256,
                size,
                created: false,
                md5,
            });
        }
        let key = self.key(&sha256);
        let source = format!("{}/{staging}", self.bucket());
        if size <= MAX_SINGLE_COPY {
            self.client
                .copy_object()
                .bucket(self.bucket())
                .key(&key)
                .copy_source(&source)
                .metadata_directive(MetadataDirective::Replace)
                .metadata("sha256", sha256.to_hex())
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .send()
                .await
                .map_err(|e| s3_error(format!("publishing object {sha256}"), e))?;
        } else {
            self.copy_in_parts(&source, &key, size, &sha256).await?;
        }
        self.lock_new_object(&sha256, opts).await?;
        Ok(PutOutcome {
            sha256,
            size,
            created: true,
            md5,
        })
    }

    async fn copy_in_parts(
        &self,
        source: &str,
        key: &str,
        size: u64,
        sha256: &Sha256Digest,
    ) -> Result<()> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .metadata("sha256", sha256.to_hex())
            .send()
            .await
            .map_err(|e| s3_error(format!("publishing object {sha256}"), e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::new(Code::Store, "S3 returned no multipart upload id"))?
            .to_owned();
        let mut parts = Vec::new();
        let mut start = 0u64;
        while start < size {
            let end = (start + COPY_PART).min(size) - 1;
            let number = parts.len() as i32 + 1;
            let out = self
                .client
                .upload_part_copy()
                .bucket(self.bucket())
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| s3_error(format!("publishing object {sha256}, part {number}"), e))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(
                        out.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_owned),
                    )
                    .build(),
            );
            start = end + 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(self.bucket())
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error(format!("publishing object {sha256}"), e))?;
        Ok(())
    }

    async fn remove_staging(&self, staging: &str, version: Option<String>) {
        let result = self
            .client
            .delete_object()
            .bucket(self.bucket())
            .key(staging)
            .set_version_id(version)
            .send()
            .await;
        if let Err(e) = result {
            tracing::warn!(key = staging, error = %DisplayErrorContext(&e), "could not remove staged upload");
        }
    }

    async fn lock_new_object(&self, sha256: &Sha256Digest, opts: &PutOptions) -> Result<()> {
        match opts.retain_until {
            Some(until) if self.object_lock => self.put_retention(sha256, until).await,
            _ => Ok(()),
        }
    }

    fn retention_mode(&self) -> ObjectLockRetentionMode {
        match self.settings.lock_mode {
            LockMode::Compliance => ObjectLockRetentionMode::Compliance,
            LockMode::Governance => ObjectLockRetentionMode::Governance,
        }
    }

    async fn put_retention(&self, sha256: &Sha256Digest, until: DateTime<Utc>) -> Result<()> {
        self.client
            .put_object_retention()
            .bucket(self.bucket())
            .key(self.key(sha256))
            .retention(
                ObjectLockRetention::builder()
                    .mode(self.retention_mode())
                    .retain_until_date(S3DateTime::from_secs(until.timestamp()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error(format!("setting retention on object {sha256}"), e))?;
        Ok(())
    }

    /// The object's current retain-until date, if it has one. Read from HeadObject, which every
    /// Object Lock implementation answers (moto has no GetObjectRetention).
    pub async fn retain_until(&self, sha256: &Sha256Digest) -> Result<Option<DateTime<Utc>>> {
        let out = self
            .client
            .head_object()
            .bucket(self.bucket())
            .key(self.key(sha256))
            .send()
            .await
            .map_err(|e| s3_error(format!("reading retention of object {sha256}"), e))?;
        Ok(out
            .object_lock_retain_until_date()
            .and_then(|d| DateTime::from_timestamp(d.secs(), 0)))
    }

    pub async fn extend_retention(
        &self,
        sha256: &Sha256Digest,
        until: DateTime<Utc>,
    ) -> Result<()> {
        if !self.object_lock {
            return Ok(());
        }
        match self.retain_until(sha256).await? {
            Some(current) if current >= until => Ok(()),
            _ => self.put_retention(sha256, until).await,
        }
    }

    pub async fn set_legal_hold(&self, sha256: &Sha256Digest, on: bool) -> Result<()> {
        if !self.object_lock {
            return Ok(());
        }
        let status = if on {
            ObjectLockLegalHoldStatus::On
        } else {
            ObjectLockLegalHoldStatus::Off
        };
        self.client
            .put_object_legal_hold()
            .bucket(self.bucket())
            .key(self.key(sha256))
            .legal_hold(ObjectLockLegalHold::builder().status(status).build())
            .send()
            .await
            .map_err(|e| s3_error(format!("setting legal hold on object {sha256}"), e))?;
        Ok(())
    }

    pub async fn exists(&self, sha256: &Sha256Digest) -> Result<bool> {
        match self
            .client
            .head_object()
            .bucket(self.bucket())
            .key(self.key(sha256))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(s3_error(format!("checking object {sha256}"), e)),
        }
    }

    /// Reads an object through, hashing it and copying it to `copy` if given; `None` when the
    /// object does not exist.
    async fn read_through(
        &self,
        sha256: &Sha256Digest,
        mut copy: Option<(&mut tokio::fs::File, &std::path::Path)>,
    ) -> Result<Option<(Sha256Digest, u64)>> {
        use tokio::io::AsyncWriteExt;
        let Some(mut body) = self.body(sha256).await? else {
            return Ok(None);
        };
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        let mut size = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| s3_error(format!("reading object {sha256}"), e))?
        {
            sha2::Digest::update(&mut hasher, &chunk);
            size += chunk.len() as u64;
            if let Some((file, path)) = copy.as_mut() {
                file.write_all(&chunk)
                    .await
                    .context(|| format!("writing {}", path.display()))?;
            }
        }
        if let Some((file, path)) = copy {
            file.flush()
                .await
                .context(|| format!("writing {}", path.display()))?;
        }
        Ok(Some((
            Sha256Digest(sha2::Digest::finalize(hasher).into()),
            size,
        )))
    }

    /// Downloads an object to `dest`, hashing it on the way: bytes that do not match their
    /// address are refused, so nothing is ever derived from a damaged original.
    pub async fn download(&self, sha256: &Sha256Digest, dest: &std::path::Path) -> Result<u64> {
        let mut file = tokio::fs::File::create(dest)
            .await
            .context(|| format!("creating {}", dest.display()))?;
        match self.read_through(sha256, Some((&mut file, dest))).await? {
            None => Err(Error::not_found(format!(
                "object {sha256} is not in the bucket"
            ))),
            Some((got, _)) if &got != sha256 => Err(Error::new(
                Code::ChecksumMismatch,
                format!("object {sha256} in the bucket hashes to {got}: it is damaged"),
            )),
            Some((_, size)) => Ok(size),
        }
    }

    pub async fn rehash(&self, sha256: &Sha256Digest) -> Result<Option<(Sha256Digest, u64)>> {
        self.read_through(sha256, None).await
    }

    /// The object's bytes, `None` when it does not exist.
    async fn body(
        &self,
        sha256: &Sha256Digest,
    ) -> Result<Option<aws_sdk_s3::primitives::ByteStream>> {
        match self
            .client
            .get_object()
            .bucket(self.bucket())
            .key(self.key(sha256))
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.body)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(s3_error(format!("reading object {sha256}"), e)),
        }
    }

    /// The object's bytes as a stream.
    pub async fn reader(
        &self,
        sha256: &Sha256Digest,
    ) -> Result<impl tokio::io::AsyncRead + Send + Unpin + use<>> {
        let body = self
            .body(sha256)
            .await?
            .ok_or_else(|| Error::not_found(format!("object {sha256} is not in the bucket")))?;
        Ok(body.into_async_read())
    }

    /// `len` bytes of the object from `start` (an HTTP range GET: the bucket sends only those).
    pub async fn range_reader(
        &self,
        sha256: &Sha256Digest,
        start: u64,
        len: u64,
    ) -> Result<impl tokio::io::AsyncRead + Send + Unpin + use<>> {
        let last = start + len.max(1) - 1;
        let out = self
            .client
            .get_object()
            .bucket(self.bucket())
            .key(self.key(sha256))
            .range(format!("bytes={start}-{last}"))
            .send()
            .await
            .map_err(|e| {
                s3_error(
                    format!("reading bytes {start}-{last} of object {sha256}"),
                    e,
                )
            })?;
        Ok(out.body.into_async_read())
    }

    pub async fn list(&self) -> Result<Vec<Sha256Digest>> {
        let prefix = format!("{}objects/", self.settings.prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(self.bucket())
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("listing objects", e))?;
            for object in page.contents() {
                if let Some(sha) = object
                    .key()
                    .and_then(|k| k.strip_prefix(&prefix))
                    .and_then(|hex| hex.parse().ok())
                {
                    out.push(sha);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Deletes every version of the object, so nothing lingers behind a delete marker. A locked
    /// version makes S3 refuse; the error is returned and the object stays readable. Returns
    /// false when there was nothing to delete, so an interrupted purge can simply run again.
    pub async fn delete(&self, sha256: &Sha256Digest) -> Result<bool> {
        let key = self.key(sha256);
        if !self.versioned {
            if !self.exists(sha256).await? {
                return Ok(false);
            }
            self.client
                .delete_object()
                .bucket(self.bucket())
                .key(&key)
                .send()
                .await
                .map_err(|e| s3_error(format!("deleting object {sha256}"), e))?;
            return Ok(true);
        }
        let listing = self
            .client
            .list_object_versions()
            .bucket(self.bucket())
            .prefix(&key)
            .send()
            .await
            .map_err(|e| s3_error(format!("listing versions of object {sha256}"), e))?;
        let versions = listing
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key.as_str()))
            .filter_map(|v| v.version_id().map(str::to_owned));
        let markers = listing
            .delete_markers()
            .iter()
            .filter(|m| m.key() == Some(key.as_str()))
            .filter_map(|m| m.version_id().map(str::to_owned));
        let all: Vec<String> = versions.chain(markers).collect();
        for version in &all {
            self.client
                .delete_object()
                .bucket(self.bucket())
                .key(&key)
                .version_id(version)
                .send()
                .await
                .map_err(|e| {
                    s3_error(format!("deleting object {sha256} (version {version})"), e)
                })?;
        }
        Ok(!all.is_empty())
    }
}

async fn finish_reading(reading: tokio::task::JoinHandle<Option<Digests>>) -> Result<Digests> {
    reading
        .await
        .map_err(|e| Error::new(Code::Store, format!("input reader panicked: {e}")))?
        .ok_or_else(|| Error::new(Code::BadInput, "the input ended with an error"))
}
