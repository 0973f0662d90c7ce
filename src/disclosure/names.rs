//! Names inside a package. A package verifies only if every entry is exactly one file the
//! manifest lists, or a folder one of them implies: anything else is what a recipient's
//! extractor might write over or beside the verified files (Info-ZIP turns `media\S-1\x.mp4`
//! into `media/S-1/x.mp4`, Windows drops a trailing dot or space and opens `name:stream` as an
//! alternate stream, case-insensitive and normalising filesystems merge look-alikes). So names
//! are canonical and portable to Windows, macOS and Linux extractors: plain ASCII parts, no
//! trailing dot, no device names, and no two that one of those filesystems would merge.

use std::collections::{HashMap, HashSet};

/// Windows reserves these as device names, with or without an extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM0", "COM1", "COM2", "COM3", "COM4",
    "COM5", "COM6", "COM7", "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6",
    "LPT7", "LPT8", "LPT9",
];

/// Longest path a package may use (well inside Windows' 260 with a folder in front).
const MAX_PATH: usize = 200;

/// Why one part of a path is not portable, if it is not.
fn part_problem(part: &str) -> Option<String> {
    if part.is_empty() {
        return Some("an empty part (// or a leading or trailing /)".into());
    }
    if part == ".." {
        return Some("a parent-folder part (..)".into());
    }
    if part == "." {
        return Some("a current-folder part (.)".into());
    }
    if let Some(c) = part
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-".contains(*c)))
    {
        return Some(match c {
            '\\' => "a backslash (a folder separator to Windows and Info-ZIP)".into(),
            ':' => "a colon (a drive or an alternate data stream on Windows)".into(),
            ' ' => "a space".into(),
            c if c.is_control() => "a control character".into(),
            c if !c.is_ascii() => format!("the non-ASCII character {c:?} (a look-alike)"),
            c => format!("the character {c:?}"),
        });
    }
    if part.ends_with('.') {
        return Some("a trailing dot (Windows drops it)".into());
    }
    let stem = part.split('.').next().unwrap_or(part);
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        return Some(format!("the Windows device name {stem:?}"));
    }
    None
}

/// A package path as the manifest may name it: relative, `/`-separated, each part plain and
/// portable. Anything else could reach outside the package, or be unpacked under another name.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.len() > MAX_PATH {
        return Err(format!("path {path:?} is longer than {MAX_PATH} bytes"));
    }
    if path.starts_with('/') {
        return Err(format!("path {path:?} is absolute"));
    }
    match path.split('/').find_map(part_problem) {
        None => Ok(()),
        Some(problem) => Err(format!(
            "path {path:?} is not a plain relative path inside the package: it has {problem}"
        )),
    }
}

/// The files a manifest lists and the folders they imply: the only entries a package may have.
#[derive(Debug, Default)]
pub struct Layout {
    files: HashSet<String>,
    folders: HashSet<String>,
}

impl Layout {
    /// Checks every listed path, and that no two are one name to a case-insensitive filesystem
    /// and no file is also a folder of another.
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<Layout, String> {
        let mut layout = Layout::default();
        let mut folded: HashMap<String, String> = HashMap::new();
        for path in paths {
            check_path(path)?;
            if !layout.files.insert(path.to_owned()) {
                return Err(format!("the manifest lists {path:?} twice"));
            }
            let mut at = 0;
            while let Some(slash) = path[at..].find('/') {
                layout.folders.insert(path[..at + slash].to_owned());
                at += slash + 1;
            }
        }
        for name in layout.files.iter().chain(layout.folders.iter()) {
            if let Some(other) = folded.insert(name.to_ascii_lowercase(), name.clone())
                && other != *name
            {
                return Err(format!(
                    "the manifest names {other:?} and {name:?}, one name to a case-insensitive \
                     filesystem"
                ));
            }
        }
        if let Some(both) = layout.files.intersection(&layout.folders).next() {
            return Err(format!(
                "the manifest lists {both:?} both as a file and as a folder"
            ));
        }
        Ok(layout)
    }

    pub fn is_file(&self, name: &str) -> bool {
        self.files.contains(name)
    }

    pub fn is_folder(&self, name: &str) -> bool {
        self.folders.contains(name)
    }

    /// Why an entry that is neither a listed file nor an implied folder must not be there.
    pub fn refuse(&self, entry: &str, as_folder: bool) -> String {
        let bare = entry.trim_end_matches('/');
        let what = if as_folder { "folder" } else { "file" };
        if let Err(problem) = check_path(bare) {
            return format!("entry {entry:?} is refused: {problem}");
        }
        let twin = self
            .files
            .iter()
            .chain(self.folders.iter())
            .find(|n| n.eq_ignore_ascii_case(bare));
        match twin {
            Some(t) if t == bare && as_folder => format!(
                "entry {entry:?} is a folder where the manifest lists the file {t:?}: an \
                 extractor may drop one of them"
            ),
            Some(t) if t == bare => {
                format!("entry {entry:?} is a file where the manifest implies the folder {t:?}")
            }
            Some(t) => format!(
                "entry {entry:?} is {t:?} to a case-insensitive filesystem: unpacked, one would \
                 overwrite the other"
            ),
            None => format!("entry {entry:?} is a {what} the manifest does not list"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_package_and_portable() {
        assert!(check_path("media/AB-1/disclosure-1.mp4").is_ok());
        assert!(check_path("index.html").is_ok());
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "",
            "a\\b",
            "media\\S-1\\original-1.mp4",
            "a b",
            "index.html.",
            "index.html ",
            "\u{131}ndex.html",
            "index.html:Zone.Identifier",
            "CON",
            "aux.txt",
            "media/com1.mp4",
            "a\u{0}b",
            "e\u{301}.txt",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_layout_is_its_files_and_their_folders() {
        let layout = Layout::new(["index.html", "media/S-1/original-1.mp4"]).unwrap();
        assert!(layout.is_file("index.html"));
        assert!(layout.is_folder("media"));
        assert!(layout.is_folder("media/S-1"));
        assert!(!layout.is_folder("index.html"));
        assert!(
            layout
                .refuse("index.html/", true)
                .contains("a folder where")
        );
        assert!(
            layout
                .refuse("INDEX.html", false)
                .contains("case-insensitive")
        );
        assert!(
            layout
                .refuse("media\\S-1\\original-1.mp4", false)
                .contains("backslash")
        );
        assert!(layout.refuse("extra.txt", false).contains("does not list"));
    }

    #[test]
    fn a_layout_refuses_names_that_merge() {
        assert!(Layout::new(["a.txt", "A.txt"]).is_err());
        assert!(Layout::new(["a", "a/b"]).is_err());
        assert!(Layout::new(["Media/x", "media/y"]).is_err());
        assert!(Layout::new(["x", "x"]).is_err());
    }
}
