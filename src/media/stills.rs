//! Stills for people browsing footage: a poster frame and a strip of thumbnails across the clip,
//! as JPEG, turned upright. Frames are found by seeking to the keyframe before each moment and
//! decoding forward, so a long clip costs a handful of GOPs, not a full decode.

use std::path::Path;

use ffmpeg::codec;
use ffmpeg::format::Pixel;
use ffmpeg::{Packet, Rational, Rescale, frame};
use ffmpeg_next as ffmpeg;
use serde_json::json;

use super::graph;
use super::probe::Probe;
use super::{
    Cancel, MAX_CORRUPT_PACKETS, MediaError, MediaResult, failed, unplayable, video_decoder,
};

/// Poster width (height follows the picture's shape).
pub const POSTER_WIDTH: u32 = 640;
/// Thumbnails in the strip, and the width of each.
pub const STRIP_FRAMES: usize = 8;
pub const STRIP_FRAME_WIDTH: u32 = 160;
/// JPEG quantiser (2 is best, 31 worst).
const JPEG_QUALITY: i32 = 4;

/// A still written to disk, with how it was made (integers only: the parameters go into audit
/// records, which carry no floating point).
pub struct Still {
    pub params: serde_json::Value,
}

/// Decodes the pictures nearest to the given moments (seconds), in order.
struct Grabber {
    ictx: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    index: usize,
    time_base: Rational,
    rotation: i32,
}

impl Grabber {
    fn open(src: &Path, probe: &Probe) -> MediaResult<Grabber> {
        let index = probe
            .video
            .ok_or_else(|| MediaError::Unplayable("no video stream".into()))?;
        let ictx = ffmpeg::format::input(src).map_err(unplayable("opening the original"))?;
        let (decoder, time_base) = video_decoder(&ictx, index)?;
        Ok(Grabber {
            ictx,
            decoder,
            index,
            time_base,
            rotation: probe.video_stream().and_then(|v| v.rotation).unwrap_or(0),
        })
    }

    /// The first picture at or after `at` seconds, or the last picture before the end.
    fn grab(&mut self, at: f64, cancel: &Cancel) -> MediaResult<Option<frame::Video>> {
        // Moments count from the file's start time, which need not be zero.
        // SAFETY: reading a plain field of the open input context.
        let start = unsafe { (*self.ictx.as_ptr()).start_time };
        let start = if start == ffmpeg::ffi::AV_NOPTS_VALUE {
            0
        } else {
            start
        };
        let micros = start + (at * 1_000_000.0) as i64;
        let target = micros.rescale(Rational(1, 1_000_000), self.time_base);
        // Seeking can fail on damaged or unindexed files; decoding on from where we are is
        // still right, only slower.
        let _ = self.ictx.seek(micros, ..micros + 1);
        self.decoder.flush();
        let mut last: Option<frame::Video> = None;
        let mut decoded = frame::Video::empty();
        let mut packet = Packet::empty();
        let mut corrupt = 0u32;
        loop {
            cancel.check()?;
            match packet.read(&mut self.ictx) {
                Ok(()) => {
                    if packet.stream() != self.index {
                        continue;
                    }
                    if self.decoder.send_packet(&packet).is_err() {
                        corrupt += 1;
                        if corrupt > MAX_CORRUPT_PACKETS {
                            break;
                        }
                    }
                }
                Err(ffmpeg::Error::Eof) => {
                    let _ = self.decoder.send_eof();
                }
                Err(ffmpeg::Error::InvalidData) if corrupt < MAX_CORRUPT_PACKETS => {
                    corrupt += 1;
                    continue;
                }
                Err(_) => break,
            }
            let mut drained = false;
            loop {
                match self.decoder.receive_frame(&mut decoded) {
                    Ok(()) => {
                        let reached = decoded.timestamp().is_none_or(|t| t >= target);
                        last = Some(decoded.clone());
                        if reached {
                            return Ok(last);
                        }
                    }
                    Err(ffmpeg::Error::Eof) => {
                        drained = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            if drained {
                break;
            }
        }
        Ok(last)
    }
}

/// Encodes one picture as a JPEG file.
fn write_jpeg(picture: &frame::Video, dst: &Path) -> MediaResult<()> {
    let mjpeg = ffmpeg::encoder::find(codec::Id::MJPEG)
        .ok_or_else(|| MediaError::Failed("FFmpeg was built without a JPEG encoder".into()))?;
    let mut enc = codec::context::Context::new_with_codec(mjpeg)
        .encoder()
        .video()
        .map_err(failed("setting up the JPEG encoder"))?;
    enc.set_width(picture.width());
    enc.set_height(picture.height());
    enc.set_format(Pixel::YUVJ420P);
    enc.set_time_base((1, 25));
    enc.set_flags(codec::Flags::QSCALE);
    enc.set_global_quality(JPEG_QUALITY * ffmpeg::ffi::FF_QP2LAMBDA);
    let mut encoder = enc.open().map_err(failed("opening the JPEG encoder"))?;
    let mut picture = picture.clone();
    picture.set_pts(Some(0));
    // SAFETY: a frame we own; the encoder reads its quality field for fixed-quantiser coding.
    unsafe {
        (*picture.as_mut_ptr()).quality = JPEG_QUALITY * ffmpeg::ffi::FF_QP2LAMBDA;
    }
    encoder
        .send_frame(&picture)
        .map_err(failed("encoding a still"))?;
    encoder.send_eof().map_err(failed("encoding a still"))?;
    let mut packet = Packet::empty();
    encoder
        .receive_packet(&mut packet)
        .map_err(failed("encoding a still"))?;
    let data = packet
        .data()
        .ok_or_else(|| MediaError::Failed("the JPEG encoder produced nothing".into()))?;
    std::fs::write(dst, data)
        .map_err(|e| MediaError::Failed(format!("writing {}: {e}", dst.display())))
}

/// Runs pictures through `spec` and returns what comes out (one picture for `tile`).
fn filter_pictures(
    grabber: &Grabber,
    pictures: &[frame::Video],
    spec: &str,
) -> MediaResult<frame::Video> {
    let mut graph = graph::video(&grabber.decoder, grabber.time_base, spec)?;
    for (i, p) in pictures.iter().enumerate() {
        let mut p = p.clone();
        p.set_pts(Some(i as i64));
        graph
            .get("in")
            .ok_or_else(|| MediaError::Failed("filter graph lost its input".into()))?
            .source()
            .add(&p)
            .map_err(failed("filtering a still"))?;
    }
    let mut input = graph
        .get("in")
        .ok_or_else(|| MediaError::Failed("filter graph lost its input".into()))?;
    input
        .source()
        .flush()
        .map_err(failed("filtering a still"))?;
    let mut out = frame::Video::empty();
    graph
        .get("out")
        .ok_or_else(|| MediaError::Failed("filter graph lost its output".into()))?
        .sink()
        .frame(&mut out)
        .map_err(failed("filtering a still"))?;
    Ok(out)
}

fn upright_then(rotation: i32, rest: &str) -> String {
    match graph::upright(rotation) {
        Some(turn) => format!("{turn},{rest}"),
        None => rest.to_owned(),
    }
}

fn duration(probe: &Probe) -> f64 {
    probe
        .video_stream()
        .and_then(|v| v.duration_secs)
        .or(probe.duration_secs)
        .unwrap_or(0.0)
}

/// The poster: the picture a tenth of the way in (at most three seconds), so it is past any
/// black first frame but still shows how the recording starts.
pub fn poster(src: &Path, dst: &Path, probe: &Probe, cancel: &Cancel) -> MediaResult<Still> {
    let mut grabber = Grabber::open(src, probe)?;
    let at = (duration(probe) * 0.1).min(3.0);
    let picture = grabber.grab(at, cancel)?.ok_or_else(|| {
        MediaError::Unplayable("no picture in the video stream could be decoded".into())
    })?;
    let spec = upright_then(
        grabber.rotation,
        &format!("scale='min({POSTER_WIDTH},iw)':-2,format=yuvj420p"),
    );
    let out = filter_pictures(&grabber, &[picture], &spec)?;
    write_jpeg(&out, dst)?;
    Ok(Still {
        params: json!({
            "kind": "poster", "at_ms": (at * 1000.0).round() as u64, "width": out.width(), "height": out.height(),
            "encoder": "mjpeg", "qscale": JPEG_QUALITY,
        }),
    })
}

/// The strip: `STRIP_FRAMES` pictures spread evenly across the clip, side by side.
pub fn strip(src: &Path, dst: &Path, probe: &Probe, cancel: &Cancel) -> MediaResult<Still> {
    let mut grabber = Grabber::open(src, probe)?;
    let length = duration(probe);
    let moments: Vec<f64> = (0..STRIP_FRAMES)
        .map(|i| (i as f64 + 0.5) * length / STRIP_FRAMES as f64)
        .collect();
    let mut pictures: Vec<frame::Video> = Vec::with_capacity(STRIP_FRAMES);
    for at in &moments {
        match grabber.grab(*at, cancel)? {
            Some(p) => pictures.push(p),
            None => match pictures.last() {
                Some(p) => pictures.push(p.clone()),
                None => {
                    return Err(MediaError::Unplayable(
                        "no picture in the video stream could be decoded".into(),
                    ));
                }
            },
        }
    }
    let spec = upright_then(
        grabber.rotation,
        &format!(
            "scale={STRIP_FRAME_WIDTH}:-2,tile={STRIP_FRAMES}x1:padding=2:color=black,format=yuvj420p"
        ),
    );
    let out = filter_pictures(&grabber, &pictures, &spec)?;
    write_jpeg(&out, dst)?;
    Ok(Still {
        params: json!({
            "kind": "thumbstrip",
            "at_ms": moments.iter().map(|m| (m * 1000.0).round() as u64).collect::<Vec<_>>(),
            "frames": STRIP_FRAMES,
            "frame_width": STRIP_FRAME_WIDTH, "width": out.width(), "height": out.height(),
            "encoder": "mjpeg", "qscale": JPEG_QUALITY,
        }),
    })
}
