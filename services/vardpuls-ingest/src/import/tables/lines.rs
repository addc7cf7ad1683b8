//! File line numbers for CSV rows. The csv crate's `Position::line` is one short after CRLF
//! line ends and after blank lines (BurntSushi/rust-csv#395, #208, both open), and Swedish
//! exports from Excel end lines with CRLF. So lines are counted here, from the bytes the CSV
//! parser reads.
//!
//! The parser reports a row's start either at its first byte or somewhere in the line breaks
//! before it (on the `\n` after a `\r`, or on a skipped blank line). So line breaks are kept as
//! runs of consecutive `\r`/`\n` bytes: a row's line is one more than the newlines in the runs
//! that end before its start, and in the run its start falls in.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, Mutex};

/// Consecutive line-break bytes, `first..=last`, holding `newlines` `\n`s.
#[derive(Debug, Clone, Copy)]
struct Run {
    first: u64,
    last: u64,
    newlines: u64,
}

type Runs = Arc<Mutex<VecDeque<Run>>>;

/// Wraps the text the CSV parser reads, noting its line breaks.
pub struct NewlineReader<R> {
    inner: R,
    offset: u64,
    runs: Runs,
}

/// Turns a row's start into its line; rows must be asked for in file order.
pub struct LineCounter {
    runs: Runs,
    before: u64,
}

pub fn counted<R: Read>(inner: R) -> (NewlineReader<R>, LineCounter) {
    let runs = Runs::default();
    (NewlineReader { inner, offset: 0, runs: Arc::clone(&runs) }, LineCounter { runs, before: 0 })
}

impl<R: Read> Read for NewlineReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut runs = self.runs.lock().expect("not poisoned");
        for i in memchr::memchr2_iter(b'\n', b'\r', &buf[..n]) {
            let at = self.offset + i as u64;
            let newline = u64::from(buf[i] == b'\n');
            match runs.back_mut() {
                Some(run) if run.last + 1 == at => {
                    run.last = at;
                    run.newlines += newline;
                }
                _ => runs.push_back(Run { first: at, last: at, newlines: newline }),
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl LineCounter {
    /// The line (from 1) of the row the parser says starts at byte `start`.
    pub fn line_of(&mut self, start: u64) -> u64 {
        let mut runs = self.runs.lock().expect("not poisoned");
        while let Some(run) = runs.front().copied()
            && run.first <= start
        {
            runs.pop_front();
            self.before += run.newlines;
        }
        self.before + 1
    }
}
