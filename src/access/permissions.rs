//! Who may do what: the one table of permissions by role. Routes, commands and pages name the
//! permission they need and ask here; nothing else decides. Footage permissions also say whose
//! footage they reach, because an officer's own footage and the whole force's are different
//! powers under DPA 2018 Part 3.

use serde::Serialize;

use crate::domain::Role;

/// Something a person may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// Find recordings and read their details (times, hashes, classification, retention).
    SearchRecordings,
    /// Watch or download footage: disclosure copy, stills, originals.
    ViewFootage,
    /// Decide whether footage is evidential.
    Classify,
    /// Open and update cases, link footage to them, cut excerpts.
    ManageCases,
    /// Build and download disclosure packages.
    Disclose,
    /// Plan retention, decide reviews, read deletion certificates.
    ManageRetention,
    /// Approve a retention plan and carry out sweeps.
    ApproveSweeps,
    /// Place and release legal holds.
    ManageHolds,
    /// Read the audit log, including who consulted what.
    ReadAudit,
    /// Docking stations, officers, teams and devices.
    Administer,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::SearchRecordings,
        Permission::ViewFootage,
        Permission::Classify,
        Permission::ManageCases,
        Permission::Disclose,
        Permission::ManageRetention,
        Permission::ApproveSweeps,
        Permission::ManageHolds,
        Permission::ReadAudit,
        Permission::Administer,
    ];

    /// How a refusal names what was asked for.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::SearchRecordings => "search recordings",
            Permission::ViewFootage => "view footage",
            Permission::Classify => "classify footage",
            Permission::ManageCases => "manage cases",
            Permission::Disclose => "build disclosure packages",
            Permission::ManageRetention => "manage retention",
            Permission::ApproveSweeps => "approve retention sweeps",
            Permission::ManageHolds => "place or release legal holds",
            Permission::ReadAudit => "read the audit log",
            Permission::Administer => "administer docks, officers and teams",
        }
    }
}

/// Whose footage a permission reaches, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Footage the person recorded (their officer record).
    Own,
    /// Footage of officers in the person's team.
    Team,
    /// Everyone's.
    All,
}

use Permission::*;
use Reach::*;

/// The table. Auditors and administrators reach no footage at all: the audit log and the
/// docks are their business, the footage is not.
fn grants(role: Role) -> &'static [(Permission, Reach)] {
    match role {
        Role::Officer => &[(SearchRecordings, Own), (ViewFootage, Own)],
        Role::Supervisor => &[
            (SearchRecordings, Team),
            (ViewFootage, Team),
            (Classify, Team),
        ],
        Role::DisclosureOfficer => &[
            (SearchRecordings, All),
            (ViewFootage, All),
            (Classify, All),
            (ManageCases, All),
            (Disclose, All),
        ],
        Role::RecordsManager => &[
            (SearchRecordings, All),
            (ManageRetention, All),
            (ApproveSweeps, All),
            (ManageHolds, All),
        ],
        Role::Auditor => &[(ReadAudit, All)],
        Role::Administrator => &[(Administer, All)],
    }
}

/// The widest reach any of `roles` gives for `permission`; None when none grants it.
pub fn reach(roles: &[Role], permission: Permission) -> Option<Reach> {
    roles
        .iter()
        .flat_map(|r| grants(*r))
        .filter(|(p, _)| *p == permission)
        .map(|(_, reach)| *reach)
        .max()
}

/// The roles that grant `permission` at all, for refusals that say what would have been needed.
pub fn granted_by(permission: Permission) -> Vec<Role> {
    Role::ALL
        .iter()
        .copied()
        .filter(|r| reach(&[*r], permission).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_role_wins() {
        assert_eq!(
            reach(&[Role::Officer, Role::Supervisor], ViewFootage),
            Some(Team)
        );
        assert_eq!(reach(&[Role::Officer], Classify), None);
    }

    #[test]
    fn auditors_and_administrators_see_no_footage() {
        for role in [Role::Auditor, Role::Administrator] {
            assert_eq!(reach(&[role], ViewFootage), None, "{role}");
            assert_eq!(reach(&[role], SearchRecordings), None, "{role}");
        }
    }

    #[test]
    fn every_permission_is_granted_by_some_role() {
        for p in Permission::ALL {
            assert!(!granted_by(*p).is_empty(), "{p:?}");
        }
    }
}
