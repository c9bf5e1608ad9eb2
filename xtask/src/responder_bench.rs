//! `cargo xtask bench responder [--quick]`: runs testbeds/responder-bench.sh (ours and charon
//! under the same load generator, same run), then prints the ratios the targets are about.
//! `--quick` (a few seconds, small numbers) checks the shape of the output and that every
//! handshake completed; it asserts no timing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, run, say, warn_skipped};

const CHARON: &str = "charon";

pub(crate) fn bench(root: &Path, quick: bool) -> Result<()> {
    let missing = if !is_root() {
        Some("needs root (network namespaces, a raw socket for the flood)")
    } else if !crate::have("charon-systemd") || !crate::have("swanctl") {
        Some("charon-systemd or swanctl not installed (testbeds/install-peers.sh)")
    } else {
        None
    };
    if let Some(why) = missing {
        warn_skipped("bench responder (ikeway serve and charon on the wire)", why);
        if quick && std::env::var("CI").as_deref() != Ok("true") {
            return Ok(());
        }
        bail!("bench responder: {why}");
    }
    run(cargo().args(["build", "--release", "-q", "-p", "ikeway"]))?;
    run(cargo().args([
        "build",
        "--release",
        "-q",
        "-p",
        "ikeway-benches",
        "--bin",
        "responder-wire",
    ]))?;
    let out = std::env::temp_dir().join(format!("ikeway-responder-bench-{}", std::process::id()));
    let mut script = Command::new("bash");
    script
        .arg(root.join("testbeds/responder-bench.sh"))
        .arg(&out)
        .arg(root.join("target/release/ikeway"))
        .arg(root.join("target/release/responder-wire"));
    if quick {
        script.arg("--quick");
    }
    let ran = run(&mut script);
    let results = std::fs::read_to_string(out.join("results.txt"))
        .with_context(|| format!("reading {}", out.join("results.txt").display()))?;
    let parsed = Results::parse(&results);
    for line in parsed.summary() {
        say(&line);
    }
    say(&format!("(all output and the responders' logs: {})", out.display()));
    ran?;
    if quick {
        parsed.check_shape()?;
        say(
            "bench responder --quick: every responder printed every line, every handshake completed",
        );
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// What one responder's lines said.
#[derive(Debug, Default)]
struct Responder {
    /// (established SAs, handshakes/s: the median of the level's windows), in the order printed.
    rates: Vec<(u64, f64)>,
    /// (established SAs, spread of the level's windows in percent).
    window_spread: Vec<(u64, f64)>,
    /// (established SAs, responder CPU us per handshake, generator CPU us per handshake).
    cpu: Vec<(u64, f64, f64)>,
    bytes_per_sa: Option<f64>,
    quiet: bool,
    flood: bool,
    /// (completed, failed, lost)
    handshakes: Option<(u64, u64, u64)>,
}

#[derive(Debug, Default)]
struct Results(BTreeMap<String, Responder>);

impl Results {
    fn parse(text: &str) -> Self {
        let mut all = Self::default();
        for line in text.lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() < 3 || w[0] != "responder" {
                continue;
            }
            let r = all.0.entry(w[1].to_owned()).or_default();
            let num = |i: usize| w.get(i).and_then(|s| s.parse::<f64>().ok());
            match (w[2], w.len()) {
                ("rate", 13) if w[9] == "at" => {
                    if let (Some(rate), Some(k)) = (num(3), num(10)) {
                        r.rates.push((k as u64, rate));
                    }
                }
                ("windows", 21) if w[17] == "at" => {
                    if let (Some(spread), Some(k)) =
                        (w[16].strip_suffix('%').and_then(|p| p.parse().ok()), num(18))
                    {
                        r.window_spread.push((k as u64, spread));
                    }
                }
                ("cpu", 12) if w[8] == "at" => {
                    if let (Some(ours), Some(generator), Some(k)) = (num(3), num(6), num(9)) {
                        r.cpu.push((k as u64, ours, generator));
                    }
                }
                ("memory", 5) => r.bytes_per_sa = num(3),
                ("quiet", _) => r.quiet = true,
                ("flood", _) => r.flood = true,
                ("handshakes", 10) => {
                    if let (Some(c), Some(f), Some(l)) = (num(3), num(5), num(7)) {
                        r.handshakes = Some((c as u64, f as u64, l as u64));
                    }
                }
                _ => {}
            }
        }
        all
    }

    /// Ratio lines: each of ours against charon (rate at each number of SAs, memory), 2
    /// workers against 1, and how flat each of ours stays as SAs accumulate.
    fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        let charon = self.0.get(CHARON);
        for (name, ours) in self.0.iter().filter(|(n, _)| n.as_str() != CHARON) {
            if let Some(c) = charon {
                for (&(k, mine), &(k2, theirs)) in ours.rates.iter().zip(&c.rates) {
                    if k == k2 && theirs > 0.0 {
                        out.push(format!(
                            "responder ratio {name}/charon rate {:.1}x at {k} established SAs (target: >= 10x)",
                            mine / theirs
                        ));
                    }
                }
                if let (Some(m), Some(t)) = (ours.bytes_per_sa, c.bytes_per_sa) {
                    out.push(format!(
                        "responder ratio {name}/charon memory {:.2}x ({m:.0} vs {t:.0} bytes/SA; target: <= 4096)",
                        m / t.max(1.0)
                    ));
                }
            }
            let rates: Vec<f64> = ours.rates.iter().map(|(_, r)| *r).collect();
            if let (Some(lo), Some(hi), Some((k0, _)), Some((k1, _))) = (
                rates.iter().copied().reduce(f64::min),
                rates.iter().copied().reduce(f64::max),
                ours.rates.first(),
                ours.rates.last(),
            ) {
                out.push(format!(
                    "responder {name} rate spread {:.0}% from {k0} to {k1} established SAs (target: within 20%)",
                    (hi / lo.max(1e-9) - 1.0) * 100.0
                ));
            }
            // How far one level's own windows disagree: a spread between levels below this
            // is noise, not the table's size.
            if let Some((k, worst)) =
                ours.window_spread.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1))
            {
                out.push(format!(
                    "responder {name} windows spread up to {worst:.0}% within one level (at {k} established SAs)"
                ));
            }
        }
        if let (Some(one), Some(two)) = (self.0.get("ikeway-w1"), self.0.get("ikeway-w2")) {
            for (&(k, a), &(k2, b)) in one.rates.iter().zip(&two.rates) {
                if k == k2 && a > 0.0 {
                    out.push(format!(
                        "responder workers ikeway-w2/ikeway-w1 rate {:.2}x at {k} established SAs (target: >= 1.7x)",
                        b / a
                    ));
                }
            }
            // On a machine whose cores the generator shares, the rate cannot double; the
            // responder's CPU per handshake staying flat from 1 to 2 workers is what shows
            // that the second worker adds capacity instead of contention.
            for (&(k, a, ga), &(k2, b, gb)) in one.cpu.iter().zip(&two.cpu) {
                if k == k2 && a > 0.0 {
                    out.push(format!(
                        "responder workers ikeway-w2/ikeway-w1 cpu {b:.0} vs {a:.0} us/handshake ({:.2}x; generator {gb:.0} vs {ga:.0}) at {k} established SAs",
                        b / a
                    ));
                }
            }
        }
        out
    }

    /// `--quick`: charon and at least one of ours, each with its rate lines (two levels or
    /// more), memory, quiet and flood probe lines, and every handshake completed.
    fn check_shape(&self) -> Result<()> {
        if !self.0.contains_key(CHARON) || self.0.len() < 2 {
            bail!("expected lines from ikeway and charon, got {:?}", self.0.keys());
        }
        for (name, r) in &self.0 {
            if r.rates.len() < 2 || r.bytes_per_sa.is_none() || !r.quiet || !r.flood {
                bail!("{name}: missing lines: {r:?}");
            }
            match r.handshakes {
                Some((done, 0, 0)) if done > 0 => {}
                other => bail!("{name}: not every handshake completed: {other:?}"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
responder ikeway-w1 rate 5000 handshakes/s p50 3.10 p99 9.00 at 0 established SAs
responder ikeway-w1 windows 5 x 2 s rate min 4900 median 5000 max 5300 handshakes/s spread 8% at 0 established SAs
responder ikeway-w1 cpu 90 us/handshake, generator 80 us/handshake at 0 established SAs
responder ikeway-w1 rate 4500 handshakes/s p50 3.10 p99 9.00 at 1000 established SAs
responder ikeway-w1 windows 5 x 2 s rate min 4000 median 4500 max 4600 handshakes/s spread 15% at 1000 established SAs
responder ikeway-w1 memory 3000 bytes/SA
responder ikeway-w1 quiet dpd p50 0.10 p99 0.20 answered 5/5, rekey p50 0.2 p99 0.3 answered 5/5
responder ikeway-w1 flood dpd p50 0.10 p99 0.20 answered 5/5, rekey p50 0.2 p99 0.3 answered 5/5 during
responder ikeway-w1 handshakes 1200 completed, 0 failed, 0 established lost
responder ikeway-w2 rate 9000 handshakes/s p50 3.10 p99 9.00 at 0 established SAs
responder ikeway-w2 cpu 95 us/handshake, generator 40 us/handshake at 0 established SAs
responder ikeway-w2 rate 9000 handshakes/s p50 3.10 p99 9.00 at 1000 established SAs
responder charon rate 500 handshakes/s p50 30.00 p99 90.00 at 0 established SAs
responder charon rate 250 handshakes/s p50 30.00 p99 90.00 at 1000 established SAs
responder charon memory 22000 bytes/SA
responder charon quiet dpd p50 0.10 p99 0.20 answered 5/5, rekey p50 0.2 p99 0.3 answered 5/5
responder charon flood dpd p50 0.10 p99 0.20 answered 5/5, rekey p50 0.2 p99 0.3 answered 5/5
responder charon handshakes 1200 completed, 0 failed, 0 established lost
";

    #[test]
    fn ratios_pair_the_same_numbers_of_sas() {
        let s = Results::parse(SAMPLE).summary();
        assert_eq!(
            s,
            [
                "responder ratio ikeway-w1/charon rate 10.0x at 0 established SAs (target: >= 10x)",
                "responder ratio ikeway-w1/charon rate 18.0x at 1000 established SAs (target: >= 10x)",
                "responder ratio ikeway-w1/charon memory 0.14x (3000 vs 22000 bytes/SA; target: <= 4096)",
                "responder ikeway-w1 rate spread 11% from 0 to 1000 established SAs (target: within 20%)",
                "responder ikeway-w1 windows spread up to 15% within one level (at 1000 established SAs)",
                "responder ratio ikeway-w2/charon rate 18.0x at 0 established SAs (target: >= 10x)",
                "responder ratio ikeway-w2/charon rate 36.0x at 1000 established SAs (target: >= 10x)",
                "responder ikeway-w2 rate spread 0% from 0 to 1000 established SAs (target: within 20%)",
                "responder workers ikeway-w2/ikeway-w1 rate 1.80x at 0 established SAs (target: >= 1.7x)",
                "responder workers ikeway-w2/ikeway-w1 rate 2.00x at 1000 established SAs (target: >= 1.7x)",
                "responder workers ikeway-w2/ikeway-w1 cpu 95 vs 90 us/handshake (1.06x; generator 40 vs 80) at 0 established SAs",
            ]
        );
    }

    #[test]
    fn the_quick_check_wants_every_line_and_no_failure() {
        let ok: String =
            SAMPLE.lines().filter(|l| !l.contains("ikeway-w2")).map(|l| format!("{l}\n")).collect();
        Results::parse(&ok).check_shape().expect("complete");
        let failed = ok.replace("1200 completed, 0 failed", "1199 completed, 1 failed");
        let err = Results::parse(&failed).check_shape().unwrap_err().to_string();
        assert!(err.contains("not every handshake completed"), "{err}");
        let no_flood: String =
            ok.lines().filter(|l| !l.contains("charon flood")).map(|l| format!("{l}\n")).collect();
        let err = Results::parse(&no_flood).check_shape().unwrap_err().to_string();
        assert!(err.starts_with("charon: missing lines"), "{err}");
        let ours_only: String =
            ok.lines().filter(|l| !l.contains("charon")).map(|l| format!("{l}\n")).collect();
        assert!(Results::parse(&ours_only).check_shape().is_err());
    }
}
