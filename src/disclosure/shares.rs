//! Sharing a disclosure package with the CPS or the defence by link, the way forces now send
//! footage (the NPCC/CPS agreement on sharing multimedia evidence through DEMS): a named
//! recipient, an unguessable link, a passcode given separately, an expiry, revocable at any
//! time. The recipient needs no account. Every open, play and download through a share is an
//! audit record on the share's own chain, naming the recipient: the s.62 disclosure log.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::kept;
use super::manifest::{FileEntry, MANIFEST_PATH, Manifest};
use super::reader::Package;
use crate::access::{Permission, Principal};
use crate::audit::record::{Actor, EventDraft, Record, format_ts};
use crate::catalogue::ShareRow;
use crate::context::Context;
use crate::docks::{hash_secret, random_token, verify_secret};
use crate::error::{Code, Error, Result};

/// The longest a link may live: a share is for a hearing's preparation, not an archive.
pub const MAX_DAYS: u32 = 90;
/// A passcode's characters: no 0/O or 1/I/L to misread over the phone.
const PASSCODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const PASSCODE_LEN: usize = 10;
const ITEM_KIND: &str = "share";

/// What a person asks for when sharing.
pub struct NewShare {
    pub package: Uuid,
    pub recipient: String,
    pub days: u32,
}

/// A share made: the link's secret and the passcode are shown once, to the person who made it.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub share: Uuid,
    /// The path of the link on this server: `/s/<token>`.
    pub path: String,
    pub passcode: String,
    pub expires_at: DateTime<Utc>,
}

/// What was done through a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShareUse {
    /// The recipient gave the passcode and opened the package's page.
    Opened,
    /// A file played or shown in the browser.
    Viewed,
    /// A file, or the whole package, downloaded.
    Downloaded,
}

/// `share_created`: the package, its case, the recipient and until when.
#[derive(Serialize)]
struct ShareCreated<'a> {
    package: Uuid,
    case: &'a str,
    expires_at: String,
}

/// `share_used`: what the recipient did, and with which file.
#[derive(Serialize)]
struct ShareUsed<'a> {
    what: ShareUse,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    package: Uuid,
}

/// `share_revoked`.
#[derive(Serialize)]
struct ShareRevoked {
    package: Uuid,
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn passcode() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..PASSCODE_LEN)
        .map(|_| char::from(PASSCODE_ALPHABET[rng.gen_range(0..PASSCODE_ALPHABET.len())]))
        .collect()
}

/// Who acts through a share, as the audit log names them: the share, never a person's account.
fn recipient_actor(s: &ShareRow) -> Actor {
    Actor::user(format!("share:{}", s.id))
}

pub async fn create(ctx: &Context<'_>, who: &Principal, n: NewShare) -> Result<Created> {
    who.require(Permission::Disclose)?;
    let recipient = n.recipient.trim();
    if recipient.is_empty() || recipient.chars().count() > 200 {
        return Err(Error::bad_input(
            "name the recipient (at most 200 characters): the law requires a disclosure to record who received it",
        ));
    }
    if !(1..=MAX_DAYS).contains(&n.days) {
        return Err(Error::bad_input(format!(
            "a share lasts 1 to {MAX_DAYS} days, not {}",
            n.days
        )));
    }
    let (pack, _) = kept::find(ctx, n.package)?;
    let now = crate::domain::now();
    let kept_until = kept::kept_until(ctx, n.package)?;
    let expires_at = (now + Duration::days(i64::from(n.days))).min(kept_until);
    if expires_at <= now {
        return Err(Error::new(
            Code::Gone,
            format!(
                "package {} is about to be removed from the server: build it again",
                n.package
            ),
        ));
    }
    let token = random_token(32);
    let code = passcode();
    let row = ShareRow {
        id: Uuid::now_v7(),
        package_id: n.package,
        case_urn: pack.case.clone(),
        recipient: recipient.to_owned(),
        token_sha256: digest(&token),
        passcode_hash: hash_secret(code.clone()).await?,
        created_by: who.actor.id.clone(),
        created_at: now,
        expires_at,
        revoked_at: None,
        revoked_by: None,
    };
    let mut event = EventDraft::new("share_created", who.actor.clone(), ITEM_KIND, row.id)
        .with_result(&ShareCreated {
            package: n.package,
            case: &pack.case,
            expires_at: format_ts(expires_at),
        })?;
    event.recipient = Some(row.recipient.clone());
    let mut tx = ctx.catalogue.begin().await?;
    tx.insert_share(&row).await?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(Created {
        share: row.id,
        path: format!("/s/{token}"),
        passcode: code,
        expires_at,
    })
}

pub async fn revoke(ctx: &Context<'_>, who: &Principal, id: Uuid) -> Result<ShareRow> {
    who.require(Permission::Disclose)?;
    let share = ctx
        .catalogue
        .share(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("no share {id}")))?;
    let mut event = EventDraft::new("share_revoked", who.actor.clone(), ITEM_KIND, id)
        .with_result(&ShareRevoked {
            package: share.package_id,
        })?;
    event.recipient = Some(share.recipient.clone());
    let mut tx = ctx.catalogue.begin().await?;
    if !tx
        .revoke_share(id, &who.actor.id, crate::domain::now())
        .await?
    {
        return Err(Error::new(
            Code::Conflict,
            format!("share {id} is already revoked"),
        ));
    }
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    Ok(share)
}

/// One thing done through a share, as the person who shared it reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Use {
    pub at: String,
    pub event: String,
    pub what: Option<String>,
    pub file: Option<String>,
}

/// A case's shares, each with what was done through it.
pub async fn list(
    ctx: &Context<'_>,
    who: &Principal,
    urn: &str,
) -> Result<Vec<(ShareRow, Vec<Use>)>> {
    who.require(Permission::Disclose)?;
    let mut out = Vec::new();
    for share in ctx.catalogue.shares_of(urn).await? {
        let uses = ctx
            .catalogue
            .item_leaves(share.id)
            .await?
            .iter()
            .filter_map(|l| Record::parse(&l.leaf).ok())
            .map(|r| {
                let field = |k: &str| {
                    r.result
                        .as_ref()
                        .and_then(|v| v.get(k))
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                };
                Use {
                    at: r.ts.clone(),
                    what: field("what"),
                    file: field("file"),
                    event: r.event,
                }
            })
            .collect();
        out.push((share, uses));
    }
    Ok(out)
}

/// The share a link names, if it may still be used; expired and revoked links say so and
/// nothing else.
pub async fn find(ctx: &Context<'_>, token: &str) -> Result<ShareRow> {
    let share = ctx
        .catalogue
        .share_by_token(&digest(token))
        .await?
        .ok_or_else(|| Error::not_found("this link is not known: check it was copied whole"))?;
    if share.revoked_at.is_some() {
        return Err(Error::new(
            Code::Gone,
            "this link has been revoked by the police force",
        ));
    }
    if share.expires_at <= crate::domain::now() {
        return Err(Error::new(
            Code::Gone,
            format!(
                "this link expired on {}",
                share.expires_at.format("%Y-%m-%d %H:%M UTC")
            ),
        ));
    }
    Ok(share)
}

/// Checks the passcode given for a share, and records the opening.
pub async fn unlock(ctx: &Context<'_>, share: &ShareRow, given: &str) -> Result<()> {
    let given = given.trim().to_ascii_uppercase().replace(['-', ' '], "");
    if !verify_secret(given, Some(share.passcode_hash.clone())).await? {
        return Err(Error::new(
            Code::Unauthorized,
            "that passcode is not right for this link",
        ));
    }
    record(ctx, share, ShareUse::Opened, None).await
}

/// Appends the audit record of one use through a share.
pub async fn record(
    ctx: &Context<'_>,
    share: &ShareRow,
    what: ShareUse,
    file: Option<&str>,
) -> Result<()> {
    let mut event = EventDraft::new("share_used", recipient_actor(share), ITEM_KIND, share.id)
        .with_result(&ShareUsed {
            what,
            file,
            package: share.package_id,
        })?;
    event.recipient = Some(share.recipient.clone());
    let mut tx = ctx.catalogue.begin().await?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await
}

/// The package a share opens: its manifest, as the package's own page shows it.
pub fn manifest(ctx: &Context<'_>, share: &ShareRow) -> Result<Manifest> {
    let (_, path) = kept::find(ctx, share.package_id)?;
    let bad = |e: String| Error::new(Code::Io, format!("package {}: {e}", share.package_id));
    let mut pkg = Package::open(&path).map_err(bad)?;
    let bytes = pkg.read(MANIFEST_PATH, 64 << 20).map_err(bad)?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("{MANIFEST_PATH}: {e}")))
}

/// The audit records the package carries (each with its inclusion proof), oldest first: the
/// continuity of every exhibit from ingest to this disclosure.
pub fn continuity(ctx: &Context<'_>, share: &ShareRow, m: &Manifest) -> Result<Vec<Record>> {
    let Some(audit) = &m.audit else {
        return Ok(Vec::new());
    };
    let (_, path) = kept::find(ctx, share.package_id)?;
    let bad = |e: String| Error::new(Code::Io, format!("package {}: {e}", share.package_id));
    let mut pkg = Package::open(&path).map_err(bad)?;
    let mut records = Vec::with_capacity(audit.records.len());
    for entry in &audit.records {
        let bytes = pkg.read(&entry.leaf, 1 << 20).map_err(bad)?;
        records.push(Record::parse(&bytes).map_err(bad)?);
    }
    Ok(records)
}

/// One file of a shared package, to stream from the kept ZIP: the ZIP, where the file starts in
/// it, and what the manifest says of it. Only files the manifest lists are served.
pub fn file(
    ctx: &Context<'_>,
    share: &ShareRow,
    name: &str,
) -> Result<(std::path::PathBuf, u64, FileEntry)> {
    let listed = manifest(ctx, share)?
        .all_files()
        .find(|f| f.path == name)
        .cloned()
        .ok_or_else(|| Error::not_found(format!("the package has no file {name:?}")))?;
    let (_, path) = kept::find(ctx, share.package_id)?;
    let bad = |e: String| Error::new(Code::Io, format!("package {}: {e}", share.package_id));
    let (offset, size) = Package::open(&path)
        .and_then(|mut p| p.stored_region(name))
        .map_err(bad)?;
    if size != listed.size {
        return Err(bad(format!(
            "{name} is {size} bytes, not the {} its manifest lists",
            listed.size
        )));
    }
    Ok((path, offset, listed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passcodes_are_long_and_unambiguous() {
        let a = passcode();
        assert_eq!(a.len(), PASSCODE_LEN);
        assert!(a.bytes().all(|b| PASSCODE_ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, passcode());
    }
}
