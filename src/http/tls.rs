//! TLS material for `bwv serve` and the Axis connection file.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::{Code, Error, Result};

/// The certificates of a PEM chain as base64 DER, as the Axis connection file's
/// `HTTPSCertificate` wants them (at most 10).
pub fn certificates_base64(path: &Path) -> Result<Vec<String>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect())
        .map_err(|e| {
            Error::new(
                Code::Config,
                format!("reading certificate {}: {e}", path.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::new(
            Code::Config,
            format!("{} holds no certificate", path.display()),
        ));
    }
    Ok(certs
        .iter()
        .take(10)
        .map(|c| B64.encode(c.as_ref()))
        .collect())
}
