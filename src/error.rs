//! One error type for the library, with a stable machine code per kind so that the CLI, the HTTP
//! doors and the audit records all speak the same vocabulary about what went wrong.

use std::fmt;

/// Stable, documented error codes. Clients and tests match on these, never on message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The input can never be stored or acted on as given (bad path, bad date, bad file type).
    BadInput,
    /// Something named does not exist.
    NotFound,
    /// The operation conflicts with existing state (e.g. a different log origin).
    Conflict,
    /// The store has no room for the object.
    StorageFull,
    /// The object store failed or is unreachable.
    Store,
    /// The catalogue failed or is unreachable.
    Catalogue,
    /// The audit log is damaged or cannot be appended to.
    Audit,
    /// The configuration is invalid.
    Config,
    /// Local file system trouble that is not the caller's fault.
    Io,
    /// The bytes do not match the checksum the sender gave.
    ChecksumMismatch,
    /// No valid credentials.
    Unauthorized,
    /// Valid credentials, but not for this.
    Forbidden,
    /// A licence-style limit (cameras, users) is reached.
    LimitReached,
    /// Too busy right now; try again shortly.
    Busy,
    /// Someone else is working on the same thing right now.
    Locked,
    /// It existed, but is gone for good (an expired or terminated upload).
    Gone,
    /// Larger than allowed.
    TooLarge,
    /// Too many attempts (failed sign-ins, open uploads) from one source or dock; later.
    RateLimited,
    /// A command line whose arguments make no sense together (exit status 2).
    Usage,
}

impl Code {
    /// Whether the same request could succeed later without anyone changing it: a store, disk,
    /// catalogue or capacity problem on our side, as opposed to something wrong with the request.
    pub fn transient(self) -> bool {
        match self {
            Code::StorageFull
            | Code::Store
            | Code::Catalogue
            | Code::Audit
            | Code::Io
            | Code::Busy
            | Code::Locked
            | Code::RateLimited => true,
            Code::BadInput
            | Code::NotFound
            | Code::Conflict
            | Code::Config
            | Code::ChecksumMismatch
            | Code::Unauthorized
            | Code::Forbidden
            | Code::LimitReached
            | Code::Gone
            | Code::TooLarge
            | Code::Usage => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadInput => "bad-input",
            Code::NotFound => "not-found",
            Code::Conflict => "conflict",
            Code::StorageFull => "storage-full",
            Code::Store => "store-error",
            Code::Catalogue => "catalogue-error",
            Code::Audit => "audit-error",
            Code::Config => "config-error",
            Code::Io => "io-error",
            Code::ChecksumMismatch => "checksum-mismatch",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::LimitReached => "limit-reached",
            Code::Busy => "busy",
            Code::Locked => "locked",
            Code::Gone => "gone",
            Code::TooLarge => "too-large",
            Code::RateLimited => "rate-limited",
            Code::Usage => "usage",
        }
    }
}

/// An error with its code and a message that already names the thing it is about (file,
/// recording, object, dock), plus the lower-level cause when there is one.
#[derive(Debug)]
pub struct Error {
    code: Code,
    message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        code: Code,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error {
            code,
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Code::Usage, message)
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(Code::BadInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }

    pub fn audit(message: impl Into<String>) -> Self {
        Self::new(Code::Audit, message)
    }

    pub fn code(&self) -> Code {
        self.code
    }

    /// Prefixes the message with more context ("ingesting /x/y.mp4: ...").
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Many library errors repeat their source in their own text; print each cause once.
        let mut shown = self.message.clone();
        let mut next = self
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static));
        while let Some(cause) = next {
            let text = cause.to_string();
            if !shown.contains(&text) {
                shown.push_str(": ");
                shown.push_str(&text);
            }
            next = cause.source();
        }
        f.write_str(&shown)
    }
}

impl std::error::Error for Error {}

/// Attaches context to lower-level results, choosing the code from the kind of failure.
pub trait ResultExt<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for std::result::Result<T, std::io::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let code = match e.kind() {
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                    Code::StorageFull
                }
                std::io::ErrorKind::NotFound => Code::NotFound,
                std::io::ErrorKind::FileTooLarge => Code::TooLarge,
                _ => Code::Io,
            };
            Error::with_source(code, context(), e)
        })
    }
}

impl<T> ResultExt<T> for std::result::Result<T, sqlx::Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::with_source(Code::Catalogue, context(), e))
    }
}

impl<T> ResultExt<T> for std::result::Result<T, Error> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.context(context()))
    }
}
