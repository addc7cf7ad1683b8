//! Mapping rules on small hand-written files; the shipped examples are imported through a real
//! broker in tests/e2e/import.rs.

use super::*;

const CALLS: &str = r#"
source = "telefoni"
topic = "phone"
key = ["Samtals-ID"]
[csv]
separator = ";"
decimal_mark = ","
[time]
formats = ["%Y-%m-%d %H:%M"]
[values.ja_nej]
Ja = true
Nej = false
[fields]
unit_id = "HSA-id"
call_id = "Samtals-ID"
line = { value = "primary_care" }
[[events]]
event_type = "call_received"
occurred_at = "Ankomst"
in_phone_hours = { column = "Inom", values = "ja_nej" }
[[events]]
event_type = "call_answered"
occurred_at = "Besvarat"
queue_wait_seconds = "Väntetid"
"#;

const HEADER: [&str; 5] = ["Samtals-ID", "HSA-id", "Ankomst", "Inom", "Besvarat"];

fn bound(text: &str, header: &[&str]) -> BoundMapping {
    let mapping = Arc::new(Mapping::parse("test.toml", text).unwrap());
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    mapping.bind(&header, ',').unwrap()
}

fn calls() -> BoundMapping {
    let mut header = HEADER.to_vec();
    header.push("Väntetid");
    bound(CALLS, &header)
}

fn row(cells: &[&str]) -> StringRecord {
    StringRecord::from(cells.to_vec())
}

fn json(event: &InputEvent) -> Value {
    serde_json::from_slice(&event.to_json()).unwrap()
}

#[test]
fn one_row_becomes_the_events_whose_times_are_filled() {
    let events = calls()
        .events(&row(&["c-1", "SE2321000180-E00101", "2026-03-02 08:02", "Ja", "2026-03-02 08:04", "149"]))
        .unwrap();
    let got: Vec<Value> = events.iter().map(json).collect();
    assert_eq!(got[0]["event_type"], "call_received");
    assert_eq!(got[0]["occurred_at"], "2026-03-02T08:02:00+01:00");
    assert_eq!(got[0]["in_phone_hours"], true);
    assert_eq!(got[0]["line"], "primary_care");
    assert_eq!(got[1]["event_type"], "call_answered");
    assert_eq!(got[1]["queue_wait_seconds"], 149);
    let only_received =
        calls().events(&row(&["c-2", "SE2321000180-E00101", "2026-03-02 08:02", "Nej", "", ""])).unwrap();
    assert_eq!(only_received.len(), 1);
    assert!(calls().events(&row(&["", " ", "", "", "", ""])).unwrap().is_empty(), "a blank row implies nothing");
}

#[test]
fn ids_are_stable_per_row_key_and_event_type() {
    let r = row(&["c-1", "SE2321000180-E00101", "2026-03-02 08:02", "Ja", "2026-03-02 08:04", "149"]);
    let first = calls().events(&r).unwrap();
    let again = calls().events(&r).unwrap();
    assert_eq!(
        first.iter().map(InputEvent::event_id).collect::<Vec<_>>(),
        again.iter().map(InputEvent::event_id).collect::<Vec<_>>()
    );
    assert_ne!(first[0].event_id(), first[1].event_id());
    // A later export of the same call, now answered: the received event keeps its id.
    let earlier = calls().events(&row(&["c-1", "SE2321000180-E00101", "2026-03-02 08:02", "Ja", "", ""])).unwrap();
    assert_eq!(earlier[0].event_id(), first[0].event_id());
}

#[test]
fn a_bad_cell_refuses_the_whole_row_naming_its_column() {
    let refusal = calls()
        .events(&row(&["c-1", "SE2321000180-E00101", "2026-03-02 08:02", "Kanske", "2026-03-02 08:04", "149"]))
        .unwrap_err();
    assert_eq!(refusal.column.as_deref(), Some("Inom"));
    assert_eq!(refusal.reason.rule, Rule::UnmappedValue);
    assert_eq!(refusal.reason.field, "in_phone_hours");
    // Refused by the contract after mapping (a negative wait): the column is still named.
    let refusal = calls()
        .events(&row(&["c-1", "SE2321000180-E00101", "2026-03-02 08:02", "Ja", "2026-03-02 08:04", "-5"]))
        .unwrap_err();
    assert_eq!(refusal.column.as_deref(), Some("Väntetid"));
    assert_eq!(refusal.reason.field, "queue_wait_seconds");
    let refusal = calls().events(&row(&["c-1", "SE2321000180-E00101", "2/3 2026", "Ja", "", ""])).unwrap_err();
    assert_eq!((refusal.column.as_deref(), refusal.reason.rule), (Some("Ankomst"), Rule::TimestampFormat));
}

#[test]
fn clock_change_hours_are_refused_or_resolved_as_the_mapping_says() {
    let gap = ["c-1", "SE2321000180-E00101", "2026-03-29 02:30", "Ja", "", ""];
    let repeated = ["c-2", "SE2321000180-E00101", "2026-10-25 02:30", "Ja", "", ""];
    let refusal = calls().events(&row(&gap)).unwrap_err();
    assert_eq!((refusal.reason.rule, refusal.column.as_deref()), (Rule::NonexistentLocalTime, Some("Ankomst")));
    assert_eq!(calls().events(&row(&repeated)).unwrap_err().reason.rule, Rule::AmbiguousLocalTime);

    let resolved = CALLS.replace("[time]\n", "[time]\nnonexistent = \"later\"\nrepeated = \"earlier\"\n");
    let mut header = HEADER.to_vec();
    header.push("Väntetid");
    let m = bound(&resolved, &header);
    assert_eq!(json(&m.events(&row(&gap)).unwrap()[0])["occurred_at"], "2026-03-29T03:30:00+02:00");
    assert_eq!(json(&m.events(&row(&repeated)).unwrap()[0])["occurred_at"], "2026-10-25T02:30:00+02:00");

    // From a column: the export says whether summer time was still in force.
    let by_column = CALLS
        .replace("[time]\n", "[time]\nrepeated = { column = \"Sommartid\", values = \"sommartid\" }\n")
        .replace("[values.ja_nej]", "[values.sommartid]\nJa = \"earlier\"\nNej = \"later\"\n[values.ja_nej]");
    let mut header = HEADER.to_vec();
    header.extend(["Väntetid", "Sommartid"]);
    let m = bound(&by_column, &header);
    let second_pass = ["c-3", "SE2321000180-E00101", "2026-10-25 02:30", "Ja", "", "", "Nej"];
    assert_eq!(json(&m.events(&row(&second_pass)).unwrap()[0])["occurred_at"], "2026-10-25T02:30:00+01:00");
    let unknown = ["c-4", "SE2321000180-E00101", "2026-10-25 02:30", "Ja", "", "", "Kanske"];
    assert_eq!(m.events(&row(&unknown)).unwrap_err().reason.rule, Rule::AmbiguousLocalTime);
    // The same column may decide the skipped hour.
    let both =
        by_column.replace("[time]\n", "[time]\nnonexistent = { column = \"Sommartid\", values = \"sommartid\" }\n");
    let m = bound(&both, &header);
    let gap_later = ["c-5", "SE2321000180-E00101", "2026-03-29 02:30", "Ja", "", "", "Nej"];
    assert_eq!(json(&m.events(&row(&gap_later)).unwrap()[0])["occurred_at"], "2026-03-29T03:30:00+02:00");
}

#[test]
fn amounts_with_a_decimal_comma_and_digit_groups() {
    let visits = r#"
source = "journal"
topic = "visits"
key = ["Id"]
[[events]]
event_type = "visit_completed"
occurred_at = "Tid"
unit_id = "Enhet"
visit_id = "Id"
patient_ref = "Patient"
profession = { value = "doctor" }
contact_form = { value = "chat" }
"out_of_county.provider" = "Vårdgivare"
"out_of_county.home_region" = { value = "20" }
"out_of_county.contracting_region" = { value = "01" }
"out_of_county.price_sek" = "Pris"
"out_of_county.patient_fee_sek" = "Avgift"
"#;
    let m = bound(visits, &["Id", "Tid", "Enhet", "Patient", "Vårdgivare", "Pris", "Avgift"]);
    let events =
        m.events(&row(&["v-1", "2024-02-29 10:00", "SE2321000180-E00101", "P-1", "Kry", "1 250,50", "100"])).unwrap();
    let e = json(&events[0]);
    assert_eq!(e["out_of_county"]["price_sek"], "1250.50");
    assert_eq!(e["out_of_county"]["patient_fee_sek"], "100");
    assert_eq!(e["occurred_at"], "2024-02-29T10:00:00+01:00");
}

#[test]
fn mapping_mistakes_fail_before_any_row_naming_what_is_wrong() {
    let err = |text: &str| Mapping::parse("m.toml", text).unwrap_err().to_string();
    assert!(
        err(&CALLS.replace("queue_wait_seconds", "wait_seconds"))
            .contains("field `wait_seconds` is not in the vardpuls.phone.v1 contract")
    );
    assert!(
        err(&CALLS.replace("Nej = false", "Nej = \"no\""))
            .contains("field `in_phone_hours`: the contract does not accept \"no\"")
    );
    assert!(err(&CALLS.replace("\"primary_care\"", "\"vårdcentral\"")).contains("does not accept \"vårdcentral\""));
    assert!(err(&CALLS.replace("\"call_answered\"", "\"call_picked_up\"")).contains("call_picked_up"));
    assert!(
        err(&CALLS.replace("values = \"ja_nej\"", "values = \"yes_no\"")).contains("value map `yes_no` is not defined")
    );
    assert!(err(&CALLS.replace("key = [\"Samtals-ID\"]", "")).contains("`key` is empty"));
    assert!(err(&CALLS.replace("[csv]\n", "[csv]\nencoding = \"latin-9000\"\n")).contains("latin-9000"));

    let mapping = Arc::new(Mapping::parse("m.toml", CALLS).unwrap());
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let err = mapping.bind(&header, ',').err().unwrap().to_string();
    assert!(err.contains("column `Väntetid` (queue_wait_seconds of call_answered) not in the header"), "{err}");
}
