//! Writes a package as a directory or a ZIP, one file at a time, in constant memory. Media is
//! stored in the ZIP without recompression (footage does not compress, and stored entries let
//! any tool read it back bit for bit); entries over 4 GiB, and archives over 4 GiB, use Zip64.
//!
//! Everything is written under `<out>.partial` and renamed into place only when complete, so a
//! package that exists is a whole package.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::names::check_path;
use crate::error::{Error, Result, ResultExt};

/// Bytes moved per read: large enough that per-call costs vanish, small enough to stay in cache.
const CHUNK: usize = 1 << 20;

enum Sink {
    Dir,
    Zip(Box<ZipWriter<BufWriter<File>>>, zip::DateTime),
}

pub struct PackageWriter {
    sink: Sink,
    partial: PathBuf,
    out: PathBuf,
    done: bool,
}

/// True when `out` names a ZIP rather than a directory.
pub fn is_zip(out: &Path) -> bool {
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

impl PackageWriter {
    pub fn create(out: &Path, now: DateTime<Utc>) -> Result<PackageWriter> {
        if out.exists() {
            return Err(Error::bad_input(format!(
                "{} already exists: a package is never written over",
                out.display()
            )));
        }
        let mut partial = out.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        if partial.exists() {
            return Err(Error::bad_input(format!(
                "{} exists, left by an interrupted package: remove it first",
                partial.display()
            )));
        }
        let sink = if is_zip(out) {
            let file =
                File::create_new(&partial).context(|| format!("creating {}", partial.display()))?;
            let stamp = zip::DateTime::from_date_and_time(
                now.year().clamp(1980, 2107) as u16,
                now.month() as u8,
                now.day() as u8,
                now.hour() as u8,
                now.minute() as u8,
                now.second() as u8,
            )
            .unwrap_or_default();
            Sink::Zip(
                Box::new(ZipWriter::new(BufWriter::with_capacity(CHUNK, file))),
                stamp,
            )
        } else {
            std::fs::create_dir(&partial).context(|| format!("creating {}", partial.display()))?;
            Sink::Dir
        };
        Ok(PackageWriter {
            sink,
            partial,
            out: out.to_owned(),
            done: false,
        })
    }

    /// Copies `size` bytes from `reader` into the package at `path`, hashing them on the way;
    /// returns their SHA-256 (hex). A source that yields more or fewer bytes is an error.
    pub fn add(&mut self, path: &str, size: u64, reader: &mut dyn Read) -> Result<String> {
        check_path(path).map_err(Error::bad_input)?;
        let what = || format!("writing {path} into {}", self.out.display());
        let mut dir_file;
        let w: &mut dyn Write = match &mut self.sink {
            Sink::Dir => {
                let dest = self.partial.join(path);
                if let Some(parent) = dest.parent() {
                    std::fs::create_dir_all(parent).context(what)?;
                }
                dir_file = BufWriter::with_capacity(CHUNK, File::create_new(&dest).context(what)?);
                &mut dir_file
            }
            Sink::Zip(zip, stamp) => {
                let opts = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Stored)
                    .last_modified_time(*stamp)
                    .unix_permissions(0o644)
                    .large_file(size >= u64::from(u32::MAX));
                zip.start_file(path, opts)
                    .map_err(|e| Error::bad_input(format!("{}: {e}", what())))?;
                zip.as_mut()
            }
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut copied = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context(|| format!("reading the source of {path}")),
            };
            hasher.update(&buf[..n]);
            w.write_all(&buf[..n]).context(what)?;
            copied += n as u64;
        }
        w.flush().context(what)?;
        if copied != size {
            return Err(Error::new(
                crate::error::Code::Store,
                format!("{path}: expected {size} bytes, the source gave {copied}"),
            ));
        }
        Ok(hex::encode(hasher.finalize()))
    }

    pub fn add_bytes(&mut self, path: &str, bytes: &[u8]) -> Result<String> {
        self.add(path, bytes.len() as u64, &mut &bytes[..])
    }

    /// Finishes the archive, makes it durable and moves it into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        let what = || format!("finishing {}", self.out.display());
        match std::mem::replace(&mut self.sink, Sink::Dir) {
            Sink::Zip(zip, _) => {
                let buffered = zip
                    .finish()
                    .map_err(|e| Error::bad_input(format!("{}: {e}", what())))?;
                let file = buffered
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .context(what)?;
                file.sync_all().context(what)?;
            }
            Sink::Dir => sync_tree(&self.partial).context(what)?,
        }
        std::fs::rename(&self.partial, &self.out).context(what)?;
        if let Some(parent) = self.out.parent().filter(|p| !p.as_os_str().is_empty()) {
            File::open(parent)
                .and_then(|d| d.sync_all())
                .context(what)?;
        }
        self.done = true;
        Ok(self.out.clone())
    }
}

fn sync_tree(root: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(root).contents_first(true) {
        let entry = entry.map_err(std::io::Error::other)?;
        File::open(entry.path())?.sync_all()?;
    }
    Ok(())
}

impl Drop for PackageWriter {
    fn drop(&mut self) {
        if !self.done {
            // A half-written package is worthless and must not be mistaken for one.
            let _ = match self.sink {
                Sink::Dir => std::fs::remove_dir_all(&self.partial),
                Sink::Zip(..) => std::fs::remove_file(&self.partial),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Zip64 both ways: an entry over 4 GiB, and an entry that starts beyond 4 GiB in the
    /// archive, read back by the zip crate and by Python's zipfile (which checks every CRC).
    #[test]
    fn entries_and_archives_over_4_gib_use_zip64() {
        // Beside the sources, not in /tmp, which may be a small tmpfs.
        let dir = tempfile::Builder::new()
            .prefix(".zip64-test-")
            .tempdir_in(env!("CARGO_MANIFEST_DIR"))
            .unwrap();
        let out = dir.path().join("big.zip");
        let big = (4u64 << 30) + 12_345;
        let mut w = PackageWriter::create(&out, Utc::now()).unwrap();
        let sha = w
            .add("media/big.bin", big, &mut std::io::repeat(7).take(big))
            .unwrap();
        w.add_bytes("after.txt", b"after the big one\n").unwrap();
        // A short source is refused.
        assert!(w.add("short.bin", 10, &mut &b"12345"[..]).is_err());
        w.finish().unwrap();
        assert!(std::fs::metadata(&out).unwrap().len() > big);

        let mut zip = zip::ZipArchive::new(File::open(&out).unwrap()).unwrap();
        let mut entry = zip.by_name("media/big.bin").unwrap();
        assert_eq!(entry.size(), big);
        let mut hasher = Sha256::new();
        assert_eq!(std::io::copy(&mut entry, &mut hasher).unwrap(), big);
        assert_eq!(hex::encode(hasher.finalize()), sha);
        drop(entry);
        let mut text = String::new();
        zip.by_name("after.txt")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "after the big one\n");

        let python = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\n\
                 assert z.testzip() is None\n\
                 print(sorted((i.filename, i.file_size, i.compress_type) for i in z.infolist()))",
            ])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            python.status.success(),
            "{}",
            String::from_utf8_lossy(&python.stderr)
        );
        let listing = String::from_utf8_lossy(&python.stdout);
        assert!(
            listing.contains(&format!("('media/big.bin', {big}, 0)")),
            "{listing}"
        );
        assert!(listing.contains("('after.txt', 18, 0)"), "{listing}");
    }

    #[test]
    fn a_package_is_never_written_over_and_an_unfinished_one_vanishes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pkg");
        {
            let mut w = PackageWriter::create(&out, Utc::now()).unwrap();
            w.add_bytes("a/b.txt", b"x").unwrap();
            assert!(w.add_bytes("../escape", b"x").is_err());
            assert!(dir.path().join("pkg.partial/a/b.txt").is_file());
        }
        assert!(!dir.path().join("pkg.partial").exists());
        assert!(!out.exists());
        PackageWriter::create(&out, Utc::now())
            .unwrap()
            .finish()
            .unwrap();
        assert!(out.is_dir());
        assert!(PackageWriter::create(&out, Utc::now()).is_err());
    }
}
