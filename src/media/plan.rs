//! Remux or transcode: a disclosure copy must be MP4 with H.264 (8-bit 4:2:0) video and AAC
//! audio to play in every browser and in Windows' own player. Streams that already are get
//! copied bit for bit (about a hundred times faster, and no generation loss); anything else is
//! re-encoded.

use serde::Serialize;

use super::probe::{Probe, StreamInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Remux,
    Transcode,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Remux => "remux",
            Plan::Transcode => "transcode",
        }
    }
}

/// H.264 profiles browsers decode (no 10-bit, no 4:2:2/4:4:4).
const PLAYABLE_H264_PROFILES: &[&str] = &["Baseline", "Constrained Baseline", "Main", "High"];

fn video_qualifies(v: &StreamInfo) -> bool {
    v.codec == "h264"
        && v.profile
            .as_deref()
            .is_none_or(|p| PLAYABLE_H264_PROFILES.contains(&p))
        && matches!(v.pixel_format.as_deref(), Some("yuv420p" | "yuvj420p"))
}

fn audio_qualifies(a: &StreamInfo) -> bool {
    a.codec == "aac" && a.profile.as_deref().is_none_or(|p| p == "LC")
}

pub fn plan(probe: &Probe) -> Plan {
    let video_ok = probe.video_stream().is_some_and(video_qualifies);
    let audio_ok = probe.audio_stream().is_none_or(audio_qualifies);
    if video_ok && audio_ok {
        Plan::Remux
    } else {
        Plan::Transcode
    }
}
