//! Partial aggregates: what the catalogue's SQL returns and what closed days keep.
//!
//! A partial is one KPI's numerator, denominator and pending count for one unit, period and
//! breakdown. Partials of days merge into months by summing, so a closed day keeps its
//! partials and drops its events.

use crate::tables::{DECIMAL_SCALE, unscaled};
use compact_str::CompactString;
use datafusion::arrow::array::{Array, Date32Array, Decimal128Array, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DECIMAL128_MAX_PRECISION, DataType};
use datafusion::arrow::record_batch::RecordBatch;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use vardpuls_core::calendar::{LocalDay, LocalMonth};
use vardpuls_core::catalogue::KpiId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Period {
    Day(chrono::NaiveDate),
    Month { year: i32, month: u32 },
}

impl Period {
    pub fn day(d: LocalDay) -> Period {
        Period::Day(d.date())
    }

    pub fn month(m: LocalMonth) -> Period {
        Period::Month { year: m.year, month: m.month }
    }

    pub fn local_month(&self) -> LocalMonth {
        match *self {
            Period::Day(d) => LocalDay::from_date(d).month(),
            Period::Month { year, month } => LocalMonth { year, month },
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Day(d) => LocalDay::from_date(*d).fmt(f),
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
        }
    }
}

/// Its text fields are inline up to 24 bytes (`CompactString`): a batch makes, compares and
/// drops thousands of partials, and most KPI names, unit ids and breakdowns fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partial {
    pub kpi: KpiId,
    pub unit_id: CompactString,
    pub period: Period,
    /// Canonical breakdown `k=v;k=v` (keys sorted), empty for the total.
    pub dimensions: CompactString,
    pub numerator: Decimal,
    pub denominator: Option<Decimal>,
    pub pending: Option<i64>,
    /// The latest `occurred_at` behind the value, in microseconds since the epoch.
    pub last_event_at: Option<i64>,
    /// How many cases (calls, visits, contacts, listings) the value rests on, where neither
    /// the denominator nor the numerator counts them: a sum of money, a net change. Small-cell
    /// suppression reads it (docs/metrics.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cases: Option<i64>,
    /// How often a final value was restated (published again, changed, after it was final);
    /// 0 for values not final yet and for values as first made final.
    #[serde(default)]
    pub revision: u32,
}

impl Partial {
    /// Whether `other` is the same KPI value: KPI, unit, period and breakdown.
    pub fn same_key(&self, other: &Partial) -> bool {
        self.kpi == other.kpi
            && self.unit_id == other.unit_id
            && self.period == other.period
            && self.dimensions == other.dimensions
    }

    /// The partial as its period is closed: nothing is pending any more (a call still pending
    /// at the end of its day was a miss), so a month sums only its open days' pending calls.
    pub fn as_closed(self) -> Partial {
        Partial { pending: self.pending.map(|_| 0), ..self }
    }

    /// Whether `other` carries the same figures, whatever its revision.
    pub fn same_figures(&self, other: &Partial) -> bool {
        self.numerator == other.numerator
            && self.denominator == other.denominator
            && self.pending == other.pending
            && self.cases == other.cases
            && self.last_event_at == other.last_event_at
    }
}

/// Reads the results of the query `query`. Daily results have a `day` column, monthly ones a
/// `month` column; queries of several KPIs have a `kpi` column, which overrides `kpi`.
pub fn from_batches(query: &str, kpi: Option<KpiId>, batches: &[RecordBatch]) -> anyhow::Result<Vec<Partial>> {
    let mut out = Vec::new();
    for batch in batches {
        let column = |name: &str, as_type: &DataType| -> anyhow::Result<std::sync::Arc<dyn Array>> {
            let c =
                batch.column_by_name(name).ok_or_else(|| anyhow::anyhow!("{query}: result has no column `{name}`"))?;
            Ok(cast(c, as_type)?)
        };
        let text = |name: &str| -> anyhow::Result<StringArray> {
            Ok(column(name, &DataType::Utf8)?.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
        };
        // Read at the widest precision: a sum may need more digits than its inputs.
        let decimal = DataType::Decimal128(DECIMAL128_MAX_PRECISION, DECIMAL_SCALE);
        let units = text("unit_id")?;
        let dims = text("dimensions")?;
        let kpis = batch.column_by_name("kpi").map(|_| text("kpi")).transpose()?;
        let num = column("numerator", &decimal)?;
        let num = num.as_any().downcast_ref::<Decimal128Array>().expect("decimal");
        let den = column("denominator", &decimal)?;
        let den = den.as_any().downcast_ref::<Decimal128Array>().expect("decimal");
        let pending = column("pending", &DataType::Int64)?;
        let pending = pending.as_any().downcast_ref::<Int64Array>().expect("int64");
        let last = column("last_event_at", &DataType::Int64)?;
        let last = last.as_any().downcast_ref::<Int64Array>().expect("int64");
        let cases = batch.column_by_name("cases").map(|_| column("cases", &DataType::Int64)).transpose()?;
        let cases = cases.as_ref().map(|c| c.as_any().downcast_ref::<Int64Array>().expect("int64"));
        let days = batch.column_by_name("day").map(|_| column("day", &DataType::Date32)).transpose()?;
        let months = batch.column_by_name("month").map(|_| text("month")).transpose()?;
        for i in 0..batch.num_rows() {
            let period = match (&days, &months) {
                (Some(d), _) => {
                    let d = d.as_any().downcast_ref::<Date32Array>().expect("date32");
                    Period::day(crate::tables::from_date32(d.value(i)))
                }
                (None, Some(m)) => parse_month(m.value(i))?,
                (None, None) => anyhow::bail!("{query}: result has neither `day` nor `month`"),
            };
            let kpi = match (&kpis, kpi) {
                (Some(ids), _) => ids.value(i).parse().map_err(|e| anyhow::anyhow!("{query}: {e}"))?,
                (None, Some(kpi)) => kpi,
                (None, None) => anyhow::bail!("{query}: result has no `kpi` column"),
            };
            out.push(Partial {
                kpi,
                unit_id: units.value(i).into(),
                period,
                dimensions: dims.value(i).into(),
                numerator: if num.is_null(i) { Decimal::ZERO } else { unscaled(num.value(i), DECIMAL_SCALE) },
                denominator: (!den.is_null(i)).then(|| unscaled(den.value(i), DECIMAL_SCALE)),
                pending: (!pending.is_null(i)).then(|| pending.value(i)),
                last_event_at: (!last.is_null(i)).then(|| last.value(i)),
                cases: cases.and_then(|c| (!c.is_null(i)).then(|| c.value(i))),
                revision: 0,
            });
        }
    }
    Ok(out)
}

fn parse_month(s: &str) -> anyhow::Result<Period> {
    let (y, m) = s.split_once('-').ok_or_else(|| anyhow::anyhow!("bad month `{s}`"))?;
    Ok(Period::Month { year: y.parse()?, month: m.parse()? })
}
