//! `bwv verify`: checks a disclosure package offline, trusting nothing in it but what the given
//! key proves (reference/audit-anchors.md §5.7). Every check runs and every failure is
//! reported, each naming the file and what is wrong with it; the verdict fails on any one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::manifest::{
    AuditExtract, MANIFEST_PATH, MANIFEST_VERSION, Manifest, canonical, core_sha256,
};
use super::names::{Layout, check_path};
use super::reader::{EntryKind, Package};
use super::tlog_proof::TlogProof;
use crate::audit::checkpoint::{VerifiedCheckpoint, verify_checkpoint_by};
use crate::audit::merkle::{leaf_hash, verify_inclusion};
use crate::audit::record::Record;

/// Small files are read whole; nothing this size belongs in one.
const SMALL: u64 = 64 << 20;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub package: String,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    pub exhibits: Vec<String>,
    pub files_checked: usize,
    pub bytes_hashed: u64,
    pub records_checked: usize,
    pub failures: Vec<String>,
    pub warnings: Vec<String>,
    /// What a passing package still does not prove.
    pub not_proven: Vec<String>,
}

impl Report {
    fn fail(&mut self, message: impl Into<String>) {
        self.failures.push(message.into());
    }

    /// The human report.
    pub fn text(&self) -> String {
        let mut s = format!("package {}\n", self.package);
        if let (Some(case), Some(id)) = (&self.case, &self.package_id) {
            s.push_str(&format!("case {case}, package {id}\n"));
        }
        if let (Some(origin), Some(size)) = (&self.log_origin, self.tree_size) {
            s.push_str(&format!(
                "checkpoint of log {origin} at {size} records: signed by a trusted key\n"
            ));
        }
        s.push_str(&format!(
            "exhibits: {}\nfiles: {} checked, {} bytes hashed\naudit records: {} checked\n",
            if self.exhibits.is_empty() {
                "-".to_owned()
            } else {
                self.exhibits.join(", ")
            },
            self.files_checked,
            self.bytes_hashed,
            self.records_checked
        ));
        for w in &self.warnings {
            s.push_str(&format!("WARNING {w}\n"));
        }
        for f in &self.failures {
            s.push_str(&format!("FAIL {f}\n"));
        }
        if self.ok {
            s.push_str("OK: every file, record and proof verifies\n");
            for n in &self.not_proven {
                s.push_str(&format!("not proven: {n}\n"));
            }
        } else {
            s.push_str(&format!(
                "FAILED: {} problem(s); do not rely on this package\n",
                self.failures.len()
            ));
        }
        s
    }
}

/// Reads a trust file: verifier keys (`name+keyid+base64`), one per line; `#` comments.
pub fn read_trust(path: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("reading trusted keys {}: {e}", path.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if keys.is_empty() {
        return Err(format!("{} holds no verifier keys", path.display()));
    }
    Ok(keys)
}

pub fn verify(path: &Path, trusted: &[String]) -> Report {
    let mut report = Report {
        package: path.display().to_string(),
        ..Report::default()
    };
    if let Err(fatal) = run(path, trusted, &mut report) {
        report.fail(fatal);
    }
    report.ok = report.failures.is_empty();
    report
}

/// One verified record of the extract.
struct Verified {
    index: u64,
    hash: [u8; 32],
    record: Record,
}

fn run(path: &Path, trusted: &[String], report: &mut Report) -> Result<(), String> {
    let mut pkg = Package::open(path)?;
    let bytes = pkg.read(MANIFEST_PATH, SMALL)?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{MANIFEST_PATH} is not JSON: {e}"))?;
    if canonical(&value)? != bytes {
        report.fail(format!(
            "{MANIFEST_PATH} is not in RFC 8785 canonical form: it is not the manifest as written"
        ));
    }
    let manifest: Manifest = serde_json::from_value(value.clone())
        .map_err(|e| format!("{MANIFEST_PATH} is not a bwv manifest: {e}"))?;
    if manifest.v != MANIFEST_VERSION {
        return Err(format!(
            "{MANIFEST_PATH} has version {}, this verifier knows {MANIFEST_VERSION}",
            manifest.v
        ));
    }
    let core = core_sha256(&value)?;
    report.case = Some(manifest.case.urn.clone());
    report.package_id = Some(manifest.package_id);
    report.exhibits = manifest.items.iter().map(|i| i.exhibit.clone()).collect();
    if manifest.items.is_empty() {
        return Err(format!("{MANIFEST_PATH} lists no exhibits"));
    }
    let audit = manifest
        .audit
        .as_ref()
        .ok_or_else(|| format!("{MANIFEST_PATH} has no audit extract"))?;

    let (checkpoint, cp_bytes) = checkpoint(&mut pkg, &manifest, audit, trusted)?;
    report.log_origin = Some(checkpoint.origin.clone());
    report.tree_size = Some(checkpoint.size);
    if checkpoint.size != audit.tree_size {
        report.fail(format!(
            "{}: the checkpoint is at {} records, the manifest says {}",
            audit.checkpoint, checkpoint.size, audit.tree_size
        ));
    }

    check_files(&mut pkg, &manifest, report);
    let records = check_records(&mut pkg, audit, &checkpoint, &cp_bytes, report);
    for item in &manifest.items {
        let chain = records.get(&item.recording).map_or(&[][..], Vec::as_slice);
        check_item(item, chain, &manifest, &core, report);
    }
    report.not_proven = vec![
        format!(
            "anything recorded after the checkpoint ({} records)",
            checkpoint.size
        ),
        "records about other items are not in this extract: holds placed on the case as a \
         whole are on the case's chain, so only holds on the recordings themselves are checked"
            .into(),
        "that the log was not rewritten between packages: no consistency proof from an \
         earlier checkpoint is checked"
            .into(),
        "that the clocks of the recording, uploading and disclosing systems were right".into(),
    ];
    Ok(())
}

/// The checkpoint: signed by a pinned key, for the log the manifest names, and that key's name
/// is the log's. Without it nothing else can be proved, so a failure here ends the check.
fn checkpoint(
    pkg: &mut Package,
    manifest: &Manifest,
    audit: &AuditExtract,
    trusted: &[String],
) -> Result<(VerifiedCheckpoint, Vec<u8>), String> {
    let bytes = pkg.read(&audit.checkpoint, 1 << 16)?;
    let origin = &manifest.log_origin;
    let keys: Vec<&str> = trusted
        .iter()
        .map(String::as_str)
        .filter(|k| k.split('+').next() == Some(origin.as_str()))
        .collect();
    if keys.is_empty() {
        return Err(format!(
            "no trusted key is for log {origin:?}: the package is from a log you do not trust"
        ));
    }
    let cp = verify_checkpoint_by(&bytes, &keys, origin)
        .map_err(|e| format!("{}: {e}", audit.checkpoint))?;
    Ok((cp, bytes))
}

/// Every listed file is there with its hash and size, streamed; and the package holds nothing
/// else: every entry is exactly one listed file or a folder one implies, stored as it is.
fn check_files(pkg: &mut Package, manifest: &Manifest, report: &mut Report) {
    let mut listed: Vec<&str> = vec![MANIFEST_PATH];
    listed.extend(manifest.all_files().map(|f| f.path.as_str()));
    if let Some(audit) = &manifest.audit {
        listed.push(&audit.checkpoint);
        for r in &audit.records {
            listed.push(&r.leaf);
            listed.push(&r.proof);
        }
    }
    let layout = match Layout::new(listed) {
        Ok(layout) => layout,
        Err(e) => {
            report.fail(format!("{MANIFEST_PATH}: {e}"));
            return;
        }
    };
    for f in manifest.all_files() {
        match pkg.hash(&f.path, f.size) {
            Ok(sha) => {
                report.files_checked += 1;
                report.bytes_hashed += f.size;
                if sha != f.sha256 {
                    report.fail(format!(
                        "{}: SHA-256 is {sha}, the manifest says {}: the file was altered",
                        f.path, f.sha256
                    ));
                }
            }
            Err(e) => report.fail(e),
        }
    }
    match pkg.entries() {
        Ok(entries) => {
            for e in entries {
                if let Some(problem) = &e.problem {
                    report.fail(format!("entry {:?} {problem}", e.name));
                    continue;
                }
                let known = match e.kind {
                    EntryKind::File => layout.is_file(&e.name),
                    EntryKind::Folder => layout.is_folder(&e.name),
                };
                if !known {
                    report.fail(layout.refuse(&e.name, e.kind == EntryKind::Folder));
                }
            }
        }
        Err(e) => report.fail(format!("listing the package: {e}")),
    }
}

/// Each record: canonical leaf bytes, a proof for its own index leading to the checkpoint's
/// root, and the very checkpoint the package carries.
fn check_records(
    pkg: &mut Package,
    audit: &AuditExtract,
    cp: &VerifiedCheckpoint,
    cp_bytes: &[u8],
    report: &mut Report,
) -> HashMap<Uuid, Vec<Verified>> {
    let mut by_item: HashMap<Uuid, Vec<Verified>> = HashMap::new();
    for entry in &audit.records {
        let checked = (|| -> Result<Verified, String> {
            check_path(&entry.leaf)?;
            check_path(&entry.proof)?;
            let leaf = pkg.read(&entry.leaf, 1 << 20)?;
            let record = Record::parse(&leaf).map_err(|e| format!("{}: {e}", entry.leaf))?;
            let proof_bytes = pkg.read(&entry.proof, 1 << 20)?;
            let proof =
                TlogProof::parse(&proof_bytes).map_err(|e| format!("{}: {e}", entry.proof))?;
            if proof.index != entry.index {
                return Err(format!(
                    "{}: proves record {}, the manifest lists it as record {}",
                    entry.proof, proof.index, entry.index
                ));
            }
            if entry.index >= cp.size {
                return Err(format!(
                    "{}: record {} is beyond the checkpoint's {} records",
                    entry.leaf, entry.index, cp.size
                ));
            }
            if proof.checkpoint != cp_bytes {
                return Err(format!(
                    "{}: the proof leads to a different checkpoint than {}",
                    entry.proof, audit.checkpoint
                ));
            }
            let hash = leaf_hash(&leaf);
            if !verify_inclusion(entry.index, cp.size, &hash, &proof.hashes, &cp.root) {
                return Err(format!(
                    "{}: is not record {} of the log under the signed checkpoint (edited, \
                     swapped or reordered)",
                    entry.leaf, entry.index
                ));
            }
            if record.log != cp.origin {
                return Err(format!(
                    "{}: is a record of log {:?}, not of {:?}",
                    entry.leaf, record.log, cp.origin
                ));
            }
            if record.item.id != entry.item {
                return Err(format!(
                    "{}: is about item {}, the manifest says {}",
                    entry.leaf, record.item.id, entry.item
                ));
            }
            Ok(Verified {
                index: entry.index,
                hash,
                record,
            })
        })();
        match checked {
            Ok(v) => {
                report.records_checked += 1;
                by_item.entry(entry.item).or_default().push(v);
            }
            Err(e) => report.fail(e),
        }
    }
    for chain in by_item.values_mut() {
        chain.sort_by_key(|v| v.record.item.seq);
    }
    by_item
}

fn has_object(record: &Record, sha: &str, role: Option<&str>) -> bool {
    record
        .object
        .iter()
        .any(|o| o.sha256 == sha && role.is_none_or(|r| o.role.as_deref() == Some(r)))
}

/// One exhibit's chain: complete from its first record, linked by hashes, starting at the
/// footage's arrival, deriving every packaged file from the original, ending in this
/// disclosure, and never deleted while held.
fn check_item(
    item: &super::manifest::Item,
    chain: &[Verified],
    manifest: &Manifest,
    core: &str,
    report: &mut Report,
) {
    let who = format!("exhibit {} (recording {})", item.exhibit, item.recording);
    let Some(first) = chain.first() else {
        report.fail(format!(
            "{who}: the package holds none of its audit records"
        ));
        return;
    };
    let mut previous: Option<&Verified> = None;
    for v in chain {
        let expected = previous.map_or(1, |p| p.record.item.seq + 1);
        if v.record.item.seq != expected {
            report.fail(format!(
                "{who}: record {} of its chain is missing (the chain goes from {} to {})",
                expected,
                expected - 1,
                v.record.item.seq
            ));
            return;
        }
        let linked = match previous {
            None => v.record.item.prev.is_none() && v.record.item.prev_index.is_none(),
            Some(p) => {
                v.record.item.prev.as_deref() == Some(B64.encode(p.hash).as_str())
                    && v.record.item.prev_index == Some(p.index)
            }
        };
        if !linked {
            report.fail(format!(
                "{who}: record {} (log index {}) does not link to the record before it",
                v.record.item.seq, v.index
            ));
        }
        if previous.is_some_and(|p| p.record.ts > v.record.ts) {
            report.warnings.push(format!(
                "{who}: record {} is timed before the record it follows",
                v.record.item.seq
            ));
        }
        previous = Some(v);
    }
    if !matches!(first.record.event.as_str(), "ingest" | "transfer_started") {
        report.fail(format!(
            "{who}: its chain starts with {:?}, not with the footage's arrival",
            first.record.event
        ));
    }
    let records = || chain.iter().map(|v| &v.record);
    for f in &item.files {
        let derived_ok = |original: &str| {
            records().any(|r| {
                r.event == "media_processed"
                    && has_object(r, original, Some("original"))
                    && has_object(r, &f.sha256, Some(&f.role))
            })
        };
        let ok = match (f.role.as_str(), &f.original_sha256, &f.source_sha256) {
            ("original", None, None) => {
                records().any(|r| r.event == "ingest" && has_object(r, &f.sha256, None))
            }
            ("excerpt", Some(original), Some(source)) => {
                records().any(|r| {
                    r.event == "excerpt_made"
                        && has_object(r, source, Some("disclosure"))
                        && has_object(r, &f.sha256, Some("excerpt"))
                }) && records().any(|r| {
                    r.event == "media_processed"
                        && has_object(r, original, Some("original"))
                        && has_object(r, source, Some("disclosure"))
                })
            }
            (_, Some(original), None) => derived_ok(original),
            _ => false,
        };
        let from_ingest = f
            .original_sha256
            .as_ref()
            .is_none_or(|o| records().any(|r| r.event == "ingest" && has_object(r, o, None)));
        if !ok || !from_ingest {
            report.fail(format!(
                "{who}: {} ({}) is not derived from the ingested original by any record of its chain",
                f.path, f.role
            ));
        }
    }
    let disclosed = records().find(|r| {
        r.event == "disclosed"
            && r.result.as_ref().and_then(|v| v.get("package_id"))
                == Some(&Value::String(manifest.package_id.to_string()))
    });
    match disclosed {
        None => report.fail(format!(
            "{who}: no disclosure record for package {}",
            manifest.package_id
        )),
        Some(r) => {
            if r.manifest_sha256.as_deref() != Some(core) {
                report.fail(format!(
                    "{who}: the disclosure record names manifest {}, but {MANIFEST_PATH} hashes \
                     to {core}: the manifest was changed after disclosure",
                    r.manifest_sha256.as_deref().unwrap_or("(none)")
                ));
            }
            if r.recipient != manifest.recipient || r.purpose != manifest.purpose {
                report.fail(format!(
                    "{who}: the disclosure record's recipient or purpose differs from the manifest's"
                ));
            }
        }
    }
    check_holds(&who, chain, report);
}

/// No deletion while a hold on the recording was in force.
fn check_holds(who: &str, chain: &[Verified], report: &mut Report) {
    let mut holds: BTreeMap<String, Option<String>> = BTreeMap::new();
    for v in chain {
        let r = &v.record;
        let hold = r
            .result
            .as_ref()
            .and_then(|x| x.get("hold"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        match (r.event.as_str(), hold) {
            ("hold_placed", Some(h)) => {
                let until = r
                    .result
                    .as_ref()
                    .and_then(|x| x.get("until"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                holds.insert(h, until);
            }
            ("hold_released", Some(h)) => {
                holds.remove(&h);
            }
            // Timestamps share one format, so they compare as text.
            ("recording_deleted" | "recording_purged", _)
                if holds.values().any(|u| u.as_ref().is_none_or(|u| *u > r.ts)) =>
            {
                report.fail(format!(
                    "{who}: record {} ({}) deletes footage while a hold was in force",
                    r.item.seq, r.event
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Actor, EventDraft, ItemLink};
    use crate::holds::{HoldPlaced, HoldReleased, Recomputed};
    use chrono::{Duration, Utc};

    /// The chain of one recording: each event `minutes` after the first.
    fn chain(events: Vec<(EventDraft, i64)>) -> Vec<Verified> {
        let id = Uuid::now_v7();
        let start = Utc::now();
        events
            .into_iter()
            .enumerate()
            .map(|(i, (draft, minutes))| {
                let link = ItemLink {
                    id,
                    kind: "recording".into(),
                    seq: i as u64 + 1,
                    prev: None,
                    prev_index: None,
                };
                Verified {
                    index: i as u64,
                    hash: [0; 32],
                    record: Record::build("o", draft, link, start + Duration::minutes(minutes)),
                }
            })
            .collect()
    }

    fn event(name: &str) -> EventDraft {
        EventDraft::new(name, Actor::user("staff:1"), "recording", Uuid::nil())
    }

    const RETENTION: Recomputed<'static> = Recomputed {
        recomputed: 1,
        policy_sha256: "00",
    };

    fn placed(hold: Uuid, until: Option<&str>) -> EventDraft {
        event("hold_placed")
            .with_result(&HoldPlaced {
                hold,
                reason: "test",
                objects_locked: 1,
                retention: RETENTION,
                already_purged: &[],
                until: until.map(str::to_owned),
            })
            .unwrap()
    }

    fn released(hold: Uuid) -> EventDraft {
        event("hold_released")
            .with_result(&HoldReleased {
                hold,
                reason: "test",
                retention: RETENTION,
            })
            .unwrap()
    }

    fn failures(events: Vec<(EventDraft, i64)>) -> Vec<String> {
        let mut report = Report::default();
        check_holds("exhibit X", &chain(events), &mut report);
        report.failures
    }

    #[test]
    fn deletion_while_held_fails() {
        let until = crate::audit::record::format_ts(Utc::now() + Duration::minutes(5));
        let (h1, h2) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            failures(vec![(placed(h1, None), 0), (event("recording_deleted"), 1)]).len(),
            1
        );
        assert!(
            failures(vec![
                (placed(h1, None), 0),
                (released(h1), 1),
                (event("recording_deleted"), 2),
            ])
            .is_empty()
        );
        assert_eq!(
            failures(vec![
                (placed(h2, Some(&until)), 0),
                (event("recording_purged"), 1)
            ])
            .len(),
            1,
            "deleted before the hold lapsed"
        );
        assert!(
            failures(vec![
                (placed(h2, Some(&until)), 0),
                (event("recording_deleted"), 10)
            ])
            .is_empty(),
            "deleted after it lapsed"
        );
    }
}
