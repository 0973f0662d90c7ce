//! Media work on clips, in-process with FFmpeg's libraries through ffmpeg-next: probe a clip,
//! make a disclosure copy (remux when the streams already play everywhere, transcode when they
//! do not), and cut stills. Everything here is blocking and runs on a worker's blocking thread;
//! FFmpeg objects never cross an `.await`.
//!
//! Originals are only ever read. Outputs are written to scratch files that the caller stores like
//! any other object.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ffmpeg_next as ffmpeg;

mod boxes;
pub mod excerpt;
mod graph;
pub mod plan;
pub mod probe;
pub mod remux;
pub mod stills;
pub mod transcode;

pub use plan::{Plan, plan};
pub use probe::{Probe, StreamInfo, probe};

/// Why media work stopped.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file itself cannot be played: the recording is flagged, the job is done.
    #[error("{0}")]
    Unplayable(String),
    /// Our side failed (disk, encoder setup): worth retrying.
    #[error("{0}")]
    Failed(String),
    /// The worker is shutting down; the job goes back to the queue untouched.
    #[error("cancelled")]
    Cancelled,
}

pub type MediaResult<T> = std::result::Result<T, MediaError>;

/// Turns an FFmpeg error into a retryable failure with what we were doing.
pub(crate) fn failed(what: &str) -> impl FnOnce(ffmpeg::Error) -> MediaError + '_ {
    move |e| MediaError::Failed(format!("{what}: {e}"))
}

/// Turns an FFmpeg error into a verdict on the file.
pub(crate) fn unplayable(what: &str) -> impl FnOnce(ffmpeg::Error) -> MediaError + '_ {
    move |e| MediaError::Unplayable(format!("{what}: {e}"))
}

/// Set when the worker shuts down; long loops check it between packets.
#[derive(Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn check(&self) -> MediaResult<()> {
        if self.0.load(Ordering::Relaxed) {
            Err(MediaError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Lets libavcodec pick the thread count, as the ffmpeg CLI does.
pub(crate) fn auto_threads() -> ffmpeg::codec::threading::Config {
    ffmpeg::codec::threading::Config {
        kind: ffmpeg::codec::threading::Type::Frame,
        count: 0,
        ..Default::default()
    }
}

/// A threaded decoder for video stream `index`, and the stream's time base.
pub(crate) fn video_decoder(
    ictx: &ffmpeg::format::context::Input,
    index: usize,
) -> MediaResult<(ffmpeg::decoder::Video, ffmpeg::Rational)> {
    let ist = ictx
        .stream(index)
        .ok_or_else(|| MediaError::Failed(format!("video stream {index} vanished")))?;
    let mut ctx = ffmpeg::codec::context::Context::from_parameters(ist.parameters())
        .map_err(unplayable("reading the video parameters"))?;
    ctx.set_threading(auto_threads());
    let decoder = ctx
        .decoder()
        .video()
        .map_err(unplayable("no decoder for the video"))?;
    Ok((decoder, ist.time_base()))
}

/// Corrupt packets skipped before a file counts as unreadable from there on.
pub(crate) const MAX_CORRUPT_PACKETS: u32 = 100;

/// Reads the next packet for a copy: false at the end, a few corrupt packets skipped (counted),
/// any other read error a verdict on the file.
pub(crate) fn read_packet(
    ictx: &mut ffmpeg::format::context::Input,
    packet: &mut ffmpeg::Packet,
    corrupt: &mut u32,
    cancel: &Cancel,
) -> MediaResult<bool> {
    loop {
        cancel.check()?;
        match packet.read(ictx) {
            Ok(()) => return Ok(true),
            Err(ffmpeg::Error::Eof) => return Ok(false),
            Err(ffmpeg::Error::InvalidData) if *corrupt < MAX_CORRUPT_PACKETS => *corrupt += 1,
            Err(e) => return Err(MediaError::Unplayable(format!("reading the original: {e}"))),
        }
    }
}

/// Loads FFmpeg's registries and keeps its console logging to real errors (the verdicts we
/// record carry the reasons).
pub fn init() -> MediaResult<()> {
    ffmpeg::init().map_err(failed("initialising FFmpeg"))?;
    ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    Ok(())
}

fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// The libraries that make a derivative, for its audit record: a court may ask exactly how a
/// disclosure copy was produced.
pub fn tool_versions() -> serde_json::Value {
    serde_json::json!({
        "bwv": env!("CARGO_PKG_VERSION"),
        "ffmpeg-next": "9.0.0",
        "libavformat": version_string(ffmpeg::format::version()),
        "libavcodec": version_string(ffmpeg::codec::version()),
        "libavfilter": version_string(ffmpeg::filter::version()),
        "libavutil": version_string(ffmpeg::util::version()),
    })
}
