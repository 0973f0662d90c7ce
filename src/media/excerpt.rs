//! Excerpts for disclosure: a time range of a disclosure copy, copied packet for packet. Nothing
//! is re-encoded, so the excerpt shows exactly the pictures of the copy (no generation loss), but
//! a copy can only begin on a keyframe: an excerpt starts at the last keyframe at or before the
//! requested start, so it always covers the whole requested range, and its audit record says
//! where it really begins.

use std::path::Path;

use ffmpeg::{Dictionary, Packet, Rational, Rescale, media};
use ffmpeg_next as ffmpeg;
use serde_json::json;

use super::{Cancel, MediaError, MediaResult, failed, read_packet, unplayable};

/// Microseconds, FFmpeg's `AV_TIME_BASE`.
const MICROS: Rational = Rational(1, 1_000_000);

/// Writes the part of `src` from `start` to `end` (seconds from its beginning) to `dst` as a
/// fast-start MP4; returns the parameters for the excerpt's audit record.
pub fn excerpt(
    src: &Path,
    dst: &Path,
    start: f64,
    end: f64,
    cancel: &Cancel,
) -> MediaResult<serde_json::Value> {
    let mut ictx = ffmpeg::format::input(src).map_err(unplayable("opening the copy"))?;
    let video = ictx
        .streams()
        .best(media::Type::Video)
        .map(|s| s.index())
        .ok_or_else(|| MediaError::Unplayable("the copy has no video stream".into()))?;
    let audio = ictx.streams().best(media::Type::Audio).map(|s| s.index());
    let mut octx = ffmpeg::format::output_as(dst, "mp4").map_err(failed("creating the excerpt"))?;
    let indices: Vec<usize> = std::iter::once(video).chain(audio).collect();
    let map = super::remux::copy_streams(&ictx, &mut octx, &indices)?;
    let mut opts = Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)
        .map_err(failed("writing the excerpt's header"))?;
    let in_tb: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();

    // Requested times count from the start of the copy, which a container may place after 0.
    // SAFETY: reads a plain field of the live input context.
    let base_us = match unsafe { (*ictx.as_ptr()).start_time } {
        ffmpeg::ffi::AV_NOPTS_VALUE => 0,
        t => t,
    };
    let to_micros = |seconds: f64| base_us + (seconds * 1e6).round() as i64;
    let start_us = to_micros(start);
    let end_us = to_micros(end);
    ictx.seek(start_us, ..start_us)
        .map_err(failed("seeking to the excerpt's start"))?;

    // The first video keyframe read after the seek is where the excerpt begins; every stream is
    // shifted by its decode time so the excerpt starts at zero. Pictures are taken up to the
    // end in decode order: every picture shown before the end, and every picture those
    // reference, is decoded before it (so a few reordered pictures may run just past the end).
    let mut origin_us: Option<i64> = None;
    let mut first_pts_us: Option<i64> = None;
    let mut last_us = 0i64;
    let mut video_done = false;
    let mut audio_done = audio.is_none();
    let mut packet = Packet::empty();
    let mut corrupt = 0u32;
    let mut written = 0u64;
    while !(video_done && audio_done) && read_packet(&mut ictx, &mut packet, &mut corrupt, cancel)?
    {
        let input = packet.stream();
        let Some(output) = map.get(input).copied().flatten() else {
            continue;
        };
        let tb = in_tb[input];
        let Some(pts_us) = packet.pts().map(|p| p.rescale(tb, MICROS)) else {
            continue;
        };
        let dts_us = packet.dts().map_or(pts_us, |d| d.rescale(tb, MICROS));
        if input == video {
            if dts_us >= end_us {
                video_done = true;
                continue;
            }
        } else if pts_us >= end_us {
            audio_done = true;
            continue;
        }
        let origin = match origin_us {
            Some(o) => o,
            None if input == video && packet.is_key() => {
                first_pts_us = Some(pts_us);
                *origin_us.insert(dts_us)
            }
            None => continue,
        };
        if pts_us < origin {
            continue; // sound from before the first picture
        }
        let shift = origin.rescale(MICROS, tb);
        packet.set_pts(packet.pts().map(|p| p - shift));
        packet.set_dts(packet.dts().map(|d| d - shift));
        packet.rescale_ts(tb, out_tb[output]);
        packet.set_position(-1);
        packet.set_stream(output);
        last_us = last_us.max(pts_us);
        packet
            .write_interleaved(&mut octx)
            .map_err(failed("writing the excerpt"))?;
        written += 1;
    }
    let Some(began_us) = first_pts_us.filter(|_| written > 0) else {
        return Err(MediaError::Unplayable(format!(
            "the copy has no pictures between {start:.3} s and {end:.3} s"
        )));
    };
    octx.write_trailer()
        .map_err(failed("finishing the excerpt"))?;
    let seconds = |us: i64| format!("{:.3}", (us - base_us) as f64 / 1e6);
    Ok(json!({
        "mode": "excerpt",
        "container": "mp4",
        "movflags": "+faststart",
        "requested_start": seconds(start_us),
        "requested_end": seconds(end_us),
        "starts_at_keyframe": seconds(began_us),
        "last_packet_at": seconds(last_us),
        "corrupt_packets_skipped": corrupt,
    }))
}
