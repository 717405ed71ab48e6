//! Rows of results: one per cell and seed, every metric a column, as CSV.
//!
//! A number is written in Rust's shortest form that reads back to the same bits, so a file
//! read back gives exactly the values that were run; the report is always made from the files
//! on disk, which is what makes a resumed or merged folder equal to one run.

use payfault_domain::metrics::Metrics;
use payfault_domain::{Outcome, Property};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Metric columns: the fields of [`Metrics`] in their declared order (nested ones joined with
/// `_`), then violations per property and in all.
pub fn metric_columns() -> Vec<String> {
    let mut cols: Vec<String> = flatten(&Metrics::default())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    cols.extend(Property::ALL.iter().map(|p| violation_column(*p)));
    cols.push("violations".into());
    cols
}

pub fn violation_column(p: Property) -> String {
    format!("violations_{}", p.name().replace('-', "_"))
}

/// The metric values of one run, in [`metric_columns`] order.
pub fn metric_values(out: &Outcome) -> Vec<String> {
    let mut vals: Vec<String> = flatten(&out.metrics).into_iter().map(|(_, v)| v).collect();
    vals.extend(out.by_property.iter().map(|n| n.to_string()));
    vals.push(out.violation_count.to_string());
    vals
}

fn flatten(m: &Metrics) -> Vec<(String, String)> {
    // JSON keeps the declared field order, which a map type would lose.
    let json = serde_json::to_string(m).expect("metrics serialise");
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(&json);
    Flat {
        prefix: String::new(),
        out: &mut out,
    }
    .deserialize(&mut de)
    .expect("metrics read back");
    out
}

struct Flat<'a> {
    prefix: String,
    out: &'a mut Vec<(String, String)>,
}

impl Flat<'_> {
    fn push(self, v: String) {
        self.out.push((self.prefix, v));
    }
    fn key(&self, k: &str) -> String {
        if self.prefix.is_empty() {
            k.to_string()
        } else {
            format!("{}_{k}", self.prefix)
        }
    }
}

impl<'de> DeserializeSeed<'de> for Flat<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flat<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("metrics")
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.push(v.to_string());
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.push(v.to_string());
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.push(number(v));
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.push(u8::from(v).to_string());
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.push(String::new());
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.push(v.to_string());
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<String>()? {
            let prefix = self.key(&k);
            map.next_value_seed(Flat {
                prefix,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let prefix = self.key(&i.to_string());
            let seed = Flat {
                prefix,
                out: &mut *self.out,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// Shortest text that reads back to the same `f64`.
pub fn number(v: f64) -> String {
    format!("{v}")
}

/// A CSV field, quoted when it must be (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn line(fields: &[String]) -> String {
    let mut s = fields
        .iter()
        .map(|f| field(f))
        .collect::<Vec<_>>()
        .join(",");
    s.push('\n');
    s
}

/// Splits CSV text into records of fields (quoted fields may hold commas, quotes and line
/// breaks).
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push('"');
                }
                '"' => quoted = false,
                _ => cur.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' => {
                row.push(std::mem::take(&mut cur));
                at_field_start = true;
            }
            '\n' => {
                row.push(std::mem::take(&mut cur));
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            '\r' => {}
            _ => {
                cur.push(c);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    if !cur.is_empty() || !row.is_empty() {
        row.push(cur);
        rows.push(row);
    }
    Ok(rows)
}

/// The rows of one cell as read back: seed and metric values, in seed order.
#[derive(Clone, Debug)]
pub struct CellRows {
    pub seeds: Vec<u64>,
    /// `values[column][seed index]`
    pub values: Vec<Vec<f64>>,
    /// The rows' CSV text without the header, as it goes into results.csv.
    pub body: String,
}

/// Reads a cell file, checking its header and that it holds exactly the expected seeds.
pub fn read_cell(
    text: &str,
    header: &str,
    label_columns: usize,
    seeds: &[u64],
) -> Result<CellRows, String> {
    let body = text
        .strip_prefix(header)
        .ok_or("its header is not this sweep's (written by another version?)")?;
    let records = parse_csv(body)?;
    let metric_count = header_fields(header) - label_columns - 1;
    let mut values = vec![Vec::with_capacity(seeds.len()); metric_count];
    let mut found = Vec::with_capacity(seeds.len());
    for r in &records {
        if r.len() != label_columns + 1 + metric_count {
            return Err(format!(
                "a row has {} fields, not {}",
                r.len(),
                label_columns + 1 + metric_count
            ));
        }
        let seed: u64 = r[label_columns]
            .parse()
            .map_err(|_| format!("`{}` is not a seed", r[label_columns]))?;
        found.push(seed);
        for (col, v) in r[label_columns + 1..].iter().enumerate() {
            let x = if v.is_empty() {
                f64::NAN
            } else {
                v.parse::<f64>()
                    .map_err(|_| format!("`{v}` is not a number"))?
            };
            values[col].push(x);
        }
    }
    if found != seeds {
        return Err(format!(
            "it holds {} {}, not one for each of the {} seeds",
            found.len(),
            if found.len() == 1 { "row" } else { "rows" },
            seeds.len()
        ));
    }
    Ok(CellRows {
        seeds: found,
        values,
        body: body.to_string(),
    })
}

fn header_fields(header: &str) -> usize {
    parse_csv(header).map_or(0, |r| r.first().map_or(0, |f| f.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_metrics_declaration() {
        let cols = metric_columns();
        assert_eq!(cols[0], "intents");
        for c in [
            "completion_latency_p99_ms",
            "peak_queue_bank",
            "duplicates_per_million_permanent",
            "violations_no_duplicate_debit",
        ] {
            assert!(cols.iter().any(|k| k == c), "{c} missing from {cols:?}");
        }
        assert_eq!(cols.last().map(String::as_str), Some("violations"));
    }

    #[test]
    fn csv_round_trips_awkward_fields() {
        let f = vec![
            "a,b".to_string(),
            "say \"hi\"".into(),
            "".into(),
            "x\ny".into(),
        ];
        let text = line(&f) + &line(&["1".into(), "2".into(), "3".into(), "4".into()]);
        let back = parse_csv(&text).expect("valid");
        assert_eq!(back[0], f);
        assert_eq!(back.len(), 2);
    }

    #[test]
    fn numbers_read_back_to_the_same_bits() {
        for v in [0.1 + 0.2, 1e-9, 41.762_082_441, 3.0e21, 0.0] {
            assert_eq!(
                number(v).parse::<f64>().expect("number").to_bits(),
                v.to_bits()
            );
        }
    }
}
