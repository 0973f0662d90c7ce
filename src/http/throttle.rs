//! Limits on guessing dock secrets (each check is an Argon2 verification, which `docks` runs a
//! few at a time). A source that keeps failing is locked out for a while, doubling each time; a
//! dock name that keeps failing from anywhere is locked out too, except for the addresses that
//! dock itself signed in from lately, so an attacker cannot lock a working dock out of its own
//! account.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Code, Error, Result};

/// Failures are counted over this window.
const WINDOW: Duration = Duration::from_secs(10 * 60);
/// The first lockout; each further one doubles, up to `MAX_LOCKOUT`.
const FIRST_LOCKOUT: Duration = Duration::from_secs(60);
const MAX_LOCKOUT: Duration = Duration::from_secs(60 * 60);
/// A dock's successful sign-in vouches for its address this long.
const TRUSTED_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// Entries kept at most per table; beyond it the stalest are forgotten.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    lockouts: u32,
    locked_until: Option<Instant>,
}

impl Failures {
    fn new(now: Instant) -> Self {
        Failures {
            count: 0,
            since: now,
            lockouts: 0,
            locked_until: None,
        }
    }

    fn locked(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .filter(|until| *until > now)
            .map(|until| until - now)
    }

    fn fail(&mut self, now: Instant, limit: u32) {
        if now.duration_since(self.since) > WINDOW {
            self.count = 0;
            self.since = now;
        }
        self.count += 1;
        if self.count >= limit {
            let lockout = FIRST_LOCKOUT
                .saturating_mul(1 << self.lockouts.min(10))
                .min(MAX_LOCKOUT);
            self.locked_until = Some(now + lockout);
            self.lockouts += 1;
            self.count = 0;
            self.since = now;
        }
    }

    fn stale(&self, now: Instant) -> bool {
        self.locked(now).is_none() && now.duration_since(self.since) > WINDOW
    }
}

#[derive(Default)]
struct Tables {
    sources: HashMap<IpAddr, Failures>,
    docks: HashMap<String, Failures>,
    trusted: HashMap<(String, IpAddr), Instant>,
}

impl Tables {
    /// Keeps the tables bounded: stale entries go first; a flood of live ones is forgotten
    /// rather than allowed to grow without end.
    fn prune(&mut self, now: Instant) {
        if self.sources.len() > MAX_ENTRIES {
            self.sources.retain(|_, f| !f.stale(now));
        }
        if self.docks.len() > MAX_ENTRIES {
            self.docks.retain(|_, f| !f.stale(now));
        }
        if self.trusted.len() > MAX_ENTRIES {
            self.trusted
                .retain(|_, at| now.duration_since(*at) < TRUSTED_FOR);
        }
        if self.sources.len() > MAX_ENTRIES || self.docks.len() > MAX_ENTRIES {
            tracing::warn!("sign-in throttle tables full; forgetting recent failures");
            self.sources.clear();
            self.docks.clear();
        }
        if self.trusted.len() > MAX_ENTRIES {
            self.trusted.clear();
        }
    }
}

pub struct Throttle {
    per_source: u32,
    per_dock: u32,
    tables: Mutex<Tables>,
}

fn refused(wait: Duration, whom: &str) -> Error {
    Error::new(
        Code::RateLimited,
        format!(
            "too many failed sign-ins {whom}; try again in {} s",
            wait.as_secs().max(1)
        ),
    )
}

impl Throttle {
    /// `per_source` and `per_dock` failures within ten minutes lock a source or a dock name
    /// out (0: never).
    pub fn new(per_source: u32, per_dock: u32) -> Throttle {
        Throttle {
            per_source: if per_source == 0 {
                u32::MAX
            } else {
                per_source
            },
            per_dock: if per_dock == 0 { u32::MAX } else { per_dock },
            tables: Mutex::new(Tables::default()),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses a sign-in before any work when its source, or the dock name from a source the
    /// dock has not vouched for, is locked out.
    pub fn admit(&self, source: IpAddr, dock: Option<&str>) -> Result<()> {
        let now = Instant::now();
        let t = self.tables();
        if let Some(wait) = t.sources.get(&source).and_then(|f| f.locked(now)) {
            return Err(refused(wait, &format!("from {source}")));
        }
        if let Some(name) = dock {
            let vouched = t
                .trusted
                .get(&(name.to_owned(), source))
                .is_some_and(|at| now.duration_since(*at) < TRUSTED_FOR);
            if !vouched && let Some(wait) = t.docks.get(name).and_then(|f| f.locked(now)) {
                return Err(refused(wait, &format!("for dock {name:?}")));
            }
        }
        Ok(())
    }

    /// Counts a failure against the source and, when one was named, the dock.
    pub fn failed(&self, source: IpAddr, dock: Option<&str>, what: &str) {
        let now = Instant::now();
        let mut t = self.tables();
        t.prune(now);
        let per_source = self.per_source;
        t.sources
            .entry(source)
            .or_insert_with(|| Failures::new(now))
            .fail(now, per_source);
        if let Some(name) = dock {
            let per_dock = self.per_dock;
            t.docks
                .entry(name.to_owned())
                .or_insert_with(|| Failures::new(now))
                .fail(now, per_dock);
        }
        metrics::counter!("bwv_auth_failures_total").increment(1);
        tracing::warn!(source = %source, dock = ?dock, what, "dock sign-in failed");
    }

    /// A good sign-in clears its source's failures and vouches for the address.
    pub fn succeeded(&self, source: IpAddr, dock: &str) {
        let now = Instant::now();
        let mut t = self.tables();
        t.prune(now);
        t.sources.remove(&source);
        t.trusted.insert((dock.to_owned(), source), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_failing_source_is_locked_out_and_others_are_not() {
        let t = Throttle::new(3, 100);
        for _ in 0..3 {
            t.admit(ip(1), Some("dock-a")).unwrap();
            t.failed(ip(1), Some("dock-a"), "wrong secret");
        }
        let e = t.admit(ip(1), Some("dock-a")).unwrap_err();
        assert_eq!(e.code(), Code::RateLimited);
        t.admit(ip(2), Some("dock-a")).unwrap();
    }

    #[test]
    fn a_dock_name_under_attack_still_admits_its_own_address() {
        let t = Throttle::new(100, 3);
        t.succeeded(ip(9), "dock-a");
        for last in 1..=3 {
            t.failed(ip(last), Some("dock-a"), "wrong secret");
        }
        assert!(t.admit(ip(4), Some("dock-a")).is_err());
        t.admit(ip(9), Some("dock-a")).unwrap();
        t.admit(ip(4), Some("dock-b")).unwrap();
    }

    #[test]
    fn lockouts_double_and_are_bounded() {
        let mut f = Failures::new(Instant::now());
        let now = Instant::now();
        for _ in 0..40 {
            f.fail(now, 1);
        }
        let left = f.locked(now).unwrap();
        assert!(left <= MAX_LOCKOUT && left > FIRST_LOCKOUT);
    }
}
