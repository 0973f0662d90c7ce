//! The command line, as clap sees it.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

use crate::domain::{CaseStatus, Classification, JobStatus, RecordingStatus, Stored};

#[derive(Debug, Parser)]
#[command(
    name = "bwv",
    version,
    about = "Body worn video evidence pipeline: ingest, immutable storage, tamper-evident audit",
    after_help = "With nothing configured, bwv keeps everything in ./bwv-data (SQLite catalogue, \
                  filesystem store, log signing key)."
)]
pub struct Cli {
    /// Data directory (catalogue, store, signing key) [env: BWV_DATA_DIR] [default: ./bwv-data]
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file [default: ./bwv.toml if present]
    #[arg(long, global = true, env = "BWV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Catalogue database: sqlite://PATH or postgres://... [env: BWV_DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Who to name as the actor in audit records [env: BWV_ACTOR] [default: os:$USER]
    #[arg(long, global = true, value_name = "ID")]
    pub actor: Option<String>,
    /// Machine-readable output: one JSON object per line
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store footage files (recursively for directories), or watch a folder docks copy into
    Ingest(IngestArgs),
    /// List or show recordings
    #[command(subcommand)]
    Recordings(RecordingsCommand),
    /// Inspect, checkpoint and verify the audit chain
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Re-hash every stored object and compare with the catalogue
    Fsck,
    /// Serve the network doors: Axis content destination, tus 1.0, health and metrics
    Serve {
        /// Address to listen on [default: server.listen, 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Do not start media workers (run `bwv worker` elsewhere)
        #[arg(long)]
        no_workers: bool,
        /// Worker processes to start and keep running [default: worker.processes, 1]
        #[arg(long, value_name = "N", conflicts_with = "no_workers")]
        workers: Option<usize>,
    },
    /// Run media jobs (probe, disclosure copies, stills) until stopped
    Worker {
        /// Jobs run at once [default: worker.concurrency, 2]
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
        /// Stop once no job is queued or running, instead of waiting for more
        #[arg(long)]
        drain: bool,
    },
    /// The job queue: what is waiting, running, done or dead
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Record a review decision: the recording is evidential or non-evidential
    Classify {
        recording: Uuid,
        #[arg(value_parser = ["evidential", "non-evidential"])]
        classification: String,
        /// Why; required to make footage non-evidential (kept in the audit chain)
        #[arg(long)]
        reason: Option<String>,
    },
    /// Cases and the footage linked to them as exhibits
    #[command(subcommand)]
    Case(CaseCommand),
    /// Build a CPS disclosure package for a case: exhibits, schedules, continuity, audit proofs
    Disclose(DiscloseArgs),
    /// Check a disclosure package offline, trusting only the given log key
    Verify {
        /// The package: a directory or a .zip
        package: PathBuf,
        /// File with the log's verifier key(s), obtained from the force (never from the package)
        #[arg(long, value_name = "KEYFILE")]
        trust: PathBuf,
    },
    /// Legal holds: nothing under a hold in force is deleted
    #[command(subcommand)]
    Hold(HoldCommand),
    /// Retention: what is due for deletion or review, and why
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Register an officer (staff number) whose footage docks may upload
    #[command(name = "officer-add")]
    OfficerAdd {
        id: String,
        /// Display name, kept in the catalogue only (the audit log says only that one was given)
        #[arg(long)]
        name: Option<String>,
    },
    /// Register a camera by serial number
    #[command(name = "device-add")]
    DeviceAdd {
        serial: String,
        #[arg(long)]
        model: Option<String>,
    },
    /// The officer register, with each docking station's users mapped to officers
    Officers,
    /// The camera register, with each docking station's labels for its cameras
    Devices,
    /// Docking stations: credentials for the network doors
    #[command(subcommand)]
    Dock(DockCommand),
    /// Apply catalogue migrations
    Migrate,
}

/// A stored state given on the command line, in its one spelling.
fn parse_stored<T: Stored>(s: &str) -> Result<T, String> {
    T::parse(s).ok_or_else(|| {
        let all: Vec<&str> = T::ALL.iter().map(|v| v.as_str()).collect();
        format!("one of {}", all.join(", "))
    })
}

fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}; expected RFC 3339, e.g. 2026-11-25T14:03:00Z"))
}

#[derive(Debug, Args)]
pub struct DiscloseArgs {
    /// The case's URN
    pub urn: String,
    /// Where to write the package: a directory, or a ZIP when the name ends in .zip
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Who receives it (kept in the audit log, as the law asks of disclosures)
    #[arg(long, value_name = "TEXT")]
    pub recipient: String,
    /// Why it is disclosed
    #[arg(long, value_name = "TEXT")]
    pub purpose: Option<String>,
    /// Put the originals in too, bit for bit, beside the playable copies
    #[arg(long)]
    pub include_originals: bool,
    /// An excerpt of an exhibit, cut from its playable copy (repeatable)
    #[arg(long, value_name = "RECORDING@HH:MM:SS-HH:MM:SS")]
    pub clip: Vec<crate::disclosure::excerpts::ClipSpec>,
    /// Where the sensitive schedule (MG6D) goes [default: beside the package, <name>-MG6D-SENSITIVE]
    #[arg(long, value_name = "DIR")]
    pub sensitive_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or directories to ingest
    #[arg(required_unless_present = "watch", conflicts_with = "watch")]
    pub paths: Vec<PathBuf>,
    /// Watch this folder: take each file once it stops growing, then move it to DIR/.ingested/
    #[arg(long, value_name = "DIR")]
    pub watch: Option<PathBuf>,
    /// Officer (staff number) who recorded the footage
    #[arg(long)]
    pub officer: String,
    /// Serial number of the camera
    #[arg(long)]
    pub device: String,
    /// When recording started; default: the file's modification time
    #[arg(long, value_parser = parse_rfc3339, value_name = "RFC3339")]
    pub recorded_at: Option<DateTime<Utc>>,
    /// Category chosen on the camera or by the operator
    #[arg(long, value_name = "NAME")]
    pub category: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum RecordingsCommand {
    /// Recordings, newest first, filtered as the API's search is; `next` continues with --after
    List {
        #[command(flatten)]
        filter: Filter,
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// The cursor a previous page ended with
        #[arg(long)]
        after: Option<String>,
    },
    /// One recording with its clips and audit history. Reading it is a consultation (DPA 2018
    /// s.62): give a reason or a case URN; it is logged naming the operator
    Show {
        id: Uuid,
        #[command(flatten)]
        why: Why,
    },
}

/// Which recordings to list; every flag narrows.
#[derive(Debug, clap::Args)]
pub struct Filter {
    #[arg(long)]
    pub officer: Option<String>,
    #[arg(long)]
    pub device: Option<String>,
    #[arg(long)]
    pub dock: Option<Uuid>,
    /// Recorded at or after
    #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
    pub from: Option<DateTime<Utc>>,
    /// Recorded before
    #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
    pub until: Option<DateTime<Utc>>,
    #[arg(long)]
    pub category: Option<String>,
    #[arg(long, value_parser = parse_stored::<Classification>)]
    pub classification: Option<Classification>,
    #[arg(long, value_parser = parse_stored::<RecordingStatus>)]
    pub status: Option<RecordingStatus>,
    /// Exhibits of this case (URN)
    #[arg(long)]
    pub case: Option<String>,
    /// Words in a bookmark's note or category
    #[arg(long)]
    pub text: Option<String>,
}

impl From<Filter> for crate::catalogue::RecordingFilter {
    fn from(f: Filter) -> Self {
        crate::catalogue::RecordingFilter {
            officer: f.officer,
            device: f.device,
            dock: f.dock,
            from: f.from,
            until: f.until,
            category: f.category,
            classification: f.classification,
            status: f.status,
            case: f.case,
            text: f.text,
        }
    }
}

/// Why footage or its details are looked at: a reason code from `consultation.reasons`, or a
/// case URN, and optionally free text.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true, args = ["reason", "case"])]
pub struct Why {
    /// A reason code (see `consultation.reasons` in the configuration)
    #[arg(long)]
    pub reason: Option<String>,
    /// The case the footage is looked at for
    #[arg(long)]
    pub case: Option<String>,
    /// Free text explaining the need
    #[arg(long)]
    pub detail: Option<String>,
}

impl From<Why> for crate::consultation::Justification {
    fn from(w: Why) -> Self {
        crate::consultation::Justification {
            reason: w.reason,
            case: w.case,
            detail: w.detail,
        }
    }
}

/// A date (`2027-05-01`, midnight UTC) or an RFC 3339 time.
fn parse_date_or_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    parse_rfc3339(s).map_err(|_| format!("{s:?} is not a date like 2027-05-01 or an RFC 3339 time"))
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// List what is due for deletion or review as of a date (default now), with the rule and
    /// dates behind each, and record the plan
    Plan {
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        as_of: Option<DateTime<Utc>>,
        /// CSV on standard output, for a spreadsheet
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Approve another user's plan, where two-person approval is configured
    Approve { plan: Uuid },
    /// Carry out a plan (a new one as of --as-of, or --plan ID): soft-delete what is due, send
    /// what is due for review, and purge footage whose grace period is over
    Sweep {
        /// Required: a sweep deletes footage
        #[arg(long)]
        execute: bool,
        /// A recorded (and, where required, approved) plan
        #[arg(long, conflicts_with = "as_of")]
        plan: Option<Uuid>,
        /// Judge what is due as of this date (not later than now)
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        as_of: Option<DateTime<Utc>>,
    },
    /// Bring back a soft-deleted recording before it is purged
    Restore {
        recording: Uuid,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The deletion certificate of a purged recording
    Certificate { recording: Uuid },
    /// Record a records-management review decision on a recording due for review
    #[command(group(clap::ArgGroup::new("decision").required(true).args(["retain_until", "group", "dispose"])))]
    Review {
        recording: Uuid,
        /// Keep it until this date, then review again
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        retain_until: Option<DateTime<Utc>>,
        /// Keep it for the period of this review group (retention policy `review.groups`)
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// It is no longer needed: delete it (after the grace period)
        #[arg(long)]
        dispose: bool,
        #[arg(long)]
        reason: String,
    },
    /// Recordings a sweep sent for review, awaiting a decision
    Reviews,
}

#[derive(Debug, Subcommand)]
pub enum HoldCommand {
    /// Hold a recording (by id) or every recording of a case (by URN)
    Place {
        /// A recording id or a case URN
        target: String,
        #[arg(long)]
        reason: String,
        /// The hold lapses at this date
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        until: Option<DateTime<Utc>>,
    },
    /// Release a hold
    Release {
        hold: Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Holds in force (with --all, released and lapsed ones too)
    List {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Open a case
    Open {
        urn: String,
        /// The offence, as charged or under investigation
        #[arg(long)]
        offence: String,
        /// Officer in the case (staff number)
        #[arg(long)]
        oic: String,
    },
    /// Link a recording to a case: as an exhibit (default reference: the producing officer's
    /// initials and the next number, e.g. AB/3), or as unused material for the MG6C, or as
    /// sensitive material for the MG6D
    Link {
        urn: String,
        recording: Uuid,
        #[arg(long, value_name = "REF")]
        exhibit: Option<String>,
        /// Relevant but not used as evidence: listed on the MG6C (non-sensitive unused material)
        #[arg(long, conflicts_with_all = ["exhibit", "sensitive"])]
        unused: bool,
        /// Sensitive material, listed only on the MG6D (never in the defence-facing package),
        /// with the reason it is sensitive
        #[arg(long, value_name = "REASON", conflicts_with = "exhibit")]
        sensitive: Option<String>,
        /// The schedule's description of the material (default: made from the recording)
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// For the disclosure officer's report (MG6E): why the material may undermine the
        /// prosecution case or assist the defence
        #[arg(long, value_name = "TEXT")]
        undermines: Option<String>,
    },
    /// Record the case's progress
    Update {
        urn: String,
        #[arg(long, value_parser = parse_stored::<CaseStatus>)]
        status: Option<CaseStatus>,
        /// Release date of the sentence, after a conviction
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        sentence_release: Option<DateTime<Utc>>,
        /// An appeal is under way (on) or over (off)
        #[arg(long, value_parser = ["on", "off"])]
        appeal: Option<String>,
    },
    /// A case with its exhibits
    Show { urn: String },
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Jobs, newest first
    List {
        /// Only jobs in this state
        #[arg(long, value_parser = parse_stored::<JobStatus>)]
        status: Option<JobStatus>,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// One job in full
    Show { id: Uuid },
    /// Queue a dead job again with fresh attempts
    Retry { id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every record, hash, chain and checkpoint; exit 1 naming the first bad record
    Verify {
        /// Verifier keys to trust instead of the log's own (one per line, the current first,
        /// then retired ones)
        #[arg(long, value_name = "FILE")]
        trust: Option<PathBuf>,
    },
    /// One item's history (recording id)
    Show { id: Uuid },
    /// Who consulted footage, when and why (DPA 2018 s.62), newest first
    Consultations {
        /// Consultations of this item (recording or package id)
        #[arg(long)]
        item: Option<Uuid>,
        /// Consultations by this actor (`person:<id>` or an operator's name)
        #[arg(long)]
        actor: Option<String>,
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        from: Option<DateTime<Utc>>,
        #[arg(long, value_parser = parse_date_or_time, value_name = "DATE")]
        until: Option<DateTime<Utc>>,
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// Write CSV (for a spreadsheet) instead of a listing
        #[arg(long)]
        csv: bool,
    },
    /// Sign a checkpoint now if the log grew
    Checkpoint,
    /// Print the log's verifier key, to publish and give to verifiers
    PublicKey,
}

#[derive(Debug, Subcommand)]
pub enum DockCommand {
    /// Create a dock and print its secret (shown this once; only a hash is kept)
    Add { name: String },
    /// Docks with their state
    List,
    /// Revoke a dock: its secret and every token it holds stop working at the next request
    Revoke { name: String },
    /// Write the Axis connection file for a dock; issues it a new secret, since only a hash of
    /// the old one is kept
    ConnectionFile {
        name: String,
        /// The URL docks use to reach `bwv serve`, e.g. https://bwv.example-police.uk
        #[arg(long)]
        url: String,
        /// Write here instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}
