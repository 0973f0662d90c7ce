//! Excerpts asked for on the command line (`--clip RECORDING@HH:MM:SS-HH:MM:SS`): each is cut
//! from the disclosure copy of the clip (camera segment) the range falls in, stored like any
//! object, linked to its source as a derivative, and audited on the recording's chain, so the
//! package's audit extract shows where it came from. Asking again for the same range reuses it.

use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::audit::record::{Actor, EventDraft, ObjectRef};
use crate::catalogue::{DerivativeRow, NewDerivative};
use crate::context::Context;
use crate::domain::{Clip, DerivativeKind, Recording, Sha256Digest};
use crate::error::{Code, Error, Result, ResultExt};
use crate::media;
use crate::store::{Input, PutOptions};

/// A requested range of a recording, in whole seconds from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipSpec {
    pub recording: Uuid,
    pub start: u32,
    pub end: u32,
}

fn parse_hms(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split(':').collect();
    let [h, m, sec] = parts.as_slice() else {
        return None;
    };
    let num = |p: &str, max: u32| -> Option<u32> {
        (p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    Some(num(h, 99)? * 3600 + num(m, 59)? * 60 + num(sec, 59)?)
}

/// A time on a player as a person types it or a page's button fills it in: `H:MM:SS`,
/// `M:SS` or whole seconds. (The command line's `--clip` stays strictly `HH:MM:SS`.)
pub fn player_time(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut total: u32 = 0;
    for (i, p) in parts.iter().enumerate() {
        let n: u32 = p.parse().ok()?;
        if i > 0 && (n >= 60 || p.len() != 2) {
            return None;
        }
        total = total.checked_mul(60)?.checked_add(n)?;
    }
    Some(total)
}

pub fn hms(seconds: u32) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Sent over the API as the command line spells it: `RECORDING@HH:MM:SS-HH:MM:SS`.
impl<'de> serde::Deserialize<'de> for ClipSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for ClipSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let usage = || format!("{s:?}: expected RECORDING@HH:MM:SS-HH:MM:SS");
        let (recording, range) = s.split_once('@').ok_or_else(usage)?;
        let recording = Uuid::parse_str(recording)
            .map_err(|_| format!("{s:?}: {recording:?} is not a recording id"))?;
        let (start, end) = range.split_once('-').ok_or_else(usage)?;
        let (start, end) = (
            parse_hms(start).ok_or_else(usage)?,
            parse_hms(end).ok_or_else(usage)?,
        );
        ClipSpec::new(recording, start, end).map_err(|e| format!("{s:?}: {e}"))
    }
}

impl ClipSpec {
    /// A range of a recording, from `start` to `end` seconds from its start.
    pub fn new(recording: Uuid, start: u32, end: u32) -> std::result::Result<ClipSpec, String> {
        if end <= start {
            return Err("the end must come after the start".into());
        }
        Ok(ClipSpec {
            recording,
            start,
            end,
        })
    }
}

impl std::fmt::Display for ClipSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{}-{}",
            self.recording,
            hms(self.start),
            hms(self.end)
        )
    }
}

/// An excerpt ready to package.
pub struct Excerpt {
    pub spec: ClipSpec,
    pub sha256: String,
    pub size: u64,
    pub source_sha256: String,
    pub original_sha256: String,
}

/// Scratch space removed when dropped, outside the workers' scratch (which they sweep).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a requested range is: the camera clip it falls in, the range within that clip, and
/// the playable copy to cut.
#[derive(Clone, Copy)]
pub struct Located<'a> {
    pub spec: &'a ClipSpec,
    clip: &'a Clip,
    from: f64,
    to: f64,
    source: &'a DerivativeRow,
}

/// Finds the clip the range falls in. Pure, so every request is checked before anything is made.
pub fn locate<'a>(
    spec: &'a ClipSpec,
    recording: &'a Recording,
    derivatives: &'a [DerivativeRow],
) -> Result<Located<'a>> {
    let mut offset = 0.0;
    let mut found = None;
    for clip in &recording.clips {
        let duration = clip
            .probe
            .as_ref()
            .and_then(|p| p["duration_secs"].as_f64())
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "--clip {spec}: clip {} of the recording has no known duration (media state \
                     {}): it cannot be cut",
                    clip.seq, clip.media_state
                ))
            })?;
        let (from, to) = (f64::from(spec.start) - offset, f64::from(spec.end) - offset);
        if from >= 0.0 && from < duration {
            if to > duration + 0.5 {
                return Err(Error::bad_input(format!(
                    "--clip {spec}: the range runs past the end of camera clip {} (at {}); cut \
                     each clip's part separately",
                    clip.seq,
                    hms((offset + duration) as u32)
                )));
            }
            found = Some((clip, from, to.min(duration)));
            break;
        }
        offset += duration;
    }
    let Some((clip, from, to)) = found else {
        return Err(Error::bad_input(format!(
            "--clip {spec}: the recording is only {} long",
            hms(offset as u32)
        )));
    };
    let source = derivatives
        .iter()
        .find(|d| d.clip_id == clip.id && d.kind == DerivativeKind::Disclosure)
        .ok_or_else(|| {
            Error::bad_input(format!(
                "--clip {spec}: clip {} has no playable copy to cut from (media state {})",
                clip.seq, clip.media_state
            ))
        })?;
    Ok(Located {
        spec,
        clip,
        from,
        to,
        source,
    })
}

/// `excerpt_made`'s instrument: the cutter, its tool versions and its parameters.
#[derive(Debug, Serialize)]
struct ExcerptCutter<'a> {
    name: &'static str,
    tool: &'a Value,
    parameters: &'a Value,
}

/// `excerpt_made`: the case it was cut for, from which clip, and the range asked for.
#[derive(Debug, Serialize)]
struct ExcerptMade<'a> {
    case: &'a str,
    clip: i64,
    requested: &'a str,
}

/// Reuses or makes the excerpt.
pub async fn excerpt(
    ctx: &Context<'_>,
    urn: &str,
    located: &Located<'_>,
    recording: uuid::Uuid,
    derivatives: &[DerivativeRow],
    actor: &Actor,
) -> Result<Excerpt> {
    let Located {
        spec,
        clip,
        from,
        to,
        source,
    } = *located;
    let requested = format!("{}-{}", hms(spec.start), hms(spec.end));
    let made = |sha: &str, size: u64| Excerpt {
        spec: spec.clone(),
        sha256: sha.to_owned(),
        size,
        source_sha256: source.sha256.clone(),
        original_sha256: clip.sha256.to_hex(),
    };
    if let Some(earlier) = derivatives.iter().find(|d| {
        d.kind == DerivativeKind::Excerpt
            && d.source_sha256 == source.sha256
            && d.params.0["requested"] == json!(requested)
    }) {
        return Ok(made(&earlier.sha256, earlier.size as u64));
    }

    let scratch = Scratch(
        ctx.config
            .data_dir
            .join(format!("disclose-{}", Uuid::new_v4())),
    );
    std::fs::create_dir_all(&scratch.0).context(|| format!("creating {}", scratch.0.display()))?;
    let source_sha: Sha256Digest = source
        .sha256
        .parse()
        .map_err(|_| Error::audit(format!("derivative hash {} is malformed", source.sha256)))?;
    let local = ctx.store.fetch(&source_sha, &scratch.0).await?;
    let dst = scratch.0.join("excerpt.mp4");
    let (src_path, dst_path) = (local.path.clone(), dst.clone());
    let params = tokio::task::spawn_blocking(move || {
        media::init()?;
        media::excerpt::excerpt(&src_path, &dst_path, from, to, &media::Cancel::default())
    })
    .await
    .map_err(|e| Error::new(Code::Io, format!("the excerpt cutter panicked: {e}")))?
    .map_err(|e| match e {
        media::MediaError::Unplayable(m) => Error::bad_input(format!("--clip {spec}: {m}")),
        other => Error::new(Code::Io, format!("--clip {spec}: {other}")),
    })?;

    let file = std::fs::File::open(&dst).context(|| format!("opening {}", dst.display()))?;
    let opts = PutOptions {
        retain_until: ctx.put_options().retain_until,
        ..PutOptions::default()
    };
    let put = ctx.store.put(Input::File(file), &opts).await?;
    let derivative = NewDerivative {
        clip_id: clip.id,
        source_sha256: source_sha,
        sha256: put.sha256,
        size: put.size,
        kind: DerivativeKind::Excerpt,
        media_type: "video/mp4",
        params: json!({"tool": media::tool_versions(), "parameters": params, "requested": requested}),
    };

    let mut tx = ctx.catalogue.begin().await?;
    tx.lock_recording(recording).await?;
    tx.ensure_not_purged(recording).await?;
    if tx
        .insert_object(&put.sha256, put.size, Some("video/mp4"))
        .await?
        && !ctx.store.exists(&put.sha256).await?
    {
        return Err(Error::new(
            Code::Busy,
            format!(
                "excerpt {} was purged as it was made; run again",
                put.sha256
            ),
        ));
    }
    tx.insert_derivative(&derivative).await?;
    let held = ctx.store.has_object_lock() && !tx.hold_lapses(recording).await?.is_empty();
    let event = EventDraft::new("excerpt_made", actor.clone(), "recording", recording)
        .with_object(ObjectRef {
            sha256: source.sha256.clone(),
            size: source.size as u64,
            role: Some("disclosure".into()),
        })
        .with_object(ObjectRef {
            sha256: put.sha256.to_hex(),
            size: put.size,
            role: Some("excerpt".into()),
        })
        .with_instrument(&ExcerptCutter {
            name: "bwv disclose",
            tool: &derivative.params["tool"],
            parameters: &derivative.params["parameters"],
        })?
        .with_result(&ExcerptMade {
            case: urn,
            clip: clip.seq,
            requested: &requested,
        })?;
    tx.append_audit(ctx.audit.origin(), event).await?;
    tx.commit().await?;
    if held {
        crate::holds::sync(ctx, &[recording]).await?;
    }
    Ok(made(&put.sha256.to_hex(), put.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_specs_are_strict() {
        let id = Uuid::now_v7();
        let spec: ClipSpec = format!("{id}@00:01:05-00:02:00").parse().unwrap();
        assert_eq!((spec.start, spec.end), (65, 120));
        assert_eq!(spec.to_string(), format!("{id}@00:01:05-00:02:00"));
        for bad in [
            format!("{id}"),
            format!("{id}@1:05-2:00"),
            format!("{id}@00:02:00-00:01:00"),
            format!("{id}@00:01:00-00:01:00"),
            format!("{id}@00:61:00-00:62:00"),
            "not-a-uuid@00:00:01-00:00:02".to_string(),
        ] {
            assert!(bad.parse::<ClipSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn player_times_read_as_people_write_them() {
        assert_eq!(player_time("75"), Some(75));
        assert_eq!(player_time("1:15"), Some(75));
        assert_eq!(player_time("1:00:05"), Some(3605));
        assert_eq!(player_time(" 0:03 "), Some(3));
        for bad in ["", "1:75", "1:5", "a:10", "1::2", "1:00:00:00", "-3"] {
            assert_eq!(player_time(bad), None, "{bad}");
        }
    }
}
