//! Footage itself: the disclosure copy to play, the stills, an original to download. Each is
//! handed out only under a justification, by role and reach, and logged as the use it is; the
//! door then streams the object (with ranges, for a player that seeks).

use serde::Serialize;
use uuid::Uuid;

use crate::access::Principal;
use crate::context::Context;
use crate::domain::{ConsultationUse, ConsultedItem, DerivativeKind, RetentionState, Sha256Digest};
use crate::error::{Code, Error, Result};

/// Which bytes of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// The playable copy; `download` when saved rather than played.
    Copy {
        download: bool,
    },
    Poster,
    Thumbstrip,
    /// The original, byte for byte as the camera made it.
    Original,
}

impl Wanted {
    fn used_as(self) -> ConsultationUse {
        match self {
            Wanted::Copy { download: false } => ConsultationUse::Playback,
            Wanted::Copy { download: true } => ConsultationUse::CopyDownload,
            Wanted::Poster | Wanted::Thumbstrip => ConsultationUse::Stills,
            Wanted::Original => ConsultationUse::OriginalDownload,
        }
    }

    fn derivative(self) -> Option<DerivativeKind> {
        match self {
            Wanted::Copy { .. } => Some(DerivativeKind::Disclosure),
            Wanted::Poster => Some(DerivativeKind::Poster),
            Wanted::Thumbstrip => Some(DerivativeKind::Thumbstrip),
            Wanted::Original => None,
        }
    }
}

/// An object to stream, and what to call it.
#[derive(Debug, Clone, Serialize)]
pub struct Footage {
    pub sha256: Sha256Digest,
    pub size: u64,
    pub media_type: String,
    /// A file name for a download: recording, clip and kind, never the officer's name.
    pub file_name: String,
}

/// Finds the bytes wanted of clip `seq` and logs their use under `consultation`.
pub async fn open(
    ctx: &Context<'_>,
    who: &Principal,
    recording: Uuid,
    seq: i64,
    wanted: Wanted,
    consultation: Option<Uuid>,
) -> Result<Footage> {
    // Justification and reach first, so that whether footage exists is told only to those
    // who may see it; the use is logged once the bytes are known to be there.
    let justified = crate::consultation::check(
        ctx,
        who,
        consultation,
        ConsultedItem::Recording,
        recording,
        wanted.used_as(),
    )
    .await?;
    let footage = find(ctx, recording, seq, wanted).await?;
    justified.log(ctx, who).await?;
    Ok(footage)
}

async fn find(ctx: &Context<'_>, recording: Uuid, seq: i64, wanted: Wanted) -> Result<Footage> {
    let r = ctx
        .catalogue
        .recording(recording)
        .await?
        .ok_or_else(|| Error::not_found(format!("no recording {recording}")))?;
    if matches!(
        r.retention_state,
        RetentionState::SoftDeleted | RetentionState::Purged
    ) {
        return Err(Error::new(
            Code::Gone,
            format!(
                "recording {recording} was deleted under the retention policy ({})",
                r.retention_state
            ),
        ));
    }
    let clip = r
        .clips
        .iter()
        .find(|c| c.seq == seq)
        .ok_or_else(|| Error::not_found(format!("recording {recording} has no clip {seq}")))?;
    let Some(kind) = wanted.derivative() else {
        let ext = clip
            .original_name
            .as_deref()
            .and_then(|n| n.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
            .filter(|e| e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| "bin".into());
        return Ok(Footage {
            sha256: clip.sha256,
            size: clip.size,
            media_type: "application/octet-stream".into(),
            file_name: format!("{recording}-{seq}-original.{ext}"),
        });
    };
    let d = ctx
        .catalogue
        .derivatives(recording)
        .await?
        .into_iter()
        .find(|d| d.clip_id == clip.id && d.kind == kind)
        .ok_or_else(|| {
            Error::not_found(format!(
                "clip {seq} of recording {recording} has no {kind} yet (media state {})",
                clip.media_state
            ))
        })?;
    let ext = match d.media_type.as_str() {
        "video/mp4" => "mp4",
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        _ => "bin",
    };
    Ok(Footage {
        sha256: d.sha256.parse()?,
        size: u64::try_from(d.size).unwrap_or(0),
        media_type: d.media_type,
        file_name: format!("{recording}-{seq}-{kind}.{ext}"),
    })
}
