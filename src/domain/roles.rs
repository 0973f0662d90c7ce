//! A set of roles as the catalogue stores it: the role spellings, space-separated, sorted. A
//! spelling the catalogue does not know is an error, as for every stored state.

use std::collections::BTreeSet;

use super::Role;

#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Roles(BTreeSet<Role>);

impl PartialOrd for Role {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Role {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Roles {
    pub fn contains(&self, role: Role) -> bool {
        self.0.contains(&role)
    }

    pub fn iter(&self) -> impl Iterator<Item = Role> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The roles both sets hold: what a token may use of what its person holds now.
    pub fn intersection(&self, other: &Roles) -> Roles {
        Roles(self.0.intersection(&other.0).copied().collect())
    }

    pub fn is_subset(&self, other: &Roles) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn to_text(&self) -> String {
        self.iter().map(Role::as_str).collect::<Vec<_>>().join(" ")
    }

    /// Reads the stored text; None names nothing, an unknown spelling is refused.
    pub fn from_text(text: &str) -> Result<Roles, String> {
        text.split_whitespace()
            .map(|s| Role::parse(s).ok_or_else(|| format!("unknown role {s:?}")))
            .collect()
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Roles {
        Roles(iter.into_iter().collect())
    }
}

impl std::fmt::Display for Roles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            f.write_str("no role")
        } else {
            f.write_str(&self.iter().map(Role::as_str).collect::<Vec<_>>().join(", "))
        }
    }
}

impl<DB: sqlx::Database> sqlx::Type<DB> for Roles
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

impl<'r, DB: sqlx::Database> sqlx::Decode<'r, DB> for Roles
where
    &'r str: sqlx::Decode<'r, DB>,
{
    fn decode(
        value: <DB as sqlx::Database>::ValueRef<'r>,
    ) -> Result<Self, sqlx::error::BoxDynError> {
        let text = <&'r str as sqlx::Decode<'r, DB>>::decode(value)?;
        Ok(Roles::from_text(text).map_err(|e| format!("the catalogue holds an {e}"))?)
    }
}

impl<'q, DB: sqlx::Database> sqlx::Encode<'q, DB> for Roles
where
    String: sqlx::Encode<'q, DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <String as sqlx::Encode<'q, DB>>::encode(self.to_text(), buf)
    }
}
