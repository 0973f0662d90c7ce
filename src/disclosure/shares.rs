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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Created {
    pub share: Uuid,
    pub case: String,
    pub recipient: String,
    /// The path of the link on this server: `/s/<token>`.
    pub path: String,
    /// In two halves, `ABCDE-FGHJK`, to read out over the phone (either form is accepted).
    pub passcode: String,
    pub expires_at: DateTime<Utc>,
}

/// What was done through a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ShareUse {
    /// The recipient gave the passcode and opened the package's page.
    Opened,
    /// A file played or shown in the browser.
    Viewed,
    /// A file, or the whole package, downloaded.
    Downloaded,
}

impl ShareUse {
    /// As the audit record spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ShareUse::Opened => "opened",
            ShareUse::Viewed => "viewed",
            ShareUse::Downloaded => "downloaded",
        }
    }
}

/// `share_created`: the package, its case, the recipient and until when.
#[derive(Serialize)]
struct ShareCreated<'a> {
    package: Uuid,
    case: &'a str,
    expires_at: String,
}

const USED: &str = "share_used";

/// `share_used`: what the recipient did, and with which file.
#[derive(Serialize, serde::Deserialize)]
struct ShareUsed {
    what: ShareUse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    file: Option<String>,
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
    let (pack, _) = kept::find(ctx, n.package)?;
    let recipient = recipient_of(&pack, &n.recipient)?;
    if !(1..=MAX_DAYS).contains(&n.days) {
        return Err(Error::bad_input(format!(
            "a share lasts 1 to {MAX_DAYS} days, not {}",
            n.days
        )));
    }
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
        recipient: recipient.clone(),
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
        case: row.case_urn,
        recipient,
        path: format!("/s/{token}"),
        passcode: format!(
            "{}-{}",
            &code[..PASSCODE_LEN / 2],
            &code[PASSCODE_LEN / 2..]
        ),
        expires_at,
    })
}

/// Whom a share of package `pack` is for: the package names its recipient in its manifest, and
/// a share may only go to them (a package built for the CPS is not the defence's). Left empty,
/// it is the package's recipient.
fn recipient_of(pack: &kept::Kept, given: &str) -> Result<String> {
    let given = given.trim();
    let same = |a: &str, b: &str| a.split_whitespace().eq(b.split_whitespace());
    match pack.recipient.as_deref() {
        Some(built_for) if given.is_empty() || same(given, built_for) => Ok(built_for.to_owned()),
        Some(built_for) => Err(Error::bad_input(format!(
            "package {} was built for {built_for:?}, not {given:?}: build a package for {given:?} to share with them",
            pack.package_id
        ))),
        None if given.is_empty() || given.chars().count() > 200 => Err(Error::bad_input(
            "name the recipient (at most 200 characters): the law requires a disclosure to record who received it",
        )),
        None => Ok(given.to_owned()),
    }
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Use {
    pub at: String,
    pub what: ShareUse,
    pub file: Option<String>,
}

/// A share as the person who shared it sees it: never its link's secret or passcode.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shared {
    pub id: Uuid,
    pub package: Uuid,
    pub case: String,
    pub recipient: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    /// Whether the link opens now.
    pub live: bool,
    /// What was done through it, oldest first.
    pub uses: Vec<Use>,
}

/// A case's shares, newest first, each with what was done through it.
pub async fn list(ctx: &Context<'_>, who: &Principal, urn: &str) -> Result<Vec<Shared>> {
    who.require(Permission::Disclose)?;
    let now = crate::domain::now();
    let mut out = Vec::new();
    for share in ctx.catalogue.shares_of(urn).await? {
        let uses = ctx
            .catalogue
            .item_leaves(share.id)
            .await?
            .iter()
            .filter_map(|l| Record::parse(&l.leaf).ok())
            .filter(|r| r.event == USED)
            .filter_map(|r| {
                let used: ShareUsed = serde_json::from_value(r.result?).ok()?;
                Some(Use {
                    at: r.ts,
                    what: used.what,
                    file: used.file,
                })
            })
            .collect();
        out.push(Shared {
            id: share.id,
            package: share.package_id,
            live: share.revoked_at.is_none() && share.expires_at > now,
            case: share.case_urn,
            recipient: share.recipient,
            created_by: share.created_by,
            created_at: share.created_at,
            expires_at: share.expires_at,
            revoked_at: share.revoked_at,
            revoked_by: share.revoked_by,
            uses,
        });
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
    let mut event = EventDraft::new(USED, recipient_actor(share), ITEM_KIND, share.id)
        .with_result(&ShareUsed {
            what,
            file: file.map(str::to_owned),
            package: share.package_id,
        })?;
    event.recipient = Some(share.recipient.clone());
    let mut tx = ctx.catalogue.begin().await?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(recipient: Option<&str>) -> kept::Kept {
        kept::Kept {
            package_id: Uuid::nil(),
            case: "01AB2345626".into(),
            recipient: recipient.map(str::to_owned),
            built_by: "person:x".into(),
            size: 1,
            manifest_sha256: String::new(),
        }
    }

    #[test]
    fn a_share_goes_only_to_whom_the_package_was_built_for() {
        let cps = pack(Some("CPS, lawyer J. Smith"));
        assert_eq!(recipient_of(&cps, "").unwrap(), "CPS, lawyer J. Smith");
        assert_eq!(
            recipient_of(&cps, " CPS,  lawyer J. Smith ").unwrap(),
            "CPS, lawyer J. Smith"
        );
        let e = recipient_of(&cps, "Defence, A. Solicitor").unwrap_err();
        assert!(e.to_string().contains("was built for"), "{e}");
        assert!(recipient_of(&pack(None), "").is_err());
        assert_eq!(recipient_of(&pack(None), "CPS").unwrap(), "CPS");
    }

    #[test]
    fn passcodes_are_long_and_unambiguous() {
        let a = passcode();
        assert_eq!(a.len(), PASSCODE_LEN);
        assert!(a.bytes().all(|b| PASSCODE_ALPHABET.contains(&b)), "{a}");
        assert_ne!(a, passcode());
    }
}
