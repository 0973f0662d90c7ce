//! `manifest.json`: every file of a package with its SHA-256, and the audit extract that proves
//! where each came from. The manifest is RFC 8785 canonical JSON, so the bytes are the manifest
//! and anyone can recompute its hash. The disclosure's audit record names the hash of the
//! manifest *core* (everything but the `audit` section, which can only be written once that
//! record is in the log), binding every file hash to the signed checkpoint.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const MANIFEST_PATH: &str = "manifest.json";
pub const MANIFEST_VERSION: u64 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub v: u64,
    pub package_id: Uuid,
    pub created_at: String,
    pub case: CaseRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub disclosed_by: String,
    pub log_origin: String,
    /// The exhibits, each with its media.
    pub items: Vec<Item>,
    /// Schedules, statements, the index page, instructions and the log's key.
    pub files: Vec<FileEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditExtract>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CaseRef {
    pub urn: String,
    pub offence: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub recording: Uuid,
    pub exhibit: String,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub media_type: String,
    /// `original`, `disclosure`, `excerpt`, `poster`, `schedule`, `statement`, `index`,
    /// `instructions`, `key`.
    pub role: String,
    /// For media derived from footage: the original it derives from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_sha256: Option<String>,
    /// For an excerpt: the disclosure copy it was cut from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditExtract {
    /// Path of the signed checkpoint every proof leads to.
    pub checkpoint: String,
    pub tree_size: u64,
    pub records: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub index: u64,
    pub item: Uuid,
    pub leaf: String,
    pub proof: String,
}

/// RFC 8785 bytes of a JSON value.
pub fn canonical(value: &Value) -> Result<Vec<u8>, String> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| format!("canonicalising: {e}"))
}

/// SHA-256 (hex) of the manifest core: the manifest without its `audit` section.
pub fn core_sha256(manifest: &Value) -> Result<String, String> {
    let mut core = manifest.clone();
    if let Value::Object(map) = &mut core {
        map.remove("audit");
    }
    Ok(hex::encode(Sha256::digest(canonical(&core)?)))
}

impl Manifest {
    pub fn to_value(&self) -> Result<Value, String> {
        serde_json::to_value(self).map_err(|e| format!("serialising the manifest: {e}"))
    }

    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        canonical(&self.to_value()?)
    }

    /// Every file the manifest lists, media first.
    pub fn all_files(&self) -> impl Iterator<Item = &FileEntry> {
        self.items
            .iter()
            .flat_map(|i| i.files.iter())
            .chain(self.files.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_hash_ignores_only_the_audit_section() {
        let m = Manifest {
            v: 1,
            package_id: Uuid::nil(),
            created_at: "2026-11-26T00:00:00.000Z".into(),
            case: CaseRef {
                urn: "01AB".into(),
                offence: "Assault".into(),
            },
            recipient: Some("CPS".into()),
            purpose: None,
            disclosed_by: "os:spoc".into(),
            log_origin: "bwv.test/v1".into(),
            items: vec![],
            files: vec![],
            audit: None,
        };
        let core = core_sha256(&m.to_value().unwrap()).unwrap();
        let mut with_audit = m.clone();
        with_audit.audit = Some(AuditExtract {
            checkpoint: "audit/checkpoint.txt".into(),
            tree_size: 3,
            records: vec![],
        });
        assert_eq!(core_sha256(&with_audit.to_value().unwrap()).unwrap(), core);
        let mut edited = m.clone();
        edited.recipient = Some("Defence".into());
        assert_ne!(core_sha256(&edited.to_value().unwrap()).unwrap(), core);
    }
}
