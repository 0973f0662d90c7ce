//! The media pipeline against the ffmpeg CLI, on the same machine in the same run:
//!
//! 1. transcode: bwv's in-process transcode (ffmpeg-next) and `ffmpeg` with the same settings
//!    (libx264 veryfast CRF 23, yuv420p, AAC 128k, +faststart) on the same 1080p30 HEVC clip.
//!    Target (issue "Media pipeline"): at most 1.1x the CLI's time.
//! 2. remux: bwv's stream copy of a 1080p30 H.264/AAC MKV into a fast-start MP4, as a multiple of
//!    realtime (target: at least 50x), beside `ffmpeg -c copy` for reference.
//! 3. worker peak RSS: `bwv worker --drain` processing both clips (probe, copy, stills).
//!
//! Run with `cargo bench --bench media` (BWV_BENCH_DIR picks the scratch disk, BWV_BENCH_RUNS
//! the repetitions, default 3). Runs alternate between the two sides.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bwv::media::{self, Cancel, remux, transcode};
use common::{measure, median};

const TRANSCODE_SECS: u32 = 10;
const REMUX_SECS: u32 = 120;

fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .expect("ffmpeg CLI");
    assert!(status.success(), "ffmpeg {args:?}");
}

#[rustfmt::skip] // one ffmpeg option per pair reads better than one per line
fn make_clips(dir: &Path) -> (PathBuf, PathBuf) {
    let hevc = dir.join("hevc-1080p30.mp4");
    if !hevc.exists() {
        eprintln!("making a {TRANSCODE_SECS} s 1080p30 HEVC/AAC clip ...");
        ffmpeg(&[
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", &TRANSCODE_SECS.to_string(),
            "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
            "-tag:v", "hvc1", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "128k", hevc.to_str().unwrap(),
        ]);
    }
    let mkv = dir.join("h264-1080p30.mkv");
    if !mkv.exists() {
        eprintln!("making a {REMUX_SECS} s 1080p30 H.264/AAC MKV ...");
        ffmpeg(&[
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", &REMUX_SECS.to_string(),
            "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "8M", "-g", "60",
            "-c:a", "aac", "-b:a", "128k", mkv.to_str().unwrap(),
        ]);
    }
    (hevc, mkv)
}

fn main() {
    let base = std::env::var_os("BWV_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("bwv-bench-media");
    std::fs::create_dir_all(&base).unwrap();
    let runs: usize = std::env::var("BWV_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (hevc, mkv) = make_clips(&base);
    media::init().unwrap();
    let cancel = Cancel::default();
    let settings = transcode::Settings::default();

    // 1. Transcode, same settings both sides.
    let probe = media::probe(&hevc, &cancel).unwrap();
    assert_eq!(media::plan(&probe), media::Plan::Transcode);
    let ours = base.join("ours.mp4");
    let cli = base.join("cli.mp4");
    let (mut t_ours, mut t_cli) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        transcode::transcode(&hevc, &ours, &probe, &settings, &cancel).unwrap();
        t_ours.push(start.elapsed());
        let crf = settings.crf.to_string();
        let abr = settings.audio_bit_rate.to_string();
        let (t, _) = measure(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(&hevc)
                .args(["-map", "0:v:0", "-map", "0:a:0"])
                .args(["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p"])
                .args(["-c:v", "libx264", "-preset", &settings.preset, "-crf", &crf])
                .args(["-c:a", "aac", "-b:a", &abr, "-movflags", "+faststart"])
                .arg(&cli),
        );
        t_cli.push(t);
    }
    let (ours_t, cli_t) = (median(t_ours), median(t_cli));
    let ratio = ours_t.as_secs_f64() / cli_t.as_secs_f64();
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64 / 1e6;
    println!(
        "transcode {TRANSCODE_SECS} s 1080p30 HEVC -> H.264/AAC (median of {runs}): \
         ffmpeg CLI {:.2} s ({:.1} MB), bwv in-process {:.2} s ({:.1} MB): ratio {ratio:.2}x \
         (target <= 1.1x) {}",
        cli_t.as_secs_f64(),
        size(&cli),
        ours_t.as_secs_f64(),
        size(&ours),
        if ratio <= 1.1 { "MET" } else { "NOT MET" }
    );

    // 2. Remux.
    let probe = media::probe(&mkv, &cancel).unwrap();
    assert_eq!(media::plan(&probe), media::Plan::Remux);
    let (mut t_ours, mut t_cli) = (Vec::new(), Vec::new());
    for _ in 0..runs.max(3) {
        let start = Instant::now();
        remux::remux(&mkv, &ours, &probe, &cancel).unwrap();
        t_ours.push(start.elapsed());
        let (t, _) = measure(
            Command::new("ffmpeg")
                .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
                .arg(&mkv)
                .args(["-map", "0:v:0", "-map", "0:a:0", "-c", "copy"])
                .args(["-movflags", "+faststart"])
                .arg(&cli),
        );
        t_cli.push(t);
    }
    let (ours_t, cli_t) = (median(t_ours), median(t_cli));
    let realtime = f64::from(REMUX_SECS) / ours_t.as_secs_f64();
    println!(
        "remux {REMUX_SECS} s 1080p30 H.264/AAC MKV -> MP4 (median of {}): bwv {:.2} s = {realtime:.0}x \
         realtime (target >= 50x) {}; ffmpeg -c copy {:.2} s = {:.0}x realtime",
        runs.max(3),
        ours_t.as_secs_f64(),
        if realtime >= 50.0 { "MET" } else { "NOT MET" },
        cli_t.as_secs_f64(),
        f64::from(REMUX_SECS) / cli_t.as_secs_f64()
    );

    // 3. The worker on both clips: peak RSS.
    let data = base.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let bwv = env!("CARGO_BIN_EXE_bwv");
    let ingest = Command::new(bwv)
        .arg("--data-dir")
        .arg(&data)
        .args(["ingest", "--officer", "4471", "--device", "BENCH-1"])
        .arg(&hevc)
        .arg(&mkv)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ingest.success());
    let (t, rss) = measure(
        Command::new(bwv)
            .arg("--data-dir")
            .arg(&data)
            .args(["worker", "--drain", "--concurrency", "2"])
            .env("BWV_WORKER__POLL_MILLIS", "100")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    println!(
        "worker: both clips (probe, disclosure copy, poster, thumbnail strip) in {:.2} s, \
         peak RSS {:.1} MiB",
        t.as_secs_f64(),
        rss.rss as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&data);
}
