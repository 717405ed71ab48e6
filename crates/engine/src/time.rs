use std::fmt;

/// An instant of simulated time: nanoseconds since the start of the run.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

/// A span of simulated time, in nanoseconds.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Adds a span, saturating at [`SimTime::MAX`] so that "never" stays representable.
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// The span from `earlier` to `self`, or zero when `earlier` is later.
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us.saturating_mul(NS_PER_US))
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(NS_PER_MS))
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(NS_PER_S))
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds as a float, for reports only: simulation state never holds it.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    pub const fn saturating_add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(o.0))
    }
    pub const fn saturating_mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.saturating_mul(k))
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for SimDuration {
    /// The shortest exact form in the largest unit that divides it: "250ms", "90s", "1m",
    /// "1500us". What no microsecond divides (a random draw, usually) is written exactly with
    /// a decimal fraction of the largest of s, ms and us it reaches: "217.947619ms", not
    /// "217947619ns".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        for (unit, size) in [
            ("d", 86_400 * NS_PER_S),
            ("h", 3_600 * NS_PER_S),
            ("m", 60 * NS_PER_S),
            ("s", NS_PER_S),
            ("ms", NS_PER_MS),
            ("us", NS_PER_US),
        ] {
            if ns != 0 && ns.is_multiple_of(size) {
                return write!(f, "{}{}", ns / size, unit);
            }
        }
        if ns == 0 {
            return write!(f, "0s");
        }
        for (unit, size, places) in [
            ("s", NS_PER_S, 9),
            ("ms", NS_PER_MS, 6),
            ("us", NS_PER_US, 3),
        ] {
            if ns >= size {
                let frac = format!("{:0places$}", ns % size);
                return write!(f, "{}.{}{unit}", ns / size, frac.trim_end_matches('0'));
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SimTime {
    /// Seconds with nanosecond precision: "12.000250000s".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}s", self.0 / NS_PER_S, self.0 % NS_PER_S)
    }
}

/// Why a duration written for people could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationParseError {
    #[error("expected a duration such as \"250ms\", \"1.5s\" or \"24h\", found {0:?}")]
    Malformed(String),
    #[error("unknown unit {unit:?} in {text:?}: expected one of ns, us, ms, s, m, h, d")]
    UnknownUnit { text: String, unit: String },
    #[error("expected a duration without an exponent, such as \"250ms\" or \"3h\", found {0:?}")]
    Exponent(String),
    #[error(
        "duration {0:?} is too long: the longest is just under 213504d (2^64 ns, about 584 years)"
    )]
    Overflow(String),
    #[error("duration {0:?} is finer than a nanosecond")]
    TooPrecise(String),
}

/// Parses a duration written for people: a non-negative decimal number and a unit
/// (`ns`, `us`, `ms`, `s`, `m`, `h`, `d`), such as `"250ms"`, `"1.5s"`, `"24h"`.
/// Integer arithmetic only, so the same text gives the same nanoseconds everywhere.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|&i| i > 0)
        .ok_or_else(|| DurationParseError::Malformed(text.to_string()))?;
    let (num, unit) = s.split_at(split);
    let unit = unit.trim();
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => NS_PER_US,
        "ms" => NS_PER_MS,
        "s" => NS_PER_S,
        "m" | "min" => 60 * NS_PER_S,
        "h" => 3_600 * NS_PER_S,
        "d" => 86_400 * NS_PER_S,
        // "1e9h" reads as 1 of unit "e9h": say what is wrong rather than name that unit.
        _ if unit.starts_with(['e', 'E'])
            && unit[1..].starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+') =>
        {
            return Err(DurationParseError::Exponent(text.to_string()))
        }
        _ => {
            return Err(DurationParseError::UnknownUnit {
                text: text.to_string(),
                unit: unit.to_string(),
            })
        }
    };
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() || frac_part.contains('.') {
        return Err(DurationParseError::Malformed(text.to_string()));
    }
    let overflow = || DurationParseError::Overflow(text.to_string());
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| overflow())?
    };
    let mut total = int.checked_mul(scale).ok_or_else(overflow)?;
    let mut place = scale;
    for c in frac_part.chars() {
        let digit = u64::from(c as u8 - b'0');
        if !place.is_multiple_of(10) {
            // Below a nanosecond only zeros are exact: "1.0ns", "2.50000000ms".
            if digit != 0 {
                return Err(DurationParseError::TooPrecise(text.to_string()));
            }
            continue;
        }
        place /= 10;
        total = total.checked_add(digit * place).ok_or_else(overflow)?;
    }
    Ok(SimDuration(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_for_people() {
        assert_eq!(parse_duration("250ms"), Ok(SimDuration::from_millis(250)));
        assert_eq!(parse_duration("60s"), Ok(SimDuration::from_secs(60)));
        assert_eq!(parse_duration("1.5s"), Ok(SimDuration::from_millis(1500)));
        assert_eq!(parse_duration("24h"), Ok(SimDuration::from_secs(86_400)));
        assert_eq!(parse_duration("0ms"), Ok(SimDuration::ZERO));
        assert_eq!(parse_duration(" 7 us"), Ok(SimDuration::from_micros(7)));
        assert_eq!(SimDuration::from_secs(60).to_string(), "1m");
    }

    /// Regression: a zero below the nanosecond was refused as too precise, though the value
    /// is exact.
    #[test]
    fn zeros_below_a_nanosecond_are_exact() {
        for (text, ns) in [
            ("1.0ns", 1),
            ("3.0000us", 3_000),
            ("2.50000000ms", 2_500_000),
            ("1.0000000000s", 1_000_000_000),
            ("0.000000001s", 1),
            ("0.0000000010s", 1),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(SimDuration::from_nanos(ns)),
                "{text}"
            );
        }
        for text in ["1.5ns", "1.0001us", "0.0000000001s", "1.00000000001s"] {
            assert!(
                matches!(parse_duration(text), Err(DurationParseError::TooPrecise(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        assert!(matches!(
            parse_duration("250"),
            Err(DurationParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("-5s"),
            Err(DurationParseError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("5 parsecs"),
            Err(DurationParseError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("1.0000000001s"),
            Err(DurationParseError::TooPrecise(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999d"),
            Err(DurationParseError::Overflow(_))
        ));
    }

    /// Regression: "1e9h" was refused as the unknown unit "e9h".
    #[test]
    fn an_exponent_is_refused_as_such() {
        for text in ["1e9h", "2E3ms", "1e-3s", "5e+2s"] {
            assert_eq!(
                parse_duration(text),
                Err(DurationParseError::Exponent(text.into())),
                "{text}"
            );
        }
        assert!(matches!(
            parse_duration("5eons"),
            Err(DurationParseError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn display_round_trips() {
        for text in ["250ms", "90s", "1d", "1500us", "7ns", "3m", "2d"] {
            assert_eq!(parse_duration(text).unwrap().to_string(), text);
        }
    }

    /// Regression: a duration no microsecond divides (a jittered backoff) was written as a
    /// bare count of nanoseconds, "217947619ns", hard to read beside "200ms".
    #[test]
    fn a_duration_below_the_microsecond_reads_as_a_decimal() {
        for (ns, text) in [
            (217_947_619, "217.947619ms"),
            (1_000_000_001, "1.000000001s"),
            (3_600_000_000_001, "3600.000000001s"),
            (1_500_000_010, "1.50000001s"),
            (1_001, "1.001us"),
            (999, "999ns"),
            (1_000_010, "1.00001ms"),
        ] {
            let d = SimDuration::from_nanos(ns);
            assert_eq!(d.to_string(), text);
            assert_eq!(parse_duration(text), Ok(d), "{text} reads back");
        }
    }
}
