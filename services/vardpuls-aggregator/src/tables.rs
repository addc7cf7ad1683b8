//! Open events as Arrow tables for the catalogue's SQL: one table per input topic.
//!
//! Calendar facts are computed here once, with the tested Stockholm calendar, and handed to SQL
//! as plain columns: `day` (the local day of `occurred_at`) and, for visits,
//! `assessment_wait_days` (local calendar days from first contact to assessment).

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;
use vardpuls_core::Topic;
use vardpuls_core::calendar::LocalDay;
use vardpuls_core::domain::{CallId, HsaId};
use vardpuls_core::events::InputEvent;

use crate::versions;

/// Exact decimals in the tables: 20 digits, 2 decimals (öre).
pub const DECIMAL_PRECISION: u8 = 20;
pub const DECIMAL_SCALE: i8 = 2;

pub fn table_name(topic: Topic) -> &'static str {
    match topic {
        Topic::Phone => "phone",
        Topic::Visits => "visits",
        Topic::Listings => "listings",
        Topic::Chats => "chats",
        other => panic!("{other} has no event table"),
    }
}

pub fn date32(day: LocalDay) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    (day.date() - epoch).num_days() as i32
}

pub fn from_date32(days: i32) -> LocalDay {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    LocalDay::from_date(epoch + chrono::Duration::days(days as i64))
}

fn field(name: &str, data_type: DataType, nullable: bool) -> Field {
    Field::new(name, data_type, nullable)
}

pub fn schema(topic: Topic) -> SchemaRef {
    use DataType::*;
    let money = Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE);
    let mut fields = vec![
        field("unit_id", Utf8, false),
        field("day", Date32, false),
        field("occurred_at", Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        field("event_type", Utf8, false),
    ];
    fields.extend(match topic {
        Topic::Phone => vec![
            field("call_id", Utf8, false),
            field("line", Utf8, false),
            field("in_phone_hours", Boolean, true),
            field("queue_wait_seconds", Int64, true),
            field("reached", Boolean, true),
        ],
        Topic::Visits => vec![
            field("profession", Utf8, false),
            field("contact_form", Utf8, false),
            field("listed_unit_id", Utf8, true),
            field("is_first_assessment", Boolean, false),
            field("assessment_wait_days", Int64, true),
            field("patient_chosen_wait", Boolean, false),
            field("ooc_provider", Utf8, true),
            field("ooc_home_region", Utf8, true),
            field("ooc_price_sek", money.clone(), true),
            field("ooc_patient_fee_sek", money, true),
        ],
        Topic::Listings => {
            vec![field("kommun_code", Utf8, true), field("channel", Utf8, true), field("listed_count", Int64, true)]
        }
        Topic::Chats => vec![field("channel", Utf8, false)],
        other => panic!("{other} has no event table"),
    });
    Arc::new(Schema::new(fields))
}

/// One open day's events, as the shard keeps them.
pub type DayEvents<'a> = (NaiveDate, &'a [InputEvent]);

/// A run of one day's counting events (see [`crate::versions`]), as a table is built from.
pub type DayRows<'a, 'e> = (NaiveDate, &'a [&'e InputEvent]);

/// The table of `topic` in `parts` batches of about equal rows, built on a thread each: the
/// events of open days are converted on every computation, and one thread would leave the
/// other cores idle. Each batch holds whole days' runs of counting events, in order.
pub fn batches(topic: Topic, days: &[DayEvents], parts: usize) -> anyhow::Result<Vec<RecordBatch>> {
    // Versions are resolved per whole day, before a day may be cut between threads.
    let counting: Vec<(NaiveDate, Vec<&InputEvent>)> =
        days.iter().map(|(day, events)| (*day, versions::counting(topic, events))).collect();
    let days: Vec<DayRows> = counting.iter().map(|(day, events)| (*day, events.as_slice())).collect();
    let parts = split_rows(&days, parts);
    if parts.len() <= 1 {
        return parts.iter().map(|part| batch(topic, part)).collect();
    }
    std::thread::scope(|scope| {
        let threads: Vec<_> = parts.iter().map(|part| scope.spawn(move || batch(topic, part))).collect();
        threads.into_iter().map(|t| t.join().expect("a table-building thread panicked")).collect()
    })
}

/// Splits days of events into up to `parts` runs of about equal rows, in order, cutting a day
/// where a run fills up (a day's events may be most of them).
fn split_rows<'a, T>(days: &[(NaiveDate, &'a [T])], parts: usize) -> Vec<Vec<(NaiveDate, &'a [T])>> {
    let rows: usize = days.iter().map(|(_, events)| events.len()).sum();
    let per_part = rows.div_ceil(parts.max(1)).max(MIN_ROWS_PER_THREAD);
    let mut out: Vec<Vec<(NaiveDate, &[T])>> = vec![Vec::new()];
    let mut room = per_part;
    for &(day, mut events) in days {
        while !events.is_empty() {
            if room == 0 {
                out.push(Vec::new());
                room = per_part;
            }
            let (head, rest) = events.split_at(events.len().min(room));
            out.last_mut().expect("a part").push((day, head));
            room -= head.len();
            events = rest;
        }
    }
    out
}

/// Below this many rows a table is built on the calling thread: a thread would cost more.
const MIN_ROWS_PER_THREAD: usize = 16_384;

/// Builds the table of `topic` from days of events of that topic. Events of other topics are
/// a bug. The `day` column comes from the day the shard filed each event under, so no event's
/// local day is looked up again; every builder is sized up front, as the table is rebuilt for
/// the open days on each computation.
pub fn batch(topic: Topic, days: &[DayRows]) -> anyhow::Result<RecordBatch> {
    let n: usize = days.iter().map(|(_, events)| events.len()).sum();
    let mut unit = strings(n, HsaId::MAX_LEN);
    let mut day = Date32Builder::with_capacity(n);
    let mut occurred = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut event_type = strings(n, LONGEST_EVENT_TYPE);
    for (date, events) in days {
        day.append_value_n(date32(LocalDay::from_date(*date)), events.len());
        for e in events.iter() {
            unit.append_value(e.unit_id().as_str());
            occurred.append_value(e.occurred_at().timestamp_micros());
        }
    }
    let columns = match topic {
        Topic::Phone => phone_columns(days, n, &mut event_type)?,
        Topic::Visits => visit_columns(days, n, &mut event_type)?,
        Topic::Listings => listing_columns(days, n, &mut event_type)?,
        Topic::Chats => chat_columns(days, n, &mut event_type)?,
        other => anyhow::bail!("{other} has no event table"),
    };
    let mut all: Vec<ArrayRef> = vec![
        Arc::new(unit.finish()),
        Arc::new(day.finish()),
        Arc::new(occurred.finish()),
        Arc::new(event_type.finish()),
    ];
    all.extend(columns);
    Ok(RecordBatch::try_new(schema(topic), all)?)
}

fn events_of<'d, 'e>(days: &'d [DayRows<'_, 'e>]) -> impl Iterator<Item = &'e InputEvent> + 'd {
    days.iter().flat_map(|(_, events)| events.iter().copied())
}

fn wrong_topic(topic: Topic, e: &InputEvent) -> anyhow::Error {
    anyhow::anyhow!("{topic} table got a {:?}", e.topic())
}

/// The phone table's own columns (after unit, day, time and event type).
fn phone_columns(days: &[DayRows], n: usize, event_type: &mut StringBuilder) -> anyhow::Result<Vec<ArrayRef>> {
    let mut call = strings(n, CallId::MAX_LEN);
    let mut line = strings(n, LONGEST_ENUM_VALUE);
    let (mut hours, mut wait, mut reached) =
        (BooleanBuilder::with_capacity(n), Int64Builder::with_capacity(n), BooleanBuilder::with_capacity(n));
    for e in events_of(days) {
        let InputEvent::Phone(p) = e else { return Err(wrong_topic(Topic::Phone, e)) };
        event_type.append_value(p.event_type.as_str());
        call.append_value(p.call_id.as_str());
        line.append_value(p.line.as_str());
        hours.append_option(p.in_phone_hours);
        wait.append_option(p.queue_wait_seconds.map(i64::from));
        reached.append_option(p.reached);
    }
    Ok(vec![
        Arc::new(call.finish()) as ArrayRef,
        Arc::new(line.finish()),
        Arc::new(hours.finish()),
        Arc::new(wait.finish()),
        Arc::new(reached.finish()),
    ])
}

/// The visits table's own columns. An assessment's wait is counted in local days from the
/// first contact to the day the visit is filed under.
fn visit_columns(days: &[DayRows], n: usize, event_type: &mut StringBuilder) -> anyhow::Result<Vec<ArrayRef>> {
    let mut profession = strings(n, LONGEST_ENUM_VALUE);
    let mut form = strings(n, LONGEST_ENUM_VALUE);
    // Out-of-county fields are rare: their builders grow as needed.
    let mut listed = StringBuilder::with_capacity(n, 0);
    let mut first = BooleanBuilder::with_capacity(n);
    let mut wait_days = Int64Builder::with_capacity(n);
    let mut chosen = BooleanBuilder::with_capacity(n);
    let mut provider = StringBuilder::with_capacity(n, 0);
    let mut home = StringBuilder::with_capacity(n, 0);
    let mut price = decimal_builder(n);
    let mut fee = decimal_builder(n);
    for (date, events) in days {
        let visit_day = LocalDay::from_date(*date);
        for e in events.iter().copied() {
            let InputEvent::Visit(v) = e else { return Err(wrong_topic(Topic::Visits, e)) };
            // Only completed visits count (a cancelled one has no counting version), and a
            // completed visit has its profession and contact form (contract).
            let (Some(p), Some(f)) = (v.profession, v.contact_form) else {
                anyhow::bail!("a counting visit without profession or contact form: {}", v.event_id)
            };
            event_type.append_value(v.event_type.as_str());
            profession.append_value(p.as_str());
            form.append_value(f.as_str());
            listed.append_option(v.listed_unit_id.as_ref().map(|u| u.as_str()));
            first.append_value(v.assessment.is_some());
            wait_days
                .append_option(v.assessment.as_ref().map(|a| a.first_contact_at.local_day().days_until(visit_day)));
            chosen.append_value(v.assessment.as_ref().is_some_and(|a| a.patient_chosen_wait));
            let ooc = v.out_of_county.as_ref();
            provider.append_option(ooc.map(|o| o.provider.as_str()));
            home.append_option(ooc.map(|o| o.home_region.as_str()));
            price.append_option(ooc.map(|o| scaled(o.price_sek.amount())));
            fee.append_option(ooc.map(|o| scaled(o.patient_fee_sek.amount())));
        }
    }
    Ok(vec![
        Arc::new(profession.finish()) as ArrayRef,
        Arc::new(form.finish()),
        Arc::new(listed.finish()),
        Arc::new(first.finish()),
        Arc::new(wait_days.finish()),
        Arc::new(chosen.finish()),
        Arc::new(provider.finish()),
        Arc::new(home.finish()),
        Arc::new(price.finish()),
        Arc::new(fee.finish()),
    ])
}

/// The listings table's own columns.
fn listing_columns(days: &[DayRows], n: usize, event_type: &mut StringBuilder) -> anyhow::Result<Vec<ArrayRef>> {
    let (mut kommun, mut channel, mut count) =
        (strings(n, 4), strings(n, LONGEST_ENUM_VALUE), Int64Builder::with_capacity(n));
    for e in events_of(days) {
        let InputEvent::Listing(l) = e else { return Err(wrong_topic(Topic::Listings, e)) };
        event_type.append_value(l.event_type.as_str());
        kommun.append_option(l.kommun_code.as_ref().map(|k| k.as_str()));
        channel.append_option(l.channel.map(|c| c.as_str()));
        count.append_option(l.listed_count.map(i64::from));
    }
    Ok(vec![Arc::new(kommun.finish()) as ArrayRef, Arc::new(channel.finish()), Arc::new(count.finish())])
}

/// The chats table's own column.
fn chat_columns(days: &[DayRows], n: usize, event_type: &mut StringBuilder) -> anyhow::Result<Vec<ArrayRef>> {
    let mut channel = strings(n, LONGEST_ENUM_VALUE);
    for e in events_of(days) {
        let InputEvent::Chat(c) = e else { return Err(wrong_topic(Topic::Chats, e)) };
        event_type.append_value("chat_started");
        channel.append_value(c.channel.as_str());
    }
    Ok(vec![Arc::new(channel.finish()) as ArrayRef])
}

/// Bounds for sizing string builders up front: the longest event type name, and the longest
/// value of the other enumerations (professions, contact forms, lines, channels). Only
/// capacities: a longer value still fits, the builder grows.
const LONGEST_EVENT_TYPE: usize = 20;
const LONGEST_ENUM_VALUE: usize = 16;

/// A string column builder for `rows` values of up to `longest` bytes. The memory is
/// reserved, not touched: what stays unused costs no pages.
pub(crate) fn strings(rows: usize, longest: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * longest)
}

pub fn decimal_builder(capacity: usize) -> Decimal128Builder {
    Decimal128Builder::with_capacity(capacity)
        .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)
        .expect("valid decimal type")
}

/// A decimal as an Arrow Decimal128 value at [`DECIMAL_SCALE`].
pub fn scaled(d: rust_decimal::Decimal) -> i128 {
    let mut d = d;
    d.rescale(DECIMAL_SCALE as u32);
    d.mantissa()
}

/// An Arrow Decimal128 value at `scale` as an exact decimal.
pub fn unscaled(v: i128, scale: i8) -> rust_decimal::Decimal {
    rust_decimal::Decimal::from_i128_with_scale(v, scale as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::compute::concat_batches;
    use vardpuls_core::events::decode;

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    #[test]
    fn rows_split_into_equal_runs_in_order_cutting_days() {
        let (a, b) = (vec![0u32; 30_000], vec![1u32; 10_000]);
        let parts = split_rows(&[(date(1), &a[..]), (date(2), &b[..])], 2);
        let shape: Vec<Vec<(NaiveDate, usize)>> =
            parts.iter().map(|part| part.iter().map(|(d, rows)| (*d, rows.len())).collect()).collect();
        assert_eq!(shape, vec![vec![(date(1), 20_000)], vec![(date(1), 10_000), (date(2), 10_000)]]);
        // Small tables stay in one part.
        assert_eq!(split_rows(&[(date(2), &b[..])], 2).len(), 1);
    }

    #[test]
    fn a_table_built_in_parts_holds_the_same_rows_as_one_built_whole() {
        let events: Vec<InputEvent> = (0..40_000)
            .map(|i| {
                let json = format!(
                    r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{i:012}","event_type":"chat_started","occurred_at":"2026-03-29T10:00:00+02:00","unit_id":"SE2321000180-E{:03}","chat_id":"c{i}","channel":"other"}}"#,
                    i % 7
                );
                decode(Topic::Chats, json.as_bytes()).unwrap()
            })
            .collect();
        let days = [(date(28), &events[..15_000]), (date(29), &events[15_000..])];
        let refs: Vec<&InputEvent> = events.iter().collect();
        let whole = batch(Topic::Chats, &[(date(28), &refs[..15_000]), (date(29), &refs[15_000..])]).unwrap();
        let parts = batches(Topic::Chats, &days, 2).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(concat_batches(&whole.schema(), &parts).unwrap(), whole);
    }
}
