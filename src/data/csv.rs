//! Reading a numeric CSV file into a [`Dataset`]: which columns are targets, which are features.

use super::batches::Dataset;
use super::error::{DataError, Result, open_error, path_hint};
use super::targets::Targets;
use ::csv::{ByteRecord, ReaderBuilder, Trim};
use std::fmt;
use std::fs::File;
use std::path::Path;
use tapegrad_tensor::{Float, Tensor};

/// A CSV column, by position or by header name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// The column at this 0-based position, as Rust counts. Error messages count columns from 1,
    /// as editors and spreadsheets do.
    Index(usize),
    /// The column whose header cell is exactly this (after trimming whitespace); needs a header.
    Name(String),
    /// The last column.
    Last,
}

impl From<usize> for Column {
    fn from(index: usize) -> Self {
        Column::Index(index)
    }
}

impl From<&str> for Column {
    fn from(name: &str) -> Self {
        Column::Name(name.to_string())
    }
}

impl From<String> for Column {
    fn from(name: String) -> Self {
        Column::Name(name)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Column::Index(i) => write!(f, "index {i}"),
            Column::Name(name) => write!(f, "{name:?}"),
            Column::Last => write!(f, "last"),
        }
    }
}

/// How [`Dataset::from_csv`] reads a file: its layout, and which columns are the targets.
///
/// Whether the targets are class ids or float values is the dataset's type:
/// `Dataset::<f32>::from_csv` reads one column of class ids, `Dataset::<f32, Tensor<f32>>::from_csv`
/// any number of float columns.
///
/// ```
/// use tapegrad::data::CsvOptions;
///
/// let options = CsvOptions::default().with_targets(["price"]); // by header name
/// let no_header = CsvOptions::default().without_header().with_targets([0]).with_delimiter(b';');
/// assert!(!no_header.has_header);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvOptions {
    /// The first row names the columns. Default `true`.
    pub has_header: bool,
    /// The field separator. Default `b','`.
    pub delimiter: u8,
    /// The target columns, in the order they take in the targets. Default: the last column.
    pub targets: Vec<Column>,
    /// The feature columns, in this order; `None` (the default) for every column that is not a
    /// target, in file order.
    pub features: Option<Vec<Column>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            has_header: true,
            delimiter: b',',
            targets: vec![Column::Last],
            features: None,
        }
    }
}

impl CsvOptions {
    /// These options with `columns` as the targets (names, 0-based indices or [`Column`]s).
    pub fn with_targets<C: Into<Column>>(mut self, columns: impl IntoIterator<Item = C>) -> Self {
        self.targets = columns.into_iter().map(Into::into).collect();
        self
    }

    /// These options with `columns` as the features instead of every non-target column.
    pub fn with_features<C: Into<Column>>(mut self, columns: impl IntoIterator<Item = C>) -> Self {
        self.features = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// These options for a file whose first row is data, not names.
    pub fn without_header(mut self) -> Self {
        self.has_header = false;
        self
    }

    /// These options with another field separator (`b';'`, `b'\t'`).
    pub fn with_delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }
}

impl<T: Float, Y: Targets<T>> Dataset<T, Y> {
    /// Reads a numeric CSV file: the [`CsvOptions::targets`] columns become the targets, the
    /// features (by default every other column) become `x` of shape `[rows, features]`.
    ///
    /// For class ids (`Y = Vec<usize>`) there must be one target column of whole numbers from 0
    /// (`3` or `3.0`); for float targets (`Y = Tensor<T>`) the targets have shape `[rows, k]`.
    /// Cells are trimmed of surrounding whitespace; quoting follows RFC 4180. Every cell must be
    /// a finite number: empty cells, `NaN` and infinities are errors (drop or impute them first),
    /// as are values beyond `T`'s range.
    ///
    /// ```
    /// use tapegrad::data::{CsvOptions, Dataset};
    /// use tapegrad::prelude::*;
    /// # let dir = std::env::temp_dir().join(format!("tapegrad-doc-csv-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("houses.csv");
    /// std::fs::write(&path, "rooms,area,price\n3,70.5,210\n4,92,280\n")?;
    ///
    /// let options = CsvOptions::default().with_targets(["price"]);
    /// let data = Dataset::<f32, Tensor<f32>>::from_csv(&path, &options)?;
    /// assert_eq!(data.x().to_vec(), [3.0, 70.5, 4.0, 92.0]);
    /// assert_eq!(data.y().shape(), &[2, 1]);
    ///
    /// // class ids: `Dataset<f32>` (labels are the default target kind)
    /// let classes = Dataset::<f32>::from_csv(&path, &CsvOptions::default().with_targets([0]))?;
    /// assert_eq!(classes.y(), &[3, 4]);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DataError::NotFound`] if there is no such file, [`DataError::File`] if it cannot be read;
    /// [`DataError::Empty`] if it holds no rows (or only a header); [`DataError::MissingColumn`] for
    /// a target or feature column that is not there; [`DataError::Format`] for options that do
    /// not fit (a column used twice, or as both target and feature, names without a header,
    /// several class-id columns, no features); [`DataError::Ragged`] for a row with another
    /// number of fields than the first; [`DataError::Cell`] for a cell that is not a finite
    /// number (or not a class id). Each names the path, and the row and column where it applies.
    pub fn from_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Self> {
        read_csv(path.as_ref(), options, &|| path_hint(path.as_ref()))
    }
}

/// [`Dataset::from_csv`], with the hint a missing file's error gives.
pub(crate) fn read_csv<T: Float, Y: Targets<T>>(
    path: &Path,
    options: &CsvOptions,
    hint: &dyn Fn() -> String,
) -> Result<Dataset<T, Y>> {
    let file = File::open(path).map_err(|e| open_error("csv", path, e, hint))?;
    let mut reader = ReaderBuilder::new()
        .has_headers(false) // the header is read here, so that rows keep their positions
        .flexible(true) // ragged rows are reported here, with both counts
        .delimiter(options.delimiter)
        .trim(Trim::All)
        .from_reader(file);
    let csv_error = |e: ::csv::Error| match e.into_kind() {
        ::csv::ErrorKind::Io(e) => DataError::io("csv", path, "read", e),
        kind => DataError::Format {
            op: "csv",
            path: path.to_path_buf(),
            why: format!("{kind:?}"),
        },
    };

    let mut record = ByteRecord::new();
    if !reader.read_byte_record(&mut record).map_err(csv_error)? {
        return Err(DataError::Empty {
            op: "csv",
            path: path.to_path_buf(),
            why: "empty file: no header and no rows".to_string(),
        });
    }
    strip_bom(&mut record);
    let width = record.len();
    let first_line = line_of(&record);
    let names: Option<Vec<String>> = options.has_header.then(|| {
        record
            .iter()
            .map(|field| String::from_utf8_lossy(field).into_owned())
            .collect()
    });
    let layout = Layout::resolve::<T, Y>(path, options, width, names.as_deref())?;
    let file = CsvFile {
        path,
        names: names.as_deref(),
        width,
        header: options.has_header,
    };

    let mut x: Vec<T> = Vec::new();
    let mut y: Vec<Y::Cell> = Vec::new();
    let mut rows = 0usize;
    let mut have = !options.has_header; // the first record is a data row without a header
    loop {
        if have {
            file.check_width(&record)?;
            for &c in &layout.features {
                x.push(file.cell(&record, c, parse_float::<T>)?);
            }
            for &c in &layout.targets {
                y.push(file.cell(&record, c, Y::parse_cell)?);
            }
            rows = rows.checked_add(1).ok_or_else(|| file.too_large())?;
        }
        if !reader.read_byte_record(&mut record).map_err(csv_error)? {
            break;
        }
        have = true;
    }
    if rows == 0 {
        return Err(DataError::Empty {
            op: "csv",
            path: path.to_path_buf(),
            why: format!("no data rows: the file holds only the header (line {first_line})"),
        });
    }
    let x =
        Tensor::try_from_vec(x, &[rows, layout.features.len()]).map_err(|e| DataError::Format {
            op: "csv",
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
    let y = Y::from_cells(y, rows, layout.targets.len()).map_err(|why| DataError::Format {
        op: "csv",
        path: path.to_path_buf(),
        why,
    })?;
    Dataset::try_from_parts(x, y)
}

/// The 0-based positions of the feature and target columns.
struct Layout {
    features: Vec<usize>,
    targets: Vec<usize>,
}

impl Layout {
    /// Finds the columns `options` asks for in a file of `width` columns named `names`.
    fn resolve<T: Float, Y: Targets<T>>(
        path: &Path,
        options: &CsvOptions,
        width: usize,
        names: Option<&[String]>,
    ) -> Result<Layout> {
        let format = |why: String| DataError::Format {
            op: "csv",
            path: path.to_path_buf(),
            why,
        };
        let find = |column: &Column| -> Result<usize> {
            let available = || match names {
                Some(names) => format!(
                    "{width} columns: {}",
                    names
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => format!("{width} columns (indices 0 to {})", width.saturating_sub(1)),
            };
            let missing = || DataError::MissingColumn {
                path: path.to_path_buf(),
                column: column.to_string(),
                available: available(),
            };
            match column {
                Column::Index(i) if *i < width => Ok(*i),
                Column::Index(_) => Err(missing()),
                Column::Last => width.checked_sub(1).ok_or_else(missing),
                Column::Name(name) => {
                    let Some(names) = names else {
                        return Err(format(format!(
                            "column {name:?} is asked for by name, but has_header is false; \
                             name columns by index instead"
                        )));
                    };
                    let mut found = names.iter().enumerate().filter(|(_, n)| *n == name);
                    match (found.next(), found.next()) {
                        (Some((i, _)), None) => Ok(i),
                        (Some((i, _)), Some((j, _))) => Err(format(format!(
                            "the header names columns {} and {} {name:?}; name one by index \
                             instead",
                            i + 1,
                            j + 1
                        ))),
                        (None, _) => Err(missing()),
                    }
                }
            }
        };
        let describe = |i: usize| match names {
            Some(names) => format!("column {} ({:?})", i + 1, names[i]),
            None => format!("column {}", i + 1),
        };

        if options.targets.is_empty() {
            return Err(format("no target columns given".to_string()));
        }
        let targets = options
            .targets
            .iter()
            .map(find)
            .collect::<Result<Vec<_>>>()?;
        if let Some(max) = Y::max_columns() {
            if targets.len() > max {
                return Err(format(format!(
                    "class-id targets come from one column, but {} are given; read several \
                     target columns as a float tensor (Dataset<T, Tensor<T>>)",
                    targets.len()
                )));
            }
        }
        let features = match &options.features {
            Some(columns) => columns.iter().map(find).collect::<Result<Vec<_>>>()?,
            None => (0..width).filter(|i| !targets.contains(i)).collect(),
        };
        for (i, &c) in targets.iter().enumerate() {
            if targets[..i].contains(&c) {
                return Err(format(format!("{} is a target twice", describe(c))));
            }
        }
        for (i, &c) in features.iter().enumerate() {
            if features[..i].contains(&c) {
                return Err(format(format!("{} is a feature twice", describe(c))));
            }
            if targets.contains(&c) {
                return Err(format(format!(
                    "{} is both a feature and a target",
                    describe(c)
                )));
            }
        }
        if features.is_empty() {
            return Err(format(format!(
                "no feature columns: the file has {width} and all are targets"
            )));
        }
        Ok(Layout { features, targets })
    }
}

/// What the row checks need to know of the file.
struct CsvFile<'a> {
    path: &'a Path,
    names: Option<&'a [String]>,
    width: usize,
    header: bool,
}

impl CsvFile<'_> {
    /// An error unless `record` has one field per column.
    fn check_width(&self, record: &ByteRecord) -> Result<()> {
        if record.len() == self.width {
            return Ok(());
        }
        Err(DataError::Ragged {
            path: self.path.to_path_buf(),
            row: line_of(record),
            found: record.len(),
            expected: self.width,
            header: self.header,
        })
    }

    /// Parses the cell of `record` in column `c` with `parse`, or names it in the error.
    fn cell<V>(
        &self,
        record: &ByteRecord,
        c: usize,
        parse: impl Fn(&str) -> std::result::Result<V, String>,
    ) -> Result<V> {
        let bytes = &record[c];
        let parsed = match std::str::from_utf8(bytes) {
            Ok(text) => parse(text),
            Err(_) => Err(format!(
                "{} is not UTF-8 text",
                quote(&String::from_utf8_lossy(bytes))
            )),
        };
        parsed.map_err(|why| DataError::Cell {
            path: self.path.to_path_buf(),
            row: line_of(record),
            column: c + 1,
            name: self.names.map(|names| names[c].clone()),
            value: String::from_utf8_lossy(bytes).into_owned(),
            why,
        })
    }

    fn too_large(&self) -> DataError {
        DataError::Format {
            op: "csv",
            path: self.path.to_path_buf(),
            why: "more rows than memory can address".to_string(),
        }
    }
}

/// The line `record` starts on, from 1.
fn line_of(record: &ByteRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

/// Removes a UTF-8 byte-order mark (as spreadsheet exports write) from the first field.
fn strip_bom(record: &mut ByteRecord) {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if record.get(0).is_some_and(|f| f.starts_with(BOM)) {
        let position = record.position().cloned();
        let mut fields: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
        fields[0].drain(..BOM.len());
        let trimmed = String::from_utf8_lossy(&fields[0])
            .trim()
            .as_bytes()
            .to_vec();
        fields[0] = trimmed;
        *record = ByteRecord::from(fields);
        record.set_position(position);
    }
}

/// A cell's text for a message: quoted and escaped, cut after 40 characters.
fn quote(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// A finite number that fits `T`, or why the text is not one.
pub(crate) fn parse_float<T: Float>(text: &str) -> std::result::Result<T, String> {
    if text.is_empty() {
        return Err("empty cell; every cell must hold a number".to_string());
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{} is not a number", quote(text)))?;
    if !value.is_finite() {
        return Err(format!(
            "{} is not a finite number; NaN and infinity are rejected (drop or impute them first)",
            quote(text)
        ));
    }
    let converted = T::from_f64(value);
    if !converted.to_f64().is_finite() {
        return Err(format!("{} is out of range for {}", quote(text), T::DTYPE));
    }
    Ok(converted)
}

/// A class id (a whole number from 0, written `3` or `3.0`), or why the text is not one.
pub(crate) fn parse_class(text: &str) -> std::result::Result<usize, String> {
    const WHY: &str = "class ids are whole numbers from 0";
    if text.is_empty() {
        return Err(format!("empty cell; {WHY}"));
    }
    if let Ok(id) = text.parse::<u64>() {
        return usize::try_from(id).map_err(|_| format!("{} is too large a class id", quote(text)));
    }
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{} is not a number; {WHY}", quote(text)))?;
    // Below 2^53 every whole f64 is exact, so `3.0` is 3 and no rounding hides a fraction.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if value < 0.0 {
        Err(format!("{} is negative; {WHY}", quote(text)))
    } else if !value.is_finite() || value.fract() != 0.0 {
        Err(format!("{} is not a whole number; {WHY}", quote(text)))
    } else if value >= EXACT || value > usize::MAX as f64 {
        Err(format!("{} is too large a class id", quote(text)))
    } else {
        Ok(value as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_must_be_finite_and_fit() {
        assert_eq!(parse_float::<f64>("1.5e3"), Ok(1500.0));
        assert_eq!(parse_float::<f32>("-.5"), Ok(-0.5));
        assert_eq!(
            parse_float::<f32>("abc"),
            Err("\"abc\" is not a number".to_string())
        );
        assert!(
            parse_float::<f64>("NaN")
                .unwrap_err()
                .contains("not a finite number")
        );
        assert!(
            parse_float::<f64>("-inf")
                .unwrap_err()
                .contains("not a finite number")
        );
        assert!(
            parse_float::<f64>("1e400")
                .unwrap_err()
                .contains("not a finite number")
        );
        assert_eq!(
            parse_float::<f32>("1e39"),
            Err("\"1e39\" is out of range for f32".to_string())
        );
        assert_eq!(parse_float::<f64>("1e39"), Ok(1e39));
        assert!(
            parse_float::<f64>("")
                .unwrap_err()
                .starts_with("empty cell")
        );
    }

    #[test]
    fn class_ids_are_whole_and_non_negative() {
        assert_eq!(parse_class("7"), Ok(7));
        assert_eq!(parse_class("7.0"), Ok(7));
        assert_eq!(parse_class("0"), Ok(0));
        assert!(
            parse_class("-1")
                .unwrap_err()
                .contains("\"-1\" is negative")
        );
        assert!(
            parse_class("2.5")
                .unwrap_err()
                .contains("\"2.5\" is not a whole number")
        );
        assert!(
            parse_class("nan")
                .unwrap_err()
                .contains("not a whole number")
        );
        assert!(
            parse_class("cat")
                .unwrap_err()
                .contains("\"cat\" is not a number")
        );
        assert!(parse_class("1e300").unwrap_err().contains("too large"));
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(100);
        let quoted = quote(&long);
        assert_eq!(quoted, format!("{:?}…", "x".repeat(40)));
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }
}
