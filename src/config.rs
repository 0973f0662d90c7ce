//! Layered configuration: built-in defaults, then `bwv.toml`, then `BWV_*` environment variables,
//! then command-line flags. With nothing configured bwv runs embedded from `./bwv-data`.
//!
//! Nested keys come from the environment with a double underscore, e.g.
//! `BWV_STORE__BACKEND=s3`, `BWV_STORE__S3__BUCKET=evidence`.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::domain::{Classification, Role};
use crate::error::{Code, Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means `<data_dir>/bwv.db`.
    pub database_url: Option<String>,
    /// Who the audit records name as the actor for commands run from this shell.
    pub actor: Option<String>,
    pub log: LogConfig,
    pub store: StoreConfig,
    pub ingest: IngestConfig,
    pub server: ServerConfig,
    pub axis: AxisConfig,
    pub tus: TusConfig,
    pub worker: WorkerConfig,
    pub retention: RetentionConfig,
    pub identity: IdentityConfig,
    pub consultation: ConsultationConfig,
    /// Categories a camera or dock may attach to footage (Axis `System/Categories.json`).
    pub categories: Vec<Category>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// The log's identity, also the checkpoint key name (C2SP tlog-checkpoint). One per force.
    pub origin: String,
    /// Ed25519 signing key in Go note format; created with mode 0600 on first use.
    pub signing_key: Option<PathBuf>,
    /// Checkpoints are signed after writes, at most this often (and always when a command ends).
    pub checkpoint_interval_secs: u64,
    /// Verifier keys of signing keys this log was signed with before (`bwv audit public-key`
    /// of each, kept when it was rotated out): their checkpoints still verify, and the current
    /// key signs only trees that extend them.
    pub retired_keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    Fs,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// Root of the filesystem store; defaults to `<data_dir>/store`.
    pub path: Option<PathBuf>,
    pub s3: S3Config,
}

/// How the AWS SDK computes and checks request/response checksums. `when-required` is for
/// S3-compatible stores that reject the SDK's default CRC headers; bwv still sends SHA-256 on
/// every upload either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumMode {
    WhenSupported,
    WhenRequired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LockMode {
    Compliance,
    Governance,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub force_path_style: bool,
    /// Key prefix inside the bucket, e.g. `bwv/`.
    pub prefix: String,
    /// Static credentials; when absent, `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` are used.
    pub access_key_id: Option<String>,
    /// Never printed (its Debug is redacted) and never written back out.
    #[serde(skip_serializing)]
    pub secret_access_key: Option<SecretString>,
    pub checksum: ChecksumMode,
    /// Multipart part size; S3 needs at least 5 MiB for every part but the last.
    pub part_size_mib: u64,
    pub object_lock: ObjectLockConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectLockConfig {
    pub mode: LockMode,
    /// Retain-until for a new original, counted from its arrival; the retention policy extends
    /// it when the footage must be kept longer.
    pub initial_retention_days: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// A watched file is taken once its size and mtime have not changed for this long.
    pub watch_settle_secs: u64,
    pub watch_poll_millis: u64,
    /// A watched file that failed on our side (store full, catalogue down) is retried this late.
    pub watch_retry_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./bwv-data"),
            database_url: None,
            actor: None,
            log: LogConfig::default(),
            store: StoreConfig::default(),
            ingest: IngestConfig::default(),
            server: ServerConfig::default(),
            axis: AxisConfig::default(),
            tus: TusConfig::default(),
            worker: WorkerConfig::default(),
            retention: RetentionConfig::default(),
            identity: IdentityConfig::default(),
            consultation: ConsultationConfig::default(),
            categories: Category::defaults(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// The address docks use to reach this server (for `X-Storage-Url`, tus `Location` and the
    /// connection file); default `http(s)://<listen>`.
    pub public_url: Option<String>,
    /// PEM certificate chain and private key; both set turns HTTPS on.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Lifetime of a dock's session token.
    pub token_ttl_secs: u64,
    /// Uploads accepted at once; beyond it docks get 503 with Retry-After.
    pub max_concurrent_uploads: usize,
    /// Uploads one dock may have in progress at once, so no dock can take every slot.
    pub max_uploads_per_dock: usize,
    /// When every slot is taken, an upload waits this long for one before it gets 503.
    pub upload_wait_secs: u64,
    /// A client has this long to send a request's headers (a new connection, its first request).
    pub header_timeout_secs: u64,
    /// An upload whose body sends nothing for this long is cut off (the dock resumes later).
    pub body_idle_timeout_secs: u64,
    /// Failed sign-ins (wrong dock secret or token) from one address, and for one dock name,
    /// within ten minutes before it is locked out for a while (0: never).
    pub auth_failures_per_source: u32,
    pub auth_failures_per_dock: u32,
    /// On shutdown, in-flight requests get this long to finish.
    pub shutdown_grace_secs: u64,
    /// Refuse an upload unless the store keeps this much free space after it.
    pub min_free_mib: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            token_ttl_secs: 3600,
            max_concurrent_uploads: 64,
            max_uploads_per_dock: 8,
            upload_wait_secs: 10,
            header_timeout_secs: 30,
            body_idle_timeout_secs: 60,
            auth_failures_per_source: 10,
            auth_failures_per_dock: 20,
            shutdown_grace_secs: 30,
            min_free_mib: 256,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AxisConfig {
    pub site_name: String,
    /// Whether docking stations may bring in officers and cameras the force has not registered
    /// (`bwv officer-add`, `bwv device-add`): a controller's users without a known `UserID`, and
    /// unknown cameras. Those it brings in are marked as announced by that dock, and statements
    /// say so. Off: their recordings are refused with 400 and the dock keeps them.
    pub auto_register: bool,
    /// Licence-style limits on registered cameras and users (0 = none); beyond them: 402.
    pub max_devices: u64,
    pub max_users: u64,
    /// Largest clip (or rejected-content object) accepted.
    pub max_object_gib: u64,
}

impl Default for AxisConfig {
    fn default() -> Self {
        AxisConfig {
            site_name: "bwv".into(),
            auto_register: false,
            max_devices: 0,
            max_users: 0,
            max_object_gib: 256,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TusConfig {
    /// Whether docks uploading through tus may bring in officers and cameras the force has not
    /// registered (as `axis.auto_register` does for Axis docks). Off: such uploads are refused
    /// with 400 before any bytes are sent.
    pub auto_register: bool,
    /// An unfinished upload is removed (and the removal audited) this long after its last byte.
    pub expiry_secs: u64,
    /// Largest upload accepted (`Tus-Max-Size`).
    pub max_size_gib: u64,
    /// Unfinished uploads one dock may have open at once.
    pub max_open_uploads_per_dock: u64,
    /// Bytes one dock's unfinished uploads may still have to send, together.
    pub max_unsent_gib_per_dock: u64,
    /// A PATCH holds its upload under a lease this long, renewed as it writes: a node that
    /// dies mid-upload keeps the dock waiting (423) no longer than this.
    pub lease_secs: u64,
    /// Bytes received but not yet written and hashed, for every upload on the node together
    /// (`ingest::buffered`): memory then follows this, not the number of docks sending. One
    /// upload keeps about 14 MiB of it busy.
    pub buffered_mib: u64,
}

/// Where the retention policy is (none: the built-in UK defaults, deploy/retention-policy.toml),
/// and whether deletion needs two people.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    pub policy: Option<PathBuf>,
    /// A plan must be approved by a second person before a sweep carries it out: an
    /// authenticated records manager who is not the plan's maker.
    pub two_person_approval: bool,
    /// A hold is released only by an authenticated records manager other than the person who
    /// placed it.
    pub two_person_hold_release: bool,
}

/// Justifying a look at footage (DPA 2018 Part 3 s.62): the reasons a person may give, and how
/// long one justification covers looking at the same item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsultationConfig {
    /// Reason codes and what each means, as shown to the person choosing. A case URN is always
    /// a justification besides these.
    pub reasons: std::collections::BTreeMap<String, String>,
    /// How long one justification covers viewing and downloading the same item.
    pub grant_mins: u64,
    /// How long a disclosure package built for download is kept on the server.
    pub package_days: u64,
}

impl Default for ConsultationConfig {
    fn default() -> Self {
        let reasons = [
            ("investigation", "Investigating an offence or incident"),
            (
                "evidential-review",
                "Reviewing footage for its evidential value",
            ),
            (
                "supervision",
                "Supervisory review of an incident or use of force",
            ),
            ("complaint", "A complaint or conduct matter"),
            ("disclosure", "Preparing disclosure to the CPS or defence"),
            (
                "subject-access",
                "A subject access or other information rights request",
            ),
        ];
        ConsultationConfig {
            reasons: reasons
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            grant_mins: 240,
            package_days: 7,
        }
    }
}

/// A justification lasts at most a week: a look at footage is for a purpose, not for good.
const MAX_GRANT_MINS: u64 = 7 * 24 * 60;
/// Packages kept for download go within a year at the most.
const MAX_PACKAGE_DAYS: u64 = 366;

/// The reason recorded when a case URN is the justification.
pub const CASE_REASON: &str = "case";

/// Signing people in through the force's OpenID Connect provider (Entra ID in UK forces), what
/// its app roles mean here, and how long sessions and API tokens last. With no issuer nobody
/// can sign in through a browser; the command line still works for the machine's operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// The provider's issuer URL, exactly as its discovery document spells it (Entra ID:
    /// `https://login.microsoftonline.com/<tenant>/v2.0`).
    pub issuer: Option<String>,
    pub client_id: String,
    /// Never printed (its Debug is redacted) and never written back out.
    #[serde(skip_serializing)]
    pub client_secret: Option<SecretString>,
    /// Scopes asked for besides `openid` (`profile` brings the person's name).
    pub scopes: Vec<String>,
    /// The provider's app-role values and the bwv role each means. Values not listed give no
    /// role. By default the bwv spellings themselves (`officer`, `records-manager`, ...).
    pub roles: std::collections::BTreeMap<String, Role>,
    /// The claim holding a person's staff number, which links them to their officer record.
    pub staff_number_claim: Option<String>,
    /// The claim holding a person's team (station); without it an administrator sets teams.
    pub team_claim: Option<String>,
    /// A session unused this long ends.
    pub session_idle_mins: u64,
    /// A session ends this long after sign-in, however busy.
    pub session_max_hours: u64,
    /// The longest an API token may be valid.
    pub token_max_days: u32,
}

impl IdentityConfig {
    /// How long a session may last from sign-in, however busy.
    pub fn session_max_age(&self) -> chrono::Duration {
        chrono::Duration::hours(
            i64::try_from(self.session_max_hours).unwrap_or(i64::MAX / 3_600_000),
        )
    }

    /// The bwv role a provider's app-role value means, if any.
    pub fn role_for(&self, value: &str) -> Option<Role> {
        self.roles.get(value).copied()
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            issuer: None,
            client_id: String::new(),
            client_secret: None,
            scopes: vec!["profile".into()],
            roles: Role::ALL
                .iter()
                .map(|r| (r.as_str().to_owned(), *r))
                .collect(),
            staff_number_claim: None,
            team_claim: None,
            session_idle_mins: 30,
            session_max_hours: 10,
            token_max_days: 90,
        }
    }
}

/// The media workers: how many, how hard they work, and how the queue treats failures.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Worker processes `bwv serve` starts and keeps running (0: none).
    pub processes: usize,
    /// Jobs one worker process runs at once.
    pub concurrency: usize,
    /// A job whose worker has not renewed its lease for this long is taken back.
    pub lease_secs: u64,
    /// How often an idle worker looks for work when nothing tells it a job was queued (SQLite).
    pub poll_millis: u64,
    /// On PostgreSQL a worker is woken as each job is queued; it still looks this often, for
    /// notices lost while its listening connection was down.
    pub notified_poll_secs: u64,
    /// Attempts before a job is dead (kept, listed, retried only by hand).
    pub max_attempts: u32,
    /// First retry delay; it doubles with each attempt (with jitter).
    pub backoff_secs: u64,
    /// A job still running after this long is abandoned (its lease left to expire).
    pub job_timeout_secs: u64,
    /// libx264 preset and quality for disclosure copies that must be re-encoded.
    pub x264_preset: String,
    pub x264_crf: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            processes: 1,
            concurrency: 2,
            lease_secs: 60,
            poll_millis: 1000,
            notified_poll_secs: 10,
            max_attempts: 5,
            backoff_secs: 10,
            job_timeout_secs: 6 * 3600,
            x264_preset: "veryfast".into(),
            x264_crf: 23,
        }
    }
}

/// The node's default budget for received tus bytes, in MiB. `bwv serve` also lets each
/// allocator arena keep this much free (see `tune_allocator` in main.rs).
pub const DEFAULT_TUS_BUFFERED_MIB: u64 = 32;

impl Default for TusConfig {
    fn default() -> Self {
        TusConfig {
            auto_register: false,
            expiry_secs: 24 * 3600,
            max_size_gib: 256,
            max_open_uploads_per_dock: 16,
            max_unsent_gib_per_dock: 256,
            lease_secs: 20,
            buffered_mib: DEFAULT_TUS_BUFFERED_MIB,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    pub name: String,
    /// What footage filed under this category is, at source; none: it waits for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
}

/// The classification at source of footage filed under `category`: by the categories table, the
/// name compared without regard to case; unknown or unmapped categories stay unreviewed.
pub fn classification_at_source(categories: &[Category], category: Option<&str>) -> Classification {
    category
        .and_then(|name| {
            categories
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name.trim()))
        })
        .and_then(|c| c.classification)
        .unwrap_or(Classification::Unreviewed)
}

impl Category {
    fn defaults() -> Vec<Category> {
        [
            ("1", "Arrest", Some(Classification::Evidential)),
            ("2", "Stop and search", Some(Classification::Evidential)),
            ("3", "Public order", None),
            ("4", "Test recording", Some(Classification::NonEvidential)),
        ]
        .into_iter()
        .map(|(id, name, classification)| Category {
            id: id.into(),
            name: name.into(),
            classification,
        })
        .collect()
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            origin: "bwv.localhost/audit/v1".into(),
            signing_key: None,
            checkpoint_interval_secs: 5,
            retired_keys: Vec::new(),
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Fs,
            path: None,
            s3: S3Config::default(),
        }
    }
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            bucket: String::new(),
            region: "us-east-1".into(),
            endpoint: None,
            force_path_style: false,
            prefix: String::new(),
            access_key_id: None,
            secret_access_key: None,
            checksum: ChecksumMode::WhenSupported,
            part_size_mib: 8,
            object_lock: ObjectLockConfig::default(),
        }
    }
}

impl Default for ObjectLockConfig {
    fn default() -> Self {
        ObjectLockConfig {
            mode: LockMode::Compliance,
            initial_retention_days: 31,
        }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            watch_settle_secs: 3,
            watch_poll_millis: 1000,
            watch_retry_secs: 30,
        }
    }
}

/// Values given as command-line flags; they win over everything else.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub actor: Option<String>,
}

/// The names of the settings, read off the defaults so that a new section is never left out:
/// top-level values (`BWV_DATA_DIR`), and sections whose keys come as `BWV_SECTION__KEY`.
fn setting_names() -> (Vec<String>, Vec<String>) {
    let (mut values, mut sections) = (Vec::new(), Vec::new());
    if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(Config::default()) {
        for (name, value) in map {
            match value {
                serde_json::Value::Object(_) => sections.push(name),
                serde_json::Value::Array(_) => {}
                _ => values.push(name),
            }
        }
    }
    (values, sections)
}

impl Config {
    pub fn load(overrides: &Overrides) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match &overrides.config_file {
            Some(path) => {
                if !path.is_file() {
                    return Err(Error::new(
                        Code::Config,
                        format!("config file {} does not exist", path.display()),
                    ));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file("bwv.toml")),
        }
        // Only variables that name a setting: other tools' BWV_* variables (the test harness,
        // benchmarks) pass through. Typos inside a section are still refused.
        let (values, sections) = setting_names();
        figment = figment.merge(
            Env::prefixed("BWV_")
                .filter(move |key| {
                    let key = key.as_str().to_ascii_lowercase();
                    match key.split_once("__") {
                        Some((section, _)) => sections.iter().any(|s| s == section),
                        None => values.contains(&key),
                    }
                })
                .split("__"),
        );
        if let Some(dir) = &overrides.data_dir {
            figment = figment.merge(Serialized::default("data_dir", dir));
        }
        if let Some(url) = &overrides.database_url {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        if let Some(actor) = &overrides.actor {
            figment = figment.merge(Serialized::default("actor", actor));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| Error::new(Code::Config, format!("invalid configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(Code::Config, m));
        if self.log.origin.is_empty()
            || self.log.origin.contains(['+', ' '])
            || self.log.origin.chars().any(char::is_control)
        {
            return bad(format!(
                "log.origin {:?} must be non-empty with no spaces or '+' (it is the checkpoint key name)",
                self.log.origin
            ));
        }
        if self.store.backend == StoreBackend::S3 && self.store.s3.bucket.is_empty() {
            return bad("store.backend is s3 but store.s3.bucket is not set".into());
        }
        if self.tus.buffered_mib == 0 {
            return bad("tus.buffered_mib must be at least 1".into());
        }
        if self.store.s3.part_size_mib < 5 {
            return bad("store.s3.part_size_mib must be at least 5 (an S3 rule)".into());
        }
        if self.worker.concurrency == 0
            || self.worker.lease_secs < 2
            || self.worker.max_attempts == 0
        {
            return bad(
                "worker.concurrency and worker.max_attempts must be at least 1, worker.lease_secs at least 2".into(),
            );
        }
        if self.identity.issuer.is_some() && self.identity.client_id.is_empty() {
            return bad("identity.issuer is set but identity.client_id is not".into());
        }
        if self.identity.session_idle_mins == 0
            || self.identity.session_max_hours == 0
            || self.identity.token_max_days == 0
        {
            return bad(
                "identity.session_idle_mins, session_max_hours and token_max_days must be at least 1"
                    .into(),
            );
        }
        if self.consultation.reasons.is_empty()
            || !(1..=MAX_GRANT_MINS).contains(&self.consultation.grant_mins)
            || self.consultation.package_days > MAX_PACKAGE_DAYS
        {
            return bad(format!(
                "consultation.reasons must list at least one reason, consultation.grant_mins be \
                 1 to {MAX_GRANT_MINS} and consultation.package_days at most {MAX_PACKAGE_DAYS}"
            ));
        }
        if let Some(code) = self.consultation.reasons.keys().find(|k| {
            k.is_empty()
                || k.as_str() == CASE_REASON
                || !k
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }) {
            return bad(format!(
                "consultation reason code {code:?} must be lower-case letters, digits and '-', and not {CASE_REASON:?}"
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return bad("server.tls_cert and server.tls_key must be set together".into());
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!("sqlite://{}", self.data_dir.join("bwv.db").display()),
        }
    }

    pub fn signing_key_path(&self) -> PathBuf {
        self.log
            .signing_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("log-signing.key"))
    }

    pub fn store_path(&self) -> PathBuf {
        self.store
            .path
            .clone()
            .unwrap_or_else(|| self.data_dir.join("store"))
    }

    /// The actor named in audit records for commands run by a person at this machine.
    pub fn actor(&self) -> String {
        if let Some(actor) = &self.actor {
            return actor.clone();
        }
        match std::env::var("USER") {
            Ok(user) if !user.is_empty() => format!("os:{user}"),
            _ => "os:unknown".into(),
        }
    }
}

/// Creates the data directory (mode 0700: it holds the signing key and the catalogue).
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            Error::with_source(
                Code::Io,
                format!("creating data directory {}", dir.display()),
                e,
            )
        })
}

/// This machine's name, for naming service actors (`svc:watch@host`).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail closures return figment's large error
mod tests {
    use super::*;

    #[test]
    fn the_example_configuration_loads_and_maps_categories() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/bwv.example.toml");
        let config = Config::load(&Overrides {
            config_file: Some(path),
            ..Overrides::default()
        })
        .expect("deploy/bwv.example.toml is valid");
        let at_source = |c| classification_at_source(&config.categories, c);
        assert_eq!(at_source(Some("arrest")), Classification::Evidential);
        assert_eq!(
            at_source(Some("Test recording")),
            Classification::NonEvidential
        );
        assert_eq!(at_source(Some("Public order")), Classification::Unreviewed);
        assert_eq!(at_source(None), Classification::Unreviewed);
    }

    #[test]
    fn defaults_are_embedded() {
        let c = Config::default();
        assert_eq!(c.database_url(), "sqlite://./bwv-data/bwv.db");
        assert_eq!(c.store.backend, StoreBackend::Fs);
        assert_eq!(c.store_path(), PathBuf::from("./bwv-data/store"));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "bwv.toml",
                "data_dir = \"/from-file\"\n[store]\nbackend = \"s3\"\n[store.s3]\nbucket = \"b\"\n",
            )?;
            jail.set_env("BWV_DATA_DIR", "/from-env");
            jail.set_env("BWV_STORE__S3__REGION", "eu-west-2");
            jail.set_env("BWV_BENCH_RUNS", "3"); // not a setting: ignored
            let c = Config::load(&Overrides::default()).expect("load");
            assert_eq!(c.data_dir, PathBuf::from("/from-env"));
            assert_eq!(c.store.backend, StoreBackend::S3);
            assert_eq!(c.store.s3.region, "eu-west-2");
            let flags = Overrides {
                data_dir: Some("/from-flag".into()),
                ..Default::default()
            };
            let c = Config::load(&flags).expect("load");
            assert_eq!(c.data_dir, PathBuf::from("/from-flag"));
            Ok(())
        });
    }

    #[test]
    fn rejects_unknown_keys_and_bad_origin() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bwv.toml", "data_dri = \"/typo\"\n")?;
            let err = Config::load(&Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("data_dri"), "{err}");
            jail.create_file("bwv.toml", "[log]\norigin = \"has space\"\n")?;
            assert!(Config::load(&Overrides::default()).is_err());
            jail.create_file("bwv.toml", "")?;
            jail.set_env("BWV_STORE__S3__BUCKT", "typo");
            assert!(Config::load(&Overrides::default()).is_err());
            Ok(())
        });
    }
}
