//! Plain types shared by every part of bwv. No I/O here.

mod digest;
mod recording;
mod roles;
mod stored;

pub use digest::Sha256Digest;
pub use recording::{Clip, Recording};
pub use roles::Roles;
pub use stored::{
    CaseStatus, Classification, ConsultationUse, ConsultedItem, ContainerKind, DerivativeKind,
    JobStatus, MediaState, ObjectKind, RecordingStatus, RegisteredBy, RetentionAction,
    RetentionState, Role, Schedule, Source, Stored, SweepOutcome, TimeSource, UploadState,
    VersionOutcome,
};

/// How far a long check (fsck, audit verify) has come, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// Before the first unit: how many there are to check (bytes, records).
    Total(u64),
    /// This many more were checked.
    Checked(u64),
}

/// The current time, truncated to milliseconds: the precision of audit records, and one that
/// both catalogue backends store and return exactly.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(3)
}
