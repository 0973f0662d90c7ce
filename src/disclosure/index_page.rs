//! `index.html`: the package's front page for the prosecutor, the defence and the court. It
//! opens from disk in any browser (no scripts, no network): the exhibits with players, every
//! file's hash, the schedules, and how to check it all without trusting us.

use super::html::{escape, page};
use super::manifest::{FileEntry, Manifest};
use super::schedules::Material;

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn file_rows(files: &[FileEntry]) -> String {
    let mut s = String::from(
        "<table><tr><th>File</th><th>Role</th><th>Size</th><th>SHA-256</th><th>Original</th></tr>\n",
    );
    for f in files {
        s.push_str(&format!(
            "<tr><td><a href=\"{p}\">{p}</a></td><td>{}</td><td>{}</td><td class=\"hash\">{}</td>\
             <td class=\"hash\">{}</td></tr>\n",
            escape(&f.role),
            human_size(f.size),
            escape(&f.sha256),
            escape(f.original_sha256.as_deref().unwrap_or("")),
            p = escape(&f.path),
        ));
    }
    s.push_str("</table>\n");
    s
}

/// The page, from the manifest core (written before the audit extract exists) and the
/// exhibits' schedule entries.
pub fn render(m: &Manifest, exhibits: &[&Material]) -> String {
    let mut body = format!(
        "<h1>Disclosure package: case {}</h1>\n<table>\
         <tr><th>Offence</th><td>{}</td></tr>\
         <tr><th>Package</th><td class=\"hash\">{}</td></tr>\
         <tr><th>Made</th><td>{}</td></tr>\
         <tr><th>Disclosed by</th><td>{}</td></tr>\
         <tr><th>Recipient</th><td>{}</td></tr>\
         <tr><th>Purpose</th><td>{}</td></tr></table>\n",
        escape(&m.case.urn),
        escape(&m.case.offence),
        m.package_id,
        escape(&m.created_at),
        escape(&m.disclosed_by),
        escape(m.recipient.as_deref().unwrap_or("-")),
        escape(m.purpose.as_deref().unwrap_or("-")),
    );
    body.push_str("<h2>Exhibits</h2>\n");
    for item in &m.items {
        let description = exhibits
            .iter()
            .find(|e| e.recording_id == item.recording)
            .map(|e| e.description())
            .unwrap_or_default();
        body.push_str(&format!(
            "<h3>Exhibit {}</h3>\n<p>{}</p>\n",
            escape(&item.exhibit),
            escape(&description)
        ));
        let poster = item.files.iter().find(|f| f.role == "poster");
        for f in item
            .files
            .iter()
            .filter(|f| f.role == "disclosure" || f.role == "excerpt")
        {
            let poster_attr = poster
                .map(|p| format!(" poster=\"{}\"", escape(&p.path)))
                .unwrap_or_default();
            body.push_str(&format!(
                "<figure><video controls preload=\"metadata\" src=\"{}\"{poster_attr}></video>\
                 <figcaption>{} ({})</figcaption></figure>\n",
                escape(&f.path),
                escape(&f.path),
                escape(&f.role)
            ));
        }
        body.push_str(&file_rows(&item.files));
    }
    body.push_str("<h2>Schedules and statements</h2>\n");
    body.push_str(&file_rows(&m.files));
    body.push_str(&format!(
        "<h2>How to check this package</h2>\n\
         <p>Every file is listed with its SHA-256 in <code>manifest.json</code> (and in \
         <code>SHA256SUMS</code>, for <code>sha256sum -c SHA256SUMS</code>). The folder \
         <code>audit/</code> holds each exhibit's audit records exactly as they sit in the \
         force's tamper-evident log ({origin}), each with a proof that it is in the log, and \
         the log's signed checkpoint. The disclosure itself is one of those records: it names \
         the hash of this package's manifest.</p>\n\
         <p>To check everything at once, offline:</p>\n\
         <pre>bwv verify PACKAGE --trust KEYFILE</pre>\n\
         <p>where KEYFILE holds the log's public key <em>as obtained from the force directly</em>, \
         not the copy in <code>keys/</code>: a forger could replace that one. See \
         <a href=\"VERIFY.md\">VERIFY.md</a> for checking by hand.</p>\n",
        origin = escape(&m.log_origin)
    ));
    page(&format!("Disclosure package {}", m.case.urn), &body)
}

/// How to check a package by hand, for an expert who will not run our verifier.
pub fn verify_instructions(origin: &str) -> String {
    format!(
        "# Checking this disclosure package\n\n\
         Run `bwv verify PACKAGE --trust KEYFILE` with the log's public key obtained from the \
         force directly (the copy in `keys/log.vkey` is for convenience only). It checks \
         everything below and exits non-zero on any failure.\n\n\
         By hand:\n\n\
         1. Files: `sha256sum -c SHA256SUMS`, and compare with `manifest.json`, which is \
         RFC 8785 canonical JSON.\n\
         2. Checkpoint: `audit/checkpoint.txt` is a C2SP signed note (checkpoint of log \
         `{origin}`) with an Ed25519 signature by the log's key; its second line is the \
         number of records N, its third the base64 Merkle root.\n\
         3. Records: `audit/leaves/I.json` is record I of the log, byte for byte. Its leaf hash \
         is SHA-256(0x00 || bytes). `audit/proofs/I.tlog-proof` is a C2SP tlog-proof: the \
         RFC 9162 inclusion proof of record I in the tree of N records, followed by the same \
         checkpoint.\n\
         4. Chains: each exhibit's records carry `item.seq` (1, 2, 3, ... with no gaps) and \
         `item.prev`, the base64 leaf hash of the record before, so a missing or reordered record shows.\n\
         5. Binding: the `disclosed` record of each exhibit names `manifest_sha256`, the \
         SHA-256 of `manifest.json` without its `audit` member, in RFC 8785 form.\n\n\
         Not proven: anything recorded after the checkpoint; the honesty of the clocks.\n"
    )
}
