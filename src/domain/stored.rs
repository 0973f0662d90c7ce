//! States the catalogue stores as text. Each is an enum with exactly one spelling per state,
//! used for the database, JSON and messages alike; a spelling the enum does not know, read back
//! from the database, is an error naming the column's type rather than silently another state.

/// What every stored state offers, for code that handles any of them (parsing a command-line
/// value, say).
pub trait Stored: Sized + Copy + Send + Sync + 'static {
    const ALL: &'static [Self];
    fn parse(s: &str) -> Option<Self>;
    fn as_str(self) -> &'static str;
}

/// Declares a stored state: the enum, its spellings, serde, and sqlx encoding as text on every
/// backend (decoding refuses unknown spellings).
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl Stored for $name {
            const ALL: &'static [$name] = $name::ALL;

            fn parse(s: &str) -> Option<$name> {
                $name::parse(s)
            }

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<DB: sqlx::Database> sqlx::Type<DB> for $name
        where
            str: sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as sqlx::Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for $name
        where
            &'r str: sqlx::Decode<'r, DB>,
        {
            fn decode(
                value: <DB as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
                $name::parse(text).ok_or_else(|| {
                    format!(concat!("the catalogue holds an unknown ", stringify!($name), " {:?}"), text)
                        .into()
                })
            }
        }

        impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for $name
        where
            &'q str: sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&'q str as sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }
    };
}

stored_enum! {
    /// Which door the footage came in through. Recorded on every recording and sighting
    /// because the chain of custody starts at the door.
    Source {
        Cli = "cli",
        Watch = "watch",
        Axis = "axis",
        Tus = "tus",
    }
}

stored_enum! {
    /// What footage is, at source or after review.
    Classification {
        Unreviewed = "unreviewed",
        Evidential = "evidential",
        NonEvidential = "non-evidential",
    }
}

stored_enum! {
    /// Where a recording is in its life: still arriving, stored (originals durable), or
    /// processed.
    RecordingStatus {
        Incomplete = "incomplete",
        Stored = "stored",
        Playable = "playable",
        Unplayable = "unplayable",
    }
}

stored_enum! {
    /// Where a recording is under the retention policy.
    RetentionState {
        Active = "active",
        /// In the records-management review queue.
        Review = "review",
        /// Deleted, recoverable until purged.
        SoftDeleted = "soft-deleted",
        /// Only the tombstone is left.
        Purged = "purged",
    }
}

stored_enum! {
    /// Whether a clip plays: `pending` until its media job settles it.
    MediaState {
        Pending = "pending",
        Playable = "playable",
        Unplayable = "unplayable",
    }
}

stored_enum! {
    /// What retention does next to a recording.
    RetentionAction {
        /// Nothing may happen before the date (or ever, while there is none): look again then.
        Keep = "keep",
        /// A person decides (records-management review).
        Review = "review",
        /// Deleted when due.
        Delete = "delete",
    }
}

stored_enum! {
    /// Who put an officer or camera in the register.
    RegisteredBy {
        /// The force itself: an operator or administrator.
        Force = "force",
        /// A docking station, under `axis.auto_register`; not confirmed by the force.
        Dock = "dock",
    }
}

stored_enum! {
    /// Which disclosure schedule case material goes on.
    Schedule {
        /// Used material, produced as an exhibit.
        Exhibit = "exhibit",
        /// Non-sensitive unused material (MG6C).
        Unused = "unused",
        /// Sensitive material (MG6D): never in a defence-facing package.
        Sensitive = "sensitive",
    }
}

stored_enum! {
    /// Why bytes a dock sent are kept beside, not as, the object of their name.
    VersionOutcome {
        /// The dock sent the object again before Complete; the later bytes are current.
        Superseded = "superseded",
        /// The bytes arrived as the container completed, and were refused.
        RefusedAfterComplete = "refused-after-complete",
    }
}

stored_enum! {
    /// What an Axis recording container holds: a recording, or content the dock could not
    /// deliver normally (`RejectedContent_…`), kept whatever it is.
    ContainerKind {
        Recording = "recording",
        Rejected = "rejected",
    }
}

stored_enum! {
    /// What an object in an Axis container is (see `ingest::axis::Kind::of`).
    ObjectKind {
        Clip = "clip",
        Key = "key",
        Bookmark = "bookmark",
        Gnss = "gnss",
        Other = "other",
    }
}

stored_enum! {
    /// Where a case is, as the officer in the case records it; retention reads it (CPIA).
    CaseStatus {
        Open = "open",
        Charged = "charged",
        /// No further action.
        Nfa = "nfa",
        Acquitted = "acquitted",
        Convicted = "convicted",
        Closed = "closed",
    }
}

stored_enum! {
    /// What a sweep did with one recording.
    SweepOutcome {
        SoftDeleted = "soft-deleted",
        SentForReview = "sent-for-review",
        /// The plan no longer applied (held, reclassified, moved on): nothing done.
        Skipped = "skipped",
        Purged = "purged",
        /// Protected again within its grace period: brought back.
        Restored = "restored",
        /// The store still retains its bytes: the next sweep tries again.
        Deferred = "deferred",
        Failed = "failed",
    }
}

stored_enum! {
    /// What a derivative of a clip is: made by the media worker, or cut for a disclosure.
    DerivativeKind {
        /// The playable copy (H.264/AAC MP4) every disclosure is made from.
        Disclosure = "disclosure",
        Poster = "poster",
        Thumbstrip = "thumbstrip",
        /// A stretch of the playable copy, cut for a disclosure package.
        Excerpt = "excerpt",
    }
}

stored_enum! {
    /// How a recording's time was learned. Only an operator's word is taken as said; a machine's
    /// clock may be wrong, and an implausible time is flagged and counted from arrival.
    TimeSource {
        Operator = "operator",
        FileMtime = "file-mtime",
        Camera = "camera",
        /// Nothing said: the time it arrived.
        Arrival = "arrival",
    }
}

stored_enum! {
    /// Where a tus upload is.
    UploadState {
        Receiving = "receiving",
        Completed = "completed",
        Terminated = "terminated",
        Expired = "expired",
    }
}

stored_enum! {
    /// Where a job on the queue is.
    JobStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        /// Out of attempts: kept and listed, retried only by hand.
        Dead = "dead",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_one_spelling_both_ways() {
        for s in UploadState::ALL {
            assert_eq!(UploadState::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(JobStatus::parse("Queued"), None);
        assert_eq!(JobStatus::parse("later"), None);
    }
}

stored_enum! {
    /// What a person does in the force, as the identity provider says (app roles) or as an API
    /// token narrows it. What each may do is `access::permissions`.
    Role {
        Officer = "officer",
        Supervisor = "supervisor",
        DisclosureOfficer = "disclosure-officer",
        RecordsManager = "records-manager",
        Auditor = "auditor",
        Administrator = "administrator",
    }
}

stored_enum! {
    /// What a consultation (DPA 2018 s.62) was of.
    ConsultedItem {
        Recording = "recording",
        /// A disclosure package, downloaded.
        Package = "package",
    }
}

stored_enum! {
    /// How footage or its details were consulted under one justification; each is logged once
    /// per justification, however many requests it takes.
    ConsultationUse {
        /// The recording's page: times, officer, hashes, history.
        Details = "details",
        /// Playing the disclosure copy.
        Playback = "playback",
        /// A poster frame or thumbnail.
        Stills = "stills",
        /// Downloading the disclosure copy.
        CopyDownload = "copy-download",
        /// Downloading an original clip, byte for byte.
        OriginalDownload = "original-download",
        /// Downloading a disclosure package.
        PackageDownload = "package-download",
    }
}
