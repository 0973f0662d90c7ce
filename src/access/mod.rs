//! Who is asking, and whether they may. Every door turns its caller into a [`Principal`] (a
//! person signed in through the identity provider, a person's API token, or the operator at the
//! machine's command line) and asks [`Principal::require`] before it calls an operation.

pub mod footage;
pub mod people;
pub mod permissions;
pub mod sessions;
pub mod sign_in;
pub mod tokens;

use serde::Serialize;
use uuid::Uuid;

use crate::audit::record::Actor;
use crate::domain::{Role, Roles};
use crate::error::{Code, Error, Result};
pub use permissions::{Permission, Reach};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "id")]
pub enum Via {
    /// A browser session after signing in.
    Session,
    /// An API token (its id).
    Token(Uuid),
    /// The command line, run by whoever operates the machine: trusted with every role, but not
    /// an authenticated person, so not a second person for two-person rules.
    Operator,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// The person (None for the operator at the command line).
    pub person: Option<Uuid>,
    /// How audit records name them: the person's id, never their name.
    pub actor: Actor,
    /// For people to read; never written into the audit log.
    pub name: Option<String>,
    pub roles: Roles,
    /// Their own officer record (staff number): whose footage is "their own".
    pub officer: Option<String>,
    /// Their team (station): whose footage a supervisor reaches.
    pub team: Option<String>,
    pub via: Via,
}

/// Whose footage a recording is, for reach checks.
#[derive(Debug, Clone, Default)]
pub struct Owner<'a> {
    pub officer: Option<&'a str>,
    pub team: Option<&'a str>,
}

impl Principal {
    /// The operator at the command line, named as the configuration or the shell says.
    pub fn operator(actor: String) -> Principal {
        Principal {
            person: None,
            actor: Actor::user(actor),
            name: None,
            roles: Role::ALL.iter().copied().collect(),
            officer: None,
            team: None,
            via: Via::Operator,
        }
    }

    /// The audit actor naming a person.
    pub fn person_actor(id: Uuid) -> Actor {
        Actor::user(format!("person:{id}"))
    }

    /// Whether this is a person who proved who they are to bwv (not the machine's operator).
    pub fn authenticated(&self) -> bool {
        self.via != Via::Operator
    }

    /// How far `permission` reaches for this caller; a refusal names what they would need.
    pub fn require(&self, permission: Permission) -> Result<Reach> {
        let roles: Vec<Role> = self.roles.iter().collect();
        permissions::reach(&roles, permission).ok_or_else(|| {
            let needed: Vec<&str> = permissions::granted_by(permission)
                .into_iter()
                .map(Role::as_str)
                .collect();
            Error::new(
                Code::Forbidden,
                format!(
                    "you may not {}: that needs the role {}, and you hold {}",
                    permission.describe(),
                    needed.join(" or "),
                    self.roles
                ),
            )
        })
    }

    /// Refuses unless this is a second person for an act `first` began (made the plan, placed
    /// the hold): never `first` themselves, and, where `signed_in` is asked, a person who proved
    /// who they are (the machine's operator is nobody in particular). A person's API tokens are
    /// that same person.
    pub fn require_second_person(&self, act: &str, first: &str, signed_in: bool) -> Result<()> {
        if signed_in && !self.authenticated() {
            return Err(Error::new(
                Code::Forbidden,
                format!(
                    "you may not {act} from the command line: it needs a second person signed \
                     in to bwv (the web or the API)"
                ),
            ));
        }
        if self.actor.id == first {
            return Err(Error::new(
                Code::Forbidden,
                format!("you may not {act}: {first} began it, so a second person must"),
            ));
        }
        Ok(())
    }

    /// Whether `permission` reaches footage owned as `owner` says.
    pub fn reaches(&self, permission: Permission, owner: &Owner<'_>) -> Result<bool> {
        Ok(match self.require(permission)? {
            Reach::All => true,
            Reach::Team => {
                same(self.team.as_deref(), owner.team)
                    || same(self.officer.as_deref(), owner.officer)
            }
            Reach::Own => same(self.officer.as_deref(), owner.officer),
        })
    }

    /// Refuses unless `permission` reaches this footage. Out of reach reads as "not found" to
    /// the caller's eyes only when the caller may not search it either; here it is a refusal
    /// naming the recording, since the caller already knows its id.
    pub fn require_reach(
        &self,
        permission: Permission,
        owner: &Owner<'_>,
        what: &str,
    ) -> Result<()> {
        if self.reaches(permission, owner)? {
            return Ok(());
        }
        Err(Error::new(
            Code::Forbidden,
            format!(
                "you may not {} of {what}: it is not {}",
                permission.describe(),
                match self.require(permission)? {
                    Reach::Own => "your own footage",
                    _ => "footage of your team",
                }
            ),
        ))
    }
}

/// Two values that are both present and equal.
fn same(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(roles: &[Role], officer: &str, team: &str) -> Principal {
        Principal {
            person: Some(Uuid::nil()),
            actor: Principal::person_actor(Uuid::nil()),
            name: None,
            roles: roles.iter().copied().collect(),
            officer: Some(officer.into()),
            team: Some(team.into()),
            via: Via::Session,
        }
    }

    #[test]
    fn officers_reach_only_their_own_footage() {
        let p = person(&[Role::Officer], "4471", "north");
        let own = Owner {
            officer: Some("4471"),
            team: Some("north"),
        };
        let colleague = Owner {
            officer: Some("5000"),
            team: Some("north"),
        };
        assert!(p.reaches(Permission::ViewFootage, &own).unwrap());
        assert!(!p.reaches(Permission::ViewFootage, &colleague).unwrap());
    }

    #[test]
    fn supervisors_reach_their_team_and_no_other() {
        let p = person(&[Role::Supervisor], "9000", "north");
        let team = Owner {
            officer: Some("5000"),
            team: Some("north"),
        };
        let other = Owner {
            officer: Some("6000"),
            team: Some("south"),
        };
        let nobody = Owner::default();
        assert!(p.reaches(Permission::ViewFootage, &team).unwrap());
        assert!(!p.reaches(Permission::ViewFootage, &other).unwrap());
        assert!(!p.reaches(Permission::ViewFootage, &nobody).unwrap());
    }

    #[test]
    fn a_refusal_says_what_was_needed() {
        let p = person(&[Role::Auditor], "1", "x");
        let e = p.require(Permission::ViewFootage).unwrap_err();
        assert_eq!(e.code(), Code::Forbidden);
        assert!(e.to_string().contains("view footage"), "{e}");
        assert!(e.to_string().contains("officer"), "{e}");
    }
}
