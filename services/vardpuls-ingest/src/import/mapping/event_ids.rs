//! Event ids for sources that have none. An id is a name-based UUID (version 5) of the source,
//! the event type, the row's natural key and, for sources that version their rows, the time
//! the version was recorded. The same row in a second or an overlapping export gets the same
//! id and counts once; a corrected visit (a later `recorded_at`) is a new version with its own
//! id, and the contract's version rules decide which counts.

use uuid::Uuid;

/// Fixed for good: changing it would give every imported event a new id and count it twice.
const VARDPULS_IMPORT: Uuid = Uuid::from_u128(0x5f0c_9a2e_1d4b_4c7e_9f3a_6b8d_2e1c_7a40);

/// The separator cannot occur in a cell that passed the contract's id patterns.
const UNIT_SEPARATOR: char = '\u{1f}';

pub fn derive(source: &str, event_type: &str, key: &[&str], recorded_at: Option<&str>) -> Uuid {
    let mut name = String::with_capacity(64);
    name.push_str(source);
    name.push(UNIT_SEPARATOR);
    name.push_str(event_type);
    for part in key {
        name.push(UNIT_SEPARATOR);
        name.push_str(part);
    }
    if let Some(recorded) = recorded_at {
        name.push(UNIT_SEPARATOR);
        name.push_str(recorded);
    }
    Uuid::new_v5(&VARDPULS_IMPORT, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_row_gets_the_same_id_and_anything_else_another() {
        let a = derive("telefoni", "call_received", &["c-1"], None);
        assert_eq!(a, derive("telefoni", "call_received", &["c-1"], None));
        assert_ne!(a, derive("telefoni", "call_answered", &["c-1"], None));
        assert_ne!(a, derive("telefoni", "call_received", &["c-2"], None));
        assert_ne!(a, derive("journal", "call_received", &["c-1"], None));
        assert_ne!(a, derive("telefoni", "call_received", &["c-1"], Some("2026-03-02T10:00:00+01:00")));
        // Key parts are separated: ("ab", "c") is not ("a", "bc").
        assert_ne!(derive("s", "t", &["ab", "c"], None), derive("s", "t", &["a", "bc"], None));
        assert_eq!(a.get_version_num(), 5);
    }
}
