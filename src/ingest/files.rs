//! Turning paths from the command line or a watched folder into readable regular files, with a
//! clear reason for each path that cannot be one.

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::error::{Code, Error, Result};

/// A path given to ingest: either a file to take, or why it cannot be taken.
pub enum Found {
    File(PathBuf),
    Bad(PathBuf, Error),
}

fn describe_io(e: &io::Error) -> Error {
    let reason = match (e.kind(), e.raw_os_error()) {
        (io::ErrorKind::NotFound, _) => "no such file or directory".to_string(),
        (io::ErrorKind::PermissionDenied, _) => "permission denied".to_string(),
        (_, Some(40)) => "symlink loop (too many levels of symbolic links)".to_string(),
        _ => e.to_string(),
    };
    Error::new(Code::BadInput, reason)
}

fn kind_problem(meta: &Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        None
    } else if t.is_socket() {
        Some("is a socket, not a file")
    } else if t.is_fifo() {
        Some("is a named pipe, not a file")
    } else if t.is_block_device() || t.is_char_device() {
        Some("is a device, not a file")
    } else {
        Some("is not a regular file")
    }
}

/// Expands paths into files, walking directories recursively and following symlinks (with loop
/// detection). Hidden entries inside directories (dot files, `.ingested/`) are skipped.
pub fn collect(paths: &[PathBuf]) -> Vec<Found> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::metadata(path) {
            Err(e) => out.push(Found::Bad(path.clone(), describe_io(&e))),
            Ok(meta) if meta.is_dir() => walk(path, &mut out),
            Ok(meta) => match kind_problem(&meta) {
                None => out.push(Found::File(path.clone())),
                Some(p) => out.push(Found::Bad(path.clone(), Error::bad_input(p))),
            },
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<Found>) {
    let entries = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in entries {
        match entry {
            Ok(e) if e.file_type().is_dir() => {}
            Ok(e) => match e.metadata().map_err(io::Error::from) {
                Ok(meta) => match kind_problem(&meta) {
                    None => out.push(Found::File(e.into_path())),
                    Some(p) => {
                        let path = e.into_path();
                        let err = Error::bad_input(p);
                        out.push(Found::Bad(path, err));
                    }
                },
                Err(err) => out.push(Found::Bad(e.path().to_owned(), describe_io(&err))),
            },
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_owned)
                    .unwrap_or_else(|| dir.to_owned());
                let err = if e.loop_ancestor().is_some() {
                    Error::bad_input("symlink loop back to a parent directory")
                } else {
                    let io = io::Error::from(e);
                    describe_io(&io)
                };
                out.push(Found::Bad(path, err));
            }
        }
    }
}

/// Opens a file for ingest, refusing anything but a regular file. Returns its modification time,
/// the best guess at when a camera finished writing it.
pub fn open(path: &Path) -> Result<(File, u64, DateTime<Utc>)> {
    let file = File::open(path).map_err(|e| describe_io(&e))?;
    let meta = file.metadata().map_err(|e| describe_io(&e))?;
    if let Some(p) = kind_problem(&meta) {
        return Err(Error::bad_input(p));
    }
    let mtime = meta
        .modified()
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now());
    Ok((file, meta.len(), mtime))
}
