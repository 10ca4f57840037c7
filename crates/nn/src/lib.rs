//! tapegrad-nn: see the workspace README. (Filled in by its issue.)
#![warn(missing_docs)]
