//! Ranks agree on the model before the first reduction: MPI has no way to tell that two ranks
//! reduce buffers of different layouts, and would hang or mix values.

use crate::communicator::Communicator;
use crate::error::{DistError, Result};

/// Compares every rank's lines (settings, then each parameter and buffer with its shape and
/// dtype, in the order the reductions use) with rank 0's; every rank returns the same error,
/// naming the first differing rank and its first difference.
pub(crate) fn check<C: Communicator>(comm: &C, lines: &[String]) -> Result<()> {
    let mut reference = if comm.is_root() {
        lines.join("\n").into_bytes()
    } else {
        Vec::new()
    };
    comm.broadcast_bytes(&mut reference, 0);
    let reference = String::from_utf8_lossy(&reference).into_owned();
    let theirs: Vec<&str> = if reference.is_empty() {
        Vec::new()
    } else {
        reference.split('\n').collect()
    };
    let difference = first_difference(&theirs, lines);
    // The lowest differing rank is `size − max(size − rank)` over the ranks that differ.
    let size = comm.size() as u64;
    let mark = match difference {
        Some(_) => size - comm.rank() as u64,
        None => 0,
    };
    let highest = comm.all_reduce_max(mark);
    if highest == 0 {
        return Ok(());
    }
    let first = (size - highest) as usize;
    let mut detail = match (&difference, comm.rank() == first) {
        (Some(d), true) => d.clone().into_bytes(),
        _ => Vec::new(),
    };
    comm.broadcast_bytes(&mut detail, first);
    Err(DistError::ModelMismatch {
        rank: first,
        detail: String::from_utf8_lossy(&detail).into_owned(),
    })
}

/// The first line where `mine` differs from rank 0's `theirs`, in words.
fn first_difference(theirs: &[&str], mine: &[String]) -> Option<String> {
    for (k, mine_line) in mine.iter().enumerate() {
        match theirs.get(k) {
            Some(t) if *t == mine_line => {}
            Some(t) => return Some(format!("rank 0 has `{t}` where it has `{mine_line}`")),
            None => return Some(format!("it has `{mine_line}`, which rank 0 does not have")),
        }
    }
    theirs
        .get(mine.len())
        .map(|t| format!("rank 0 has `{t}`, which it does not have"))
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn the_first_difference_is_named_in_words() {
        let mine = ["a [2]".to_string(), "b [3]".to_string()];
        assert_eq!(first_difference(&["a [2]", "b [3]"], &mine), None);
        let d = first_difference(&["a [2]", "b [4]"], &mine).unwrap();
        assert_eq!(d, "rank 0 has `b [4]` where it has `b [3]`");
        let d = first_difference(&["a [2]"], &mine).unwrap();
        assert!(d.contains("`b [3]`, which rank 0 does not have"), "{d}");
        let d = first_difference(&["a [2]", "b [3]", "c [1]"], &mine).unwrap();
        assert!(d.contains("rank 0 has `c [1]`, which it does not"), "{d}");
    }
}
