//! The exposition reading and statistics of `bench/run` (quantiles,
//! bucket counts, sums, series counts, medians) are computed by
//! `benches/loadgen.rs`, which is a `harness = false` bench that `cargo
//! test` does not run; this module includes the same file so that its
//! tests run with every `cargo test`.

#[path = "../../benches/loadgen/expo.rs"]
mod expo;

use expo::*;

/// The subcommands loadgen hands to the module are the ones its usage
/// text describes.
#[test]
fn every_command_is_in_the_usage() {
    for command in expo::COMMANDS {
        assert!(
            expo::USAGE.contains(&format!("loadgen {command} ")),
            "{command} is not in the usage text"
        );
    }
}

/// A histogram as credprobe writes it, with a family around it.
const LATENESS: &str = "\
# HELP credprobe_schedule_lateness_seconds How late cycles start.
# TYPE credprobe_schedule_lateness_seconds histogram
credprobe_schedule_lateness_seconds_bucket{le=\"0.001\"} 10
credprobe_schedule_lateness_seconds_bucket{le=\"0.005\"} 90
credprobe_schedule_lateness_seconds_bucket{le=\"0.01\"} 90
credprobe_schedule_lateness_seconds_bucket{le=\"1\"} 99
credprobe_schedule_lateness_seconds_bucket{le=\"5\"} 100
credprobe_schedule_lateness_seconds_bucket{le=\"+Inf\"} 100
credprobe_schedule_lateness_seconds_sum 1.5
credprobe_schedule_lateness_seconds_count 100
";

fn buckets(text: &str) -> Vec<Bucket> {
    histogram(text, "credprobe_schedule_lateness_seconds").unwrap()
}

fn run_on(command: &str, args: &[&str], file: &str) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let text = file.to_owned();
    run(command, &args, &move |_| Ok(text.clone()))
}

#[test]
fn parses_names_labels_escapes_and_special_values() {
    let text = "# comment\n\nup 1\nm{a=\"x\",b=\"q\\\"u o,t}e\\\\d\\n\"} +Inf 1700000000\nm{} NaN\nn{a=\"1\",} -2.5e-3\n";
    let all: Vec<Sample<'_>> = samples(text).map(Result::unwrap).collect();
    assert_eq!(all.len(), 4);
    assert_eq!((all[0].name, all[0].value), ("up", 1.0));
    assert_eq!(all[1].label("a"), Some("x"));
    assert_eq!(all[1].label("b"), Some("q\"u o,t}e\\d\n"));
    assert_eq!(all[1].value, f64::INFINITY);
    assert!(all[2].value.is_nan() && all[2].labels.is_empty());
    assert_eq!((all[3].label("a"), all[3].value), (Some("1"), -0.0025));
}

#[test]
fn a_malformed_line_names_its_number() {
    let error = series("up 1\nbroken{a=\"x} 1\n", &[]).unwrap_err();
    assert!(error.starts_with("line 2:"), "{error}");
    assert!(
        series("up one\n", &[])
            .unwrap_err()
            .contains("not a number")
    );
    assert!(series("up\n", &[]).unwrap_err().contains("no value"));
}

#[test]
fn quantile_interpolates_linearly_within_the_bucket() {
    let b = buckets(LATENESS);
    // Rank 50 of 100 is 40 of the 80 observations in (0.001, 0.005].
    assert_eq!(quantile(&b, 0.5).to_string(), "0.0030");
    // Rank 5 in the first bucket, whose lower bound is 0.
    assert_eq!(quantile(&b, 0.05).to_string(), "0.0005");
    // Rank 99 reaches the 1 s bucket: 0.01 + 0.99 * 9/9.
    assert_eq!(quantile(&b, 0.99).to_string(), "1.0000");
    assert_eq!(quantile(&b, 0.995).to_string(), "3.0000");
    assert_eq!(quantile(&b, 0.0).to_string(), "0.0000");
    assert_eq!(quantile_le(&b, 0.5), Some("0.005"));
    assert_eq!(quantile_le(&b, 0.99), Some("1"));
    assert_eq!(quantile_le(&b, 1.0), Some("5"));
}

#[test]
fn quantile_in_the_inf_bucket_is_above_the_largest_bound() {
    let text = LATENESS.replace("{le=\"+Inf\"} 100", "{le=\"+Inf\"} 200");
    let b = buckets(&text);
    assert_eq!(quantile(&b, 0.99).to_string(), ">5");
    assert_eq!(quantile_le(&b, 0.99), Some("+Inf"));
    // Still interpolated below it: rank 30 is 20 of the 80 in (0.001, 0.005].
    assert_eq!(quantile(&b, 0.15).to_string(), "0.0020");
}

#[test]
fn quantile_of_an_empty_bucket_is_its_upper_bound() {
    // Rank 0 with nothing in the first bucket.
    let text = "h_bucket{le=\"1\"} 0\nh_bucket{le=\"2\"} 4\nh_bucket{le=\"+Inf\"} 4\n";
    let b = histogram(text, "h").unwrap();
    assert_eq!(quantile(&b, 0.0), Quantile::Within(1.0));
    assert_eq!(quantile(&b, 0.5), Quantile::Within(1.5));
}

#[test]
fn no_observations_or_no_histogram_is_not_available() {
    let empty = "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\n";
    let b = histogram(empty, "h").unwrap();
    assert_eq!(quantile(&b, 0.5).to_string(), "n/a");
    assert_eq!(quantile_le(&b, 0.5), None);
    assert_eq!(quantile(&buckets("up 1\n"), 0.5), Quantile::NoData);
    assert_eq!(
        run_on("quantile", &["0.99", "nothing", "f"], "up 1\n").unwrap(),
        "n/a"
    );
    assert_eq!(
        run_on("quantile-le", &["0.99", "nothing", "f"], "up 1\n").unwrap(),
        "n/a"
    );
}

#[test]
fn histogram_sums_series_by_bound_and_orders_them() {
    let text = "h_bucket{t=\"a\",le=\"+Inf\"} 3\nh_bucket{t=\"a\",le=\"1\"} 1\nh_bucket{t=\"b\",le=\"1.0\"} 2\nh_bucket{t=\"b\",le=\"+Inf\"} 5\nh_count 8\nhh_bucket{le=\"1\"} 99\n";
    let b = histogram(text, "h").unwrap();
    let got: Vec<(&str, f64)> = b.iter().map(|b| (b.le.as_str(), b.count)).collect();
    assert_eq!(got, [("1", 3.0), ("+Inf", 8.0)]);
    assert_eq!(bucket_count(&b, "1.0").unwrap(), Some(3.0));
    assert_eq!(bucket_count(&b, "+Inf").unwrap(), Some(8.0));
    assert_eq!(bucket_count(&b, "2").unwrap(), None);
}

#[test]
fn bucket_prints_the_count_or_nothing() {
    let name = "credprobe_schedule_lateness_seconds";
    assert_eq!(
        run_on("bucket", &[name, "+Inf", "f"], LATENESS).unwrap(),
        "100"
    );
    assert_eq!(run_on("bucket", &[name, "1", "f"], LATENESS).unwrap(), "99");
    assert_eq!(run_on("bucket", &[name, "2", "f"], LATENESS).unwrap(), "");
}

const COUNTERS: &str = "\
# TYPE credprobe_token_requests_total counter
credprobe_token_requests_total{tenant=\"a\",result=\"success\"} 10
credprobe_token_requests_total{tenant=\"a\",result=\"timeout\"} 2
credprobe_token_requests_total{tenant=\"b\",result=\"success\"} 7
credprobe_token_requests_totally{tenant=\"a\",result=\"success\"} 1000
credprobe_tenants 2
credprobe_tenant_info{tenant=\"a\",tier=\"gold\"} 1
";

#[test]
fn sum_over_the_series_of_one_name_with_matchers() {
    let name = "credprobe_token_requests_total";
    let success = Matcher::parse("result=success").unwrap();
    let a = Matcher::parse("tenant=a").unwrap();
    assert_eq!(sum(COUNTERS, name, &[]).unwrap(), 19.0);
    assert_eq!(
        sum(COUNTERS, name, std::slice::from_ref(&success)).unwrap(),
        17.0
    );
    assert_eq!(sum(COUNTERS, name, &[success, a]).unwrap(), 10.0);
    assert_eq!(sum(COUNTERS, "missing", &[]).unwrap(), 0.0);
    assert_eq!(run_on("sum", &[name, "f"], COUNTERS).unwrap(), "19");
    assert_eq!(
        run_on("sum", &[name, "result=success", "f"], COUNTERS).unwrap(),
        "17"
    );
    assert!(run_on("sum", &[name], COUNTERS).is_err());
    assert!(run_on("sum", &[name, "result", "f"], COUNTERS).is_err());
}

#[test]
fn series_counts_samples_and_an_empty_value_means_absent() {
    assert_eq!(series(COUNTERS, &[]).unwrap(), 6);
    assert_eq!(run_on("series", &["f"], COUNTERS).unwrap(), "6");
    assert_eq!(run_on("series", &["tenant=a", "f"], COUNTERS).unwrap(), "4");
    assert_eq!(run_on("series", &["tenant=", "f"], COUNTERS).unwrap(), "1");
    assert_eq!(
        run_on("series", &["tier=gold", "tenant=a", "f"], COUNTERS).unwrap(),
        "1"
    );
}

#[test]
fn median_of_odd_even_and_no_values() {
    assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(median(vec![]), 0.0);
}

#[test]
fn median_of_scrape_records_by_key_field_and_scale() {
    let records = "plain 0.117666 0.160882 46156797 13\ngzip 0.113527 0.11553 2088655 11\nplain 0.12 0.17 46156800 15\nplain 0.1 0.15 46156790 12\n";
    let med = |args: &[&str]| run_on("median", args, records).unwrap();
    assert_eq!(
        med(&["--key", "plain", "--field", "2", "--scale", "1000", "f"]),
        "117.666"
    );
    assert_eq!(med(&["--key", "plain", "--field", "4", "f"]), "46156797");
    assert_eq!(
        med(&["--key", "gzip", "--field", "3", "--scale", "1000", "f"]),
        "115.53"
    );
    assert_eq!(
        med(&["--key", "plain", "--field", "5", "--scale", "10", "f"]),
        "130"
    );
    assert_eq!(med(&["--key", "none", "--field", "2", "f"]), "0");
    // Plain numbers, one a line, from standard input.
    assert_eq!(run_on("median", &[], "3\n1\n2\n10\n").unwrap(), "2.5");
    assert!(run_on("median", &["--key", "plain", "--field", "9", "f"], records).is_err());
    assert!(run_on("median", &["--field", "0"], records).is_err());
}

#[test]
fn numbers_print_as_awk_prints_them() {
    assert_eq!(format_number(46156797.0), "46156797");
    assert_eq!(format_number(-3.0), "-3");
    assert_eq!(format_number(117.666), "117.666");
    assert_eq!(format_number((117.666 + 117.5) / 2.0), "117.583");
    assert_eq!(format_number(0.1 + 0.2), "0.3");
    assert_eq!(format_number(160882.5), "160882");
    assert_eq!(format_number(1234567.5), "1.23457e+06");
    assert_eq!(format_number(0.00001234), "1.234e-05");
    assert_eq!(format_number(0.0001234), "0.0001234");
}

#[test]
fn bad_arguments_are_errors() {
    assert!(run_on("quantile", &["1.5", "h", "f"], LATENESS).is_err());
    assert!(run_on("quantile", &["x", "h", "f"], LATENESS).is_err());
    assert!(run_on("quantile", &["0.5", "h"], LATENESS).is_err());
    assert!(run_on("quantile", &["0.5", "h", "f", "g"], LATENESS).is_err());
    assert!(run_on("bucket", &["h", "one", "f"], LATENESS).is_err());
    assert!(run_on("frobnicate", &[], LATENESS).is_err());
}
