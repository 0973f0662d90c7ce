//! Packages built on the server for a person to download, rather than written where an operator
//! points. Each is kept under `<data_dir>/kept-packages/<package id>/` with a note of its case and
//! builder; downloading one is a consultation (DPA 2018 s.62) justified by its case.

use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::excerpts::ClipSpec;
use super::manifest::{FileEntry, MANIFEST_PATH, Manifest};
use super::package::{self, Built, Request};
use super::reader::Package;
use crate::access::{Permission, Principal};
use crate::audit::record::Record;
use crate::consultation::{self, Justification};
use crate::context::Context;
use crate::domain::{ConsultationUse, ConsultedItem};
use crate::error::{Code, Error, Result, ResultExt};

const PACKAGE: &str = "package.zip";
const NOTE: &str = "kept.json";

/// What a person asks to disclose.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Who receives it: the Act requires disclosures to record the recipient.
    pub recipient: String,
    pub purpose: Option<String>,
    #[serde(default)]
    pub include_originals: bool,
    /// Excerpts, `RECORDING@HH:MM:SS-HH:MM:SS`.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub clips: Vec<ClipSpec>,
}

/// A package kept for download.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kept {
    pub package_id: Uuid,
    pub case: String,
    /// Whom it was built for (absent in notes written before it was kept here).
    #[serde(default)]
    pub recipient: Option<String>,
    pub built_by: String,
    pub size: u64,
    pub manifest_sha256: String,
}

fn root(ctx: &Context<'_>) -> PathBuf {
    ctx.config.data_dir.join("kept-packages")
}

/// Builds a package of case `urn` for `who` to download later.
pub async fn build(
    ctx: &Context<'_>,
    who: &Principal,
    urn: &str,
    order: Order,
    bar: &ProgressBar,
) -> Result<Kept> {
    who.require(Permission::Disclose)?;
    crate::cases::check_urn(urn)?;
    let mut clips = order.clips;
    clips.sort_by_key(|c| (c.recording, c.start, c.end));
    clips.dedup();
    let staging = root(ctx).join(format!("building-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&staging).context(|| format!("creating {}", staging.display()))?;
    let recipient = order.recipient.trim().to_owned();
    let built = package::build(
        ctx,
        Request {
            actor: who.actor.clone(),
            urn: urn.to_owned(),
            out: staging.join(PACKAGE),
            sensitive_out: None,
            recipient: recipient.clone(),
            purpose: order.purpose,
            include_originals: order.include_originals,
            clips,
        },
        bar,
    )
    .await;
    let built: Built = match built {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let kept = Kept {
        package_id: built.package_id,
        case: built.case.clone(),
        recipient: Some(recipient),
        built_by: who.actor.id.clone(),
        size: std::fs::metadata(&built.package)
            .context(|| format!("reading {}", built.package.display()))?
            .len(),
        manifest_sha256: built.manifest_sha256.clone(),
    };
    let note = serde_json::to_vec_pretty(&kept)
        .map_err(|e| Error::bad_input(format!("describing package {}: {e}", kept.package_id)))?;
    std::fs::write(staging.join(NOTE), note)
        .context(|| format!("writing {}", staging.join(NOTE).display()))?;
    let home = root(ctx).join(kept.package_id.to_string());
    std::fs::rename(&staging, &home)
        .context(|| format!("moving {} to {}", staging.display(), home.display()))?;
    Ok(kept)
}

/// The package file to send, after logging its download under its case.
pub async fn download(ctx: &Context<'_>, who: &Principal, id: Uuid) -> Result<(Kept, PathBuf)> {
    who.require(Permission::Disclose)?;
    let (kept, file) = find(ctx, id)?;
    consultation::consult(
        ctx,
        who,
        ConsultedItem::Package,
        id,
        Justification {
            reason: None,
            case: Some(kept.case.clone()),
            detail: None,
        },
        ConsultationUse::PackageDownload,
    )
    .await?;
    Ok((kept, file))
}

/// A kept package and its file, for a door that has checked who may have it (a person's role,
/// or a live share).
pub fn find(ctx: &Context<'_>, id: Uuid) -> Result<(Kept, PathBuf)> {
    let home = root(ctx).join(id.to_string());
    let kept = read_note(&home)
        .ok_or_else(|| Error::not_found(format!("no package {id} is kept on this server")))?;
    let file = home.join(PACKAGE);
    if !file.is_file() {
        return Err(Error::not_found(format!("package {id} is no longer kept")));
    }
    Ok((kept, file))
}

/// Reads a kept package's ZIP off the async runtime: it may be large and the disk slow.
async fn reading<T: Send + 'static>(
    ctx: &Context<'_>,
    id: Uuid,
    read: impl FnOnce(&mut Package) -> std::result::Result<T, String> + Send + 'static,
) -> Result<T> {
    let (_, path) = find(ctx, id)?;
    let bad = move |e: String| Error::new(Code::Io, format!("kept package {id}: {e}"));
    tokio::task::spawn_blocking(move || Package::open(&path).and_then(|mut p| read(&mut p)))
        .await
        .map_err(|e| bad(e.to_string()))?
        .map_err(bad)
}

/// A kept package's manifest.
pub async fn manifest(ctx: &Context<'_>, id: Uuid) -> Result<Manifest> {
    reading(ctx, id, |p| {
        let bytes = p.read(MANIFEST_PATH, 64 << 20)?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST_PATH}: {e}"))
    })
    .await
}

/// The audit records a kept package carries, in the manifest's order.
pub async fn continuity(ctx: &Context<'_>, id: Uuid, m: &Manifest) -> Result<Vec<Record>> {
    let leaves: Vec<String> = m
        .audit
        .iter()
        .flat_map(|a| a.records.iter().map(|r| r.leaf.clone()))
        .collect();
    reading(ctx, id, move |p| {
        leaves
            .iter()
            .map(|leaf| Record::parse(&p.read(leaf, 1 << 20)?))
            .collect()
    })
    .await
}

/// Where file `name` (one its manifest lists) lies in a kept package's ZIP, to stream ranges of
/// it straight from there: the ZIP, the file's first byte in it, and what the manifest says.
/// One opening of the ZIP per call: a player asks for many ranges.
pub async fn region(ctx: &Context<'_>, id: Uuid, name: &str) -> Result<(PathBuf, u64, FileEntry)> {
    let (_, path) = find(ctx, id)?;
    let wanted = name.to_owned();
    let found = reading(ctx, id, move |p| {
        let bytes = p.read(MANIFEST_PATH, 64 << 20)?;
        let m: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST_PATH}: {e}"))?;
        let Some(listed) = m.all_files().find(|f| f.path == wanted).cloned() else {
            return Ok(None);
        };
        let (offset, size) = p.stored_region(&listed.path)?;
        if size != listed.size {
            return Err(format!(
                "{} is {size} bytes, not the {} its manifest lists",
                listed.path, listed.size
            ));
        }
        Ok(Some((offset, listed)))
    })
    .await?;
    let (offset, listed) =
        found.ok_or_else(|| Error::not_found(format!("the package has no file {name:?}")))?;
    Ok((path, offset, listed))
}

/// When a kept package will be removed (`consultation.package_days` after it was built).
pub fn kept_until(ctx: &Context<'_>, id: Uuid) -> Result<chrono::DateTime<chrono::Utc>> {
    // The folder's time, as housekeeping reads it when it removes old packages.
    let home = root(ctx).join(id.to_string());
    let built: chrono::DateTime<chrono::Utc> = std::fs::metadata(&home)
        .and_then(|m| m.modified())
        .map(Into::into)
        .context(|| format!("reading {}", home.display()))?;
    let days = i64::try_from(ctx.config.consultation.package_days).unwrap_or(366);
    Ok(built + chrono::Duration::days(days))
}

/// The packages of case `urn` kept on this server, newest first, with when each was built.
pub fn list(
    ctx: &Context<'_>,
    who: &Principal,
    urn: &str,
) -> Result<Vec<(Kept, chrono::DateTime<chrono::Utc>)>> {
    who.require(Permission::Disclose)?;
    let dir = root(ctx);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let home = entry
            .context(|| format!("listing {}", dir.display()))?
            .path();
        let Some(kept) = read_note(&home).filter(|k| k.case == urn) else {
            continue;
        };
        let built = std::fs::metadata(home.join(NOTE))
            .and_then(|m| m.modified())
            .map(chrono::DateTime::<chrono::Utc>::from)
            .context(|| format!("reading {}", home.join(NOTE).display()))?;
        found.push((kept, built));
    }
    found.sort_by_key(|k| std::cmp::Reverse(k.1));
    Ok(found)
}

/// Removes packages kept longer than `consultation.package_days` (0: at the first housekeeping
/// after they are built), and builds a crash left behind. A package holds copies of footage: the server keeps it for the download, not as a
/// second home for evidence outside retention's reach. Returns how many went.
pub fn forget_old(ctx: &Context<'_>) -> Result<usize> {
    let dir = root(ctx);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let keep = std::time::Duration::from_secs(ctx.config.consultation.package_days * 86_400);
    let mut removed = 0;
    for entry in entries {
        let path = entry
            .context(|| format!("listing {}", dir.display()))?
            .path();
        if !path.is_dir() {
            continue;
        }
        let age = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .unwrap_or_default();
        let building = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("building-"));
        // A build takes minutes; one a day old was cut short by a crash.
        let limit = if building {
            std::time::Duration::from_secs(86_400)
        } else {
            keep
        };
        if age > limit {
            std::fs::remove_dir_all(&path).context(|| format!("removing {}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn read_note(home: &Path) -> Option<Kept> {
    let bytes = std::fs::read(home.join(NOTE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}
