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
    /// Sign-ins being checked now, per source.
    in_flight: HashMap<IpAddr, u32>,
}

/// Sign-ins a source that failed lately may have being checked at once: a burst of guesses
/// cannot all pass the lockout check before the first of them fails.
const IN_FLIGHT_PER_SOURCE: u32 = 4;

impl Tables {
    /// Keeps the tables bounded: stale entries go first, then unlocked ones; lockouts in force
    /// are kept unless even they overflow.
    fn prune(&mut self, now: Instant) {
        fn bound<K: std::hash::Hash + Eq>(table: &mut HashMap<K, Failures>, now: Instant) {
            if table.len() > MAX_ENTRIES {
                table.retain(|_, f| !f.stale(now));
            }
            if table.len() > MAX_ENTRIES {
                table.retain(|_, f| f.locked(now).is_some());
            }
            if table.len() > MAX_ENTRIES {
                tracing::warn!("sign-in lockout table full; forgetting its lockouts");
                table.clear();
            }
        }
        bound(&mut self.sources, now);
        bound(&mut self.docks, now);
        if self.trusted.len() > MAX_ENTRIES {
            self.trusted
                .retain(|_, at| now.duration_since(*at) < TRUSTED_FOR);
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

    /// Admits a sign-in for checking, or refuses it before any work: when its source already
    /// has a few being checked, or when its source or the dock name is locked out. A dock
    /// signing in from an address it signed in from lately is never locked out. The attempt
    /// counts as being checked until it is dropped.
    pub fn admit(&self, source: IpAddr, dock: Option<&str>) -> Result<Attempt<'_>> {
        let now = Instant::now();
        let mut t = self.tables();
        let vouched = dock.is_some_and(|name| {
            t.trusted
                .get(&(name.to_owned(), source))
                .is_some_and(|at| now.duration_since(*at) < TRUSTED_FOR)
        });
        if !vouched {
            if let Some(wait) = t.sources.get(&source).and_then(|f| f.locked(now)) {
                return Err(refused(wait, &format!("from {source}")));
            }
            if let Some(name) = dock
                && let Some(wait) = t.docks.get(name).and_then(|f| f.locked(now))
            {
                return Err(refused(wait, &format!("for dock {name:?}")));
            }
        }
        // A source that has failed lately gets its sign-ins checked a few at a time; one that
        // has not (a station's docks behind one address at a shift change) is not held back.
        let suspect = t.sources.get(&source).is_some_and(|f| !f.stale(now));
        let busy = t.in_flight.entry(source).or_default();
        if suspect && *busy >= IN_FLIGHT_PER_SOURCE {
            return Err(Error::new(
                Code::RateLimited,
                format!("too many sign-ins at once from {source}"),
            ));
        }
        *busy += 1;
        Ok(Attempt {
            throttle: self,
            source,
        })
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

/// A sign-in being checked.
pub struct Attempt<'a> {
    throttle: &'a Throttle,
    source: IpAddr,
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut t = self.throttle.tables();
        if let Some(n) = t.in_flight.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.in_flight.remove(&self.source);
            }
        }
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
            let _attempt = t.admit(ip(1), Some("dock-a")).unwrap();
            t.failed(ip(1), Some("dock-a"), "wrong secret");
        }
        assert_eq!(
            t.admit(ip(1), Some("dock-a")).err().map(|e| e.code()),
            Some(Code::RateLimited)
        );
        assert!(t.admit(ip(2), Some("dock-a")).is_ok());
    }

    #[test]
    fn a_dock_name_under_attack_still_admits_its_own_address() {
        let t = Throttle::new(100, 3);
        t.succeeded(ip(9), "dock-a");
        for last in 1..=3 {
            t.failed(ip(last), Some("dock-a"), "wrong secret");
        }
        assert!(t.admit(ip(4), Some("dock-a")).is_err());
        assert!(t.admit(ip(9), Some("dock-a")).is_ok());
        assert!(t.admit(ip(4), Some("dock-b")).is_ok());
        // Nor does a lockout of its address keep the dock out.
        for _ in 0..100 {
            t.failed(ip(9), None, "unknown token");
        }
        assert!(t.admit(ip(9), Some("dock-a")).is_ok());
        assert!(t.admit(ip(9), Some("dock-b")).is_err());
    }

    #[test]
    fn a_burst_from_one_source_is_checked_a_few_at_a_time() {
        let t = Throttle::new(100, 100);
        let many: Vec<_> = (0..20)
            .map(|_| t.admit(ip(1), Some("dock-a")).unwrap())
            .collect();
        drop(many);
        t.failed(ip(1), Some("dock-a"), "wrong secret");
        let held: Vec<_> = (0..IN_FLIGHT_PER_SOURCE)
            .map(|_| t.admit(ip(1), Some("dock-a")).unwrap())
            .collect();
        assert!(t.admit(ip(1), Some("dock-a")).is_err());
        assert!(t.admit(ip(2), Some("dock-a")).is_ok());
        drop(held);
        assert!(t.admit(ip(1), Some("dock-a")).is_ok());
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
