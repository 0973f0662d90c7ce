//! Reads a package, directory or ZIP, for the verifier: never trusting it. Names are checked
//! before use, symbolic links are refused (a package must not reach outside itself), small files
//! are read with a size limit, and media is hashed as a stream.

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::names::check_path;
use super::writer::is_zip;

pub enum Package {
    Dir(PathBuf),
    Zip(Box<ZipArchive<File>>),
}

impl Package {
    pub fn open(path: &Path) -> Result<Package, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.is_dir() {
            Ok(Package::Dir(path.to_owned()))
        } else if is_zip(path) || meta.is_file() {
            let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut zip = ZipArchive::new(file)
                .map_err(|e| format!("{} is not a readable ZIP: {e}", path.display()))?;
            // Two entries under one name, or a local entry the directory does not list, would
            // let other tools show other bytes than the ones verified here.
            zip.validate_header_consistency().map_err(|e| {
                format!(
                    "{}: the ZIP's entries are inconsistent (duplicate names or hidden \
                     entries): {e}",
                    path.display()
                )
            })?;
            let mut folded = HashSet::new();
            for raw in zip.file_names_raw() {
                let name = std::str::from_utf8(raw)
                    .map_err(|_| format!("{}: an entry's name is not UTF-8", path.display()))?;
                if !folded.insert(name.to_lowercase()) {
                    return Err(format!(
                        "{}: two entries named {name:?} to a case-insensitive filesystem: unpacked, one would \
                         overwrite the other",
                        path.display()
                    ));
                }
            }
            Ok(Package::Zip(Box::new(zip)))
        } else {
            Err(format!(
                "{} is neither a directory nor a ZIP",
                path.display()
            ))
        }
    }

    /// Every entry of the package as an extractor would see it, in order, with anything that
    /// makes it other than a plain stored file or folder.
    pub fn entries(&mut self) -> Result<Vec<Entry>, String> {
        match self {
            Package::Dir(root) => dir_entries(root),
            Package::Zip(zip) => {
                let mut out = Vec::with_capacity(zip.len());
                for i in 0..zip.len() {
                    let f = zip
                        .by_index_raw(i)
                        .map_err(|e| format!("reading ZIP entry {i}: {e}"))?;
                    out.push(zip_entry(&f));
                }
                Ok(out)
            }
        }
    }

    /// Opens `name` and hands its reader and stored size to `f`.
    fn with_reader<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut dyn Read, u64) -> std::io::Result<T>,
    ) -> Result<T, String> {
        check_path(name)?;
        match self {
            Package::Dir(root) => {
                // No part of the path may be a link: it could lead out of the package.
                let mut path = root.clone();
                let mut meta = None;
                for part in name.split('/') {
                    path.push(part);
                    let m = std::fs::symlink_metadata(&path).map_err(|e| missing(name, e))?;
                    if m.file_type().is_symlink() {
                        return Err(format!("{name}: the package holds a link, not the file"));
                    }
                    meta = Some(m);
                }
                if !meta.is_some_and(|m| m.file_type().is_file()) {
                    return Err(format!("{name} is not a regular file"));
                }
                let mut file = File::open(&path).map_err(|e| missing(name, e))?;
                let size = file.metadata().map_err(|e| missing(name, e))?.len();
                f(&mut file, size).map_err(|e| format!("reading {name}: {e}"))
            }
            Package::Zip(zip) => {
                let mut entry = zip
                    .by_name(name)
                    .map_err(|e| format!("{name} is missing: {e}"))?;
                let size = entry.size();
                f(&mut entry, size).map_err(|e| format!("reading {name}: {e}"))
            }
        }
    }

    /// Where a file stored whole in a ZIP package lies: its first byte's offset in the ZIP and
    /// its size, so a range of it can be served straight from the ZIP.
    pub fn stored_region(&mut self, name: &str) -> Result<(u64, u64), String> {
        check_path(name)?;
        let Package::Zip(zip) = self else {
            return Err(format!("{name}: the package is a folder, not a ZIP"));
        };
        let entry = zip
            .by_name(name)
            .map_err(|e| format!("{name} is missing: {e}"))?;
        if entry.compression() != zip::CompressionMethod::Stored {
            return Err(format!("{name} is compressed, not stored whole"));
        }
        let start = entry
            .data_start()
            .ok_or_else(|| format!("{name}: the ZIP does not say where its data starts"))?;
        Ok((start, entry.size()))
    }

    /// A small file, whole; larger than `limit` is an error rather than an allocation.
    pub fn read(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, String> {
        let bytes = self.with_reader(name, |r, _| {
            let mut buf = Vec::new();
            r.take(limit + 1).read_to_end(&mut buf)?;
            Ok(buf)
        })?;
        if bytes.len() as u64 > limit {
            return Err(format!("{name} is larger than {limit} bytes"));
        }
        Ok(bytes)
    }

    /// SHA-256 (hex) of a file of `expected` bytes, streamed. A file of another size is
    /// reported without reading it (a hostile package could hold an endless one).
    pub fn hash(&mut self, name: &str, expected: u64) -> Result<String, String> {
        self.with_reader(name, |r, size| {
            if size != expected {
                return Err(std::io::Error::other(format!(
                    "{size} bytes, the manifest says {expected}"
                )));
            }
            let mut hasher = Sha256::new();
            let read = std::io::copy(&mut r.take(expected + 1), &mut hasher)?;
            if read != expected {
                return Err(std::io::Error::other(format!(
                    "{read} bytes read, the manifest says {expected}"
                )));
            }
            Ok(hex::encode(hasher.finalize()))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Folder,
}

/// One entry: its name (`/`-separated, relative, no trailing `/`), what it is, and why it is
/// not a plain file or folder, if it is not.
#[derive(Debug)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    pub problem: Option<String>,
}

fn zip_entry<R: Read>(f: &zip::read::ZipFile<'_, R>) -> Entry {
    let (raw, mut problem) = match std::str::from_utf8(f.name_raw()) {
        Ok(n) => (n.to_owned(), None),
        Err(_) => (
            String::from_utf8_lossy(f.name_raw()).into_owned(),
            Some("has a name that is not UTF-8".to_owned()),
        ),
    };
    let kind = if raw.ends_with('/') {
        EntryKind::Folder
    } else {
        EntryKind::File
    };
    let stored = f.compression() == zip::CompressionMethod::Stored;
    let second_name = f
        .extra_data_fields()
        .any(|x| matches!(x, zip::extra_fields::ExtraField::UnicodePath(_)));
    problem = problem.or_else(|| {
        if f.is_symlink() {
            Some("is a symbolic link".into())
        } else if f.encrypted() {
            Some("is encrypted".into())
        } else if second_name {
            Some("carries a second name (an Info-ZIP Unicode Path field) an extractor may use instead".into())
        } else if kind == EntryKind::File && !stored {
            Some(format!(
                "is compressed ({}): a package stores every file as it is",
                f.compression()
            ))
        } else if kind == EntryKind::Folder && f.size() != 0 {
            Some("is a folder with content".into())
        } else {
            None
        }
    });
    let name = match kind {
        EntryKind::Folder => raw.trim_end_matches('/').to_owned(),
        EntryKind::File => raw,
    };
    Entry {
        name,
        kind,
        problem,
    }
}

/// A directory package's entries, never following a link.
fn dir_entries(root: &Path) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
    {
        let item = item.map_err(|e| format!("listing the package: {e}"))?;
        let rel = item.path().strip_prefix(root).map_err(|e| e.to_string())?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        let (name, mut problem) = match parts {
            Some(p) => (p.join("/"), None),
            None => (
                rel.to_string_lossy().into_owned(),
                Some("has a name that is not UTF-8".to_owned()),
            ),
        };
        let ft = item.file_type();
        let kind = if ft.is_dir() {
            EntryKind::Folder
        } else {
            EntryKind::File
        };
        if ft.is_symlink() {
            problem = Some("is a symbolic link".into());
        } else if !ft.is_dir() && !ft.is_file() {
            problem = Some("is not a regular file".into());
        }
        out.push(Entry {
            name,
            kind,
            problem,
        });
    }
    Ok(out)
}

fn missing(name: &str, e: std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("{name} is missing")
    } else {
        format!("{name}: {e}")
    }
}
