//! Plain HTTP/1.0 `GET`s to `bwv serve` on loopback over a bare `TcpStream`: enough to probe
//! health and readiness, read metrics or try a header, with no client library in the way.

use std::io::{Read, Write};
use std::time::Duration;

use super::Server;

/// `GET path` on `127.0.0.1:port` with extra headers: the raw response (status line, headers
/// and body), or None when nothing answers the connection or the request cannot be sent. A read
/// that fails or passes `read_timeout` keeps what had arrived.
pub fn try_get(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
    read_timeout: Option<Duration>,
) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(read_timeout).ok()?;
    let mut request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).ok()?;
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    Some(out)
}

/// `GET path`: the raw response. Panics when nothing answers on the port.
pub fn get(port: u16, path: &str) -> String {
    get_with(port, path, &[])
}

/// `GET path` with extra headers: the raw response. Panics when nothing answers on the port.
pub fn get_with(port: u16, path: &str, headers: &[(&str, &str)]) -> String {
    try_get(port, path, headers, None)
        .unwrap_or_else(|| panic!("GET {path}: nothing answers on 127.0.0.1:{port}"))
}

/// The status line of `GET path` ("HTTP/1.1 200 OK"), or "no connection"; waits at most
/// `read_timeout` for the answer.
pub fn status(port: u16, path: &str, read_timeout: Duration) -> String {
    match try_get(port, path, &[], Some(read_timeout)) {
        Some(response) => response.lines().next().unwrap_or_default().to_owned(),
        None => "no connection".to_owned(),
    }
}

impl Server {
    /// `GET path` on this server: the raw response.
    pub fn get(&self, path: &str) -> String {
        get(self.port, path)
    }

    /// `GET path` on this server with extra headers: the raw response.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> String {
        get_with(self.port, path, headers)
    }

    /// Whether `/healthz` answers 200 within two seconds.
    pub fn healthy(&self) -> bool {
        try_get(self.port, "/healthz", &[], Some(Duration::from_secs(2)))
            .is_some_and(|r| r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"))
    }
}
