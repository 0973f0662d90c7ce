//! CPS disclosure packages and their offline verification (reference/audit-anchors.md
//! §5.6-5.7, reference/dems-anchors.md §5.3): the exhibits' media with hashes, the schedules,
//! and an extract of the audit log that proves, without our database, where every file came
//! from and that it was disclosed.

pub mod drafts;
pub mod excerpts;
mod html;
mod index_page;
pub mod kept;
pub mod manifest;
pub mod names;
pub mod package;
mod reader;
pub(crate) mod schedules;
pub mod shares;
pub mod tlog_proof;
pub mod verify;
mod writer;
