//! The IDX file format of MNIST and its relatives, raw or gzip-compressed.
//!
//! An IDX file is a 4-byte magic `00 00 TT NN` (element type `TT`, `NN` dimensions), `NN` big-endian
//! `u32` sizes, then the elements in row-major order. Only unsigned bytes (`TT = 08`) are supported,
//! which is all that MNIST, Fashion-MNIST and EMNIST use.

use super::error::{DataError, Result};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use tapegrad_tensor::io::write_atomically;

/// The first two bytes of every gzip stream. An IDX magic starts `00 00`, so the two never clash.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The IDX element type for unsigned bytes.
const TYPE_U8: u8 = 0x08;

/// Never reserve more than this for a gzip stream up front: the header's sizes are untrusted until
/// the data arrives.
const MAX_RESERVE: usize = 64 << 20;

/// An array of bytes read from (or to be written to) an IDX file: its dimensions and its elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: Vec<u8>,
}

impl IdxArray {
    /// An array of `dims` holding `data` row-major, or an error if the IDX format cannot hold it.
    ///
    /// # Errors
    /// [`DataError::Dataset`] if there are no dimensions or more than 255, a size exceeds
    /// `u32::MAX`, or `data.len()` differs from the product of `dims`.
    pub fn new(dims: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let why = if dims.is_empty() || dims.len() > 255 {
            Some(format!("IDX holds 1 to 255 dimensions, not {}", dims.len()))
        } else if dims.iter().any(|&d| d > u32::MAX as usize) {
            Some(format!("IDX sizes are u32, {dims:?} has a larger one"))
        } else if element_count(&dims) != Some(data.len()) {
            Some(format!(
                "dimensions {dims:?} do not match {} data bytes",
                data.len()
            ))
        } else {
            None
        };
        match why {
            Some(why) => Err(DataError::Dataset { op: "idx", why }),
            None => Ok(IdxArray { dims, data }),
        }
    }

    /// Reads an IDX file, gzip-compressed (detected by its `1f 8b` start) or raw.
    ///
    /// # Errors
    /// [`DataError::File`] if the file cannot be read; otherwise the errors of
    /// [`IdxArray::from_bytes`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|e| DataError::io("idx", path, "read", e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Parses the contents of an IDX file, gzip-compressed or raw; `path` only names it in errors.
    ///
    /// Never panics, whatever the bytes: every defect is an error.
    ///
    /// # Errors
    /// [`DataError::Gzip`] if a gzip stream is corrupt, [`DataError::BadMagic`],
    /// [`DataError::UnsupportedType`] for elements other than unsigned bytes,
    /// [`DataError::BadRank`] for zero dimensions, [`DataError::TooLarge`],
    /// [`DataError::TruncatedHeader`], [`DataError::TruncatedData`] or [`DataError::TrailingBytes`].
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        if bytes.starts_with(&GZIP_MAGIC) {
            let mut decoder = MultiGzDecoder::new(bytes);
            let parsed = parse(&mut decoder, path, true, MAX_RESERVE);
            if let Err(DataError::Gzip { .. }) | Ok(_) = parsed {
                return parsed;
            }
            // A damaged stream can decode to garbage before its CRC check fails; when the rest of
            // the stream is corrupt, that is the better diagnosis than the garbage header.
            match io::copy(&mut decoder, &mut io::sink()) {
                Err(source) => Err(DataError::Gzip {
                    path: path.to_path_buf(),
                    detail: source.to_string(),
                }),
                Ok(_) => parsed,
            }
        } else {
            parse(&mut &bytes[..], path, false, bytes.len())
        }
    }

    /// The size of each dimension, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The dimensions and the elements, taken apart without a copy.
    pub fn into_parts(self) -> (Vec<usize>, Vec<u8>) {
        (self.dims, self.data)
    }

    /// The raw (uncompressed) IDX encoding: magic, sizes, data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        // `new` keeps the rank within 1..=255 and each size within u32
        out.extend_from_slice(&[0, 0, TYPE_U8, self.dims.len() as u8]);
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// Writes the array as an IDX file, gzip-compressed if `gzip` is true, atomically: a reader
    /// or a crash mid-write never leaves a partial file (see [`write_atomically`]).
    ///
    /// # Errors
    /// [`DataError::File`] if the file cannot be written.
    pub fn write(&self, path: impl AsRef<Path>, gzip: bool) -> Result<()> {
        let path = path.as_ref();
        let raw = self.to_bytes();
        let bytes = if gzip {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
            let compress = |e| DataError::io("idx", path, "compress", e);
            encoder.write_all(&raw).map_err(compress)?;
            encoder.finish().map_err(compress)?
        } else {
            raw
        };
        write_atomically(path, &bytes, |file, bytes| file.write_all(bytes))
            .map_err(|source| DataError::File { op: "idx", source })
    }
}

/// The product of `dims`, or `None` if it overflows `usize`.
fn element_count(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// Parses an IDX stream, reading no more than the header promises plus one probe for trailing bytes.
///
/// Streaming keeps memory bounded by the data actually present, so a lying header or a gzip bomb
/// costs an error rather than an allocation of the claimed size.
fn parse(
    reader: &mut impl Read,
    path: &Path,
    gzip: bool,
    reserve_limit: usize,
) -> Result<IdxArray> {
    let read_error = |source: io::Error| {
        if gzip {
            DataError::Gzip {
                path: path.to_path_buf(),
                detail: source.to_string(),
            }
        } else {
            DataError::io("idx", path, "read", source)
        }
    };

    let mut magic = [0u8; 4];
    let found = read_up_to(reader, &mut magic).map_err(read_error)?;
    if found < magic.len() {
        // an empty or tiny file: say what the smallest header would be
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            expected: 8,
            found,
        });
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: magic,
        });
    }
    if magic[2] != TYPE_U8 {
        return Err(DataError::UnsupportedType {
            path: path.to_path_buf(),
            type_byte: magic[2],
        });
    }
    let rank = usize::from(magic[3]);
    if rank == 0 {
        return Err(DataError::BadRank {
            path: path.to_path_buf(),
            expected: "at least 1",
            dims: Vec::new(),
        });
    }

    let mut size_bytes = vec![0u8; 4 * rank];
    let found = read_up_to(reader, &mut size_bytes).map_err(read_error)?;
    if found < size_bytes.len() {
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            expected: 4 + size_bytes.len(),
            found: 4 + found,
        });
    }
    let dims: Vec<usize> = size_bytes
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let Some(expected) = element_count(&dims) else {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            dims,
        });
    };

    let mut data = Vec::with_capacity(expected.min(reserve_limit));
    reader
        .take(expected as u64)
        .read_to_end(&mut data)
        .map_err(read_error)?;
    if data.len() < expected {
        return Err(DataError::TruncatedData {
            path: path.to_path_buf(),
            dims,
            expected,
            found: data.len(),
        });
    }
    // Reading on to the end also makes the gzip decoder check the stream's CRC and length.
    let extra = io::copy(reader, &mut io::sink()).map_err(read_error)?;
    if extra > 0 {
        return Err(DataError::TrailingBytes {
            path: path.to_path_buf(),
            dims,
            expected,
            found: expected.saturating_add(usize::try_from(extra).unwrap_or(usize::MAX)),
        });
    }
    Ok(IdxArray { dims, data })
}

/// Fills `buf` as far as the stream allows; returns how many bytes were read.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_raw(bytes: &[u8]) -> Result<IdxArray> {
        IdxArray::from_bytes(bytes, Path::new("mem.idx"))
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn round_trip_in_memory_raw_and_gzip() {
        let array = IdxArray::new(vec![2, 3], vec![0, 1, 2, 253, 254, 255]).unwrap();
        let raw = array.to_bytes();
        assert_eq!(&raw[..12], &[0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]);
        assert_eq!(parse_raw(&raw).unwrap(), array);
        assert_eq!(parse_raw(&gzip(&raw)).unwrap(), array);
    }

    #[test]
    fn new_rejects_what_idx_cannot_hold() {
        assert!(IdxArray::new(vec![], vec![]).is_err());
        assert!(IdxArray::new(vec![2, 2], vec![0; 3]).is_err());
        assert!(IdxArray::new(vec![1usize << 33, 0], vec![]).is_err());
    }

    #[test]
    fn empty_and_short_inputs_are_truncated_headers() {
        for len in 0..4 {
            let err = parse_raw(&[0u8; 3][..len]).unwrap_err();
            assert!(matches!(err, DataError::TruncatedHeader { found, .. } if found == len));
        }
    }

    #[test]
    fn zero_dimensions_is_an_error() {
        let err = parse_raw(&[0, 0, 8, 0]).unwrap_err();
        assert!(matches!(err, DataError::BadRank { .. }), "{err}");
    }

    #[test]
    fn overflowing_dimensions_are_an_error_without_allocating() {
        let mut bytes = vec![0, 0, 8, 4];
        for _ in 0..4 {
            bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        let err = parse_raw(&bytes).unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
        // a claimed 4 GiB with no data behind it is a truncation, not an allocation
        let err = parse_raw(&[0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff, 7]).unwrap_err();
        assert!(
            matches!(err, DataError::TruncatedData { expected, found: 1, .. } if expected == u32::MAX as usize),
            "{err}"
        );
    }

    #[test]
    fn trailing_bytes_inside_gzip_are_an_error() {
        let mut raw = IdxArray::new(vec![2], vec![1, 2]).unwrap().to_bytes();
        raw.push(9);
        let err = parse_raw(&gzip(&raw)).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::TrailingBytes {
                    expected: 2,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn garbage_after_the_gzip_stream_is_an_error() {
        let mut bytes = gzip(&IdxArray::new(vec![2], vec![1, 2]).unwrap().to_bytes());
        bytes.extend_from_slice(b"junk");
        let err = parse_raw(&bytes).unwrap_err();
        assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    }

    #[test]
    fn no_prefix_or_single_byte_corruption_panics() {
        // Every truncation and every byte flip of a small file, raw and gzip, must be Ok or Err.
        let raw = IdxArray::new(vec![3, 2], (0..6).collect())
            .unwrap()
            .to_bytes();
        for bytes in [raw.clone(), gzip(&raw)] {
            for len in 0..=bytes.len() {
                let _ = parse_raw(&bytes[..len]);
            }
            for i in 0..bytes.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut damaged = bytes.clone();
                    damaged[i] ^= flip;
                    let _ = parse_raw(&damaged);
                }
            }
        }
    }
}
