//! The figures of one grouping of records into equivalence classes (records that share
//! every quasi-identifier value), with the definitions of ARX's sample risk summary
//! (Prasser et al.; El Emam, *Guide to the De-Identification of Personal Health
//! Information*, 2013, "Measuring the probability of re-identification"):
//!
//! - **prosecutor** (the attacker knows the patient is in the data): a record in a class
//!   of `f` records is re-identified with probability `1/f`; the maximum is `1/k_min`,
//!   the average over records `classes / records`.
//! - **journalist** and **marketer** (the attacker knows only that the patient belongs to
//!   a population of `N` people the data was drawn from): the probability is `1/F`, `F`
//!   the size of the class in the population, which is unknown. It is estimated with the
//!   model of the individual risk of Benedetti and Franconi (1998) used by μ-ARGUS and
//!   sdcMicro (Franconi & Polettini, *Individual risk estimation in μ-Argus: a review*,
//!   PSD 2004): with every record drawn with the same probability `π = n/N`, `F` given
//!   `f` is `f` plus a negative binomial of `f` successes of probability `π`, and the risk
//!   of a record is `E[1/F | f] = π ∫₀¹ u^(f-1) / (π + (1-π)u) du`. The journalist
//!   maximum is that of the smallest class; the marketer risk (the expected share of
//!   records re-identified when every record is matched) is its average over records,
//!   which in this model is also the journalist's average. With `N = n` both are the
//!   prosecutor figures.

use serde::Serialize;
use std::collections::HashMap;

/// The population model, as reports state it.
pub const POPULATION_MODEL: &str = "Benedetti-Franconi individual risk (as in mu-Argus and sdcMicro): F | f ~ f + NegBin(f, n/N), risk = E[1/F | f]";

/// Figures of one grouping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Records grouped (patients or studies).
    pub records: u64,
    /// Equivalence classes: distinct combinations of the quasi-identifiers' values.
    pub classes: u64,
    /// The smallest class (0 without records).
    pub k_min: u64,
    /// Records alone in their class (k = 1).
    pub unique_records: u64,
    /// Records in classes of fewer than 5.
    pub records_below_k5: u64,
    /// Records in classes of fewer than 11 (the threshold of many data-release policies).
    pub records_below_k11: u64,
    /// Prosecutor risk (the attacker knows the patient is in the data): the highest, `1 / k_min`.
    pub prosecutor_risk_max: f64,
    /// Prosecutor risk averaged over the records: `classes / records`.
    pub prosecutor_risk_avg: f64,
    /// With a population size only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub journalist_risk_max: Option<f64>,
    /// Marketer risk: the expected share of records re-identified when every record is matched against the population (with a population size only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketer_risk: Option<f64>,
}

impl Figures {
    /// The figures of classes of the given sizes; `population` (at least the number of
    /// records, checked by the caller) adds the journalist and marketer risks.
    pub fn of(sizes: impl IntoIterator<Item = u64>, population: Option<u64>) -> Figures {
        let mut by_size: HashMap<u64, u64> = HashMap::new();
        for s in sizes.into_iter().filter(|s| *s > 0) {
            *by_size.entry(s).or_default() += 1;
        }
        let records: u64 = by_size.iter().map(|(s, c)| s * c).sum();
        let classes: u64 = by_size.values().sum();
        let k_min = by_size.keys().copied().min().unwrap_or(0);
        let below = |k: u64| -> u64 {
            by_size
                .iter()
                .filter(|(s, _)| **s < k)
                .map(|(s, c)| s * c)
                .sum()
        };
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (journalist_risk_max, marketer_risk) = match population {
            Some(n_pop) if records > 0 => {
                let pi = (records as f64 / n_pop as f64).min(1.0);
                let total: f64 = by_size
                    .iter()
                    .map(|(s, c)| (s * c) as f64 * expected_inverse(*s, pi))
                    .sum();
                (
                    Some(expected_inverse(k_min, pi)),
                    Some(total / records as f64),
                )
            }
            Some(_) => (Some(0.0), Some(0.0)),
            None => (None, None),
        };
        Figures {
            records,
            classes,
            k_min,
            unique_records: by_size.get(&1).copied().unwrap_or(0),
            records_below_k5: below(5),
            records_below_k11: below(11),
            prosecutor_risk_max: if k_min == 0 { 0.0 } else { 1.0 / k_min as f64 },
            prosecutor_risk_avg: ratio(classes, records),
            journalist_risk_max,
            marketer_risk,
        }
    }
}

/// `E[1/F | f]` for `F = f + X`, `X` negative binomial (failures before the `f`-th
/// success of probability `p`): `p ∫₀¹ u^(f-1) / (p + q u) du`, `q = 1 - p`.
///
/// For `p < 1/2` the integral `J_f` follows `J_1 = ln(1/p) / q`,
/// `J_(g+1) = (1/g - p J_g) / q`, which loses nothing there (errors shrink by `p/q` a
/// step). For `p ≥ 1/2` it is summed as `(p/f) Σ_x x! q^x / ((f+1)…(f+x))` (the Euler
/// transform of the hypergeometric series of the mean), whose terms fall by at least
/// `q ≤ 1/2` a step.
pub(crate) fn expected_inverse(f: u64, p: f64) -> f64 {
    if f == 0 {
        return 0.0;
    }
    let q = 1.0 - p;
    if p >= 0.5 {
        let (mut sum, mut term, mut x) = (0.0, 1.0, 0.0);
        while term > sum * 1e-17 {
            sum += term;
            term *= q * (x + 1.0) / (f as f64 + 1.0 + x);
            x += 1.0;
        }
        return p / f as f64 * sum;
    }
    let mut j = (1.0 / p).ln() / q;
    for g in 1..f {
        j = (1.0 / g as f64 - p * j) / q;
    }
    p * j
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition summed term by term: Σ_x C(x+f-1, x) p^f q^x / (f + x).
    fn by_definition(f: u64, p: f64) -> f64 {
        let q = 1.0 - p;
        let mean = f as f64 * q / p;
        let mut prob = p.powi(f as i32); // P(X = 0)
        let mut sum = 0.0;
        let mut x = 0u64;
        loop {
            let term = prob / (f + x) as f64;
            sum += term;
            // Past the mode the terms only fall.
            if x as f64 > mean && term < 1e-17 * sum {
                return sum;
            }
            prob *= q * (x + f) as f64 / (x + 1) as f64;
            x += 1;
        }
    }

    #[test]
    fn the_individual_risk_matches_its_definition() {
        for p in [0.02, 0.1, 0.3, 0.49, 0.5, 0.8, 0.99] {
            for f in [1, 2, 3, 5, 10, 40] {
                let (a, b) = (expected_inverse(f, p), by_definition(f, p));
                assert!(
                    (a - b).abs() < 1e-9 * b.max(1e-3),
                    "f={f} p={p}: {a} vs {b}"
                );
            }
        }
        // The closed form for uniques (sdcMicro's f = 1 case), and a census.
        let p: f64 = 0.01;
        assert!((expected_inverse(1, p) - p / (1.0 - p) * (1.0 / p).ln()).abs() < 1e-15);
        assert_eq!(expected_inverse(4, 1.0), 0.25);
        // Tiny sampling fractions stay finite and below the prosecutor risk.
        let r = expected_inverse(1, 1e-9);
        assert!(r > 0.0 && r < 1e-6, "{r}");
        assert!(expected_inverse(50_000, 1e-6).is_finite());
    }

    #[test]
    fn hand_computed_classes() {
        // Classes of 1, 1, 2, 4, 6 records: 14 records.
        let f = Figures::of([1, 1, 2, 4, 6], None);
        assert_eq!(
            (f.records, f.classes, f.k_min, f.unique_records),
            (14, 5, 1, 2)
        );
        assert_eq!((f.records_below_k5, f.records_below_k11), (8, 14));
        assert_eq!(f.prosecutor_risk_max, 1.0);
        assert!((f.prosecutor_risk_avg - 5.0 / 14.0).abs() < 1e-15);
        assert_eq!((f.journalist_risk_max, f.marketer_risk), (None, None));
        // The whole population: journalist = prosecutor.
        let f = Figures::of([2, 3, 5], Some(10));
        assert!((f.journalist_risk_max.unwrap() - 0.5).abs() < 1e-12);
        assert!((f.marketer_risk.unwrap() - 0.3).abs() < 1e-12);
        let g = Figures::of([2, 3, 5], Some(1000));
        assert!(g.journalist_risk_max.unwrap() < 0.5);
        assert!(g.marketer_risk.unwrap() < 0.3);
        let json = serde_json::to_value(Figures::of([3], None)).unwrap();
        assert!(json.get("marketer_risk").is_none());
        assert_eq!(json["k_min"], 3);
        let empty = Figures::of([], Some(5));
        assert_eq!((empty.records, empty.k_min), (0, 0));
        assert_eq!(empty.prosecutor_risk_max, 0.0);
    }
}
