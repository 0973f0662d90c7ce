//! The fast path: copy the main video and audio streams, untouched, into a fast-start MP4. The
//! display rotation goes along, so a portrait clip still plays upright.

use std::path::Path;

use ffmpeg::{Dictionary, Packet, Rational, codec, ffi};
use ffmpeg_next as ffmpeg;
use serde_json::json;

use super::probe::Probe;
use super::{Cancel, MediaError, MediaResult, failed, read_packet, unplayable};

/// Writes `dst`; returns the parameters for the derivative's audit record.
pub fn remux(
    src: &Path,
    dst: &Path,
    probe: &Probe,
    cancel: &Cancel,
) -> MediaResult<serde_json::Value> {
    let mut ictx = ffmpeg::format::input(src).map_err(unplayable("opening the original"))?;
    let mut octx = ffmpeg::format::output_as(dst, "mp4").map_err(failed("creating the copy"))?;
    let indices: Vec<usize> = [probe.video, probe.audio].into_iter().flatten().collect();
    let map = copy_streams(&ictx, &mut octx, &indices)?;
    let copied: Vec<_> = indices
        .iter()
        .filter_map(|&i| ictx.stream(i))
        .map(|s| json!({"index": s.index(), "codec": s.parameters().id().name()}))
        .collect();
    let mut opts = Dictionary::new();
    opts.set("movflags", "+faststart");
    octx.write_header_with(opts)
        .map_err(failed("writing the copy's header"))?;
    let in_tb: Vec<Rational> = ictx.streams().map(|s| s.time_base()).collect();
    let out_tb: Vec<Rational> = octx.streams().map(|s| s.time_base()).collect();

    let mut packet = Packet::empty();
    let mut corrupt = 0u32;
    while read_packet(&mut ictx, &mut packet, &mut corrupt, cancel)? {
        let input = packet.stream();
        let Some(output) = map.get(input).copied().flatten() else {
            continue;
        };
        packet.rescale_ts(in_tb[input], out_tb[output]);
        packet.set_position(-1);
        packet.set_stream(output);
        packet
            .write_interleaved(&mut octx)
            .map_err(failed("writing the copy"))?;
    }
    octx.write_trailer().map_err(failed("finishing the copy"))?;
    Ok(json!({
        "mode": "remux",
        "container": "mp4",
        "movflags": "+faststart",
        "streams": copied,
        "corrupt_packets_skipped": corrupt,
    }))
}

/// Adds an untouched copy of each of the input streams `indices` to `octx`, display rotation
/// included (a portrait clip still plays upright); returns each input stream's output index.
pub(super) fn copy_streams(
    ictx: &ffmpeg::format::context::Input,
    octx: &mut ffmpeg::format::context::Output,
    indices: &[usize],
) -> MediaResult<Vec<Option<usize>>> {
    let mut map: Vec<Option<usize>> = vec![None; ictx.nb_streams() as usize];
    for (out, &index) in indices.iter().enumerate() {
        let ist = ictx
            .stream(index)
            .ok_or_else(|| MediaError::Failed(format!("stream {index} vanished")))?;
        let mut ost = octx
            .add_stream(ffmpeg::encoder::find(codec::Id::None))
            .map_err(failed("adding a stream to the copy"))?;
        ost.set_parameters(ist.parameters());
        // SAFETY: `ost` is a live stream of `octx`; the source container's codec tag may not
        // be valid in MP4, and zero lets the muxer choose.
        unsafe {
            (*ost.parameters().as_mut_ptr()).codec_tag = 0;
        }
        copy_display_matrix(&ist, &mut ost)?;
        map[index] = Some(out);
    }
    Ok(map)
}

fn copy_display_matrix(
    ist: &ffmpeg::format::stream::Stream,
    ost: &mut ffmpeg::format::stream::StreamMut,
) -> MediaResult<()> {
    for sd in ist.side_data() {
        if sd.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix {
            let data = sd.data();
            // SAFETY: allocates side data of exactly `data.len()` bytes on a live output
            // stream and fills it; FFmpeg frees it with the stream.
            unsafe {
                let dst = ffi::av_stream_new_side_data(
                    ost.as_mut_ptr(),
                    ffi::AVPacketSideDataType::AV_PKT_DATA_DISPLAYMATRIX,
                    data.len(),
                );
                if dst.is_null() {
                    return Err(MediaError::Failed(
                        "out of memory copying the display matrix".into(),
                    ));
                }
                std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
            }
        }
    }
    Ok(())
}
