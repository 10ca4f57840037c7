//! Checksums of a tensor file, kept as safetensors metadata strings so any reader still opens it.
//!
//! A save records `tapegrad.xxh64/<name>`: the XXH64 (seed 0) of each tensor's little-endian data
//! bytes exactly as stored, so `xxh64sum` over those bytes agrees; and `tapegrad.xxh64`: the XXH64
//! of [`header_bytes`], which covers every tensor's name, dtype and shape and every other metadata
//! entry. Values are 16 lowercase hex digits. XXH64 was chosen over CRC-32 and SHA-256 because it
//! hashes ~10 GB/s in plain Rust on any CPU, so a checkpoint load costs a fraction more, not double.

use super::FileError;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Metadata key of the header checksum; a tensor's key is this, `/`, and the tensor's name.
pub(crate) const HEADER_KEY: &str = "tapegrad.xxh64";

/// The metadata key holding the checksum of tensor `name`'s data.
pub(crate) fn tensor_key(name: &str) -> String {
    format!("{HEADER_KEY}/{name}")
}

/// Whether `key` is one tapegrad writes for checksums, so a caller may not use it.
pub(crate) fn is_reserved(key: &str) -> bool {
    key == HEADER_KEY || key.starts_with(&tensor_key(""))
}

/// One tensor as the header describes it, and its data bytes.
pub(crate) struct Entry<'a> {
    pub name: &'a str,
    /// The safetensors dtype name (`"F32"`, `"F64"`, …).
    pub dtype: String,
    pub shape: &'a [usize],
    pub data: &'a [u8],
}

/// The bytes the header checksum covers: the count of other metadata entries, each key and value
/// in key order, then the count of tensors and each one's name, dtype name, rank and dimensions
/// in name order. Strings are length-prefixed and numbers are u64 little-endian, so two different
/// headers never encode alike.
pub(crate) fn header_bytes<'a>(
    metadata: &BTreeMap<&'a str, &'a str>,
    entries: &[Entry<'_>],
) -> Vec<u8> {
    fn number(out: &mut Vec<u8>, n: usize) {
        out.extend_from_slice(&(n as u64).to_le_bytes());
    }
    fn string(out: &mut Vec<u8>, s: &str) {
        number(out, s.len());
        out.extend_from_slice(s.as_bytes());
    }
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.name);
    let mut out = Vec::new();
    number(&mut out, metadata.len());
    for (key, value) in metadata {
        string(&mut out, key);
        string(&mut out, value);
    }
    number(&mut out, sorted.len());
    for entry in sorted {
        string(&mut out, entry.name);
        string(&mut out, &entry.dtype);
        number(&mut out, entry.shape.len());
        for &d in entry.shape {
            number(&mut out, d);
        }
    }
    out
}

/// The checksum entries a save adds to `metadata` (which holds no reserved key).
pub(crate) fn checksums(
    metadata: &HashMap<String, String>,
    entries: &[Entry<'_>],
) -> Vec<(String, String)> {
    let user: BTreeMap<&str, &str> = metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut out = vec![(
        HEADER_KEY.to_string(),
        hex(xxh64(&header_bytes(&user, entries))),
    )];
    for entry in entries {
        out.push((tensor_key(entry.name), hex(xxh64(entry.data))));
    }
    out
}

/// Checks a loaded file's checksums and returns its metadata without them.
///
/// A file with no checksum key was written before checksums existed and is returned unverified;
/// once any key is present, every tensor and the header must have a matching one.
pub(crate) fn verify(
    path: &Path,
    metadata: HashMap<String, String>,
    entries: &[Entry<'_>],
) -> Result<HashMap<String, String>, FileError> {
    let (mut recorded, user): (HashMap<String, String>, HashMap<String, String>) =
        metadata.into_iter().partition(|(k, _)| is_reserved(k));
    if recorded.is_empty() {
        return Ok(user);
    }
    let damaged = |what: String| FileError::corrupt(path, format!("{what}; the file is damaged"));
    let header = recorded
        .remove(HEADER_KEY)
        .ok_or_else(|| damaged(format!("it has tensor checksums but no {HEADER_KEY} entry")))?;
    let sorted: BTreeMap<&str, &str> = user.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let found = xxh64(&header_bytes(&sorted, entries));
    if parse_hex(&header) != Some(found) {
        return Err(damaged(format!(
            "the header (tensor names, dtypes, shapes or metadata) does not match its checksum: \
             recorded {header:?}, computed {}",
            hex(found)
        )));
    }
    for entry in entries {
        let recorded = recorded
            .remove(&tensor_key(entry.name))
            .ok_or_else(|| damaged(format!("tensor {} has no checksum", entry.name)))?;
        let found = xxh64(entry.data);
        if parse_hex(&recorded) != Some(found) {
            return Err(damaged(format!(
                "tensor {}: its data does not match its checksum: recorded {recorded:?}, \
                 computed {}",
                entry.name,
                hex(found)
            )));
        }
    }
    if let Some(key) = recorded.keys().min() {
        return Err(damaged(format!(
            "checksum {key} is for a tensor the file does not hold"
        )));
    }
    Ok(user)
}

fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// The value of exactly 16 lowercase hex digits, as [`hex`] writes them.
fn parse_hex(s: &str) -> Option<u64> {
    let canonical = s.len() == 16 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    canonical.then(|| u64::from_str_radix(s, 16).ok()).flatten()
}

const P1: u64 = 0x9E37_79B1_85EB_CA87;
const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const P3: u64 = 0x1656_67B1_9E37_79F9;
const P4: u64 = 0x85EB_CA77_C2B2_AE63;
const P5: u64 = 0x27D4_EB2F_1656_67C5;

fn round(acc: u64, input: u64) -> u64 {
    acc.wrapping_add(input.wrapping_mul(P2))
        .rotate_left(31)
        .wrapping_mul(P1)
}

fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(w)
}

/// XXH64 of `bytes` with seed 0, as the xxHash specification defines it.
pub(crate) fn xxh64(bytes: &[u8]) -> u64 {
    let mut rest = bytes;
    let mut h = if bytes.len() >= 32 {
        // Four independent lanes over 32-byte stripes: the speed comes from their parallelism.
        let (mut a, mut b, mut c, mut d) = (P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1));
        let mut stripes = bytes.chunks_exact(32);
        for s in &mut stripes {
            a = round(a, word(&s[0..]));
            b = round(b, word(&s[8..]));
            c = round(c, word(&s[16..]));
            d = round(d, word(&s[24..]));
        }
        rest = stripes.remainder();
        let mut h = a
            .rotate_left(1)
            .wrapping_add(b.rotate_left(7))
            .wrapping_add(c.rotate_left(12))
            .wrapping_add(d.rotate_left(18));
        for lane in [a, b, c, d] {
            h = (h ^ round(0, lane)).wrapping_mul(P1).wrapping_add(P4);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(bytes.len() as u64);
    let mut words = rest.chunks_exact(8);
    for w in &mut words {
        h = (h ^ round(0, word(w)))
            .rotate_left(27)
            .wrapping_mul(P1)
            .wrapping_add(P4);
    }
    let mut tail = words.remainder();
    if tail.len() >= 4 {
        let half = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        h = (h ^ u64::from(half).wrapping_mul(P1))
            .rotate_left(23)
            .wrapping_mul(P2)
            .wrapping_add(P3);
        tail = &tail[4..];
    }
    for &byte in tail {
        h = (h ^ u64::from(byte).wrapping_mul(P5))
            .rotate_left(11)
            .wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xxh64_matches_the_reference_implementation() {
        // Digests from the xxHash project's Python binding (`xxhash.xxh64(data, seed=0)`),
        // covering the short path, the 4-byte and 1-byte tails and the 32-byte stripes.
        let hundred: Vec<u8> = (0..100).collect();
        let cases: [(&[u8], u64); 6] = [
            (b"", 0xef46_db37_51d8_e999),
            (b"a", 0xd24e_c4f1_a98c_6e5b),
            (b"abc", 0x44bc_2cf5_ad77_0999),
            (b"0123456789abcdef0123456789abcdef", 0x642a_9495_8e71_e6c5),
            (&hundred, 0x6ac1_e580_3216_6597),
            (&b"tapegrad".repeat(13), 0x66f7_e6d9_cf54_c9d3),
        ];
        for (bytes, want) in cases {
            assert_eq!(xxh64(bytes), want, "{} bytes", bytes.len());
        }
    }

    #[test]
    fn only_canonical_hex_parses() {
        assert_eq!(parse_hex("00000000000000ff"), Some(255));
        for bad in [
            "ff",
            "00000000000000FF",
            "+000000000000000f",
            "0000000000000000f",
        ] {
            assert_eq!(parse_hex(bad), None, "{bad}");
        }
    }
}
