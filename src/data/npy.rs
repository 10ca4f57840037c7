//! Reading NumPy `.npy` files (as `np.save` writes them) into tensors, labels and datasets.
//!
//! The `npyz` crate parses the header and decodes the elements; this module first bounds the
//! header by the file's size and its shape by the address space, so that no file, however
//! damaged, makes the reader allocate wildly or panic.

use super::batches::Dataset;
use super::error::{DataError, Result, open_error, path_hint};
use super::targets::Targets;
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, TypeStr};
use std::fs;
use std::path::Path;
use tapegrad_tensor::{Float, Tensor};

const MAGIC: &[u8] = b"\x93NUMPY";

/// The elements of an array as the file stores them, widened to one type per kind.
enum Elements {
    F32(Vec<f32>),
    F64(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
}

/// An array read from a `.npy` file: its shape, whether it is stored column-major, its dtype
/// (for messages) and its elements in stored order.
struct NpyArray {
    shape: Vec<usize>,
    fortran: bool,
    dtype: String,
    elements: Elements,
}

/// Reads a `.npy` file into a tensor of the same shape (any rank, a scalar too), converting the
/// elements to `T`.
///
/// Reads float (`f4`, `f8`), integer (`i1`–`i8`, `u1`–`u8`) and bool arrays in either byte order;
/// integers and bools convert to the nearest `T`. Fortran-order arrays are transposed into
/// tapegrad's row-major order, so the tensor's element `[i, j]` is the array's `a[i, j]`. Every
/// value must be finite in `T`: NaN, infinities and values beyond `T`'s range are errors.
///
/// ```
/// use tapegrad::data::read_npy;
/// # let dir = std::env::temp_dir().join(format!("tapegrad-doc-npy-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("x.npy");
/// // a file written by `np.save(path, np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32))`
/// # let mut header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".to_vec();
/// # while (10 + header.len() + 1) % 64 != 0 { header.push(b' '); }
/// # header.push(b'\n');
/// # let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
/// # bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
/// # bytes.extend_from_slice(&header);
/// # for v in 1..=6 { bytes.extend_from_slice(&(v as f32).to_le_bytes()); }
/// # std::fs::write(&path, bytes)?;
/// let x = read_npy::<f32>(&path)?;
/// assert_eq!(x.shape(), &[2, 3]);
/// assert_eq!(x.to_vec(), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`DataError::NotFound`] if there is no such file, [`DataError::File`] if it cannot be read;
/// [`DataError::Format`] naming the path for a file that is not `.npy`, a corrupt or truncated
/// header, an unsupported dtype (strings, complex, structured, `f2`, dates), data shorter or
/// longer than the header says, or a value that is not finite.
pub fn read_npy<T: Float>(path: impl AsRef<Path>) -> Result<Tensor<T>> {
    let path = path.as_ref();
    let array = load(path)?;
    let format = |why: String| DataError::Format {
        op: "npy",
        path: path.to_path_buf(),
        why,
    };
    let values: Vec<T> = match &array.elements {
        Elements::F32(v) => v.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
        Elements::F64(v) => v.iter().map(|&x| T::from_f64(x)).collect(),
        Elements::Int(v) => v.iter().map(|&x| T::from_f64(x as f64)).collect(),
        Elements::UInt(v) => v.iter().map(|&x| T::from_f64(x as f64)).collect(),
    };
    if let Some(bad) = values.iter().position(|v| !v.to_f64().is_finite()) {
        let stored = match &array.elements {
            Elements::F32(v) => format!("{:?}", v[bad]),
            Elements::F64(v) => format!("{:?}", v[bad]),
            Elements::Int(v) => v[bad].to_string(),
            Elements::UInt(v) => v[bad].to_string(),
        };
        return Err(format(format!(
            "element {:?} is {stored}, which is not a finite {}; dataset values must be finite",
            logical_index(bad, &array.shape, array.fortran),
            T::DTYPE,
        )));
    }
    if array.fortran && array.shape.len() > 1 {
        // Column-major `shape` is row-major reversed `shape`: reverse the axes back.
        let reversed: Vec<usize> = array.shape.iter().rev().copied().collect();
        let axes: Vec<isize> = (0..array.shape.len() as isize).rev().collect();
        Ok(Tensor::try_from_vec(values, &reversed)
            .map_err(|e| format(e.to_string()))?
            .permute(&axes)
            .contiguous())
    } else {
        Tensor::try_from_vec(values, &array.shape).map_err(|e| format(e.to_string()))
    }
}

/// The multi-index of the element stored at position `flat`, in C or Fortran order.
fn logical_index(flat: usize, shape: &[usize], fortran: bool) -> Vec<usize> {
    if fortran {
        let reversed: Vec<usize> = shape.iter().rev().copied().collect();
        let mut index = unravel(flat, &reversed);
        index.reverse();
        index
    } else {
        unravel(flat, shape)
    }
}

/// The multi-index of row-major position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (axis, &size) in shape.iter().enumerate().rev() {
        if size > 0 {
            index[axis] = flat % size;
            flat /= size;
        }
    }
    index
}

/// Reads class ids from a `.npy` file of integers (or bools): shape `[n]`, or `[n, 1]`.
///
/// # Errors
/// As [`read_npy`] for the file itself; [`DataError::Format`] naming the path if the dtype is not
/// an integer type (convert with `y.astype(np.int64)`), the shape is neither `[n]` nor `[n, 1]`,
/// or a label is negative (naming its position and value).
pub fn read_npy_labels(path: impl AsRef<Path>) -> Result<Vec<usize>> {
    let path = path.as_ref();
    let array = load(path)?;
    let format = |why: String| DataError::Format {
        op: "npy",
        path: path.to_path_buf(),
        why,
    };
    if !matches!(array.shape[..], [_] | [_, 1]) {
        return Err(format(format!(
            "labels need shape [n] or [n, 1], but the array has shape {:?}",
            array.shape
        )));
    }
    match array.elements {
        Elements::F32(_) | Elements::F64(_) => Err(format(format!(
            "labels must have an integer dtype, but it is {} (float); save them with \
             y.astype(np.int64), or read float targets as a tensor",
            array.dtype
        ))),
        Elements::Int(v) => v
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                usize::try_from(label).map_err(|_| {
                    format(format!(
                        "label {i} is {label}; class ids are whole numbers from 0"
                    ))
                })
            })
            .collect(),
        Elements::UInt(v) => v
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                usize::try_from(label)
                    .map_err(|_| format(format!("label {i} is {label}, too large a class id")))
            })
            .collect(),
    }
}

impl<T: Float, Y: Targets<T>> Dataset<T, Y> {
    /// Reads inputs `[n, …]` from one `.npy` file and the targets from another: class ids
    /// (`Y = Vec<usize>`, an integer array `[n]`) or float targets (`Y = Tensor<T>`, any array
    /// `[n, …]`), as `np.save` writes them.
    ///
    /// ```no_run
    /// use tapegrad::data::Dataset;
    /// use tapegrad::prelude::*;
    ///
    /// let digits = Dataset::<f32>::from_npy("x_train.npy", "y_train.npy")?; // labels
    /// let prices = Dataset::<f32, Tensor<f32>>::from_npy("x.npy", "y.npy")?; // regression
    /// # Ok::<(), tapegrad::data::DataError>(())
    /// ```
    ///
    /// # Errors
    /// The errors of [`read_npy`] and [`read_npy_labels`]; [`DataError::Format`] if the inputs or
    /// target tensor is a scalar; [`DataError::SampleMismatch`] naming both paths and shapes if
    /// they hold different numbers of samples.
    pub fn from_npy(x_path: impl AsRef<Path>, y_path: impl AsRef<Path>) -> Result<Self> {
        let (x_path, y_path) = (x_path.as_ref(), y_path.as_ref());
        let x = read_npy::<T>(x_path)?;
        if x.shape().is_empty() {
            return Err(DataError::Format {
                op: "npy",
                path: x_path.to_path_buf(),
                why: "the inputs need a sample axis, but the array is a scalar (shape [])"
                    .to_string(),
            });
        }
        let y = Y::read_npy(y_path)?;
        if let Some(why) = y.defect() {
            return Err(DataError::Format {
                op: "npy",
                path: y_path.to_path_buf(),
                why,
            });
        }
        if x.shape()[0] != y.len() {
            return Err(DataError::SampleMismatch {
                op: "npy",
                x: x_path.to_path_buf(),
                x_shape: x.shape().to_vec(),
                y: y_path.to_path_buf(),
                y_shape: y.shape_of(),
            });
        }
        Dataset::try_from_parts(x, y)
    }
}

/// Reads and decodes a `.npy` file.
fn load(path: &Path) -> Result<NpyArray> {
    let bytes = fs::read(path).map_err(|e| open_error("npy", path, e, || path_hint(path)))?;
    decode(&bytes).map_err(|why| DataError::Format {
        op: "npy",
        path: path.to_path_buf(),
        why,
    })
}

/// Decodes the bytes of a `.npy` file, or says what is wrong with them.
fn decode(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.is_empty() {
        return Err("empty file: a .npy file starts with \\x93NUMPY and a header".to_string());
    }
    if !bytes.starts_with(MAGIC) {
        return Err(format!(
            "not a NumPy .npy file: it starts with {:02x?}, not \\x93NUMPY",
            &bytes[..bytes.len().min(6)]
        ));
    }
    let Some(&[major, minor]) = bytes.get(6..8) else {
        return Err("truncated header: the file ends inside the format version".to_string());
    };
    let size_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(format!(
                "unsupported .npy format version {major}.{minor} (versions 1 to 3 are read)"
            ));
        }
    };
    let Some(size_field) = bytes.get(8..8 + size_bytes) else {
        return Err("truncated header: the file ends inside the header size".to_string());
    };
    let header_len = size_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let text_start = 8 + size_bytes;
    let present = bytes.len() - text_start;
    if header_len > present {
        return Err(format!(
            "truncated header: it is {header_len} bytes long, but the file ends after {present}"
        ));
    }
    let text = &bytes[text_start..text_start + header_len];
    // npyz multiplies the shape out unchecked: bound it first.
    let shape = scan_shape(text)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} is too large to address"))?;

    let npy = NpyFile::new(bytes).map_err(|e| format!("corrupt header: {}", summary(&e)))?;
    let header: NpyHeader = npy.header().clone();
    if header
        .shape()
        .iter()
        .map(|&d| d as usize)
        .ne(shape.iter().copied())
    {
        return Err(format!(
            "corrupt header: its shape reads as {shape:?} and as {:?}",
            header.shape()
        ));
    }
    let dtype = header.dtype();
    let DType::Plain(type_str) = &dtype else {
        return Err(format!(
            "structured dtype {} is not supported; tapegrad reads bool, integer and float arrays",
            dtype.descr()
        ));
    };
    let item = supported_size(type_str)?;
    let expected = count
        .checked_mul(item)
        .ok_or_else(|| format!("shape {shape:?} of {type_str} is too large to address"))?;
    let data: &[u8] = npy.into_inner();
    if data.len() < expected {
        return Err(format!(
            "truncated data: shape {shape:?} of {type_str} needs {expected} bytes, found {}",
            data.len()
        ));
    }
    if data.len() > expected {
        return Err(format!(
            "trailing bytes: shape {shape:?} of {type_str} needs {expected} bytes, found {} ({} \
             extra)",
            data.len(),
            data.len() - expected
        ));
    }

    let elements = match (type_str.type_char(), item) {
        (TypeChar::Float, 4) => Elements::F32(elements(&header, data)?),
        (TypeChar::Float, _) => Elements::F64(elements(&header, data)?),
        (TypeChar::Int, 1) => Elements::Int(widen::<i8, _>(&header, data)?),
        (TypeChar::Int, 2) => Elements::Int(widen::<i16, _>(&header, data)?),
        (TypeChar::Int, 4) => Elements::Int(widen::<i32, _>(&header, data)?),
        (TypeChar::Int, _) => Elements::Int(elements(&header, data)?),
        (TypeChar::Uint, 1) => Elements::UInt(widen::<u8, _>(&header, data)?),
        (TypeChar::Uint, 2) => Elements::UInt(widen::<u16, _>(&header, data)?),
        (TypeChar::Uint, 4) => Elements::UInt(widen::<u32, _>(&header, data)?),
        (TypeChar::Uint, _) => Elements::UInt(elements(&header, data)?),
        _ => Elements::UInt(widen::<bool, _>(&header, data)?),
    };
    Ok(NpyArray {
        shape,
        fortran: header.order() == Order::Fortran,
        dtype: type_str.to_string(),
        elements,
    })
}

/// The size in bytes of one element of a dtype this module reads, or why it is not read.
fn supported_size(type_str: &TypeStr) -> std::result::Result<usize, String> {
    let size = type_str.size_field();
    let ok = match type_str.type_char() {
        TypeChar::Float => matches!(size, 4 | 8),
        TypeChar::Int | TypeChar::Uint => matches!(size, 1 | 2 | 4 | 8),
        TypeChar::Bool => size == 1,
        _ => false,
    };
    if ok {
        Ok(size as usize)
    } else {
        Err(format!(
            "unsupported dtype {type_str}; tapegrad reads bool, integer (i1 to i8, u1 to u8) and \
             float (f4, f8) arrays: convert with a.astype(np.float32)"
        ))
    }
}

/// All elements of `data` as `E`.
fn elements<E: npyz::Deserialize>(
    header: &NpyHeader,
    data: &[u8],
) -> std::result::Result<Vec<E>, String> {
    NpyFile::with_header(header.clone(), data)
        .data::<E>()
        .map_err(|e| format!("cannot decode the elements: {e}"))?
        .collect::<std::io::Result<Vec<E>>>()
        .map_err(|e| format!("corrupt data: {e}"))
}

/// All elements of `data` as `E`, widened to `W`.
fn widen<E: npyz::Deserialize, W: From<E>>(
    header: &NpyHeader,
    data: &[u8],
) -> std::result::Result<Vec<W>, String> {
    Ok(elements::<E>(header, data)?
        .into_iter()
        .map(W::from)
        .collect())
}

/// The `shape` entry of a header dict (`'shape': (2, 3),`), each size checked to fit `usize`.
fn scan_shape(text: &[u8]) -> std::result::Result<Vec<usize>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "corrupt header: not text".to_string())?;
    let missing = || "corrupt header: no 'shape' entry of the form (2, 3)".to_string();
    for (at, key) in text
        .match_indices("'shape'")
        .chain(text.match_indices("\"shape\""))
    {
        let rest = text[at + key.len()..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            continue;
        };
        let rest = rest.trim_start();
        let close = match rest.chars().next() {
            Some('(') => ')',
            Some('[') => ']',
            _ => return Err(missing()),
        };
        let body = &rest[1..rest.find(close).ok_or_else(missing)?];
        let mut shape = Vec::new();
        for part in body.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue; // the trailing comma of `(3,)`
            }
            let digits = part.strip_suffix('L').unwrap_or(part); // Python 2 longs
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "corrupt header: shape size {part:?} is not a whole number"
                ));
            }
            shape.push(
                digits
                    .parse::<usize>()
                    .map_err(|_| format!("shape size {part} is too large to address"))?,
            );
        }
        return Ok(shape);
    }
    Err(missing())
}

/// The first line of an error and its `= expected …` note, without the echo of the header.
fn summary(err: &std::io::Error) -> String {
    let text = err.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default().trim().to_string();
    match lines.find_map(|l| l.trim().strip_prefix("= ")) {
        Some(note) => format!("{first}: {note}"),
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_scan_as_numpy_writes_them() {
        let scan = |s: &str| scan_shape(s.as_bytes());
        assert_eq!(
            scan("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
            Ok(vec![2, 3])
        );
        assert_eq!(scan("{'shape': (5,), 'descr': '<i8'}"), Ok(vec![5]));
        assert_eq!(scan("{'shape': ()}"), Ok(vec![]));
        assert_eq!(scan("{\"shape\": [4, 1]}"), Ok(vec![4, 1]));
        assert_eq!(scan("{'shape': (3L, 2L)}"), Ok(vec![3, 2]));
        // a structured field named `shape` is not the entry
        assert_eq!(
            scan("{'descr': [('shape', '<i4')], 'shape': (7,)}"),
            Ok(vec![7])
        );
        assert!(scan("{'shape': (-2, 3)}").unwrap_err().contains("\"-2\""));
        assert!(
            scan("{'shape': (99999999999999999999999, 3)}")
                .unwrap_err()
                .contains("too large")
        );
        assert!(scan("{'descr': '<f4'}").unwrap_err().contains("no 'shape'"));
        assert!(scan("{'shape': (2, 3").unwrap_err().contains("no 'shape'"));
    }

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(5, &[2, 3]), [1, 2]);
        assert_eq!(unravel(0, &[]), Vec::<usize>::new());
        assert_eq!(unravel(7, &[2, 2, 2]), [1, 1, 1]);
        // column-major [2, 3]: stored position 1 is a[1, 0], position 2 is a[0, 1]
        assert_eq!(logical_index(1, &[2, 3], true), [1, 0]);
        assert_eq!(logical_index(2, &[2, 3], true), [0, 1]);
    }
}
