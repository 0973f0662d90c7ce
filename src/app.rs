//! Opening the parts a command needs, in one place, from the resolved configuration.

use crate::audit::AuditLog;
use crate::catalogue::Catalogue;
use crate::config::{Config, StoreBackend, ensure_data_dir};
use crate::context::Context;
use crate::error::Result;
use crate::retention::Policy;
use crate::store::Store;

pub struct App {
    pub config: Config,
    /// Loaded and checked at start: a bad policy stops every command, not a sweep halfway.
    pub policy: Policy,
    pub catalogue: Catalogue,
    pub store: Store,
    pub audit: AuditLog,
}

impl App {
    /// Creates the data directory on first use, applies migrations, and opens the store and the
    /// log signing key (creating the key on first use).
    pub async fn open(config: Config) -> Result<App> {
        // A remote store is checked first too: a missing bucket changes nothing locally.
        let remote_store = match config.store.backend {
            StoreBackend::S3 => Some(Store::open(&config).await?),
            StoreBackend::Fs => None,
        };
        let policy = match &config.retention.policy {
            Some(path) => Policy::load(path)?,
            None => Policy::builtin()?,
        };
        let url = config.database_url();
        // An embedded catalogue lives in the data directory; a remote one is reached first, so a
        // database that does not answer leaves nothing behind.
        if url.starts_with("sqlite:") {
            ensure_data_dir(&config.data_dir)?;
        }
        let catalogue = Catalogue::open(&url).await?;
        ensure_data_dir(&config.data_dir)?;
        catalogue.init_log(&config.log.origin).await?;
        let store = match remote_store {
            Some(store) => store,
            None => Store::open(&config).await?,
        };
        let audit = AuditLog::open(&config)?;
        Ok(App {
            config,
            policy,
            catalogue,
            store,
            audit,
        })
    }

    /// What operations work with, borrowed from this app.
    pub fn context(&self) -> Context<'_> {
        Context {
            catalogue: &self.catalogue,
            store: &self.store,
            audit: &self.audit,
            policy: &self.policy,
            config: &self.config,
        }
    }

    /// The operator at this machine's command line, as operations see them: every role, named
    /// as the configuration or the shell says, never a second person for two-person rules.
    pub fn operator(&self) -> crate::access::Principal {
        crate::access::Principal::operator(self.config.actor())
    }

    /// Signs a final checkpoint for whatever this command wrote, then closes the catalogue.
    pub async fn finish(self) -> Result<()> {
        let result = self.audit.checkpoint(&self.catalogue).await.map(|_| ());
        self.catalogue.close().await;
        result
    }
}
