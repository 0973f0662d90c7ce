//! libavfilter graphs between a decoder and whatever consumes its frames: rotation, scaling and
//! pixel-format conversion for pictures, resampling and re-framing for sound.

use ffmpeg::{decoder, filter};
use ffmpeg_next as ffmpeg;

use super::{MediaResult, failed};

/// The filters that turn a picture upright, given degrees clockwise from the display matrix.
pub fn upright(rotation: i32) -> Option<&'static str> {
    match rotation.rem_euclid(360) {
        90 => Some("transpose=clock"),
        180 => Some("hflip,vflip"),
        270 => Some("transpose=cclock"),
        _ => None,
    }
}

/// `buffer -> spec -> buffersink` for the frames `decoder` produces.
pub fn video(
    decoder: &decoder::Video,
    time_base: ffmpeg::Rational,
    spec: &str,
) -> MediaResult<filter::Graph> {
    let mut graph = filter::Graph::new();
    let sar = decoder.aspect_ratio();
    let sar = if sar.numerator() <= 0 || sar.denominator() <= 0 {
        ffmpeg::Rational(1, 1)
    } else {
        sar
    };
    let args = format!(
        "video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        decoder.width(),
        decoder.height(),
        decoder
            .format()
            .descriptor()
            .map_or("yuv420p", |d| d.name()),
        time_base.numerator(),
        time_base.denominator().max(1),
        sar.numerator(),
        sar.denominator()
    );
    let buffer = filter::find("buffer").ok_or_else(|| missing("buffer"))?;
    let sink = filter::find("buffersink").ok_or_else(|| missing("buffersink"))?;
    graph
        .add(&buffer, "in", &args)
        .map_err(failed("setting up the picture filters"))?;
    graph
        .add(&sink, "out", "")
        .map_err(failed("setting up the picture filters"))?;
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(spec))
        .map_err(failed("parsing the picture filters"))?;
    graph
        .validate()
        .map_err(failed("configuring the picture filters"))?;
    Ok(graph)
}

/// `abuffer -> spec -> abuffersink`, cut into frames of `frame_size` samples when the encoder
/// needs fixed-size frames (AAC takes 1024).
pub fn audio(
    decoder: &decoder::Audio,
    spec: &str,
    frame_size: Option<u32>,
) -> MediaResult<filter::Graph> {
    let mut graph = filter::Graph::new();
    let layout = if decoder.channel_layout().is_empty() {
        ffmpeg::ChannelLayout::default(i32::from(decoder.channels()))
    } else {
        decoder.channel_layout()
    };
    let args = format!(
        "time_base=1/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
        decoder.rate(),
        decoder.rate(),
        decoder.format().name(),
        layout.bits()
    );
    let abuffer = filter::find("abuffer").ok_or_else(|| missing("abuffer"))?;
    let sink = filter::find("abuffersink").ok_or_else(|| missing("abuffersink"))?;
    graph
        .add(&abuffer, "in", &args)
        .map_err(failed("setting up the sound filters"))?;
    graph
        .add(&sink, "out", "")
        .map_err(failed("setting up the sound filters"))?;
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(spec))
        .map_err(failed("parsing the sound filters"))?;
    graph
        .validate()
        .map_err(failed("configuring the sound filters"))?;
    if let (Some(size), Some(mut out)) = (frame_size, graph.get("out")) {
        out.sink().set_frame_size(size);
    }
    Ok(graph)
}

fn missing(name: &str) -> super::MediaError {
    super::MediaError::Failed(format!("FFmpeg was built without the {name} filter"))
}
