//! Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519.
//!
//! The signer is also the log's first witness: it remembers the last (size, root) it signed in
//! a state file beside the key, and signs a new checkpoint only after checking a consistency
//! proof from that one. Rewriting history in the database alone therefore never gets signed.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use signed_note::{Note, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::error::{Code, Error, Result, ResultExt};

/// The log's signing key, loaded from (or created at) a file holding the Go note private key
/// text. The file must be private to its owner.
pub struct LogKey {
    signer: StandardSigner,
    vkey: String,
    path: PathBuf,
}

/// Writes a new signing key where there is none. Two processes started at once on a fresh data
/// directory both come here: each writes a whole key to a file of its own, the first to link
/// it into place wins, and the other loads the winner's. (Made in place, the second failed
/// with "File exists", or could have read a key half written.)
fn create_key(path: &Path, origin: &str) -> Result<()> {
    let (skey, _) = signed_note::generate_key(&mut rand::rngs::OsRng, origin);
    let mut own = path.as_os_str().to_owned();
    own.push(format!(".{}.new", uuid::Uuid::new_v4()));
    let own = PathBuf::from(own);
    let linked = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&own)
        .and_then(|mut f| {
            f.write_all(format!("{skey}\n").as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| match std::fs::hard_link(&own, path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            linked => linked,
        });
    let _ = std::fs::remove_file(&own);
    linked.context(|| format!("creating log signing key {}", path.display()))?;
    // The key's name is durable before anything is signed with it.
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .context(|| {
            format!(
                "syncing {} after creating the log signing key",
                dir.display()
            )
        })
}

impl LogKey {
    pub fn load_or_create(path: &Path, origin: &str) -> Result<LogKey> {
        if !path.exists() {
            create_key(path, origin)?;
        }
        let meta = std::fs::metadata(path)
            .context(|| format!("reading log signing key {}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(Error::new(
                Code::Config,
                format!(
                    "log signing key {} is readable by others (mode {:o}); run chmod 600 on it",
                    path.display(),
                    meta.permissions().mode() & 0o777
                ),
            ));
        }
        let text = std::fs::read_to_string(path)
            .context(|| format!("reading log signing key {}", path.display()))?;
        let skey = text.trim();
        let signer = StandardSigner::new(skey).map_err(|e| {
            Error::new(
                Code::Config,
                format!("log signing key {} is malformed: {e}", path.display()),
            )
        })?;
        let name = skey.split('+').nth(2).unwrap_or_default();
        if name != origin {
            return Err(Error::new(
                Code::Config,
                format!(
                    "log signing key {} is for origin {name:?} but log.origin is {origin:?}",
                    path.display()
                ),
            ));
        }
        let vkey = verifier_key_from_skey(skey)?;
        Ok(LogKey {
            signer,
            vkey,
            path: path.to_owned(),
        })
    }

    /// The public verifier key text (`origin+keyid+base64`), to publish and give to verifiers.
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    fn state_path(&self) -> PathBuf {
        self.path.with_extension("state")
    }

    /// The last (size, root) this key signed, if any.
    pub fn last_signed(&self) -> Result<Option<(u64, [u8; 32])>> {
        let path = self.state_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context(|| format!("reading signer state {}", path.display())),
        };
        parse_state(&text).map(Some).ok_or_else(|| {
            Error::audit(format!(
                "signer state {} is malformed: {text:?}",
                path.display()
            ))
        })
    }

    /// Signs a checkpoint for (size, root). `consistency` must prove the last signed tree is a
    /// prefix of this one; the caller fetches it from the log.
    pub fn sign(
        &self,
        origin: &str,
        size: u64,
        root: [u8; 32],
        consistency: impl FnOnce(u64) -> Result<Vec<Vec<u8>>>,
    ) -> Result<Vec<u8>> {
        if let Some((old_size, old_root)) = self.last_signed()? {
            let consistent = if old_size > size {
                false
            } else if old_size == size || old_size == 0 {
                old_size == 0 || old_root == root
            } else {
                let proof = consistency(old_size)?;
                super::merkle::verify_consistency(old_size, size, &proof, &old_root, &root)
            };
            if !consistent {
                return Err(Error::audit(format!(
                    "refusing to sign tree size {size}: it is not consistent with the last signed \
                     checkpoint (size {old_size}); the log has been rewritten"
                )));
            }
        }
        let body = Checkpoint::new(origin, size, Hash(root), "")
            .map_err(|e| Error::audit(format!("formatting checkpoint: {e}")))?
            .to_bytes();
        let mut note =
            Note::new(&body, &[]).map_err(|e| Error::audit(format!("checkpoint note: {e}")))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| Error::audit(format!("signing checkpoint: {e}")))?;
        self.save_state(size, root)?;
        Ok(note.to_bytes())
    }

    fn save_state(&self, size: u64, root: [u8; 32]) -> Result<()> {
        let path = self.state_path();
        let tmp = path.with_extension("state.tmp");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(format!("{size}\n{}\n", B64.encode(root)).as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().context(|| format!("saving signer state {}", path.display()))
    }
}

fn parse_state(text: &str) -> Option<(u64, [u8; 32])> {
    let mut lines = text.lines();
    let size = lines.next()?.parse().ok()?;
    let root = B64.decode(lines.next()?).ok()?.try_into().ok()?;
    Some((size, root))
}

/// Derives the verifier key text from Go-format private key text.
fn verifier_key_from_skey(skey: &str) -> Result<String> {
    let bad = || Error::new(Code::Config, "log signing key is malformed");
    let mut parts = skey.splitn(5, '+');
    let (name, key64) = (parts.nth(2).ok_or_else(bad)?, parts.nth(1).ok_or_else(bad)?);
    let key = B64.decode(key64).map_err(|_| bad())?;
    let seed: [u8; 32] = key
        .get(1..)
        .and_then(|k| k.try_into().ok())
        .ok_or_else(bad)?;
    let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
    Ok(signed_note::new_ed25519_verifier_key(
        name,
        &signing.verifying_key(),
    ))
}

/// A checkpoint that verified: the tree it commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

/// Verifies a signed checkpoint note against one trusted verifier key and the expected origin.
pub fn verify_checkpoint(note: &[u8], vkey: &str, origin: &str) -> Result<VerifiedCheckpoint> {
    verify_checkpoint_by(note, &[vkey], origin)
}

/// Verifies a signed checkpoint against trusted verifier keys: at least one must have signed
/// it, and a trusted key's signature that fails rejects it (as Go's `note.Open` does).
pub fn verify_checkpoint_by(
    note: &[u8],
    vkeys: &[&str],
    origin: &str,
) -> Result<VerifiedCheckpoint> {
    let mut verifiers: Vec<Box<dyn signed_note::Verifier>> = Vec::new();
    for vkey in vkeys {
        let verifier = StandardVerifier::new(vkey.trim())
            .map_err(|e| Error::bad_input(format!("trusted key {vkey:?} is malformed: {e}")))?;
        verifiers.push(Box::new(verifier));
    }
    let parsed = Note::from_bytes(note)
        .map_err(|e| Error::audit(format!("checkpoint is not a well-formed signed note: {e}")))?;
    parsed
        .verify(&VerifierList::new(verifiers))
        .map_err(|e| match e {
            signed_note::NoteError::UnverifiedNote => Error::audit(
                "checkpoint signature does not verify: it is not signed by any trusted key",
            ),
            e => Error::audit(format!("checkpoint signature does not verify: {e}")),
        })?;
    let cp = Checkpoint::from_bytes(parsed.text())
        .map_err(|e| Error::audit(format!("checkpoint body is malformed: {e}")))?;
    if cp.origin() != origin {
        return Err(Error::audit(format!(
            "checkpoint is for log {:?}, expected {origin:?}",
            cp.origin()
        )));
    }
    if !cp.extension().is_empty() {
        return Err(Error::audit(
            "checkpoint carries extension lines, which bwv never signs",
        ));
    }
    Ok(VerifiedCheckpoint {
        origin: cp.origin().into(),
        size: cp.size(),
        root: cp.hash().0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct SignedNoteVector {
        private_key: String,
        verifier_key: String,
        text: String,
        signature_line: String,
        note: String,
    }

    fn vector() -> SignedNoteVector {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/testdata/audit-vectors.json"
        );
        let all: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        serde_json::from_value(all["signed_note"].clone()).unwrap()
    }

    #[test]
    fn signs_the_go_note_vector_byte_for_byte() {
        let v = vector();
        let signer = StandardSigner::new(&v.private_key).unwrap();
        let mut note = Note::new(v.text.as_bytes(), &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        let bytes = note.to_bytes();
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), v.note);
        assert!(v.note.ends_with(&format!("{}\n", v.signature_line)));
        assert_eq!(
            verifier_key_from_skey(&v.private_key).unwrap(),
            v.verifier_key
        );
        let ok = Note::from_bytes(&bytes)
            .unwrap()
            .verify(&VerifierList::new(vec![Box::new(
                StandardVerifier::new(&v.verifier_key).unwrap(),
            )]));
        assert!(ok.is_ok());
    }

    #[test]
    fn key_file_is_private_and_checkpoints_verify() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let key = LogKey::load_or_create(&path, "bwv.test/v1").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let root = [7u8; 32];
        let note = key
            .sign("bwv.test/v1", 1, root, |_| unreachable!())
            .unwrap();
        let cp = verify_checkpoint(&note, key.vkey(), "bwv.test/v1").unwrap();
        assert_eq!((cp.size, cp.root), (1, root));
        assert!(verify_checkpoint(&note, key.vkey(), "other/v1").is_err());

        let other = LogKey::load_or_create(&dir.path().join("other.key"), "bwv.test/v1").unwrap();
        assert!(verify_checkpoint(&note, other.vkey(), "bwv.test/v1").is_err());

        // The same key refuses a tree that does not extend what it signed.
        let forged = key.sign("bwv.test/v1", 1, [8u8; 32], |_| unreachable!());
        assert!(forged.is_err());
        let shrunk = key.sign(
            "bwv.test/v1",
            0,
            tlog_tiles::EMPTY_HASH.0,
            |_| unreachable!(),
        );
        assert!(shrunk.is_err());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(LogKey::load_or_create(&path, "bwv.test/v1").is_err());
    }

    /// Processes starting at once on a fresh data directory all get the one key made.
    #[test]
    fn a_key_made_by_many_at_once_is_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let start = std::sync::Barrier::new(8);
        let keys: Vec<String> = std::thread::scope(|scope| {
            let made: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        start.wait();
                        LogKey::load_or_create(&path, "bwv.test/v1").map(|k| k.vkey().to_owned())
                    })
                })
                .collect();
            made.into_iter()
                .map(|m| m.join().unwrap().expect("every starter loads a key"))
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the key is left: {left:?}");
    }
}
