//! C2SP tlog-proof@v1: one log entry's inclusion proof with the signed checkpoint it leads to, in
//! a small text file anyone can check offline (reference/audit-anchors.md §1.4):
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! index 73894
//! <base64 sibling hash, leaf's sibling first>
//! ...
//! <empty line>
//! <checkpoint note, verbatim>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

const HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    pub index: u64,
    pub hashes: Vec<Vec<u8>>,
    /// The signed note, byte for byte.
    pub checkpoint: Vec<u8>,
}

impl TlogProof {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{HEADER}\nindex {}\n", self.index).into_bytes();
        for h in &self.hashes {
            out.extend_from_slice(B64.encode(h).as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// Parses strictly: the exact header, an optional `extra` line (ignored: it is not
    /// authenticated), a decimal index without leading zeros, 32-byte hashes, a blank line.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, String> {
        let mut rest = bytes;
        let mut line = || -> Result<&str, String> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or("ends before the checkpoint")?;
            let (l, r) = rest.split_at(end);
            rest = &r[1..];
            std::str::from_utf8(l).map_err(|_| "is not UTF-8".to_string())
        };
        if line()? != HEADER {
            return Err(format!("does not start with {HEADER:?}"));
        }
        let mut next = line()?;
        if next.starts_with("extra ") {
            next = line()?;
        }
        let digits = next.strip_prefix("index ").ok_or("has no index line")?;
        let well_formed = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let index = digits
            .parse()
            .ok()
            .filter(|_| well_formed)
            .ok_or_else(|| format!("has a malformed index {digits:?}"))?;
        let mut hashes = Vec::new();
        loop {
            let l = line()?;
            if l.is_empty() {
                break;
            }
            let h = B64
                .decode(l)
                .ok()
                .filter(|h| h.len() == 32)
                .ok_or_else(|| format!("has a malformed hash line {l:?}"))?;
            hashes.push(h);
        }
        Ok(TlogProof {
            index,
            hashes,
            checkpoint: rest.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_malformed_proofs() {
        let p = TlogProof {
            index: 12,
            hashes: vec![vec![1; 32], vec![2; 32]],
            checkpoint: b"origin\n13\nroot\n\n\xe2\x80\x94 origin sig\n".to_vec(),
        };
        let bytes = p.to_bytes();
        assert_eq!(TlogProof::parse(&bytes).unwrap(), p);
        let text = String::from_utf8(bytes).unwrap();
        let with_extra = text.replacen("index", "extra AAAA\nindex", 1);
        assert_eq!(TlogProof::parse(with_extra.as_bytes()).unwrap(), p);
        for bad in [
            text.replacen("@v1", "@v2", 1),
            text.replacen("index 12", "index 012", 1),
            text.replacen("index 12", "index -1", 1),
            text.replacen("index 12", "index 1 2", 1),
            text.replacen(&B64.encode([1u8; 32]), &B64.encode([1u8; 31]), 1),
            "c2sp.org/tlog-proof@v1\nindex 1\n".to_string(),
        ] {
            assert!(TlogProof::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }
}
