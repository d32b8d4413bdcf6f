//! The run's tables on stdout, and the TSV files the charts are drawn from.

use std::fmt::Write as _;
use std::path::Path;

use crate::latency::{FloodReport, Row, Summary};
use crate::slowloris;
use crate::spray;

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// p50, p99, max and answered 200 of sent, as table cells.
pub(crate) fn quantiles(summary: &Summary) -> String {
    let [p50, p99, max] = summary.quantiles.map_or_else(
        || ["-".to_owned(), "-".to_owned(), "-".to_owned()],
        |q| q.map(ms),
    );
    let others: Vec<String> = summary
        .others
        .iter()
        .map(|(status, n)| format!("{n}x {status}"))
        .collect();
    format!(
        "{p50:>10} {p99:>10} {max:>10} {:>4}/{:<4} {}",
        summary.ok,
        summary.total,
        others.join(", ")
    )
}

/// A flood's answers by status, during the probes.
pub(crate) fn flood(flood: &FloodReport) -> String {
    let answers: Vec<String> = flood
        .answers
        .iter()
        .map(|(status, n)| format!("{n} x {status}"))
        .collect();
    let established = flood.established_after.map_or_else(
        || "not every flooding address was refused within 60 s".to_owned(),
        |s| format!("every flooding address refused once after {s:.1} s"),
    );
    format!("flood answers: {} ({established})", answers.join(", "))
}

pub(crate) fn spray(outcome: &spray::Outcome, max_clients: usize, burst: u32) {
    let peak = outcome
        .samples
        .iter()
        .map(|s| s.rss_mib)
        .fold(0.0, f64::max);
    let first = outcome.samples.first().map_or(0.0, |s| s.rss_mib);
    let last = outcome.samples.last().map_or(0.0, |s| s.rss_mib);
    let sent: u64 = outcome.answers.values().sum();
    let answers: Vec<String> = outcome
        .answers
        .iter()
        .map(|(status, n)| format!("{n} x {status}"))
        .collect();
    println!(
        "spray: {sent} addresses in {:.1} s ({:.0}/s); tracked cap {max_clients}; answers {}",
        outcome.seconds,
        sent as f64 / outcome.seconds.max(0.001),
        answers.join(", ")
    );
    println!(
        "spray: resident memory {first:.1} MiB before, {peak:.1} MiB at most, {last:.1} MiB at the end"
    );
    // Around each quarter of the spray: the growth to the cap, then the flat part.
    let mut shown = None;
    for fraction in [0.25, 0.5, 0.75, 1.0] {
        let target = (sent as f64 * fraction) as u64;
        let sample = outcome.samples.iter().find(|s| s.addresses >= target);
        if let Some(sample) = sample
            && shown != Some(sample.addresses)
        {
            shown = Some(sample.addresses);
            println!(
                "spray:   {:>8} addresses: {:.1} MiB",
                sample.addresses, sample.rss_mib
            );
        }
    }
    let (limited, control) = (&outcome.limited_after, &outcome.control_after);
    // Tracked, the limited client has what refilled since (a token a second);
    // evicted, it would start again from a full burst, as the control does.
    let expected = outcome.since_limited.ceil() as u64;
    let tracked = limited.remaining.is_some_and(|r| r <= expected)
        && control.remaining == Some(u64::from(burst) - 1);
    println!(
        "spray: limited before it ({:?}); {:.0} s later {:?} with {:?} remaining (at most {expected} refilled), a never-seen control {:?} with {:?}: {}",
        outcome.limited_before,
        outcome.since_limited,
        limited.status,
        limited.remaining,
        control.status,
        control.remaining,
        if tracked {
            "still tracked, no eviction escape"
        } else {
            "NOT SHOWN: evicted, or the check could not tell"
        }
    );
}

pub(crate) fn slowloris(outcome: &slowloris::Outcome) {
    println!(
        "slowloris: {} connections tried ({} could not open), {} closed by the server at once, {} held at most, {} still held at the end; the last held one closed after {:.1} s",
        outcome.attempted,
        outcome.failed,
        outcome.refused,
        outcome.peak_held,
        outcome.held_at_end,
        outcome.last_closed_after
    );
    println!(
        "slowloris: resident memory {:.1} MiB before, {:.1} MiB at most",
        outcome.rss_before, outcome.rss_peak
    );
    println!(
        "slowloris: a normal client on fresh connections: {}",
        quantiles(&outcome.normal)
    );
}

pub(crate) fn write_tsv(dir: &Path, rows: &[Row], spray: &spray::Outcome) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut latency = String::from("scenario\tprobe\tp50_ms\tp99_ms\tmax_ms\tok\ttotal\n");
    for row in rows {
        let [p50, p99, max] = row
            .summary
            .quantiles
            .map_or_else(Default::default, |q| q.map(|v| format!("{v:.1}")));
        let _ = writeln!(
            latency,
            "{}\t{}\t{p50}\t{p99}\t{max}\t{}\t{}",
            row.scenario, row.probe, row.summary.ok, row.summary.total
        );
    }
    std::fs::write(dir.join("attack-latency.tsv"), latency)?;
    let mut samples = String::from("seconds\taddresses\trss_mib\n");
    for sample in &spray.samples {
        let _ = writeln!(
            samples,
            "{:.1}\t{}\t{:.1}",
            sample.seconds, sample.addresses, sample.rss_mib
        );
    }
    std::fs::write(dir.join("attack-spray.tsv"), samples)
}
