//! Builds a disclosure package (reference/audit-anchors.md §5.6). The order matters:
//!
//! 1. the file list and the manifest core are settled first (stored objects are addressed by
//!    hash, so their hashes are known before a byte is copied);
//! 2. media is copied from the store and re-hashed on the way: damaged bytes stop the package
//!    before anything is recorded;
//! 3. one `disclosed` record per exhibit (recipient, purpose, the manifest core's hash) is
//!    appended, then a checkpoint is signed over the log including them;
//! 4. each exhibit's records up to that checkpoint go in with their inclusion proofs, and the
//!    full manifest last. So every file hash and every record, the disclosure included, sit
//!    under one signed checkpoint.
//!
//! Sensitive material (MG6D) is written to a separate directory beside the package.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use serde::Serialize;
use uuid::Uuid;

use super::excerpts::{self, ClipSpec, hms};
use super::index_page;
use super::manifest::{
    AuditEntry, AuditExtract, CaseRef, FileEntry, Item, MANIFEST_PATH, MANIFEST_VERSION, Manifest,
};
use super::schedules::{self, ExhibitFiles, Header, Material};
use super::tlog_proof::TlogProof;
use super::writer::PackageWriter;
use crate::audit::record::{Actor, EventDraft, ObjectRef, format_ts};
use crate::context::Context;
use crate::domain::{DerivativeKind, Sha256Digest};
use crate::domain::{MediaState, RetentionState, Schedule as On};
use crate::error::{Code, Error, Result};

pub const CHECKPOINT_PATH: &str = "audit/checkpoint.txt";

pub struct Request {
    /// Who discloses: the audit records and the manifest name them.
    pub actor: Actor,
    pub urn: String,
    pub out: PathBuf,
    pub sensitive_out: Option<PathBuf>,
    /// Who receives it: the Act requires every disclosure to record its recipient.
    pub recipient: String,
    pub purpose: Option<String>,
    pub include_originals: bool,
    pub clips: Vec<ClipSpec>,
}

#[derive(Debug, Serialize)]
pub struct Built {
    pub case: String,
    pub package: PathBuf,
    pub sensitive: PathBuf,
    pub package_id: Uuid,
    pub manifest_sha256: String,
    pub exhibits: usize,
    pub files: usize,
    pub media_bytes: u64,
    pub records: usize,
    pub tree_size: u64,
    pub unused_scheduled: usize,
    pub sensitive_scheduled: usize,
}

/// Where the MG6D goes unless told: beside the package, never in it, named after the whole
/// package name so that `case.zip` and a `case` folder beside it each get their own.
fn sensitive_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|s| s.to_string_lossy().replace('.', "-"))
        .unwrap_or_else(|| "package".into());
    out.with_file_name(format!("{name}-MG6D-SENSITIVE"))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// The file name's extension when it is a plain one, and the media type it implies.
fn original_type(name: Option<&str>) -> (String, &'static str) {
    let ext = name
        .and_then(|n| Path::new(n).extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .filter(|e| e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into());
    let media_type = match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        _ => "application/octet-stream",
    };
    (ext, media_type)
}

/// A media file to copy out of the store.
struct MediaCopy {
    path: String,
    sha256: String,
    size: u64,
}

/// The exhibits' media: what to copy, and the manifest items that list it. Every exhibit and
/// every requested excerpt is checked before any excerpt is made (making one is audited).
async fn exhibit_media(
    ctx: &Context<'_>,
    req: &Request,
    exhibits: &[&Material],
    actor: &Actor,
) -> Result<Vec<Item>> {
    let mut loaded = Vec::new();
    for m in exhibits {
        let rec = ctx
            .catalogue
            .recording(m.recording_id)
            .await?
            .ok_or_else(|| Error::not_found(format!("no recording {}", m.recording_id)))?;
        if matches!(
            rec.retention_state,
            RetentionState::Purged | RetentionState::SoftDeleted
        ) {
            return Err(Error::new(
                Code::Conflict,
                format!(
                    "exhibit {} (recording {}) is {}: it cannot be disclosed",
                    m.reference, rec.id, rec.retention_state
                ),
            ));
        }
        if let Some(clip) = rec
            .clips
            .iter()
            .find(|c| c.media_state == MediaState::Pending)
        {
            return Err(Error::new(
                Code::Busy,
                format!(
                    "exhibit {}: clip {} of recording {} is still being processed; try again \
                     once `bwv worker` (or `bwv serve`) has made its copy",
                    m.reference, clip.seq, rec.id
                ),
            ));
        }
        let derivatives = ctx.catalogue.derivatives(rec.id).await?;
        loaded.push((m, rec, derivatives));
    }
    for (_, rec, derivatives) in &loaded {
        for spec in req.clips.iter().filter(|c| c.recording == rec.id) {
            excerpts::locate(spec, rec, derivatives)?;
        }
    }

    let mut items = Vec::new();
    let mut dirs = HashSet::new();
    for (m, rec, derivatives) in &loaded {
        // References are unique per case, but AB/1 and AB-1 would share a folder.
        let base = format!("media/{}", m.reference.replace('/', "-"));
        let dir = if dirs.insert(base.clone()) {
            base
        } else {
            let unique = format!("{base}-item{}", m.schedule_item);
            dirs.insert(unique.clone());
            unique
        };
        let mut files = Vec::new();
        for clip in &rec.clips {
            let original = clip.sha256.to_hex();
            let derived = |kind: DerivativeKind| {
                derivatives
                    .iter()
                    .find(|d| d.clip_id == clip.id && d.kind == kind)
            };
            let disclosure = derived(DerivativeKind::Disclosure);
            // Footage that cannot be played still goes, as it is: it may still be evidence.
            if req.include_originals || disclosure.is_none() {
                let (ext, media_type) = original_type(clip.original_name.as_deref());
                files.push(FileEntry {
                    path: format!("{dir}/original-{}.{ext}", clip.seq),
                    sha256: original.clone(),
                    size: clip.size,
                    media_type: media_type.into(),
                    role: "original".into(),
                    original_sha256: None,
                    source_sha256: None,
                });
            }
            for (d, name) in [
                (disclosure, format!("disclosure-{}.mp4", clip.seq)),
                (
                    derived(DerivativeKind::Poster),
                    format!("poster-{}.jpg", clip.seq),
                ),
            ] {
                if let Some(d) = d {
                    files.push(FileEntry {
                        path: format!("{dir}/{name}"),
                        sha256: d.sha256.clone(),
                        size: d.size as u64,
                        media_type: d.media_type.clone(),
                        role: d.kind.to_string(),
                        original_sha256: Some(original.clone()),
                        source_sha256: None,
                    });
                }
            }
        }
        for spec in req.clips.iter().filter(|c| c.recording == rec.id) {
            let located = excerpts::locate(spec, rec, derivatives)?;
            let e = excerpts::excerpt(ctx, &req.urn, &located, rec.id, derivatives, actor).await?;
            files.push(FileEntry {
                path: format!(
                    "{dir}/excerpt-{}-{}.mp4",
                    hms(spec.start).replace(':', ""),
                    hms(spec.end).replace(':', "")
                ),
                sha256: e.sha256,
                size: e.size,
                media_type: "video/mp4".into(),
                role: "excerpt".into(),
                original_sha256: Some(e.original_sha256),
                source_sha256: Some(e.source_sha256),
            });
        }
        items.push(Item {
            recording: rec.id,
            exhibit: m.reference.clone(),
            files,
        });
    }
    Ok(items)
}

/// Schedules, statement, instructions, key, index page and checksums, with their bytes.
fn documents(
    manifest: &Manifest,
    material: &[Material],
    exhibits: &[&Material],
    header: &Header,
    vkey: &str,
) -> Result<Vec<(FileEntry, Vec<u8>)>> {
    let entry = |path: &str, media_type: &str, role: &str, bytes: Vec<u8>| {
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        (
            FileEntry {
                path: path.into(),
                sha256,
                size: bytes.len() as u64,
                media_type: media_type.into(),
                role: role.into(),
                original_sha256: None,
                source_sha256: None,
            },
            bytes,
        )
    };
    let mut docs = Vec::new();
    // The MG6E here names only exhibits and MG6C items: anything about sensitive items goes
    // with the MG6D.
    for schedule in [
        schedules::mg6c(material),
        schedules::mg6e(material, &[On::Exhibit, On::Unused]),
    ] {
        let csv = schedule.csv().map_err(|e| Error::new(Code::Io, e))?;
        docs.push(entry(
            &format!("schedules/{}.csv", schedule.form),
            "text/csv",
            "schedule",
            csv,
        ));
        docs.push(entry(
            &format!("schedules/{}.html", schedule.form),
            "text/html",
            "schedule",
            schedule.html(header).into_bytes(),
        ));
    }
    let with_files: Vec<ExhibitFiles> = manifest
        .items
        .iter()
        .filter_map(|item| {
            let material = exhibits.iter().find(|e| e.recording_id == item.recording)?;
            Some(ExhibitFiles {
                material,
                files: item
                    .files
                    .iter()
                    .map(|f| {
                        let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                        (f.role.as_str(), name, f.sha256.as_str(), f.size)
                    })
                    .collect(),
            })
        })
        .collect();
    docs.push(entry(
        "statements/exhibit-continuity.txt",
        "text/plain",
        "statement",
        schedules::continuity(header, &with_files).into_bytes(),
    ));
    docs.push(entry(
        "keys/log.vkey",
        "text/plain",
        "key",
        format!("{vkey}\n").into_bytes(),
    ));
    docs.push(entry(
        "VERIFY.md",
        "text/markdown",
        "instructions",
        index_page::verify_instructions(&manifest.log_origin).into_bytes(),
    ));
    let mut listed = manifest.clone();
    listed.files = docs.iter().map(|(f, _)| f.clone()).collect();
    docs.push(entry(
        "index.html",
        "text/html",
        "index",
        index_page::render(&listed, exhibits).into_bytes(),
    ));
    let sums: String = manifest
        .items
        .iter()
        .flat_map(|i| i.files.iter())
        .chain(docs.iter().map(|(f, _)| f))
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    docs.push(entry(
        "SHA256SUMS",
        "text/plain",
        "checksums",
        sums.into_bytes(),
    ));
    Ok(docs)
}

/// Runs one blocking step of the writer off the async threads, handing the writer back.
async fn blocking<T: Send + 'static>(
    writer: PackageWriter,
    step: impl FnOnce(&mut PackageWriter) -> Result<T> + Send + 'static,
) -> Result<(PackageWriter, T)> {
    tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        let value = step(&mut writer)?;
        Ok((writer, value))
    })
    .await
    .map_err(|e| Error::new(Code::Io, format!("the package writer panicked: {e}")))?
}

/// Copies media out of the store, checking each file's hash as it goes.
async fn copy_media(
    ctx: &Context<'_>,
    mut writer: PackageWriter,
    copies: Vec<MediaCopy>,
    bar: &ProgressBar,
) -> Result<PackageWriter> {
    for copy in copies {
        let sha: Sha256Digest = copy
            .sha256
            .parse()
            .map_err(|_| Error::audit(format!("catalogued hash {} is malformed", copy.sha256)))?;
        let reader = ctx.store.blocking_reader(&sha).await?;
        let bar = bar.clone();
        let (w, written) = blocking(writer, move |w| {
            let mut reader = bar.wrap_read(reader);
            w.add(&copy.path, copy.size, &mut reader)
                .map(|written| (copy, written))
        })
        .await?;
        writer = w;
        let (copy, written) = written;
        if written != copy.sha256 {
            return Err(Error::new(
                Code::ChecksumMismatch,
                format!(
                    "{}: the stored object {} reads back as {}: the store is damaged, nothing \
                     was disclosed (run `bwv fsck`)",
                    copy.path, copy.sha256, written
                ),
            ));
        }
    }
    Ok(writer)
}

/// `disclosed`, on each exhibit's chain: the case, its exhibit reference, and the package.
#[derive(Debug, Serialize)]
struct Disclosed<'a> {
    case: &'a str,
    exhibit: &'a str,
    package_id: Uuid,
}

/// `case_disclosed`, on the case's chain: the package, its exhibits, and how many items of
/// unused and sensitive material its schedules list.
#[derive(Debug, Serialize)]
struct CaseDisclosed<'a> {
    package_id: Uuid,
    exhibits: Vec<&'a str>,
    unused_scheduled: usize,
    sensitive_scheduled: usize,
}

/// Appends the disclosure's records: one per exhibit, on its own chain, and one on the case's.
async fn record_disclosure(
    ctx: &Context<'_>,
    manifest: &Manifest,
    core_sha256: &str,
    case: Uuid,
    actor: &Actor,
    counts: (usize, usize),
) -> Result<u64> {
    let mut tx = ctx.catalogue.begin().await?;
    let mut last = 0;
    for item in &manifest.items {
        tx.lock_recording(item.recording).await?;
        tx.ensure_not_purged(item.recording).await?;
        let mut event = EventDraft::new("disclosed", actor.clone(), "recording", item.recording);
        event.objects = item
            .files
            .iter()
            .map(|f| ObjectRef {
                sha256: f.sha256.clone(),
                size: f.size,
                role: Some(f.role.clone()),
            })
            .collect();
        event.recipient = manifest.recipient.clone();
        event.purpose = manifest.purpose.clone();
        event.manifest_sha256 = Some(core_sha256.to_owned());
        let event = event.with_result(&Disclosed {
            case: &manifest.case.urn,
            exhibit: &item.exhibit,
            package_id: manifest.package_id,
        })?;
        last = last.max(tx.append_audit(ctx.audit.origin(), event).await?.index);
    }
    let mut event = EventDraft::new("case_disclosed", actor.clone(), "case", case);
    event.recipient = manifest.recipient.clone();
    event.purpose = manifest.purpose.clone();
    event.manifest_sha256 = Some(core_sha256.to_owned());
    let event = event.with_result(&CaseDisclosed {
        package_id: manifest.package_id,
        exhibits: manifest.items.iter().map(|i| i.exhibit.as_str()).collect(),
        unused_scheduled: counts.0,
        sensitive_scheduled: counts.1,
    })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(last)
}

/// Each exhibit's records up to the checkpoint, with their proofs.
async fn audit_extract(
    ctx: &Context<'_>,
    manifest: &Manifest,
    covering: u64,
) -> Result<(AuditExtract, Vec<(String, Vec<u8>)>)> {
    ctx.audit.checkpoint(ctx.catalogue).await?;
    let checkpoint = ctx
        .catalogue
        .latest_checkpoint()
        .await?
        .filter(|c| c.size as u64 > covering)
        .ok_or_else(|| {
            Error::audit(format!(
                "no signed checkpoint covers the disclosure record {covering}"
            ))
        })?;
    let size = checkpoint.size as u64;
    let mut files = vec![(CHECKPOINT_PATH.to_owned(), checkpoint.note.clone())];
    let mut records = Vec::new();
    for item in &manifest.items {
        for leaf in ctx.catalogue.item_leaves(item.recording).await? {
            let index = leaf.idx as u64;
            if index >= size {
                continue;
            }
            let proof = TlogProof {
                index,
                hashes: ctx.catalogue.inclusion_proof(size, index).await?,
                checkpoint: checkpoint.note.clone(),
            };
            let entry = AuditEntry {
                index,
                item: item.recording,
                leaf: format!("audit/leaves/{index}.json"),
                proof: format!("audit/proofs/{index}.tlog-proof"),
            };
            files.push((entry.leaf.clone(), leaf.leaf));
            files.push((entry.proof.clone(), proof.to_bytes()));
            records.push(entry);
        }
    }
    Ok((
        AuditExtract {
            checkpoint: CHECKPOINT_PATH.into(),
            tree_size: size,
            records,
        },
        files,
    ))
}

/// The MG6D (and the MG6E entries about sensitive items), for the prosecutor only.
fn write_sensitive(
    path: &Path,
    material: &[Material],
    header: &Header,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut w = PackageWriter::create(path, now)?;
    for schedule in [
        schedules::mg6d(material),
        schedules::mg6e(material, &[On::Sensitive]),
    ] {
        let csv = schedule.csv().map_err(|e| Error::new(Code::Io, e))?;
        let name = if schedule.form == "MG6E" {
            "MG6E-sensitive-items"
        } else {
            schedule.form
        };
        w.add_bytes(&format!("{name}.csv"), &csv)?;
        w.add_bytes(&format!("{name}.html"), schedule.html(header).as_bytes())?;
    }
    w.add_bytes(
        "README.txt",
        b"SENSITIVE: for the prosecutor only. Never send this folder to the defence or put it \
          in the disclosure package.\n",
    )?;
    w.finish()?;
    Ok(())
}

pub async fn build(ctx: &Context<'_>, mut req: Request, bar: &ProgressBar) -> Result<Built> {
    req.recipient =
        crate::cases::optional_text("the recipient", Some(req.recipient), 500)?.unwrap_or_default();
    req.purpose = crate::cases::optional_text("the purpose", req.purpose, 500)?;
    let case = ctx
        .catalogue
        .case(&req.urn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no case {}", req.urn)))?;
    let material: Vec<Material> = ctx.catalogue.case_material(case.id).await?;
    let exhibits: Vec<&Material> = material
        .iter()
        .filter(|m| m.schedule == On::Exhibit)
        .collect();
    if exhibits.is_empty() {
        return Err(Error::bad_input(format!(
            "case {} has no exhibits to disclose (bwv case link {} RECORDING)",
            req.urn, req.urn
        )));
    }
    for spec in &req.clips {
        if !exhibits.iter().any(|e| e.recording_id == spec.recording) {
            return Err(Error::bad_input(format!(
                "--clip {spec}: recording {} is not an exhibit in case {}",
                spec.recording, req.urn
            )));
        }
    }
    let sensitive_out = req
        .sensitive_out
        .clone()
        .unwrap_or_else(|| sensitive_path(&req.out));
    if absolute(&sensitive_out).starts_with(absolute(&req.out)) {
        return Err(Error::bad_input(format!(
            "the sensitive schedule's folder {} must not be inside the package",
            sensitive_out.display()
        )));
    }
    for p in [&req.out, &sensitive_out] {
        if p.exists() {
            return Err(Error::bad_input(format!(
                "{} already exists: a package is never written over",
                p.display()
            )));
        }
    }

    let actor = req.actor.clone();
    let now = crate::domain::now();
    let header = Header {
        urn: &case.urn,
        offence: &case.offence,
        officer: &actor.id,
        date: now,
    };
    let items = exhibit_media(ctx, &req, &exhibits, &actor).await?;
    let mut manifest = Manifest {
        v: MANIFEST_VERSION,
        package_id: Uuid::now_v7(),
        created_at: format_ts(now),
        case: CaseRef {
            urn: case.urn.clone(),
            offence: case.offence.clone(),
        },
        recipient: Some(req.recipient.clone()),
        purpose: req.purpose.clone(),
        disclosed_by: actor.id.clone(),
        log_origin: ctx.audit.origin().to_owned(),
        items,
        files: Vec::new(),
        audit: None,
    };
    let docs = documents(&manifest, &material, &exhibits, &header, ctx.audit.vkey())?;
    manifest.files = docs.iter().map(|(f, _)| f.clone()).collect();
    let core = manifest.to_value().map_err(|e| Error::new(Code::Io, e))?;
    let core_sha256 = super::manifest::core_sha256(&core).map_err(|e| Error::new(Code::Io, e))?;

    let copies: Vec<MediaCopy> = manifest
        .items
        .iter()
        .flat_map(|i| i.files.iter())
        .map(|f| MediaCopy {
            path: f.path.clone(),
            sha256: f.sha256.clone(),
            size: f.size,
        })
        .collect();
    let media_bytes: u64 = copies.iter().map(|c| c.size).sum();
    bar.set_length(media_bytes);
    let writer = PackageWriter::create(&req.out, now)?;
    let writer = copy_media(ctx, writer, copies, bar).await?;
    bar.finish_and_clear();
    let (writer, ()) = blocking(writer, move |w| {
        for (f, bytes) in &docs {
            w.add_bytes(&f.path, bytes)?;
        }
        Ok(())
    })
    .await?;

    let unused = material.iter().filter(|m| m.schedule == On::Unused).count();
    let sensitive = material
        .iter()
        .filter(|m| m.schedule == On::Sensitive)
        .count();
    let last = record_disclosure(
        ctx,
        &manifest,
        &core_sha256,
        case.id,
        &actor,
        (unused, sensitive),
    )
    .await?;
    let (extract, audit_files) = audit_extract(ctx, &manifest, last).await?;
    let (records, tree_size) = (extract.records.len(), extract.tree_size);
    manifest.audit = Some(extract);
    let manifest_bytes = manifest.bytes().map_err(|e| Error::new(Code::Io, e))?;
    let (writer, ()) = blocking(writer, move |w| {
        for (path, bytes) in &audit_files {
            w.add_bytes(path, bytes)?;
        }
        w.add_bytes(MANIFEST_PATH, &manifest_bytes)?;
        Ok(())
    })
    .await?;
    let package = tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| Error::new(Code::Io, format!("the package writer panicked: {e}")))??;
    write_sensitive(&sensitive_out, &material, &header, now)?;
    Ok(Built {
        case: case.urn.clone(),
        package,
        sensitive: sensitive_out,
        package_id: manifest.package_id,
        manifest_sha256: core_sha256,
        exhibits: manifest.items.len(),
        files: manifest.all_files().count(),
        media_bytes,
        records,
        tree_size,
        unused_scheduled: unused,
        sensitive_scheduled: sensitive,
    })
}
