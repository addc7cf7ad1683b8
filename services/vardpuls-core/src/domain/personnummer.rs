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
///
/// Matching runs on the text as a JSON decoder reads it, so a number spelt with escapes
/// (`\u0031\u0039…`) is found and masked too: the escapes of its digits become `X`. Bytes that
/// are not JSON are read as they are (a backslash-u that is no escape stays text).
pub fn redact(bytes: &[u8]) -> (Vec<u8>, bool) {
    if !bytes.contains(&b'\\') {
        let mut out = bytes.to_vec();
        let changed = mask_in_place(&mut out);
        return (out, changed);
    }
    let decoded = Unescaped::of(bytes);
    let mut text = decoded.text.clone();
    if !mask_in_place(&mut text) {
        return (bytes.to_vec(), false);
    }
    let mut out = Vec::with_capacity(bytes.len());
    for (i, span) in decoded.spans.iter().enumerate() {
        if text[i] == b'X' && decoded.text[i] != b'X' {
            out.push(b'X');
        } else {
            out.extend_from_slice(&bytes[span.clone()]);
        }
    }
    (out, true)
}

/// `text` with personal-identity-number-shaped tokens masked: for reasons and log lines, which
/// may quote what a producer sent.
pub fn redact_text(text: &str) -> String {
    if !contains_personnummer(text) && !text.contains('\\') {
        return text.to_string();
    }
    let (out, _) = redact(text.as_bytes());
    // Only ASCII digits and whole escapes are replaced, by ASCII: still UTF-8.
    String::from_utf8(out).expect("masking keeps UTF-8")
}

/// A value as an error message may quote it: in backquotes, cut to `max` characters, or withheld
/// when it (or the cut) holds anything shaped like a personal identity number. A cut number
/// (`19811218-98`) is still most of one, so the whole value decides.
pub fn quote(value: &str, max: usize) -> String {
    let shown: String = value.chars().take(max).collect();
    if contains_personnummer(value) || contains_personnummer(&shown) {
        "(value withheld: it looks like a personal identity number)".to_string()
    } else {
        format!("`{shown}`")
    }
}

fn mask_in_place(text: &mut [u8]) -> bool {
    let mut from = 0;
    let mut changed = false;
    while let Some((start, len)) = find(text, from) {
        for b in &mut text[start..start + len] {
            if b.is_ascii_digit() {
                *b = b'X';
            }
        }
        changed = true;
        from = start + len;
    }
    changed
}

/// Bytes read as a JSON string's content: each escape becomes the one byte it stands for, and
/// `spans[i]` is where `text[i]` stands in the input. A code point outside ASCII becomes 0x80,
/// which separates tokens as its UTF-8 bytes would.
struct Unescaped {
    text: Vec<u8>,
    spans: Vec<std::ops::Range<usize>>,
}

impl Unescaped {
    fn of(raw: &[u8]) -> Unescaped {
        let mut u = Unescaped { text: Vec::with_capacity(raw.len()), spans: Vec::with_capacity(raw.len()) };
        let mut i = 0;
        while i < raw.len() {
            let (byte, len) = if raw[i] == b'\\' { escape(&raw[i..]) } else { (raw[i], 1) };
            u.text.push(byte);
            u.spans.push(i..i + len);
            i += len;
        }
        u
    }
}

/// The byte a JSON escape at the start of `s` stands for, and the escape's length; a backslash
/// that starts no escape is itself.
fn escape(s: &[u8]) -> (u8, usize) {
    match s.get(1) {
        Some(b'u') => match s.get(2..6).and_then(|h| std::str::from_utf8(h).ok()) {
            Some(hex) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                let code = u32::from_str_radix(hex, 16).expect("four hex digits");
                (u8::try_from(code).ok().filter(u8::is_ascii).unwrap_or(0x80), 6)
            }
            _ => (b'\\', 1),
        },
        Some(&c @ (b'"' | b'\\' | b'/')) => (c, 2),
        Some(b'b' | b'f' | b'n' | b'r' | b't') => (b' ', 2),
        _ => (b'\\', 1),
    }
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
    fn redaction_sees_through_json_escapes() {
        let raw = br#"{"call_id":"\u0031\u0039\u0038\u0031\u0031\u0032\u0031\u0038\u002d\u0039\u0038\u0037\u0036","x":"a\"b"}"#;
        let (out, changed) = redact(raw);
        assert!(changed);
        assert_eq!(out, br#"{"call_id":"XXXXXXXX\u002dXXXX","x":"a\"b"}"#);
        // Some digits escaped, some not; escaped separator; the escape of a backslash is no escape.
        let (out, changed) = redact(br#"{"p":"1981\u00312\u0031\u0038+9876"}"#);
        assert!(changed);
        assert!(!String::from_utf8_lossy(&out).contains("9876"), "{}", String::from_utf8_lossy(&out));
        let (same, changed) = redact(br#"{"p":"\\u0031 9876 \u00e5"}"#);
        assert!(!changed);
        assert_eq!(same, br#"{"p":"\\u0031 9876 \u00e5"}"#);
    }

    #[test]
    fn quoting_withholds_numbers_and_their_cuts() {
        assert_eq!(quote("2080", 10), "`2080`");
        assert_eq!(quote("abcdefghijkl", 3), "`abc`");
        for v in ["19811218-9876", "x 198112189876", "198112189876abc"] {
            let q = quote(v, 12);
            assert!(!q.contains("9876") && !q.contains("1981"), "{v}: {q}");
        }
        assert_eq!(redact_text("unknown variant `19811218-9876`"), "unknown variant `XXXXXXXX-XXXX`");
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
