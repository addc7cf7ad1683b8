//! Newline-delimited JSON: one event per line; blank lines are skipped.

use super::RawRecord;
use std::io::{BufRead, BufReader, Read};

/// Reads lines and hands each non-blank one to `emit`; stops early when `emit` returns false.
pub(crate) fn read(input: impl Read, mut emit: impl FnMut(RawRecord) -> bool) -> anyhow::Result<()> {
    let mut reader = BufReader::with_capacity(vardpuls_core::FILE_BUFFER_BYTES, input);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        line += 1;
        let mut bytes = buf.as_slice();
        while let Some((last, rest)) = bytes.split_last() {
            if *last == b'\n' || *last == b'\r' {
                bytes = rest
            } else {
                break;
            }
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if !emit(RawRecord::Json { line, bytes: bytes.to_vec() }) {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lines_from_one_and_skips_blank_ones() {
        let input = b"{\"a\":1}\r\n\n  \n{\"b\":2}\n\xff\n{\"c\":3}";
        let mut seen = Vec::new();
        read(&input[..], |r| {
            if let RawRecord::Json { line, bytes } = r {
                seen.push((line, bytes));
            }
            true
        })
        .unwrap();
        let lines: Vec<u64> = seen.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 4, 5, 6]);
        assert_eq!(seen[0].1, b"{\"a\":1}");
        assert_eq!(seen[2].1, b"\xff");
    }
}
