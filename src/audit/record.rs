//! The audit record: one leaf of the log, the exact bytes of a small JSON object in RFC 8785
//! canonical form (reference/audit-anchors.md §5.2). Leaves carry ids and hashes, never names or
//! free text about people, because nothing in an append-only log can ever be erased.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, SecondsFormat, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::{Error, Result};

pub const RECORD_VERSION: u64 = 1;

/// Every struct a leaf is made of declares its fields in RFC 8785 key order, so serde_json's
/// output of a parsed record is its canonical form (see `Record::parse`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// `staff:4471`, `os:alice`, `svc:watch@host`.
    pub id: String,
    /// `user` or `service`.
    pub kind: String,
}

impl Actor {
    pub fn user(id: impl Into<String>) -> Self {
        Actor {
            kind: "user".into(),
            id: id.into(),
        }
    }

    pub fn service(id: impl Into<String>) -> Self {
        Actor {
            kind: "service".into(),
            id: id.into(),
        }
    }
}

/// The item a record is about, and its place in that item's own chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemLink {
    pub id: Uuid,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_index: Option<u64>,
    pub seq: u64,
}

/// An input or output object, by content hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub sha256: String,
    pub size: u64,
}

/// Everything a caller says about an event; the log adds position, time, chain links and salt.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub event: String,
    pub actor: Actor,
    pub item_id: Uuid,
    pub item_kind: String,
    pub objects: Vec<ObjectRef>,
    pub result: Option<Value>,
    pub instrument: Option<Value>,
    pub location: Option<String>,
    pub purpose: Option<String>,
    pub recipient: Option<String>,
    pub manifest_sha256: Option<String>,
}

impl EventDraft {
    pub fn new(event: &str, actor: Actor, item_kind: &str, item_id: Uuid) -> Self {
        EventDraft {
            event: event.into(),
            actor,
            item_id,
            item_kind: item_kind.into(),
            objects: Vec::new(),
            result: None,
            instrument: None,
            location: None,
            purpose: None,
            recipient: None,
            manifest_sha256: None,
        }
    }

    /// What the event did. Every kind of event has a payload struct of its own, so what a
    /// record says is typed where it is written; the record keeps it as canonical JSON, so the
    /// log format, and every record already written, stay as they are.
    pub fn with_result(mut self, result: &impl Serialize) -> Result<Self> {
        self.result = Some(payload(result, &self.event)?);
        Ok(self)
    }

    /// The program (and its door or tool) that did the work, for events made by software.
    pub fn with_instrument(mut self, instrument: &impl Serialize) -> Result<Self> {
        self.instrument = Some(payload(instrument, &self.event)?);
        Ok(self)
    }

    pub fn with_object(mut self, object: ObjectRef) -> Self {
        self.objects.push(object);
        self
    }
}

fn payload(value: &impl Serialize, event: &str) -> Result<Value> {
    serde_json::to_value(value)
        .map_err(|e| Error::audit(format!("encoding the payload of a {event} record: {e}")))
}

/// The instrument of a door's records: bwv's version, the door, and the camera that recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Instrument<'a> {
    pub name: &'static str,
    pub version: &'static str,
    pub door: &'a str,
    pub device: &'a str,
}

impl<'a> Instrument<'a> {
    pub fn door(door: &'a str, device: &'a str) -> Self {
        Instrument {
            name: "bwv",
            version: env!("CARGO_PKG_VERSION"),
            door,
            device,
        }
    }
}

/// The leaf as serialised. Optional fields are left out rather than null (no nulls, no floats:
/// the canonical form then is easy to reproduce in any language). Fields are in RFC 8785 key
/// order, as in every struct of a leaf.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub actor: Actor,
    pub event: String,
    pub event_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instrument: Option<Value>,
    pub item: ItemLink,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub log: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub object: Vec<ObjectRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    pub salt: String,
    pub ts: String,
    pub v: u64,
}

/// Formats a time the one way leaves allow: UTC, milliseconds, `Z`.
pub fn format_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Record {
    pub fn build(origin: &str, draft: EventDraft, item: ItemLink, now: DateTime<Utc>) -> Self {
        let mut salt = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Record {
            v: RECORD_VERSION,
            log: origin.into(),
            event_id: Uuid::now_v7(),
            event: draft.event,
            ts: format_ts(now),
            actor: draft.actor,
            item,
            object: draft.objects,
            // Callers build results from optional facts; an absent field is how a record says
            // "none", since the leaf format refuses null.
            result: draft.result.map(without_nulls),
            instrument: draft.instrument.map(without_nulls),
            location: draft.location,
            purpose: draft.purpose,
            recipient: draft.recipient,
            manifest_sha256: draft.manifest_sha256,
            salt: B64.encode(salt),
        }
    }

    /// The exact leaf bytes.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>> {
        let value = serde_json::to_value(self)
            .map_err(|e| Error::audit(format!("serialising audit record: {e}")))?;
        check_restricted(&value)?;
        serde_json_canonicalizer::to_vec(&value)
            .map_err(|e| Error::audit(format!("canonicalising audit record: {e}")))
    }

    /// Parses leaf bytes strictly: known version, known fields, restricted value types, and the
    /// bytes must already be canonical (a re-encoding of the same content is a different leaf).
    ///
    /// Canonical is checked by serialising the parsed record again and comparing bytes: with
    /// fields in key order, nested objects in sorted maps (serde_json without `preserve_order`)
    /// and only strings, integers below 2^53, booleans, arrays and ASCII-keyed objects allowed,
    /// serde_json writes exactly RFC 8785. Anything else (spacing, escapes, nulls, an empty
    /// `object` list, key order, a non-canonical UUID) comes out different and is refused.
    /// This is the audit verifier's inner loop, several times faster than canonicalising a
    /// `Value`.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Record, String> {
        // UTF-8 checked once over the whole leaf: parsing a `str` then checks none of its
        // strings again (per string, the check cost a verifier more than the leaf's hash).
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let record: Record = serde_json::from_str(text).map_err(|e| {
            if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
                format!("not an audit record: {e}")
            } else {
                format!("not JSON: {e}")
            }
        })?;
        for value in [&record.result, &record.instrument].into_iter().flatten() {
            check_restricted(value).map_err(|e| e.to_string())?;
        }
        if record.v != RECORD_VERSION {
            return Err(format!("unknown record version {}", record.v));
        }
        let mut rest = Unwritten(bytes);
        if serde_json::to_writer(&mut rest, &record).is_err() || !rest.0.is_empty() {
            return Err("bytes are not in RFC 8785 canonical form".into());
        }
        Ok(record)
    }
}

/// The part of a leaf its record's serialisation has not yet reproduced. Writing anything else
/// fails at once, so checking that a leaf is canonical allocates nothing and stops at the
/// first byte that differs.
struct Unwritten<'a>(&'a [u8]);

impl std::io::Write for Unwritten<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.strip_prefix(buf) {
            Some(rest) => {
                self.0 = rest;
                Ok(buf.len())
            }
            None => Err(std::io::ErrorKind::InvalidData.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Drops the fields whose value is null (records cannot hold null): an absent field says "none".
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Floats and nulls are refused: their canonical forms are where JSON implementations disagree.
fn check_restricted(value: &Value) -> Result<()> {
    match value {
        Value::Null => Err(Error::audit("audit records may not contain null")),
        Value::Number(n) if !n.is_u64() || n.as_u64().is_some_and(|n| n >= 1 << 53) => {
            Err(Error::audit(format!(
                "audit records allow only integers in [0, 2^53), got {n}"
            )))
        }
        Value::Array(items) => items.iter().try_for_each(check_restricted),
        Value::Object(map) => {
            if let Some(key) = map.keys().find(|k| !k.is_ascii()) {
                return Err(Error::audit(format!(
                    "audit record key {key:?} is not ASCII"
                )));
            }
            map.values().try_for_each(check_restricted)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut draft =
            EventDraft::new("ingest", Actor::user("os:alice"), "recording", Uuid::nil());
        draft.objects.push(ObjectRef {
            sha256: "ab".repeat(32),
            size: 3,
            role: None,
        });
        draft.result = Some(serde_json::json!({"officer": "4471"}));
        let item = ItemLink {
            id: Uuid::nil(),
            kind: "recording".into(),
            seq: 1,
            prev: None,
            prev_index: None,
        };
        Record::build("bwv.test/v1", draft, item, Utc::now())
    }

    #[test]
    fn canonical_bytes_parse_back_identically() {
        let r = sample();
        let bytes = r.canonical_bytes().unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.starts_with(
                "{\"actor\":{\"id\":\"os:alice\",\"kind\":\"user\"},\"event\":\"ingest\""
            ),
            "{text}"
        );
        assert_eq!(Record::parse(&bytes).unwrap(), r);
    }

    #[test]
    fn non_canonical_or_unknown_bytes_are_refused() {
        let bytes = sample().canonical_bytes().unwrap();
        let spaced = String::from_utf8(bytes.clone())
            .unwrap()
            .replacen(':', ": ", 1);
        assert!(
            Record::parse(spaced.as_bytes())
                .unwrap_err()
                .contains("canonical")
        );
        let mut v: Value = serde_json::from_slice(&bytes).unwrap();
        v["v"] = 2.into();
        let two = serde_json_canonicalizer::to_vec(&v).unwrap();
        assert!(Record::parse(&two).unwrap_err().contains("version"));
        v["v"] = 1.into();
        v["extra"] = "x".into();
        let extra = serde_json_canonicalizer::to_vec(&v).unwrap();
        assert!(Record::parse(&extra).is_err());
    }

    /// Every field present, nested objects and awkward strings: the typed serialisation that
    /// `parse` compares against must be exactly the RFC 8785 form `canonical_bytes` writes.
    #[test]
    fn typed_serialisation_is_the_canonical_form() {
        let mut r = sample();
        r.result = Some(serde_json::json!({
            "zeta": [1, {"b": "x", "a": true}], "alpha": "tab\there \"quoted\" \u{1}",
            "Upper": "caf\u{e9} \u{2028} / \u{7f}", "n": 9007199254740991u64
        }));
        r.instrument = Some(serde_json::json!({"door": "tus", "device": "dock-1"}));
        r.item.prev = Some("AAAA".into());
        r.item.prev_index = Some(7);
        r.object[0].role = Some("input".into());
        r.location = Some("here".into());
        r.purpose = Some("why".into());
        r.recipient = Some("cps".into());
        r.manifest_sha256 = Some("cd".repeat(32));
        let canonical = r.canonical_bytes().unwrap();
        assert_eq!(serde_json::to_vec(&r).unwrap(), canonical);
        assert_eq!(Record::parse(&canonical).unwrap(), r);
    }

    #[test]
    fn every_non_canonical_spelling_is_refused() {
        let mut r = sample();
        r.object.clear();
        r.result = Some(serde_json::json!({"a": "A", "b": 1}));
        let text = String::from_utf8(r.canonical_bytes().unwrap()).unwrap();
        for (what, from, to) in [
            (
                "nested keys out of order",
                r#"{"a":"A","b":1}"#,
                r#"{"b":1,"a":"A"}"#,
            ),
            (
                "an escape where a literal belongs",
                r#""a":"A""#,
                r#""a":"\u0041""#,
            ),
            ("a null", r#""b":1"#, r#""b":null"#),
            ("a float", r#""b":1"#, r#""b":1.0"#),
            (
                "an empty object list",
                r#","result""#,
                r#","object":[],"result""#,
            ),
            (
                "a braced uuid",
                "00000000-0000-0000-0000-000000000000",
                "{00000000-0000-0000-0000-000000000000}",
            ),
        ] {
            let changed = text.replacen(from, to, 1);
            assert_ne!(changed, text, "{what}: the sample has no {from}");
            assert!(
                Record::parse(changed.as_bytes()).is_err(),
                "{what} was accepted"
            );
        }
    }

    #[test]
    fn drafted_nulls_become_absent_fields() {
        let mut draft = EventDraft::new("x", Actor::user("staff:1"), "recording", Uuid::now_v7());
        draft.result = Some(serde_json::json!({"a": null, "b": {"c": null, "d": 1}, "e": [2]}));
        let r = Record::build("o", draft, sample().item, Utc::now());
        let v: Value = serde_json::from_slice(&r.canonical_bytes().unwrap()).unwrap();
        assert_eq!(v["result"], serde_json::json!({"b": {"d": 1}, "e": [2]}));
    }

    #[test]
    fn floats_and_nulls_are_refused() {
        let mut r = sample();
        r.result = Some(serde_json::json!({"x": 1.5}));
        assert!(r.canonical_bytes().is_err());
        r.result = Some(serde_json::json!({"x": null}));
        assert!(r.canonical_bytes().is_err());
    }
}
