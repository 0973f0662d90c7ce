//! What a clip is: container, duration, every stream, creation time and embedded location, read
//! with libavformat. The probe also demuxes every packet once, which proves the file reads to the
//! end and shows whether the frame rate is constant (body worn cameras often vary it).

use std::path::Path;

use ffmpeg::codec::packet::side_data;
use ffmpeg::ffi;
use ffmpeg::media::Type;
use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};

use super::boxes::{self, Shape};
use super::{Cancel, MAX_CORRUPT_PACKETS, MediaError, MediaResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Probe {
    /// `mp4`, `mov`, `matroska`, `avi`, ... (libavformat's demuxer, made specific).
    pub container: String,
    pub format_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// ISO 6709 location the camera embedded, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub streams: Vec<StreamInfo>,
    /// Index (into `streams`) of the main video and audio streams.
    pub video: Option<usize>,
    pub audio: Option<usize>,
    pub packets: u64,
    /// Demuxing stopped before the end: the file is damaged after this point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StreamInfo {
    pub index: usize,
    /// `video`, `audio`, `subtitle`, `data`, `attachment` or `unknown`.
    pub kind: String,
    pub codec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_format: Option<String>,
    /// Degrees clockwise the picture must be turned for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_frame_rate: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<f64>,
    pub packets: u64,
}

impl Probe {
    pub fn video_stream(&self) -> Option<&StreamInfo> {
        self.video.and_then(|i| self.streams.get(i))
    }

    pub fn audio_stream(&self) -> Option<&StreamInfo> {
        self.audio.and_then(|i| self.streams.get(i))
    }
}

pub fn probe(path: &Path, cancel: &Cancel) -> MediaResult<Probe> {
    let len = std::fs::metadata(path)
        .map_err(|e| MediaError::Failed(format!("reading {}: {e}", path.display())))?
        .len();
    if len == 0 {
        return Err(MediaError::Unplayable("zero-length".into()));
    }
    let mut ictx = match ffmpeg::format::input(path) {
        Ok(ctx) => ctx,
        // An operating-system error (out of memory, I/O, permissions) is ours to retry; any
        // other refusal is FFmpeg's verdict on the bytes.
        Err(e @ ffmpeg::Error::Other { .. }) => {
            return Err(MediaError::Failed(format!(
                "opening {}: {e}",
                path.display()
            )));
        }
        Err(e) => return Err(MediaError::Unplayable(diagnose_open(path, &e))),
    };
    let format_name = ictx.format().name().to_owned();
    let meta = ictx.metadata();
    let container = container_name(&format_name, meta.get("major_brand"));
    let creation_time = meta.get("creation_time").map(str::to_owned);
    let location = meta
        .get("location")
        .or_else(|| meta.get("com.apple.quicktime.location.ISO6709"))
        .map(str::to_owned);
    let duration_secs = (ictx.duration() > 0).then(|| ictx.duration() as f64 / 1_000_000.0);
    let bit_rate = (ictx.bit_rate() > 0).then(|| ictx.bit_rate());
    let mut streams: Vec<StreamInfo> = ictx.streams().map(|s| stream_info(&s)).collect();
    let video = ictx.streams().best(Type::Video).map(|s| s.index());
    let audio = ictx.streams().best(Type::Audio).map(|s| s.index());

    // One pass over the packets: counts, and the video timestamps for the frame-rate check.
    let mut video_pts: Vec<i64> = Vec::new();
    let mut packets = 0u64;
    let mut corrupt = 0u32;
    let mut read_error = None;
    let mut packet = ffmpeg::Packet::empty();
    loop {
        cancel.check()?;
        match packet.read(&mut ictx) {
            Ok(()) => {
                packets += 1;
                if let Some(s) = streams.get_mut(packet.stream()) {
                    s.packets += 1;
                }
                if Some(packet.stream()) == video
                    && let Some(pts) = packet.pts()
                {
                    video_pts.push(pts);
                }
            }
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) if corrupt < MAX_CORRUPT_PACKETS => corrupt += 1,
            Err(e) => {
                read_error = Some(format!("reading stopped after {packets} packets: {e}"));
                break;
            }
        }
    }
    if let Some(v) = video.and_then(|i| streams.get_mut(i)) {
        v.variable_frame_rate = Some(is_variable(&mut video_pts));
    }
    Ok(Probe {
        container,
        format_name,
        duration_secs,
        bit_rate,
        creation_time,
        location,
        streams,
        video,
        audio,
        packets,
        read_error,
    })
}

/// FFmpeg says "Invalid data found when processing input" for anything it cannot open; say
/// which of the usual cases it is, keeping FFmpeg's words.
fn diagnose_open(path: &Path, e: &ffmpeg::Error) -> String {
    match boxes::shape(path) {
        Ok(Shape::MissingMoov) => format!(
            "truncated before its moov box: the recording stopped before the file was finished \
             (FFmpeg: {e})"
        ),
        Ok(Shape::Complete) => format!("damaged MP4/MOV file (FFmpeg: {e})"),
        _ => format!("not a media file (FFmpeg: {e})"),
    }
}

/// libavformat reads MP4 and QuickTime with one demuxer; the brand tells them apart.
fn container_name(format_name: &str, major_brand: Option<&str>) -> String {
    match format_name {
        "mov,mp4,m4a,3gp,3g2,mj2" => match major_brand.map(str::trim) {
            Some("qt") => "mov",
            Some(b) if b.starts_with("3g") => "3gp",
            _ => "mp4",
        }
        .to_owned(),
        "matroska,webm" => "matroska".to_owned(),
        other => other.split(',').next().unwrap_or(other).to_owned(),
    }
}

fn seconds(value: i64, tb: ffmpeg::Rational) -> Option<f64> {
    (value > 0 && tb.denominator() != 0).then(|| value as f64 * f64::from(tb))
}

fn stream_info(s: &ffmpeg::format::stream::Stream) -> StreamInfo {
    let params = s.parameters();
    let kind = match params.medium() {
        Type::Video => "video",
        Type::Audio => "audio",
        Type::Subtitle => "subtitle",
        Type::Data => "data",
        Type::Attachment => "attachment",
        _ => "unknown",
    };
    // SAFETY: the parameters belong to a live stream of an open input; we read plain fields.
    let raw = unsafe { &*params.as_ptr() };
    let profile = unsafe {
        let name = ffi::avcodec_profile_name(raw.codec_id, raw.profile);
        (!name.is_null()).then(|| {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        })
    };
    let mut info = StreamInfo {
        index: s.index(),
        kind: kind.to_owned(),
        codec: params.id().name().to_owned(),
        profile,
        width: None,
        height: None,
        frame_rate: None,
        pixel_format: None,
        rotation: None,
        variable_frame_rate: None,
        channels: None,
        sample_rate: None,
        sample_format: None,
        bit_rate: (raw.bit_rate > 0).then_some(raw.bit_rate),
        duration_secs: seconds(s.duration(), s.time_base()),
        packets: 0,
    };
    let medium = params.medium();
    let decoder = ffmpeg::codec::context::Context::from_parameters(params).ok();
    match medium {
        Type::Video => {
            info.width = Some(raw.width.max(0) as u32);
            info.height = Some(raw.height.max(0) as u32);
            let rate = s.avg_frame_rate();
            if rate.denominator() != 0 && rate.numerator() > 0 {
                info.frame_rate = Some((f64::from(rate) * 1000.0).round() / 1000.0);
            }
            info.pixel_format = decoder
                .and_then(|d| d.decoder().video().ok())
                .and_then(|v| v.format().descriptor())
                .map(|d| d.name().to_owned());
            info.rotation = Some(rotation(s));
        }
        Type::Audio => {
            info.sample_rate = Some(raw.sample_rate.max(0) as u32);
            if let Some(a) = decoder.and_then(|d| d.decoder().audio().ok()) {
                info.channels = Some(u32::from(a.channels()));
                info.sample_format = Some(a.format().name().to_owned());
            }
        }
        _ => {}
    }
    info
}

/// Degrees clockwise from the stream's display matrix (FFmpeg reports counter-clockwise).
pub(crate) fn rotation(s: &ffmpeg::format::stream::Stream) -> i32 {
    for sd in s.side_data() {
        if sd.kind() == side_data::Type::DisplayMatrix && sd.data().len() >= 36 {
            // SAFETY: a display matrix is nine 32-bit integers in av_malloc'd (aligned) memory.
            let ccw = unsafe { ffi::av_display_rotation_get(sd.data().as_ptr().cast::<i32>()) };
            if ccw.is_nan() {
                return 0;
            }
            return (-ccw.round() as i32).rem_euclid(360);
        }
    }
    0
}

/// Variable when the gaps between frames differ by more than a tick and a tenth (timestamps are
/// rounded to the stream's time base, so constant-rate video wobbles by one tick).
fn is_variable(pts: &mut [i64]) -> bool {
    if pts.len() < 3 {
        return false;
    }
    pts.sort_unstable();
    let gaps = pts.windows(2).map(|w| w[1] - w[0]).filter(|g| *g > 0);
    let (mut lo, mut hi) = (i64::MAX, 0i64);
    for g in gaps {
        lo = lo.min(g);
        hi = hi.max(g);
    }
    lo != i64::MAX && (hi - lo) as f64 > 1.0 + lo as f64 * 0.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_gaps_with_rounding_are_constant() {
        assert!(!is_variable(&mut [0, 3, 7, 10, 13, 17, 20]));
        assert!(!is_variable(&mut [0, 512, 1024, 1536]));
        assert!(is_variable(&mut [0, 512, 1024, 2048, 3072]));
    }

    #[test]
    fn brands_tell_mp4_from_quicktime() {
        assert_eq!(
            container_name("mov,mp4,m4a,3gp,3g2,mj2", Some("isom")),
            "mp4"
        );
        assert_eq!(
            container_name("mov,mp4,m4a,3gp,3g2,mj2", Some("qt  ")),
            "mov"
        );
        assert_eq!(container_name("matroska,webm", None), "matroska");
        assert_eq!(container_name("avi", None), "avi");
    }
}
