//! The slow path: decode, turn upright, convert to 8-bit 4:2:0, encode H.264 with libx264 and AAC
//! with FFmpeg's native encoder, into a fast-start MP4. Frame timestamps pass through unchanged,
//! so variable-frame-rate footage keeps its real timing.

use std::path::Path;

use ffmpeg::codec;
use ffmpeg::format::{Pixel, Sample, sample};
use ffmpeg::{
    ChannelLayout, Dictionary, Packet, Rational, Rescale, decoder, encoder, filter, frame,
};
use ffmpeg_next as ffmpeg;
use serde_json::json;

use super::graph;
use super::probe::Probe;
use super::{
    Cancel, MediaError, MediaResult, auto_threads, failed, read_packet, unplayable, video_decoder,
};

/// Encoder settings; the benchmark passes the same to the ffmpeg CLI.
#[derive(Debug, Clone)]
pub struct Settings {
    pub preset: String,
    pub crf: u32,
    pub audio_bit_rate: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            preset: "veryfast".into(),
            crf: 23,
            audio_bit_rate: 128_000,
        }
    }
}

/// Sample rates AAC can carry; anything else is resampled to 48 kHz.
const AAC_RATES: &[u32] = &[
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000,
];

struct VideoPipe {
    input: usize,
    output: usize,
    decoder: decoder::Video,
    graph: filter::Graph,
    encoder: encoder::Video,
    time_base: Rational,
    last_pts: Option<i64>,
}

struct AudioPipe {
    input: usize,
    output: usize,
    decoder: decoder::Audio,
    graph: filter::Graph,
    encoder: encoder::Audio,
    stream_tb: Rational,
    in_rate: i32,
    /// Timestamp (in 1/in_rate) of the next decoded sample; set from the first frame.
    next_pts: Option<i64>,
}

/// Writes `dst`; returns the parameters for the derivative's audit record.
pub fn transcode(
    src: &Path,
    dst: &Path,
    probe: &Probe,
    settings: &Settings,
    cancel: &Cancel,
) -> MediaResult<serde_json::Value> {
    let mut ictx = ffmpeg::format::input(src).map_err(unplayable("opening the original"))?;
    let mut octx = ffmpeg::format::output_as(dst, "mp4").map_err(failed("creating the copy"))?;
    let global_header = octx
        .format()
        .flags()
        .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
    let rotation = probe.video_stream().and_then(|v| v.rotation).unwrap_or(0);

    let mut video = match probe.video {
        Some(i) => Some(open_video(
            &ictx,
            &mut octx,
            i,
            rotation,
            settings,
            global_header,
        )?),
        None => None,
    };
    let mut audio = match probe.audio {
        Some(i) => Some(open_audio(
            &ictx,
            &mut octx,
            i,
            video.as_ref().map_or(0, |_| 1),
            settings,
            global_header,
        )?),
        None => None,
    };
    let mut opts = Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)
        .map_err(failed("writing the copy's header"))?;
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();

    let mut packet = Packet::empty();
    let mut corrupt = 0u32;
    while read_packet(&mut ictx, &mut packet, &mut corrupt, cancel)? {
        if let Some(v) = video.as_mut().filter(|v| v.input == packet.stream()) {
            if v.decoder.send_packet(&packet).is_err() {
                corrupt += 1; // a damaged packet: the decoder conceals, we carry on
            }
            v.pump(&mut octx, &out_tb)?;
        } else if let Some(a) = audio.as_mut().filter(|a| a.input == packet.stream()) {
            if a.decoder.send_packet(&packet).is_err() {
                corrupt += 1;
            }
            a.pump(&mut octx, &out_tb)?;
        }
    }
    if let Some(v) = video.as_mut() {
        v.finish(&mut octx, &out_tb)?;
    }
    if let Some(a) = audio.as_mut() {
        a.finish(&mut octx, &out_tb)?;
    }
    octx.write_trailer().map_err(failed("finishing the copy"))?;
    Ok(json!({
        "mode": "transcode",
        "container": "mp4",
        "movflags": "+faststart",
        "video": video.as_ref().map(|v| json!({
            "encoder": "libx264",
            "preset": settings.preset,
            "crf": settings.crf,
            "pix_fmt": "yuv420p",
            "width": v.encoder.width(),
            "height": v.encoder.height(),
            "rotation_applied": rotation,
        })),
        "audio": audio.as_ref().map(|a| json!({
            "encoder": "aac",
            "bit_rate": settings.audio_bit_rate,
            "sample_rate": a.encoder.rate(),
            "channels": a.encoder.channels(),
        })),
        "corrupt_packets_skipped": corrupt,
    }))
}

fn open_video(
    ictx: &ffmpeg::format::context::Input,
    octx: &mut ffmpeg::format::context::Output,
    index: usize,
    rotation: i32,
    settings: &Settings,
    global_header: bool,
) -> MediaResult<VideoPipe> {
    let (decoder, time_base) = video_decoder(ictx, index)?;
    let ist = ictx
        .stream(index)
        .ok_or_else(|| MediaError::Failed(format!("video stream {index} vanished")))?;

    let mut spec: Vec<&str> = graph::upright(rotation).into_iter().collect();
    spec.push("scale=trunc(iw/2)*2:trunc(ih/2)*2");
    spec.push("format=yuv420p");
    let graph = graph::video(&decoder, time_base, &spec.join(","))?;
    let (mut width, mut height) = (decoder.width(), decoder.height());
    if rotation.rem_euclid(180) == 90 {
        std::mem::swap(&mut width, &mut height);
    }

    let h264 = encoder::find_by_name("libx264")
        .ok_or_else(|| MediaError::Failed("FFmpeg was built without libx264".into()))?;
    let output = octx.nb_streams() as usize;
    let mut ost = octx
        .add_stream(h264)
        .map_err(failed("adding the video stream"))?;
    let mut enc = codec::context::Context::new_with_codec(h264)
        .encoder()
        .video()
        .map_err(failed("setting up the H.264 encoder"))?;
    enc.set_width(width & !1);
    enc.set_height(height & !1);
    enc.set_format(Pixel::YUV420P);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(ist.avg_frame_rate()).filter(|r| r.numerator() > 0));
    let sar = decoder.aspect_ratio();
    if sar.numerator() > 0 {
        enc.set_aspect_ratio(sar);
    }
    enc.set_threading(auto_threads());
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = Dictionary::new();
    opts.set("preset", &settings.preset);
    opts.set("crf", &settings.crf.to_string());
    let encoder = enc
        .open_with(opts)
        .map_err(failed("opening the H.264 encoder"))?;
    ost.set_parameters(&encoder);
    ost.set_time_base(time_base);
    Ok(VideoPipe {
        input: index,
        output,
        decoder,
        graph,
        encoder,
        time_base,
        last_pts: None,
    })
}

fn open_audio(
    ictx: &ffmpeg::format::context::Input,
    octx: &mut ffmpeg::format::context::Output,
    index: usize,
    output: usize,
    settings: &Settings,
    global_header: bool,
) -> MediaResult<AudioPipe> {
    let ist = ictx
        .stream(index)
        .ok_or_else(|| MediaError::Failed(format!("audio stream {index} vanished")))?;
    let ctx = codec::context::Context::from_parameters(ist.parameters())
        .map_err(unplayable("reading the audio parameters"))?;
    let decoder = ctx
        .decoder()
        .audio()
        .map_err(unplayable("no decoder for the audio"))?;
    let aac = encoder::find(codec::Id::AAC)
        .ok_or_else(|| MediaError::Failed("FFmpeg was built without an AAC encoder".into()))?;
    let channels = i32::from(decoder.channels().clamp(1, 2));
    let layout = ChannelLayout::default(channels);
    let rate = if AAC_RATES.contains(&decoder.rate()) {
        decoder.rate()
    } else {
        48_000
    };
    let mut ost = octx
        .add_stream(aac)
        .map_err(failed("adding the audio stream"))?;
    let mut enc = codec::context::Context::new_with_codec(aac)
        .encoder()
        .audio()
        .map_err(failed("setting up the AAC encoder"))?;
    enc.set_rate(rate as i32);
    enc.set_channel_layout(layout);
    enc.set_channels(channels);
    enc.set_format(Sample::F32(sample::Type::Planar));
    enc.set_bit_rate(settings.audio_bit_rate);
    enc.set_time_base((1, rate as i32));
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let encoder = enc
        .open_as(aac)
        .map_err(failed("opening the AAC encoder"))?;
    ost.set_parameters(&encoder);
    ost.set_time_base((1, rate as i32));
    let layout_name = if channels == 1 { "mono" } else { "stereo" };
    let graph = graph::audio(
        &decoder,
        &format!("aresample={rate},aformat=sample_fmts=fltp:channel_layouts={layout_name}"),
        Some(encoder.frame_size()).filter(|n| *n > 0),
    )?;
    Ok(AudioPipe {
        input: index,
        output,
        in_rate: decoder.rate() as i32,
        decoder,
        graph,
        encoder,
        stream_tb: ist.time_base(),
        next_pts: None,
    })
}

fn write_packets(
    encoder: &mut encoder::Encoder,
    from: Rational,
    output: usize,
    octx: &mut ffmpeg::format::context::Output,
    out_tb: &[Rational],
) -> MediaResult<()> {
    let mut packet = Packet::empty();
    while encoder.receive_packet(&mut packet).is_ok() {
        packet.set_stream(output);
        packet.rescale_ts(from, out_tb[output]);
        packet.set_position(-1);
        packet
            .write_interleaved(octx)
            .map_err(failed("writing the copy"))?;
    }
    Ok(())
}

fn source(graph: &mut filter::Graph) -> MediaResult<filter::Context> {
    graph
        .get("in")
        .ok_or_else(|| MediaError::Failed("filter graph lost its input".into()))
}

fn sink(graph: &mut filter::Graph) -> MediaResult<filter::Context> {
    graph
        .get("out")
        .ok_or_else(|| MediaError::Failed("filter graph lost its output".into()))
}

/// The end of a pipe: everything the filter graph has goes through the encoder to the muxer.
fn drain<F: std::ops::DerefMut<Target = ffmpeg::Frame>>(
    mut filtered: F,
    graph: &mut filter::Graph,
    encoder: &mut encoder::Encoder,
    time_base: Rational,
    output: usize,
    octx: &mut ffmpeg::format::context::Output,
    out_tb: &[Rational],
) -> MediaResult<()> {
    while sink(graph)?.sink().frame(&mut filtered).is_ok() {
        // SAFETY: a frame we own. The picture type the source's encoder chose must not force
        // ours (for sound the field is unused).
        unsafe {
            (*filtered.as_mut_ptr()).pict_type = ffmpeg::ffi::AVPictureType::AV_PICTURE_TYPE_NONE;
        }
        encoder.send_frame(&filtered).map_err(failed("encoding"))?;
        write_packets(encoder, time_base, output, octx, out_tb)?;
    }
    Ok(())
}

/// At the end of the input: flush the filters, then the encoder.
fn flush<F: std::ops::DerefMut<Target = ffmpeg::Frame>>(
    filtered: F,
    graph: &mut filter::Graph,
    encoder: &mut encoder::Encoder,
    time_base: Rational,
    output: usize,
    octx: &mut ffmpeg::format::context::Output,
    out_tb: &[Rational],
) -> MediaResult<()> {
    source(graph)?
        .source()
        .flush()
        .map_err(failed("flushing the filters"))?;
    drain(filtered, graph, encoder, time_base, output, octx, out_tb)?;
    encoder.send_eof().map_err(failed("flushing the encoder"))?;
    write_packets(encoder, time_base, output, octx, out_tb)
}

impl VideoPipe {
    /// Moves every frame the decoder has through the filters into the encoder and out.
    fn pump(
        &mut self,
        octx: &mut ffmpeg::format::context::Output,
        out_tb: &[Rational],
    ) -> MediaResult<()> {
        let mut decoded = frame::Video::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            // Encoders need strictly increasing timestamps; a repeat or a gap-less frame from a
            // damaged stream is dropped or placed right after its predecessor.
            let pts = match (decoded.timestamp(), self.last_pts) {
                (Some(t), Some(last)) if t <= last => continue,
                (Some(t), _) => t,
                (None, Some(last)) => last + 1,
                (None, None) => 0,
            };
            self.last_pts = Some(pts);
            decoded.set_pts(Some(pts));
            source(&mut self.graph)?
                .source()
                .add(&decoded)
                .map_err(failed("filtering a picture"))?;
            drain(
                frame::Video::empty(),
                &mut self.graph,
                &mut self.encoder,
                self.time_base,
                self.output,
                octx,
                out_tb,
            )?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        octx: &mut ffmpeg::format::context::Output,
        out_tb: &[Rational],
    ) -> MediaResult<()> {
        let _ = self.decoder.send_eof();
        self.pump(octx, out_tb)?;
        flush(
            frame::Video::empty(),
            &mut self.graph,
            &mut self.encoder,
            self.time_base,
            self.output,
            octx,
            out_tb,
        )
    }
}

impl AudioPipe {
    fn pump(
        &mut self,
        octx: &mut ffmpeg::format::context::Output,
        out_tb: &[Rational],
    ) -> MediaResult<()> {
        let mut decoded = frame::Audio::empty();
        let tb = Rational(1, self.encoder.rate() as i32);
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            // Sound is numbered by samples from where it starts, so resampling and re-framing
            // never drift from the picture.
            let pts = *self.next_pts.get_or_insert_with(|| {
                decoded
                    .timestamp()
                    .map_or(0, |t| t.rescale(self.stream_tb, Rational(1, self.in_rate)))
            });
            decoded.set_pts(Some(pts));
            self.next_pts = Some(pts + decoded.samples() as i64);
            source(&mut self.graph)?
                .source()
                .add(&decoded)
                .map_err(failed("filtering sound"))?;
            drain(
                frame::Audio::empty(),
                &mut self.graph,
                &mut self.encoder,
                tb,
                self.output,
                octx,
                out_tb,
            )?;
        }
        Ok(())
    }

    fn finish(
        &mut self,
        octx: &mut ffmpeg::format::context::Output,
        out_tb: &[Rational],
    ) -> MediaResult<()> {
        let _ = self.decoder.send_eof();
        self.pump(octx, out_tb)?;
        let tb = Rational(1, self.encoder.rate() as i32);
        flush(
            frame::Audio::empty(),
            &mut self.graph,
            &mut self.encoder,
            tb,
            self.output,
            octx,
            out_tb,
        )
    }
}
