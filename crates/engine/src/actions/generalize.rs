//! The `generalize` action: a value coarsened instead of kept or removed, so that it
//! still says something (an age band, a month) while fewer patients share nothing else.
//!
//! Spellings of `to` in a rule file and what they write, always valid for the VR:
//!
//! | `to` | VR | written |
//! |---|---|---|
//! | `Ny` (e.g. `10y`) | AS | the band's lower bound in years: `045Y` → `040Y` for 40–49; ages of 90 and more stay pooled as `090Y` (Safe Harbor) |
//! | `month` | DA, DT | `YYYYMM01` |
//! | `year` | DA, DT | `YYYY0101` |
//! | a number (`5`, `0.1`) | DS, FL, FD; and IS, US, SS, UL, SL, UV, SV when whole | the nearest multiple of it |
//!
//! A value that does not read as its VR (a malformed date) is dropped, as a date shift
//! drops it: nothing unparsed is written as if it had been coarsened.

use crate::actions::dates;
use dicom_core::value::PrimitiveValue;
use dicom_core::VR;
use serde::{Serialize, Serializer};
use std::fmt;

/// A parsed `to`. Steps are exact decimals (`units` × 10^-`scale`), so `0.1` stays 0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generalization {
    /// Ages into bands of this many years.
    AgeBand(u8),
    /// Dates (and date-times) cut to their month: `YYYYMM01`.
    Month,
    /// Dates (and date-times) cut to their year: `YYYY0101`.
    Year,
    /// Numbers rounded to the nearest multiple of `units / 10^scale`.
    Multiple {
        /// The step's digits.
        units: u64,
        /// Decimal places of the step.
        scale: u8,
    },
}

/// Ages from which Safe Harbor pools every patient in one group.
const AGE_POOL: u32 = 90;

impl Generalization {
    /// Parses a `to` spelling (case-insensitive, surrounding spaces ignored).
    pub fn parse(spec: &str) -> Result<Generalization, String> {
        let s = spec.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "`{}` is not a generalization: expected Ny (age bands of N years, e.g. 10y), month, year or a step such as 5 or 0.1",
                spec.chars().take(20).collect::<String>()
            )
        };
        match s.as_str() {
            "month" => return Ok(Generalization::Month),
            "year" => return Ok(Generalization::Year),
            _ => {}
        }
        if let Some(n) = s.strip_suffix('y') {
            let years: u8 = n.parse().map_err(|_| bad())?;
            if !(1..=89).contains(&years) || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("age bands are 1 to 89 years wide, not {n}"));
            }
            return Ok(Generalization::AgeBand(years));
        }
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
            || frac.len() > 6
            || int.len() > 12
        {
            return Err(bad());
        }
        let units: u64 = format!("{int}{frac}").parse().map_err(|_| bad())?;
        if units == 0 {
            return Err("a rounding step must be greater than 0".into());
        }
        // 2.50 and 2.5 are the same step.
        let (mut units, mut scale) = (units, frac.len() as u8);
        while scale > 0 && units % 10 == 0 {
            units /= 10;
            scale -= 1;
        }
        Ok(Generalization::Multiple { units, scale })
    }

    /// The canonical spelling, as a rule file holds it.
    pub fn spec(&self) -> String {
        self.to_string()
    }

    /// Whether it can coarsen values of this VR; the error says what fits instead.
    pub fn fits(&self, vr: VR) -> Result<(), String> {
        let ok = match self {
            Generalization::AgeBand(_) => vr == VR::AS,
            Generalization::Month | Generalization::Year => matches!(vr, VR::DA | VR::DT),
            Generalization::Multiple { scale, .. } => match vr {
                VR::DS | VR::FL | VR::FD => true,
                VR::IS | VR::US | VR::SS | VR::UL | VR::SL | VR::UV | VR::SV => {
                    if *scale > 0 {
                        return Err(format!(
                            "{self} is not a whole number, and {vr} holds whole numbers"
                        ));
                    }
                    true
                }
                _ => false,
            },
        };
        if ok {
            return Ok(());
        }
        let what = match self {
            Generalization::AgeBand(_) => "age bands (Ny) apply to ages (AS)",
            Generalization::Month | Generalization::Year => {
                "month and year apply to dates (DA, DT)"
            }
            Generalization::Multiple { .. } => {
                "rounding steps apply to numbers (DS, IS, US, SS, UL, SL, UV, SV, FL, FD)"
            }
        };
        Err(format!("{what}, not to {vr}"))
    }

    fn step(&self) -> Option<f64> {
        match self {
            Generalization::Multiple { units, scale } => {
                Some(*units as f64 / 10f64.powi(i32::from(*scale)))
            }
            _ => None,
        }
    }

    /// The coarsened form of one value held as text (AS, DA, DT, DS, IS: one component,
    /// already split at `\`). `None` when the value does not read as its kind.
    pub fn text(&self, value: &str) -> Option<String> {
        let v = value.trim();
        if v.is_empty() {
            return Some(String::new());
        }
        match self {
            Generalization::AgeBand(width) => {
                let years = dates::age_years(v)?;
                let band = if years >= AGE_POOL {
                    AGE_POOL
                } else {
                    years - years % u32::from(*width)
                };
                Some(format!("{band:03}Y"))
            }
            Generalization::Month => {
                let digits = v
                    .get(..6)
                    .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
                let month: u32 = digits[4..].parse().ok()?;
                (1..=12).contains(&month).then(|| format!("{digits}01"))
            }
            Generalization::Year => dates::year_only(v),
            Generalization::Multiple { scale, .. } => {
                let x: f64 = v.parse().ok().filter(|x: &f64| x.is_finite())?;
                let r = self.round(x)?;
                Some(format!("{r:.*}", usize::from(*scale)))
            }
        }
    }

    /// The coarsened value of an element of this VR, every component coarsened; the
    /// components that do not read as the VR are dropped (all of them: empty).
    pub fn value(&self, vr: VR, value: &PrimitiveValue) -> PrimitiveValue {
        let numbers = || -> Vec<f64> {
            value
                .to_multi_float64()
                .map(|xs| xs.into_iter().filter_map(|x| self.round(x)).collect())
                .unwrap_or_default()
        };
        // Whole-number VRs: the nearest multiple that the VR can hold.
        let within = |lo: f64, hi: f64| -> Vec<f64> {
            let step = self.step().unwrap_or(1.0);
            numbers()
                .into_iter()
                .map(|x| {
                    if x > hi {
                        (hi / step).floor() * step
                    } else if x < lo {
                        (lo / step).ceil() * step
                    } else {
                        x
                    }
                })
                .collect()
        };
        let out = match vr {
            VR::US => PrimitiveValue::U16(
                within(0.0, f64::from(u16::MAX))
                    .iter()
                    .map(|x| *x as u16)
                    .collect(),
            ),
            VR::SS => PrimitiveValue::I16(
                within(f64::from(i16::MIN), f64::from(i16::MAX))
                    .iter()
                    .map(|x| *x as i16)
                    .collect(),
            ),
            VR::UL => PrimitiveValue::U32(
                within(0.0, f64::from(u32::MAX))
                    .iter()
                    .map(|x| *x as u32)
                    .collect(),
            ),
            VR::SL => PrimitiveValue::I32(
                within(f64::from(i32::MIN), f64::from(i32::MAX))
                    .iter()
                    .map(|x| *x as i32)
                    .collect(),
            ),
            VR::UV => PrimitiveValue::U64(
                within(0.0, u64::MAX as f64)
                    .iter()
                    .map(|x| *x as u64)
                    .collect(),
            ),
            VR::SV => PrimitiveValue::I64(
                within(i64::MIN as f64, i64::MAX as f64)
                    .iter()
                    .map(|x| *x as i64)
                    .collect(),
            ),
            VR::FL => PrimitiveValue::F32(numbers().iter().map(|x| *x as f32).collect()),
            VR::FD => PrimitiveValue::F64(numbers().into()),
            _ => {
                let out: Vec<String> = value
                    .to_multi_str()
                    .iter()
                    .filter_map(|s| self.text(s))
                    .collect();
                if out.iter().all(String::is_empty) {
                    PrimitiveValue::Empty
                } else {
                    PrimitiveValue::Strs(out.into())
                }
            }
        };
        if out.multiplicity() == 0 {
            PrimitiveValue::Empty
        } else {
            out
        }
    }

    /// The nearest multiple of the step (`None` for other generalizations).
    pub fn round(&self, x: f64) -> Option<f64> {
        let step = self.step()?;
        let r = (x / step).round() * step;
        // -0 prints as "-0".
        Some(if r == 0.0 { 0.0 } else { r })
    }
}

impl fmt::Display for Generalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Generalization::AgeBand(n) => write!(f, "{n}y"),
            Generalization::Month => f.write_str("month"),
            Generalization::Year => f.write_str("year"),
            Generalization::Multiple { units, scale } => {
                let s = units.to_string();
                let scale = usize::from(*scale);
                if scale == 0 {
                    f.write_str(&s)
                } else {
                    let padded = format!("{s:0>width$}", width = scale + 1);
                    let (int, frac) = padded.split_at(padded.len() - scale);
                    write!(f, "{int}.{frac}")
                }
            }
        }
    }
}

impl Serialize for Generalization {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.spec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Generalization {
        Generalization::parse(s).unwrap()
    }

    #[test]
    fn spellings_parse_and_print_canonically() {
        assert_eq!(g("10y"), Generalization::AgeBand(10));
        assert_eq!(g(" 5Y "), Generalization::AgeBand(5));
        assert_eq!(g("Month"), Generalization::Month);
        assert_eq!(g("year"), Generalization::Year);
        assert_eq!(g("5"), Generalization::Multiple { units: 5, scale: 0 });
        assert_eq!(g("2.50").spec(), "2.5");
        assert_eq!(g("0.05").spec(), "0.05");
        assert_eq!(g("10.0").spec(), "10");
        assert_eq!(g("5.").spec(), "5");
        for bad in [
            "", "0", "0.0", "-5", "ten", "y", "0y", "90y", "1e3", ".", "1.2.3",
        ] {
            assert!(Generalization::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn each_kind_fits_its_vrs_only() {
        assert!(g("10y").fits(VR::AS).is_ok());
        assert!(g("10y").fits(VR::DA).is_err());
        assert!(g("month").fits(VR::DT).is_ok());
        assert!(g("year").fits(VR::AS).is_err());
        assert!(g("5").fits(VR::IS).is_ok());
        assert!(g("5").fits(VR::US).is_ok());
        assert!(g("0.5").fits(VR::DS).is_ok());
        let e = g("0.5").fits(VR::IS).unwrap_err();
        assert!(e.contains("whole"), "{e}");
        assert!(g("5").fits(VR::LO).is_err());
        assert!(g("5").fits(VR::AS).is_err());
    }

    #[test]
    fn values_are_coarsened_validly() {
        let band = g("10y");
        assert_eq!(band.text("045Y").unwrap(), "040Y");
        assert_eq!(band.text("040Y").unwrap(), "040Y");
        assert_eq!(band.text("49Y").unwrap(), "040Y");
        assert_eq!(band.text("006M").unwrap(), "000Y");
        assert_eq!(band.text("093Y").unwrap(), "090Y");
        assert_eq!(g("5y").text("097Y").unwrap(), "090Y");
        assert_eq!(g("5y").text("087Y").unwrap(), "085Y");
        assert_eq!(band.text(""), Some(String::new()));
        assert_eq!(band.text("old"), None);
        assert_eq!(g("month").text("20240517").unwrap(), "20240501");
        assert_eq!(g("month").text("20240517101500").unwrap(), "20240501");
        assert_eq!(g("month").text("20241317"), None);
        assert_eq!(g("year").text("20240517").unwrap(), "20240101");
        assert_eq!(g("5").text("72.4").unwrap(), "70");
        assert_eq!(g("5").text("72.5").unwrap(), "75");
        assert_eq!(g("0.1").text("1.76").unwrap(), "1.8");
        assert_eq!(g("0.05").text("1.76").unwrap(), "1.75");
        assert_eq!(g("10").text("-3").unwrap(), "0");
        assert_eq!(g("5").text("n/a"), None);
        assert_eq!(g("5").round(12.0), Some(10.0));
        let strs = |v: &[&str]| PrimitiveValue::Strs(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(g("10y").value(VR::AS, &strs(&["045Y"])), strs(&["040Y"]));
        assert_eq!(
            g("year").value(VR::DA, &strs(&["bad"])),
            PrimitiveValue::Empty
        );
        assert_eq!(
            g("5").value(VR::DS, &strs(&["72.4", "x", "3"])),
            strs(&["70", "5"])
        );
        assert_eq!(
            g("10").value(VR::US, &PrimitiveValue::U16(vec![65534, 14].into())),
            PrimitiveValue::U16(vec![65530, 10].into())
        );
        assert_eq!(
            g("0.5").value(VR::FD, &PrimitiveValue::F64(vec![1.3].into())),
            PrimitiveValue::F64(vec![1.5].into())
        );
        assert_eq!(g("month").round(12.0), None);
    }
}
