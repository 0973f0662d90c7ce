//! The disclosure schedules (CPS Disclosure Manual; reference/dems-anchors.md §5.3) as CSV for
//! case systems and as printable HTML for signing: MG6C (non-sensitive unused material), MG6D
//! (sensitive material: never part of a defence-facing package), MG6E (the disclosure officer's
//! report), and the exhibits' continuity in MG11 style.

use chrono::{DateTime, Utc};

pub use crate::catalogue::MaterialRow as Material;

use super::html::{escape, page};
/// The schedule material is on (a stored state), apart from the rendered `Schedule` below.
pub use crate::domain::Schedule as On;
use crate::registry::OfficerName;

/// The schedules' view of a piece of case material.
impl Material {
    /// The force's record of the officer; a dock's name for them only as a marked label.
    pub fn officer(&self) -> String {
        OfficerName {
            id: &self.officer_id,
            force_name: self.officer_name.as_deref(),
            registered_by: self.officer_registered_by,
            dock_label: self.officer_label.as_deref(),
        }
        .display()
    }

    pub fn when(&self) -> String {
        let start = self.recorded_at.format("%Y-%m-%d %H:%M:%S");
        match self.ended_at {
            Some(end) => format!("{start} to {} UTC", end.format("%H:%M:%S")),
            None => format!("{start} UTC"),
        }
    }

    /// The schedule's description: the one given at linking, or what the catalogue knows.
    pub fn description(&self) -> String {
        self.description.clone().unwrap_or_else(|| {
            let mut d = format!(
                "Body worn video recorded by {} on camera {}, {}",
                self.officer(),
                self.device_serial,
                self.when()
            );
            if let Some(c) = &self.category {
                d.push_str(&format!(" (camera category: {c})"));
            }
            d
        })
    }

    fn location(&self) -> String {
        format!("bwv evidence store, recording {}", self.recording_id)
    }
}

/// Who signs the schedules, for whom, and when.
pub struct Header<'a> {
    pub urn: &'a str,
    pub offence: &'a str,
    pub officer: &'a str,
    pub date: DateTime<Utc>,
}

/// A schedule as rows, rendered both ways.
pub struct Schedule {
    pub form: &'static str,
    pub title: &'static str,
    columns: &'static [&'static str],
    rows: Vec<Vec<String>>,
    nil: &'static str,
    notes: &'static str,
}

impl Schedule {
    pub fn csv(&self) -> Result<Vec<u8>, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.columns).map_err(|e| e.to_string())?;
        for row in &self.rows {
            w.write_record(row.iter().map(|cell| inert(cell)))
                .map_err(|e| e.to_string())?;
        }
        w.into_inner().map_err(|e| e.to_string())
    }

    pub fn html(&self, h: &Header) -> String {
        let mut body = format!(
            "<h1>{form}: {title}</h1>\n<table class=\"head\">\
             <tr><th>URN</th><td>{urn}</td><th>R v</th><td class=\"fill\"></td></tr>\
             <tr><th>Offence</th><td>{offence}</td><th>Schedule / page</th><td>1 of 1</td></tr>\
             </table>\n",
            form = self.form,
            title = self.title,
            urn = escape(h.urn),
            offence = escape(h.offence),
        );
        if self.rows.is_empty() {
            body.push_str(&format!("<p class=\"nil\">{}</p>\n", self.nil));
        } else {
            body.push_str("<table class=\"rows\"><tr>");
            for c in self.columns {
                body.push_str(&format!("<th>{}</th>", escape(c)));
            }
            body.push_str("</tr>\n");
            for row in &self.rows {
                body.push_str("<tr>");
                for cell in row {
                    body.push_str(&format!("<td>{}</td>", escape(cell)));
                }
                body.push_str("</tr>\n");
            }
            body.push_str("</table>\n");
        }
        body.push_str(&format!(
            "<p class=\"notes\">{}</p>\n<table class=\"sign\">\
             <tr><th>Disclosure officer</th><td>{}</td><th>Date</th><td>{}</td></tr>\
             <tr><th>Signature</th><td class=\"fill\"></td><th>Reviewing lawyer</th><td class=\"fill\"></td></tr>\
             </table>\n",
            self.notes,
            escape(h.officer),
            h.date.format("%d/%m/%Y")
        ));
        page(&format!("{} {}", self.form, h.urn), &body)
    }
}

/// A cell a spreadsheet will show as text: one starting like a formula gets a leading quote
/// (descriptions are free text, and a schedule is opened in Excel at the CPS).
pub(crate) fn inert(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn on(material: &[Material], schedule: On) -> impl Iterator<Item = &Material> {
    material.iter().filter(move |m| m.schedule == schedule)
}

/// MG6C: relevant non-sensitive material the prosecution does not use.
pub fn mg6c(material: &[Material]) -> Schedule {
    Schedule {
        form: "MG6C",
        title: "Schedule of relevant non-sensitive unused material",
        columns: &[
            "Item No.",
            "Description",
            "Location",
            "D / CND / I",
            "Comment",
        ],
        rows: on(material, On::Unused)
            .map(|m| {
                vec![
                    m.schedule_item.to_string(),
                    m.description(),
                    m.location(),
                    String::new(),
                    String::new(),
                ]
            })
            .collect(),
        nil: "There is no non-sensitive unused body worn video in this case.",
        notes: "D: disclose; CND: clearly not disclosable; I: defence may inspect. The last two \
                columns are for the prosecutor.",
    }
}

/// MG6D: sensitive material, for the prosecutor only. A nil schedule is still produced, to be
/// endorsed and signed.
pub fn mg6d(material: &[Material]) -> Schedule {
    Schedule {
        form: "MG6D",
        title: "Schedule of relevant sensitive material",
        columns: &[
            "Item No.",
            "Description",
            "Reason for sensitivity",
            "Prosecutor: agree sensitive?",
            "PII application needed?",
        ],
        rows: on(material, On::Sensitive)
            .map(|m| {
                vec![
                    m.schedule_item.to_string(),
                    m.description(),
                    m.sensitivity.clone().unwrap_or_default(),
                    String::new(),
                    String::new(),
                ]
            })
            .collect(),
        nil: "NIL: there is no sensitive body worn video material in this case.",
        notes: "NOT FOR DISCLOSURE TO THE DEFENCE. Keep apart from the disclosure package.",
    }
}

/// MG6E: the disclosure officer's report on material that may undermine the prosecution case
/// or assist the defence. `schedules` picks the items the report may name.
pub fn mg6e(material: &[Material], schedules: &[On]) -> Schedule {
    let form_of = |s: On| match s {
        On::Unused => "MG6C",
        On::Sensitive => "MG6D",
        On::Exhibit => "exhibit",
    };
    Schedule {
        form: "MG6E",
        title: "Disclosure officer's report",
        columns: &[
            "Schedule",
            "Item No.",
            "Description",
            "Why it may undermine or assist",
        ],
        rows: material
            .iter()
            .filter(|m| schedules.contains(&m.schedule))
            .filter_map(|m| {
                let note = m.disclosure_note.clone()?;
                let item = if m.schedule == On::Exhibit {
                    m.reference.clone()
                } else {
                    m.schedule_item.to_string()
                };
                Some(vec![
                    form_of(m.schedule).to_owned(),
                    item,
                    m.description(),
                    note,
                ])
            })
            .collect(),
        // Each copy names only the items of its own schedules, so its nil line says no more:
        // the defence-facing one must not certify that nothing exists anywhere.
        nil: if schedules.contains(&On::Sensitive) {
            "No sensitive item is identified in this report as capable of undermining the case \
             for the prosecution or of assisting the case for the accused."
        } else {
            "No exhibit and no item on the MG6C is identified in this report as capable of \
             undermining the case for the prosecution or of assisting the case for the accused."
        },
        notes: "I certify that to the best of my knowledge and belief all relevant material has \
                been retained and made available to me, and has been scheduled.",
    }
}

/// One exhibit's files for its continuity lines.
pub struct ExhibitFiles<'a> {
    pub material: &'a Material,
    /// (role, file name, SHA-256, size)
    pub files: Vec<(&'a str, &'a str, &'a str, u64)>,
}

/// Exhibit continuity in the words of an MG11 statement: what is produced, as which exhibit,
/// identified by which hash.
pub fn continuity(h: &Header, exhibits: &[ExhibitFiles]) -> String {
    let mut s = format!(
        "EXHIBIT CONTINUITY (MG11 style)\nCase {} ({})\nDisclosure officer: {}\nDate: {}\n\n",
        h.urn,
        h.offence,
        h.officer,
        h.date.format("%d/%m/%Y")
    );
    for e in exhibits {
        let m = e.material;
        s.push_str(&format!(
            "I produce body worn video recorded by {} on camera {}, {}, as exhibit {}.\n",
            m.officer(),
            m.device_serial,
            m.when(),
            m.reference
        ));
        for (role, name, sha, size) in &e.files {
            let what = match *role {
                "original" => "the original recording, bit for bit as received",
                "disclosure" => "a playable copy made from the original",
                "excerpt" => "an excerpt cut from the playable copy",
                _ => "a still from the recording",
            };
            s.push_str(&format!(
                "  {name}: {what}, SHA-256 {sha}, {size} bytes, marked {}.\n",
                m.reference
            ));
        }
        s.push('\n');
    }
    s.push_str(
        "Each file above is identified by its SHA-256; the audit extract in this package proves \
         its history. Check it with `bwv verify`.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RegisteredBy;

    fn material(schedule: On, description: &str) -> Material {
        Material {
            schedule,
            schedule_item: 1,
            reference: "MG6C-1".into(),
            recording_id: uuid::Uuid::nil(),
            officer_id: "4471".into(),
            officer_name: None,
            officer_registered_by: RegisteredBy::Force,
            officer_label: None,
            device_serial: "CAM-1".into(),
            recorded_at: Utc::now(),
            ended_at: None,
            category: None,
            description: Some(description.into()),
            sensitivity: Some("reason".into()),
            disclosure_note: Some("note".into()),
        }
    }

    #[test]
    fn spreadsheet_formulas_stay_text() {
        let csv = mg6c(&[material(On::Unused, "=HYPERLINK(\"http://x\")")])
            .csv()
            .unwrap();
        let text = String::from_utf8(csv).unwrap();
        assert!(text.contains("'=HYPERLINK"), "{text}");
    }

    #[test]
    fn the_defence_facing_report_never_certifies_for_sensitive_items() {
        let all = [material(On::Sensitive, "secret")];
        let header = Header {
            urn: "01AB",
            offence: "x",
            officer: "staff:1",
            date: Utc::now(),
        };
        let open = mg6e(&all, &[On::Exhibit, On::Unused]).html(&header);
        assert!(!open.contains("secret") && !open.contains("I have found no material"));
        assert!(
            mg6e(&all, &[On::Sensitive])
                .html(&header)
                .contains("secret")
        );
    }
}
