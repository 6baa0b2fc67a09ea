//! Native (sparse exponential) histogram buckets, kept beside a classic
//! histogram so the protobuf exposition can send both, as
//! prometheus/client_golang does with `NativeHistogramBucketFactor: 1.1`.
//!
//! A native bucket `i` at schema `s` holds the values in
//! `(2^((i-1)/2^s), 2^(i/2^s)]`: upper-inclusive, with 1 the upper bound
//! of bucket 0 at every schema. The index is computed exactly as
//! client_golang's `histogramCounts.observe` does (from `math.Frexp`, with
//! its table of bounds for positive schemas), so that the buckets credprobe
//! sends are those a Go exporter would send for the same values. Only the
//! positive buckets and the zero bucket are kept: latencies are never
//! negative.

/// The schema a new histogram starts at: bucket factor `2^(2^-3)` ≈
/// 1.0905, the largest factor not above 1.1 (client_golang's `pickSchema`
/// for a bucket factor of 1.1).
pub const INITIAL_SCHEMA: i32 = 3;

/// The lowest schema the width doubling goes to (factor `2^16` per
/// bucket), client_golang's `nativeHistogramSchemaMinimum`.
pub const MIN_SCHEMA: i32 = -4;

/// Width of the zero bucket: 2^-128, client_golang's
/// `DefNativeHistogramZeroThreshold`, a bucket boundary at every schema.
/// Values at or below it (and at or above its negation) are counted in
/// the zero bucket.
pub const ZERO_THRESHOLD: f64 = 2.938735877055719e-39;

/// The most populated buckets a histogram keeps: one more and its
/// resolution is halved (schema - 1, bucket pairs merged), as
/// client_golang does with `NativeHistogramMaxBucketNumber: 160`.
pub const MAX_BUCKETS: usize = 160;

/// client_golang's `nativeHistogramBounds` for schemas 1 to 3 (index 0
/// is unused, as in Go): the fractions (in `[0.5, 1)`, as `frexp` gives
/// them) at which a power of two is divided into `2^schema` buckets.
const NATIVE_BOUNDS: [&[f64]; 4] = [
    &[0.5],
    &[0.5, 0.7071067811865475],
    &[
        0.5,
        0.5946035575013605,
        0.7071067811865475,
        0.8408964152537144,
    ],
    &[
        0.5,
        0.5452538663326288,
        0.5946035575013605,
        0.6484197773255048,
        0.7071067811865475,
        0.7711054127039704,
        0.8408964152537144,
        0.9170040432046711,
    ],
];

// The schema only ever goes down from INITIAL_SCHEMA, so the table above
// covers every positive schema a histogram can have.
const _: () = assert!(INITIAL_SCHEMA >= 1 && INITIAL_SCHEMA < NATIVE_BOUNDS.len() as i32);

/// One span of consecutive native buckets, as the exposition's
/// `BucketSpan` wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// For the first span, the index of its first bucket; for the others,
    /// the number of buckets between the end of the previous span and the
    /// start of this one.
    pub offset: i32,
    /// How many consecutive buckets the span covers.
    pub length: u32,
}

/// The native buckets of one histogram series: its schema, the zero
/// bucket and the populated positive buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeBuckets {
    /// Current resolution; starts at [`INITIAL_SCHEMA`] and only goes down.
    schema: i32,
    /// Observations in `[-ZERO_THRESHOLD, ZERO_THRESHOLD]`.
    zero_count: u64,
    /// Bucket index and count of every populated positive bucket, sorted
    /// by index (at most [`MAX_BUCKETS`] of them above [`MIN_SCHEMA`]).
    positive: Vec<(i32, u64)>,
}

impl Default for NativeBuckets {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeBuckets {
    /// A histogram without observations, at [`INITIAL_SCHEMA`].
    pub fn new() -> NativeBuckets {
        NativeBuckets {
            schema: INITIAL_SCHEMA,
            zero_count: 0,
            positive: Vec::new(),
        }
    }

    /// Counts `value`: in the zero bucket when within [`ZERO_THRESHOLD`] of
    /// zero, else in its positive bucket (`+Inf` in the bucket above the
    /// one of `f64::MAX`, as in Go). NaN and values below
    /// `-ZERO_THRESHOLD` are not counted in any native bucket: client_golang
    /// skips NaN likewise, and a latency is never negative (a negative
    /// bucket is not worth its place here). The classic histogram's count
    /// still includes them, as Go's `sample_count` does for NaN.
    pub fn observe(&mut self, value: f64) {
        if value.is_nan() || value < -ZERO_THRESHOLD {
            return;
        }
        if value <= ZERO_THRESHOLD {
            self.zero_count = self.zero_count.saturating_add(1);
            return;
        }
        let key = bucket_index(value, self.schema);
        match self
            .positive
            .binary_search_by_key(&key, |&(index, _)| index)
        {
            Ok(at) => self.positive[at].1 = self.positive[at].1.saturating_add(1),
            Err(at) => {
                self.positive.insert(at, (key, 1));
                if self.positive.len() > MAX_BUCKETS {
                    self.double_bucket_width();
                }
            }
        }
    }

    /// The current schema, for the exposition's `schema` field.
    pub fn schema(&self) -> i32 {
        self.schema
    }

    /// Observations in the zero bucket, for `zero_count`.
    pub fn zero_count(&self) -> u64 {
        self.zero_count
    }

    /// The zero bucket's width, for `zero_threshold`: always
    /// [`ZERO_THRESHOLD`] (credprobe never widens it).
    pub fn zero_threshold(&self) -> f64 {
        ZERO_THRESHOLD
    }

    /// The positive buckets as spans and count deltas (the first delta
    /// absolute, each next one relative to the bucket before), as
    /// client_golang's `makeBuckets` builds them: gaps of up to two empty
    /// buckets stay inside a span, as zero-count buckets.
    pub fn spans_and_deltas(&self) -> (Vec<Span>, Vec<i64>) {
        let mut spans: Vec<Span> = Vec::new();
        let mut deltas = Vec::with_capacity(self.positive.len());
        let mut previous = 0i64;
        let mut next_index = 0i32;
        for &(index, count) in &self.positive {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            let gap = index - next_index;
            match spans.last_mut() {
                Some(span) if gap <= 2 => {
                    for _ in 0..gap {
                        span.length += 1;
                        deltas.push(-previous);
                        previous = 0;
                    }
                    span.length += 1;
                }
                _ => spans.push(Span {
                    offset: gap,
                    length: 1,
                }),
            }
            deltas.push(count - previous);
            previous = count;
            next_index = index + 1;
        }
        (spans, deltas)
    }

    /// Halves the resolution (client_golang's `doubleBucketWidth`): one
    /// schema lower, bucket `i` merged into `(i + 1) / 2` for `i > 0` and
    /// `i / 2` otherwise (division truncating toward zero, as Go's).
    /// Nothing at [`MIN_SCHEMA`].
    fn double_bucket_width(&mut self) {
        if self.schema <= MIN_SCHEMA {
            return;
        }
        self.schema -= 1;
        for (index, _) in &mut self.positive {
            *index = if *index > 0 {
                (*index + 1) / 2
            } else {
                *index / 2
            };
        }
        // The mapping keeps the order, so merged buckets are neighbours.
        self.positive.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.saturating_add(later.1);
            }
            same
        });
    }
}

/// The index of the bucket of `value` (> 0, not NaN) at `schema`,
/// client_golang's computation: `+Inf` counts as `f64::MAX` plus one
/// bucket.
fn bucket_index(value: f64, schema: i32) -> i32 {
    let infinite = value.is_infinite();
    let (frac, exp) = frexp(if infinite { f64::MAX } else { value });
    let key = if schema > 0 {
        let bounds = NATIVE_BOUNDS[schema as usize];
        // sort.SearchFloat64s: the first bound >= frac.
        bounds.partition_point(|bound| *bound < frac) as i32 + (exp - 1) * bounds.len() as i32
    } else {
        let key = if frac == 0.5 { exp - 1 } else { exp };
        let offset = (1 << -schema) - 1;
        (key + offset) >> -schema
    };
    if infinite { key + 1 } else { key }
}

/// Go's `math.Frexp` for finite values: `value = frac * 2^exp` with
/// `|frac|` in `[0.5, 1)`; `(value, 0)` for zero, infinities and NaN.
fn frexp(value: f64) -> (f64, i32) {
    const EXP_MASK: u64 = 0x7ff << 52;
    if value == 0.0 || !value.is_finite() {
        return (value, 0);
    }
    let (bits, mut exp) = if value.abs() < f64::MIN_POSITIVE {
        // Subnormal: normalise first, as Go does.
        ((value * (1u64 << 52) as f64).to_bits(), -52)
    } else {
        (value.to_bits(), 0)
    };
    exp += ((bits & EXP_MASK) >> 52) as i32 - 1022;
    (f64::from_bits((bits & !EXP_MASK) | (1022 << 52)), exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value in the middle of bucket `index` at `schema` (never on a
    /// bound).
    fn inside(index: i32, schema: i32) -> f64 {
        2f64.powf((f64::from(index) - 0.5) / 2f64.powi(schema))
    }

    fn observed(values: &[f64]) -> NativeBuckets {
        let mut native = NativeBuckets::new();
        values.iter().for_each(|v| native.observe(*v));
        native
    }

    #[test]
    fn frexp_matches_go() {
        assert_eq!(frexp(1.0), (0.5, 1));
        assert_eq!(frexp(0.1), (0.8, -3));
        assert_eq!(frexp(10.0), (0.625, 4));
        assert_eq!(frexp(f64::MAX), (1.0 - f64::EPSILON / 2.0, 1024));
        assert_eq!(frexp(5e-324), (0.5, -1073));
        assert_eq!(frexp(0.0), (0.0, 0));
    }

    #[test]
    fn the_bounds_table_is_nested_as_in_go() {
        for schema in 1..NATIVE_BOUNDS.len() {
            for (j, bound) in NATIVE_BOUNDS[schema - 1].iter().enumerate() {
                assert_eq!(NATIVE_BOUNDS[schema][2 * j], *bound);
            }
        }
    }

    #[test]
    fn indices_are_those_of_client_golang() {
        // 1 is the upper bound of bucket 0 at every schema.
        for schema in MIN_SCHEMA..=INITIAL_SCHEMA {
            assert_eq!(bucket_index(1.0, schema), 0, "schema {schema}");
            assert_eq!(bucket_index(1f64.next_up(), schema), 1, "schema {schema}");
            assert_eq!(bucket_index(1f64.next_down(), schema), 0, "schema {schema}");
        }
        // Worked by hand from Go: frexp, then SearchFloat64s at schema 3
        // (0.001 = 0.512*2^-9: 1 + -10*8), exp alone at schema 0.
        let cases = [
            (0.001, -79, -9, -4, 0),
            (0.1, -26, -3, -1, 0),
            (0.5, -8, -1, 0, 0),
            (2.0, 8, 1, 1, 1),
            (2.5, 11, 2, 1, 1),
            (10.0, 27, 4, 2, 1),
            (f64::MAX, 8192, 1024, 512, 64),
            (f64::INFINITY, 8193, 1025, 513, 65),
        ];
        for (value, s3, s0, s_minus1, s_minus4) in cases {
            assert_eq!(bucket_index(value, 3), s3, "{value} at 3");
            assert_eq!(bucket_index(value, 0), s0, "{value} at 0");
            assert_eq!(bucket_index(value, -1), s_minus1, "{value} at -1");
            assert_eq!(bucket_index(value, -4), s_minus4, "{value} at -4");
        }
        assert_eq!(bucket_index(2.5, 2), 6);
        assert_eq!(bucket_index(2.5, 1), 3);
    }

    #[test]
    fn a_value_on_a_bound_is_in_the_bucket_below_it() {
        // 2^(1/8) = 2 * 0.5452538663326288: the upper bound of bucket 1.
        let bound = 2.0 * NATIVE_BOUNDS[3][1];
        assert_eq!(bound, 1.0905077326652577);
        assert_eq!(bucket_index(bound, 3), 1);
        assert_eq!(bucket_index(bound.next_up(), 3), 2);
        assert_eq!(bucket_index(bound.next_down(), 3), 1);
        // 2^(-7/8) = 0.5452538663326288: the upper bound of bucket -7.
        assert_eq!(bucket_index(NATIVE_BOUNDS[3][1], 3), -7);
        assert_eq!(bucket_index(NATIVE_BOUNDS[3][1].next_up(), 3), -6);
        // Powers of two at schema 0 and below.
        assert_eq!(bucket_index(4.0, 0), 2);
        assert_eq!(bucket_index(4f64.next_up(), 0), 3);
        assert_eq!(bucket_index(4.0, -1), 1);
        assert_eq!(bucket_index(4f64.next_up(), -1), 2);
        // Bucket k's own middle is in bucket k.
        for k in -40..40 {
            assert_eq!(bucket_index(inside(k, 3), 3), k);
        }
    }

    #[test]
    fn the_zero_bucket_takes_values_up_to_the_threshold() {
        let native = observed(&[0.0, -0.0, 1e-40, ZERO_THRESHOLD, -ZERO_THRESHOLD]);
        assert_eq!(native.zero_count(), 5);
        assert!(native.positive.is_empty());
        let native = observed(&[ZERO_THRESHOLD.next_up(), -1.0, f64::NAN]);
        assert_eq!(native.zero_count(), 0);
        assert_eq!(native.positive, vec![(-1023, 1)]);
        assert_eq!(native.zero_threshold(), 2f64.powi(-128));
    }

    #[test]
    fn spans_join_gaps_of_up_to_two_buckets() {
        let mut values = vec![inside(-3, 3), inside(-2, 3), inside(-2, 3)];
        values.extend([0, 3, 7, 8].map(|k| inside(k, 3)));
        values.extend([0, 0, 0, 0, 7, 7, 7, 8, 8, 8].map(|k| inside(k, 3)));
        let native = observed(&values);
        let (spans, deltas) = native.spans_and_deltas();
        // Buckets -3..=3 with -1, 1 and 2 empty; a gap of 3 before 7.
        let span = |offset, length| Span { offset, length };
        assert_eq!(spans, vec![span(-3, 7), span(3, 2)]);
        assert_eq!(deltas, vec![1, 1, -2, 5, -5, 0, 1, 3, 0]);
        let (spans, deltas) = observed(&[inside(5, 3)]).spans_and_deltas();
        assert_eq!((spans, deltas), (vec![span(5, 1)], vec![1]));
        assert_eq!(NativeBuckets::new().spans_and_deltas(), (vec![], vec![]));
    }

    #[test]
    fn more_than_max_buckets_halves_the_resolution() {
        let values: Vec<f64> = (-80..=80).map(|k| inside(k, 3)).collect();
        let native = observed(&values[..MAX_BUCKETS]);
        assert_eq!((native.schema(), native.positive.len()), (3, MAX_BUCKETS));
        let native = observed(&values);
        assert_eq!(native.schema(), 2);
        // Bucket j at schema 2 is 2j-1 and 2j at schema 3: -80..=80 is
        // -40..=40, two each but -40 (only -80).
        assert_eq!(native.positive.len(), 81);
        assert_eq!(native.positive.first(), Some(&(-40, 1)));
        assert_eq!(native.positive.last(), Some(&(40, 2)));
        assert_eq!(native.positive.iter().map(|b| b.1).sum::<u64>(), 161);
        // The same as observing at schema 2 in the first place.
        let mut direct = NativeBuckets {
            schema: 2,
            ..NativeBuckets::new()
        };
        values.iter().for_each(|v| direct.observe(*v));
        assert_eq!(native, direct);
    }

    #[test]
    fn merging_maps_indices_as_go_does() {
        let mut native = NativeBuckets {
            schema: 1,
            zero_count: 3,
            positive: vec![(-3, 1), (-2, 2), (-1, 4), (0, 8), (1, 16), (2, 32), (5, 64)],
        };
        native.double_bucket_width();
        let expected = vec![(-1, 3), (0, 12), (1, 48), (3, 64)];
        assert_eq!((native.schema, native.zero_count), (0, 3));
        assert_eq!(native.positive, expected);
        native.schema = MIN_SCHEMA;
        native.double_bucket_width();
        assert_eq!((native.schema, native.positive), (MIN_SCHEMA, expected));
    }
}
