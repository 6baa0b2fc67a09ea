//! Latency histograms as the tenant records keep them: one count per
//! classic bucket (not cumulative) and the sum, against bounds shared by
//! every tenant, and the sparse exponential buckets of the native form
//! ([`super::native`]). The text exposition writes the classic form
//! (cumulative), the protobuf exposition both.

use super::native::NativeBuckets;

/// Observations of one histogram series.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); one more than the bounds,
    /// for those above the last bound.
    counts: Box<[u64]>,
    /// The sum of every observed value.
    sum: f64,
    /// The same observations in native (exponential) buckets.
    native: NativeBuckets,
}

impl Histogram {
    /// An empty histogram for these bucket bounds.
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            counts: vec![0; bounds.len() + 1].into_boxed_slice(),
            sum: 0.0,
            native: NativeBuckets::new(),
        }
    }

    /// Counts `value` in the first bucket whose bound is at least `value`
    /// (a value on a bound is in that bound's bucket, as `le` says).
    pub fn observe(&mut self, bounds: &[f64], value: f64) {
        let bucket = bounds.partition_point(|b| *b < value);
        if let Some(count) = self.counts.get_mut(bucket) {
            *count += 1;
        }
        self.sum += value;
        self.native.observe(value);
    }

    /// The native (exponential) buckets of the same observations.
    pub fn native(&self) -> &NativeBuckets {
        &self.native
    }

    /// Observations per bucket, not cumulative; the last is above every
    /// bound.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The sum of the observed values.
    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// How many values were observed.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_on_a_bound_count_in_its_bucket_and_above_all_in_the_last() {
        let bounds = [0.005, 0.01];
        let mut h = Histogram::new(&bounds);
        for v in [0.001, 0.005, 0.0051, 0.01, 7.0] {
            h.observe(&bounds, v);
        }
        assert_eq!(h.counts(), &[2, 2, 1]);
        assert_eq!(h.count(), 5);
        assert!((h.sum() - 7.0211).abs() < 1e-9);
    }
}
