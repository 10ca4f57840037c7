//! What can go wrong between ranks.

/// An error of data-parallel training, the same on every rank where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DistError {
    /// The ranks' models differ (names, shapes, dtypes or settings): `rank` is the first rank
    /// whose model differs from rank 0's, `detail` the first difference.
    ModelMismatch {
        /// The first differing rank.
        rank: usize,
        /// The first difference, in words.
        detail: String,
    },
    /// Work run on rank 0 only ([`Communicator::on_root`](crate::Communicator::on_root)) failed there.
    Root {
        /// Rank 0's error message.
        message: String,
    },
    /// A backward pass failed on this rank (its error) or on another rank.
    Backward(String),
    /// An optimizer step failed on this rank (its error) or on another rank.
    Step(String),
    /// A setting that cannot work with this world (a batch that does not split over the ranks).
    Config(String),
    /// MPI could not be initialized.
    Init(String),
}

impl std::fmt::Display for DistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DistError::ModelMismatch { rank, detail } => write!(
                f,
                "data-parallel: rank {rank}'s model differs from rank 0's: {detail}; every rank must build the same model"
            ),
            DistError::Root { message } => write!(f, "on rank 0: {message}"),
            DistError::Backward(message) => write!(f, "data-parallel backward: {message}"),
            DistError::Step(message) => write!(f, "data-parallel step: {message}"),
            DistError::Config(message) => write!(f, "data-parallel: {message}"),
            DistError::Init(message) => write!(f, "MPI: {message}"),
        }
    }
}

impl std::error::Error for DistError {}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, DistError>;
