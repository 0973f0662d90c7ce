//! A case's disclosure schedules as they stand, between packages: what a disclosure officer
//! checks before building one. The same schedules a package carries, made from the same
//! material by the same functions.

use super::schedules::{self, Schedule};
use crate::context::Context;
use crate::domain::Schedule as On;
use crate::error::{Code, Error, Result};

/// The schedules a case can be drafted on.
pub const FORMS: &[&str] = &["mg6c", "mg6d", "mg6e", "mg6e-sensitive"];

/// Schedule `form` of case `urn` as CSV, for a spreadsheet. MG6D and the sensitive MG6E are for
/// the prosecutor only, as in a package.
pub async fn schedule_csv(ctx: &Context<'_>, urn: &str, form: &str) -> Result<Vec<u8>> {
    let case = crate::cases::find(ctx, urn).await?;
    let material = ctx.catalogue.case_material(case.id).await?;
    let schedule: Schedule = match form {
        "mg6c" => schedules::mg6c(&material),
        "mg6d" => schedules::mg6d(&material),
        "mg6e" => schedules::mg6e(&material, &[On::Exhibit, On::Unused]),
        "mg6e-sensitive" => schedules::mg6e(&material, &[On::Sensitive]),
        other => {
            return Err(Error::not_found(format!(
                "no schedule {other:?}: ask for one of {}",
                FORMS.join(", ")
            )));
        }
    };
    schedule.csv().map_err(|e| {
        Error::new(
            Code::Io,
            format!("writing schedule {form} of case {urn}: {e}"),
        )
    })
}
