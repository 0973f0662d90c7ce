//! Write-behind for large files written in a stream: the disk starts on the data while later
//! chunks are still arriving or being hashed, and dirty memory stays bounded.

use std::fs::File;

/// Write-behind window: every time the written data crosses a window boundary, the kernel is
/// asked to start writing that window to disk, and to finish the one before it. The disk then
/// works while later chunks are still being hashed, dirty memory stays bounded (two windows)
/// however large the footage, and the fsync that makes the object durable has little left.
const WRITE_BEHIND: u64 = 32 << 20;

/// An error from either request is returned, not left for the final fsync: waiting on a range
/// (`SYNC_FILE_RANGE_WAIT_AFTER`) reports a failed writeback once, to this call, and the fsync
/// after it would then succeed.
pub fn write_behind(file: &File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let end = offset + len;
    if end / WRITE_BEHIND == offset / WRITE_BEHIND {
        return Ok(());
    }
    let boundary = end / WRITE_BEHIND * WRITE_BEHIND;
    let range = |start: u64, flags: libc::c_uint| {
        // SAFETY: a valid open descriptor and a range inside the file; the call only schedules
        // or waits for I/O.
        let done = unsafe {
            libc::sync_file_range(
                file.as_raw_fd(),
                start as libc::off64_t,
                WRITE_BEHIND as libc::off64_t,
                flags,
            )
        };
        if done == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    range(boundary - WRITE_BEHIND, libc::SYNC_FILE_RANGE_WRITE)?;
    if boundary >= 2 * WRITE_BEHIND {
        range(
            boundary - 2 * WRITE_BEHIND,
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER,
        )?;
    }
    Ok(())
}
