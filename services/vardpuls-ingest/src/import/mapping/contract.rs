//! What a mapping may write, read from the checked-in JSON Schemas (schemas/), the contracts
//! producers read too: a mapped field must exist, a value map or constant must hold values the
//! field accepts, and the field's type says how a cell is read (a time, a number, an amount).

use serde_json::Value;
use std::sync::OnceLock;
use vardpuls_core::Topic;

/// How a cell becomes a field's JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Bool,
    /// An amount in SEK: the file's decimal mark and digit grouping are undone.
    Decimal,
    /// A local time or an instant, written as RFC 3339 with its offset.
    Time,
}

/// One field of a topic's contract.
#[derive(Debug, Clone)]
pub struct ContractField {
    pub kind: FieldKind,
    /// The values an enumerated field accepts.
    pub allowed: Option<Vec<Value>>,
}

fn schema(topic: Topic) -> &'static Value {
    static SCHEMAS: OnceLock<[Value; 4]> = OnceLock::new();
    let all = SCHEMAS.get_or_init(|| {
        let parse = |text: &str| serde_json::from_str(text).expect("checked-in schemas are JSON");
        [
            parse(include_str!("../../../../../schemas/vardpuls.phone.v1.schema.json")),
            parse(include_str!("../../../../../schemas/vardpuls.visits.v1.schema.json")),
            parse(include_str!("../../../../../schemas/vardpuls.listings.v1.schema.json")),
            parse(include_str!("../../../../../schemas/vardpuls.chats.v1.schema.json")),
        ]
    });
    match topic {
        Topic::Phone => &all[0],
        Topic::Visits => &all[1],
        Topic::Listings => &all[2],
        Topic::Chats => &all[3],
        other => unreachable!("{other} is not an input topic"),
    }
}

/// The contract's field at `path` (`["assessment", "first_contact_at"]`), or None.
pub fn field(topic: Topic, path: &[&str]) -> Option<ContractField> {
    let root = schema(topic);
    let mut node = root;
    for name in path {
        node = resolve(root, node).get("properties")?.get(*name)?;
    }
    let resolved = resolve(root, node);
    let is_ref = |name: &str| node.get("$ref").and_then(Value::as_str) == Some(&format!("#/$defs/{name}"));
    let kind = if resolved.get("format").and_then(Value::as_str) == Some("date-time") {
        FieldKind::Time
    } else if is_ref("sek") {
        FieldKind::Decimal
    } else {
        match resolved.get("type").and_then(Value::as_str) {
            Some("integer") => FieldKind::Integer,
            Some("boolean") => FieldKind::Bool,
            Some("object") => return None,
            _ => FieldKind::Text,
        }
    };
    let allowed = resolved.get("enum").and_then(Value::as_array).cloned();
    Some(ContractField { kind, allowed })
}

/// Every field path of the contract, for error messages.
pub fn field_names(topic: Topic) -> Vec<String> {
    fn walk(root: &Value, node: &Value, prefix: &str, out: &mut Vec<String>) {
        let Some(props) = resolve(root, node).get("properties").and_then(Value::as_object) else { return };
        for (name, child) in props {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            if resolve(root, child).get("properties").is_some() {
                walk(root, child, &path, out);
            } else if path != "schema_version" {
                out.push(path);
            }
        }
    }
    let root = schema(topic);
    let mut out = Vec::new();
    walk(root, root, "", &mut out);
    out
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
        Some(name) => root.get("$defs").and_then(|d| d.get(name)).unwrap_or(node),
        None => node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kinds_and_enumerations_from_the_schemas() {
        assert_eq!(field(Topic::Phone, &["occurred_at"]).unwrap().kind, FieldKind::Time);
        assert_eq!(field(Topic::Phone, &["queue_wait_seconds"]).unwrap().kind, FieldKind::Integer);
        assert_eq!(field(Topic::Phone, &["reached"]).unwrap().kind, FieldKind::Bool);
        assert_eq!(field(Topic::Visits, &["out_of_county", "price_sek"]).unwrap().kind, FieldKind::Decimal);
        assert_eq!(field(Topic::Visits, &["assessment", "first_contact_at"]).unwrap().kind, FieldKind::Time);
        let line = field(Topic::Phone, &["line"]).unwrap();
        assert_eq!(line.allowed.unwrap(), vec![Value::from("primary_care"), Value::from("1177")]);
        assert!(field(Topic::Phone, &["caller_number"]).is_none());
        assert!(field(Topic::Visits, &["assessment"]).is_none(), "an object is no field");
        assert!(field_names(Topic::Visits).contains(&"out_of_county.home_region".to_string()));
    }
}
