//! A look at the top-level boxes of an MP4/MOV file, to say why FFmpeg could not open it. A
//! camera that loses power mid-recording leaves `ftyp` and part of `mdat` but never writes the
//! `moov` index: FFmpeg only says "invalid data", an officer needs "truncated".

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// What the box walk found.
#[derive(Debug, PartialEq, Eq)]
pub enum Shape {
    /// Not an ISO base media file at all.
    NotIsoMedia,
    /// Has `ftyp` but no `moov` box.
    MissingMoov,
    /// The boxes look complete.
    Complete,
}

pub fn shape(path: &Path) -> std::io::Result<Shape> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut pos = 0u64;
    let (mut ftyp, mut moov) = (false, false);
    while pos + 8 <= len {
        file.seek(SeekFrom::Start(pos))?;
        let mut header = [0u8; 16];
        let n = file.read(&mut header)?;
        if n < 8 {
            break;
        }
        let size32 = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as u64;
        let kind = &header[4..8];
        if pos == 0 && kind != b"ftyp" {
            return Ok(Shape::NotIsoMedia);
        }
        match kind {
            b"ftyp" => ftyp = true,
            b"moov" => moov = true,
            _ => {}
        }
        let size = match size32 {
            0 => len - pos, // runs to the end of the file
            1 if n >= 16 => u64::from_be_bytes([
                header[8], header[9], header[10], header[11], header[12], header[13], header[14],
                header[15],
            ]),
            s => s,
        };
        if size < 8 {
            break;
        }
        pos = pos.saturating_add(size);
    }
    Ok(match (ftyp, moov) {
        (false, _) => Shape::NotIsoMedia,
        (true, false) => Shape::MissingMoov,
        (true, true) => Shape::Complete,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/media")
            .join(name)
    }

    #[test]
    fn tells_truncated_from_complete_and_foreign() {
        assert_eq!(
            shape(&fixture("truncated-no-moov.mp4")).unwrap(),
            Shape::MissingMoov
        );
        assert_eq!(shape(&fixture("h264-aac.mp4")).unwrap(), Shape::Complete);
        assert_eq!(
            shape(&fixture("not-video.mp4")).unwrap(),
            Shape::NotIsoMedia
        );
        assert_eq!(
            shape(&fixture("axis-h264-aac.mkv")).unwrap(),
            Shape::NotIsoMedia
        );
    }
}
