//! Test fixtures for the personal-identity-number promise, shared by the screen's property test
//! (`fuzz_screen.rs`) and the end-to-end privacy test (`tests/e2e/privacy.rs`, which includes
//! this file by path): the numbers to inject, where to inject them, and a leak check that does
//! not use the screen under test.

#![allow(dead_code)] // each includer uses its part

use serde_json::Value;

/// A personnummer (19811218-9876) and a samordningsnummer (day + 60), each in every written form.
pub const NUMBERS: [&str; 8] = [
    "19811218-9876",
    "19811218+9876",
    "198112189876",
    "811218-9876",
    "811218+9876",
    "19811278-9876",
    "198112789876",
    "811278-9876",
];

/// A number as a field may hold it: alone, within words, after a prefix.
pub fn in_text(number: &str) -> [String; 3] {
    [number.to_string(), format!("ref {number} called"), format!("x:{number}")]
}

/// True when `bytes` hold one of [`NUMBERS`] in any form: `\uXXXX` escapes decoded, `-` and `+`
/// dropped, the ten digits every form shares looked for.
pub fn leaks(bytes: &[u8]) -> bool {
    let text: String = unescape(&String::from_utf8_lossy(bytes)).chars().filter(|c| *c != '-' && *c != '+').collect();
    text.contains("8112189876") || text.contains("8112789876")
}

/// `\uXXXX` escapes of ASCII decoded, the rest left as it is: the checker's own reading.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 2..i + 6).and_then(|h| u32::from_str_radix(h, 16).ok()).filter(|c| *c < 0x80);
        match code {
            Some(c) => {
                out.push(char::from_u32(c).expect("ASCII"));
                rest = &rest[i + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every path of a string in a JSON object (`out_of_county.provider`).
pub fn string_fields(value: &Value) -> Vec<String> {
    fn walk(value: &Value, prefix: &str, out: &mut Vec<String>) {
        if let Value::Object(map) = value {
            for (k, v) in map {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                match v {
                    Value::String(_) => out.push(path),
                    Value::Object(_) => walk(v, &path, out),
                    _ => {}
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

/// Sets the field at `path` (as [`string_fields`] names it).
pub fn set_field(value: &mut Value, path: &str, new: Value) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut at = value;
    for p in &parts[..parts.len() - 1] {
        at = &mut at[*p];
    }
    at[parts[parts.len() - 1]] = new;
}

/// The JSON text of `value` before and after the content of the string field at `path`, so that
/// a test can splice in a value exactly as it wants it written (escapes and all).
pub fn around_field(value: &Value, path: &str) -> (String, String) {
    const MARK: &str = "__field_value__";
    let mut marked = value.clone();
    set_field(&mut marked, path, Value::String(MARK.into()));
    let json = serde_json::to_string(&marked).expect("JSON");
    let (head, tail) = json.split_once(MARK).expect("the mark is in the text");
    (head.to_string(), tail.to_string())
}

/// `text` with the characters whose bit is set in `mask` written as `\uXXXX` escapes.
pub fn escaped(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if mask >> (i % 64) & 1 == 1 { format!("\\u{:04x}", c as u32) } else { c.to_string() })
        .collect()
}
