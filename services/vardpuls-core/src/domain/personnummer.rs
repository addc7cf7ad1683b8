//! Detection of Swedish personal identity numbers (personnummer, samordningsnummer).
//!
//! vardpuls never stores who a patient is. Any free-form field that contains something shaped
//! like a personal identity number is refused, so one cannot leak in through an id column of a
//! telephony export. Rules (a token is a run bounded by non-alphanumeric characters):
//! - 12 digits in a row (`YYYYMMDDNNNN`);
//! - 8 digits, `-` or `+`, 4 digits (`YYYYMMDD-NNNN`);
//! - 6 digits, `-` or `+`, 4 digits (`YYMMDD-NNNN`);
//!
//! in each case only when the date part is plausible (century 18, 19 or 20; month 01-12; day
//! 01-31, or 61-91 for a samordningsnummer). A personnummer always starts with a date, and the
//! check keeps ordinary numbers such as a UUID's last group `000000000001` from matching.

/// True when `s` contains a token shaped like a personal identity number.
pub fn contains_personnummer(s: &str) -> bool {
    find(s.as_bytes(), 0).is_some()
}

/// `bytes` with the digits of every personal-identity-number-shaped token replaced by `X`, and
/// whether anything was replaced. Used on dead letters, whose raw bytes are otherwise kept
/// exactly.
pub fn redact(bytes: &[u8]) -> (Vec<u8>, bool) {
    let mut out = bytes.to_vec();
    let mut from = 0;
    let mut changed = false;
    while let Some((start, len)) = find(&out, from) {
        for b in &mut out[start..start + len] {
            if b.is_ascii_digit() {
                *b = b'X';
            }
        }
        changed = true;
        from = start + len;
    }
    (out, changed)
}

/// The first match at or after `from`: (start, length).
fn find(b: &[u8], from: usize) -> Option<(usize, usize)> {
    (from..b.len()).find_map(|i| {
        let boundary_before = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if boundary_before && b[i].is_ascii_digit() { match_len(b, i).map(|len| (i, len)) } else { None }
    })
}

fn match_len(b: &[u8], i: usize) -> Option<usize> {
    let digits = |from: usize, n: usize| from + n <= b.len() && b[from..from + n].iter().all(u8::is_ascii_digit);
    let boundary_after = |end: usize| end == b.len() || !b[end].is_ascii_alphanumeric();
    let separator = |at: usize| at < b.len() && (b[at] == b'-' || b[at] == b'+');

    if digits(i, 12) && boundary_after(i + 12) && plausible_yyyymmdd(&b[i..i + 8]) {
        return Some(12);
    }
    if digits(i, 8)
        && separator(i + 8)
        && digits(i + 9, 4)
        && boundary_after(i + 13)
        && plausible_yyyymmdd(&b[i..i + 8])
    {
        return Some(13);
    }
    if digits(i, 6) && separator(i + 6) && digits(i + 7, 4) && boundary_after(i + 11) && plausible_yymmdd(&b[i..i + 6])
    {
        return Some(11);
    }
    None
}

fn plausible_yyyymmdd(d: &[u8]) -> bool {
    matches!(&d[..2], b"18" | b"19" | b"20") && plausible_yymmdd(&d[2..])
}

fn plausible_yymmdd(d: &[u8]) -> bool {
    let two = |k: usize| (d[k] - b'0') as u32 * 10 + (d[k + 1] - b'0') as u32;
    let (month, day) = (two(2), two(4));
    (1..=12).contains(&month) && ((1..=31).contains(&day) || (61..=91).contains(&day))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_usual_shapes() {
        for s in [
            "19811218-9876",
            "198112189876",
            "811218-9876",
            "811278-9876",
            "patient 19811218+9876 called",
            "ref:198112189876",
        ] {
            assert!(contains_personnummer(s), "{s}");
        }
    }

    #[test]
    fn redaction_masks_digits_and_keeps_the_rest() {
        let (out, changed) = redact(b"{\"patient_ref\":\"19811218-9876\",\"x\":\"198112189876\"}");
        assert!(changed);
        assert_eq!(out, b"{\"patient_ref\":\"XXXXXXXX-XXXX\",\"x\":\"XXXXXXXXXXXX\"}");
        let (same, changed) = redact(b"P000000123457 c-1");
        assert!(!changed);
        assert_eq!(same, b"P000000123457 c-1");
    }

    #[test]
    fn leaves_ordinary_ids_alone() {
        for s in [
            "P000000123457",
            "call-000123",
            "pseudo-7f3a9c",
            "1234567890",
            "1981121898765",
            "811318-9876",
            "a19811218-9876",
            "2026-03-29",
            "000000000001",
            "0b5c6a3e-8f1d-4c2a-9e7b-000000000001",
            "198113189876",
        ] {
            assert!(!contains_personnummer(s), "{s}");
        }
    }
}
