//! The stored form of a [`Record`], version 2: a compact binary encoding
//! holding only what a replay and a "which parameters differ" answer need.
//!
//! ```text
//! u8      version (2)
//! u8      state: 1 in flight, 2 unknown, 3 completed
//! varint  created: seconds since the Unix epoch
//! varint  created: nanoseconds (< 1e9)
//! varint  activity - created, in nanoseconds, zigzag-signed (the attempt's
//!         start, the last attempt, or the completion)
//! [32]    fingerprint hash (SHA-256)
//! bytes   provider name
//! varint  number of parameters with a non-empty value, then for each, in
//!         name order: varint bytes shared with the previous name, bytes
//!         rest of the name, bytes value
//! bytes   completed only: the encoded `AllocateIpResponse`
//! ```
//!
//! `bytes` is a varint length then that many bytes; varints are LEB128
//! (7 bits a byte, low first, at most 10 bytes). Parameter names share long
//! prefixes (`zenlayer.`), hence the front coding. Empty parameter values are
//! left out: the hash still covers them, and [`Fingerprint::differences`]
//! treats empty and absent alike. A one-EIP Zenlayer record is about 300
//! bytes (the v1 JSON form took 711).
//!
//! Decoding checks every length against the input, every string for UTF-8,
//! and that nothing follows the record: bad bytes are an error, never a panic
//! or a wrong record.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::fingerprint::{Fingerprint, HASH_BYTES};
use super::record::Record;

/// First byte of a version 2 record.
pub(super) const VERSION: u8 = 2;

const IN_FLIGHT: u8 = 1;
const UNKNOWN: u8 = 2;
const COMPLETED: u8 = 3;

/// The state and times of a stored record, read without decoding the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub completed: bool,
    pub created: SystemTime,
    /// The attempt's start, the last attempt or the completion.
    pub activity: SystemTime,
}

impl Header {
    /// The latest time in the record: retention counts from here.
    pub fn last_activity(&self) -> SystemTime {
        self.activity.max(self.created)
    }
}

/// Encodes `record` into a buffer of exactly its size (so that keeping it
/// costs one allocation and leaves no free tail); times before 1970 or
/// centuries apart are an error.
pub(super) fn encode(record: &Record) -> Result<Vec<u8>, String> {
    let mut size = Counter(0);
    write(record, &mut size)?;
    let mut out = Vec::with_capacity(size.0);
    write(record, &mut out)?;
    debug_assert_eq!(out.len(), size.0);
    Ok(out)
}

/// Where [`write`] puts bytes: a buffer, or a counter of them.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

struct Counter(usize);

impl Sink for Counter {
    fn put(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
}

fn write(record: &Record, out: &mut impl Sink) -> Result<(), String> {
    let (state, activity, response) = match record {
        Record::InFlight {
            attempt_started, ..
        } => (IN_FLIGHT, *attempt_started, None),
        Record::Unknown { last_attempt, .. } => (UNKNOWN, *last_attempt, None),
        Record::Completed {
            completed,
            response,
            ..
        } => (COMPLETED, *completed, Some(response.as_slice())),
    };
    let created = since_epoch(record.created())?;
    let delta = signed_nanos_between(record.created(), activity)?;
    let fingerprint = record.fingerprint();
    let params = || {
        fingerprint
            .params()
            .iter()
            .filter(|(_, value)| !value.is_empty())
    };
    out.put(&[VERSION, state]);
    put_varint(out, created.as_secs());
    put_varint(out, u64::from(created.subsec_nanos()));
    put_varint(out, zigzag(delta));
    out.put(fingerprint.hash());
    put_bytes(out, fingerprint.provider().as_bytes());
    put_varint(out, params().count() as u64);
    let mut previous: &str = "";
    for (name, value) in params() {
        let shared = shared_prefix(previous, name);
        put_varint(out, shared as u64);
        put_bytes(out, &name.as_bytes()[shared..]);
        put_bytes(out, value.as_bytes());
        previous = name;
    }
    if let Some(response) = response {
        put_bytes(out, response);
    }
    Ok(())
}

/// Decodes a version 2 record (the first byte is [`VERSION`]).
pub(super) fn decode(bytes: &[u8]) -> Result<Record, String> {
    let mut reader = Reader { bytes, at: 0 };
    let (state, header) = read_header(&mut reader)?;
    let hash: [u8; HASH_BYTES] = reader
        .take(HASH_BYTES)?
        .try_into()
        .map_err(|_| "truncated fingerprint hash".to_owned())?;
    let provider = reader.string()?;
    let count = reader.varint()?;
    // Each parameter takes at least 3 bytes: a count beyond that is garbage.
    if count > (reader.remaining() / 3) as u64 {
        return Err(format!("parameter count {count} exceeds the record"));
    }
    let mut params: Vec<(Cow<'static, str>, String)> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let shared = usize::try_from(reader.varint()?).unwrap_or(usize::MAX);
        let previous = params.last().map_or("", |(name, _)| name.as_ref());
        let prefix = previous
            .as_bytes()
            .get(..shared)
            .ok_or_else(|| "a parameter name shares more than the previous one".to_owned())?;
        let rest = reader.bytes()?;
        let mut name = Vec::with_capacity(prefix.len() + rest.len());
        name.extend_from_slice(prefix);
        name.extend_from_slice(rest);
        let name = String::from_utf8(name).map_err(|_| "a parameter name is not UTF-8")?;
        if name.as_str() < previous {
            return Err("parameters are not in name order".to_owned());
        }
        let value = reader.string()?;
        params.push((Cow::Owned(name), value));
    }
    let fingerprint = Fingerprint::from_named_parts(hash, provider, params);
    let record = match state {
        IN_FLIGHT => Record::InFlight {
            fingerprint,
            attempt_started: header.activity,
            created: header.created,
        },
        UNKNOWN => Record::Unknown {
            fingerprint,
            last_attempt: header.activity,
            created: header.created,
        },
        _ => Record::Completed {
            fingerprint,
            response: reader.bytes()?.to_vec(),
            created: header.created,
            completed: header.activity,
        },
    };
    if reader.remaining() != 0 {
        return Err(format!(
            "{} unexpected bytes after the record",
            reader.remaining()
        ));
    }
    Ok(record)
}

/// Reads only the state and times of a version 2 record.
pub(super) fn header(bytes: &[u8]) -> Result<Header, String> {
    read_header(&mut Reader { bytes, at: 0 }).map(|(_, header)| header)
}

fn read_header(reader: &mut Reader<'_>) -> Result<(u8, Header), String> {
    let version = reader.byte()?;
    if version != VERSION {
        return Err(format!("record format version {version} is not supported"));
    }
    let state = reader.byte()?;
    if !matches!(state, IN_FLIGHT | UNKNOWN | COMPLETED) {
        return Err(format!("unknown record state {state}"));
    }
    let secs = reader.varint()?;
    let nanos = reader.varint()?;
    let nanos = u32::try_from(nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| format!("timestamp nanoseconds out of range: {nanos}"))?;
    let created = UNIX_EPOCH
        .checked_add(Duration::new(secs, nanos))
        .ok_or_else(|| format!("timestamp out of range: {secs} s"))?;
    let delta = unzigzag(reader.varint()?);
    let magnitude = Duration::from_nanos(delta.unsigned_abs());
    let activity = if delta >= 0 {
        created.checked_add(magnitude)
    } else {
        created.checked_sub(magnitude)
    }
    .ok_or_else(|| "activity time out of range".to_owned())?;
    Ok((
        state,
        Header {
            completed: state == COMPLETED,
            created,
            activity,
        },
    ))
}

fn since_epoch(time: SystemTime) -> Result<Duration, String> {
    time.duration_since(UNIX_EPOCH)
        .map_err(|_| "a time before 1970 cannot be stored".to_owned())
}

/// `to - from` in nanoseconds, when it fits an `i64` (about 292 years).
fn signed_nanos_between(from: SystemTime, to: SystemTime) -> Result<i64, String> {
    let (magnitude, negative) = match to.duration_since(from) {
        Ok(d) => (d, false),
        Err(e) => (e.duration(), true),
    };
    let nanos = i64::try_from(magnitude.as_nanos())
        .map_err(|_| "the record's times are too far apart to store".to_owned())?;
    Ok(if negative { -nanos } else { nanos })
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn shared_prefix(a: &str, b: &str) -> usize {
    a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
}

fn put_varint(out: &mut impl Sink, mut v: u64) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    out.put(&buf[..=n]);
}

fn put_bytes(out: &mut impl Sink, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.put(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| "truncated record".to_owned())?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("varint overflows 64 bits".to_owned());
            }
            value |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 10 bytes".to_owned())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| "truncated record".to_owned())?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        self.take(len)
    }

    fn string(&mut self) -> Result<String, String> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| "a string in the record is not UTF-8".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_zigzag_round_trip_at_the_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u32::MAX as u64,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert!(out.len() <= 10);
            let mut reader = Reader { bytes: &out, at: 0 };
            assert_eq!(reader.varint().unwrap(), v);
            assert_eq!(reader.remaining(), 0);
        }
        for v in [0i64, 1, -1, i64::MAX, i64::MIN, 850_000_000, -5] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        // 11 continuation bytes, and a 10th byte with more than one bit.
        let mut reader = Reader {
            bytes: &[0xff; 11],
            at: 0,
        };
        assert!(reader.varint().is_err());
        let mut overflow = vec![0xff; 9];
        overflow.push(0x02);
        let mut reader = Reader {
            bytes: &overflow,
            at: 0,
        };
        assert!(reader.varint().is_err());
    }

    #[test]
    fn front_coding_shares_name_prefixes() {
        assert_eq!(shared_prefix("zenlayer.amount", "zenlayer.charge_type"), 9);
        assert_eq!(shared_prefix("", "a"), 0);
        assert_eq!(shared_prefix("abc", "abc"), 3);
    }
}
