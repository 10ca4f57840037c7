//! Data loading: IDX files, MNIST, CSV and NumPy `.npy` files, and a dataset type with seeded
//! mini-batches and train/validation splits.
//!
//! ```no_run
//! use tapegrad::rand::{rngs::StdRng, SeedableRng};
//! use tapegrad::data::{resolve_data_dir, BatchOptions, Mnist};
//!
//! let mnist = Mnist::load(resolve_data_dir(None))?; // --data flag, $MNIST_DIR or data/mnist
//! let mut rng = StdRng::seed_from_u64(0);
//! for (x, labels) in mnist.train.batches(128, &mut rng, BatchOptions::default()) {
//!     assert_eq!(x.shape(), &[labels.len(), 784]);
//! }
//! # Ok::<(), tapegrad::data::DataError>(())
//! ```
//!
//! A [`Dataset`]'s targets are class ids (`Dataset<T>`, as MNIST) or float tensors
//! (`Dataset<T, Tensor<T>>`, for regression); both batch, split and load from files alike:
//!
//! ```
//! use tapegrad::data::{load_friedman1, shipped_friedman1_csv, BatchOptions};
//! use tapegrad::prelude::*;
//!
//! let data = load_friedman1::<f32>(shipped_friedman1_csv())?; // 5 features, 1 float target
//! let mut rng = StdRng::seed_from_u64(0);
//! let (train, val) = data.split(0.2, &mut rng);
//! assert_eq!((train.len(), val.len()), (400, 100));
//! for (x, y) in train.batches(32, &mut rng, BatchOptions::default()) {
//!     assert_eq!((x.shape()[1], y.shape()[1]), (5, 1));
//! }
//! # Ok::<(), tapegrad::data::DataError>(())
//! ```
//!
//! Reading a file never panics: every defect is a [`DataError`] naming the path (and for CSV the
//! row and column).

mod batches;
mod csv;
mod error;
mod friedman;
mod idx;
mod mnist;
mod npy;
mod targets;

pub use batches::{BatchOptions, Batches, Dataset, SplitSize};
pub use csv::{Column, CsvOptions};
pub use error::{DataError, FileError, Result};
pub use friedman::{
    FRIEDMAN1_CSV_VAR, load_friedman1, resolve_friedman1_csv, shipped_friedman1_csv,
};
pub use idx::IdxArray;
pub use mnist::{
    MNIST_CLASSES, MNIST_DIR_VAR, Mnist, MnistOptions, load_split, resolve_data_dir,
    shipped_data_dir,
};
pub use npy::{read_npy, read_npy_labels};
pub use targets::Targets;
