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
//! Reading a file never panics: every defect is a [`DataError`] naming the path (and for CSV the
//! row and column).

mod batches;
mod csv;
mod error;
mod idx;
mod mnist;
mod npy;
mod targets;

pub use batches::{BatchOptions, Batches, Dataset, SplitSize};
pub use csv::{Column, CsvOptions};
pub use error::{DataError, FileError, Result};
pub use idx::IdxArray;
pub use mnist::{
    load_split, resolve_data_dir, shipped_data_dir, Mnist, MnistOptions, MNIST_CLASSES,
    MNIST_DIR_VAR,
};
pub use npy::{read_npy, read_npy_labels};
pub use targets::Targets;
