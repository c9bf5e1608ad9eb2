//! Project tasks: `cargo xtask <command>`. The one entry point for tests, fuzzing and benches,
//! so that CI and developers run exactly the same steps.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod ffi;
mod responder_bench;

const USAGE: &str = "\
cargo xtask <command>

commands:
  test                         everything CI runs: fmt, clippy, unit/integration tests, the
                               pump's tests under AddressSanitizer (Miri: not installed, said
                               loudly), a short run of every fuzz target, tshark cross-checks
                               (skipped loudly if tshark is missing)
  interop                      interop with strongSwan and libreswan in network namespaces,
                               PSK, certificates and EAP (root; peers from
                               testbeds/install-peers.sh); also part of test
  fuzz <target> [--seconds N]  run one fuzz target (default 60 s); `fuzz list` names them
  fuzz-all [--seconds N]       build every fuzz target and run each for N seconds (default 5)
  bench esp [--quick]          ESP encap/decap vs raw AEAD, one line per size
  bench handshake              complete in-process IKE handshakes per group
  bench responder [--quick]    responders on the wire, same run: ikeway serve and charon
                               under one load generator (handshake rate and latency at 0-100k
                               established SAs held under churn: median and spread of timed
                               windows; bytes/SA, rekeys and DPD during an
                               IKE_SA_INIT flood) and the ratios (root; testbeds/
                               responder-bench.sh); --quick: a few seconds, checks the output
  bench responder-datagram [N...]
                               cost of one datagram to an in-process responder holding 1k,
                               10k, 100k SAs
  bench testbed-timing         time from initiate to child SA: ours vs strongSwan's initiator,
                               same strongSwan responder, same run (root)
  bench datapath [PATH...]     iperf3 through ikeway-pump vs veth, strongSwan libipsec,
                               boringtun, wireguard-go (root; testbeds/datapath.sh)
  ffi-header                   regenerate crates/ffi/include/ikeway.h (cbindgen); `test`
                               fails when the checked-in header is stale, and compiles and
                               runs crates/ffi/examples/demo.c against the library
  ffi-check                    just those two C ABI steps of `test`
  tshark-expect                regenerate tshark's view of the test captures
                               (crates/ikeway/tests/data/*/tshark.json)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("test") => test(&root),
        Some("fuzz") => match args.get(1).map(String::as_str) {
            Some("list") | None => {
                for t in fuzz_targets(&root)? {
                    say(&t);
                }
                Ok(())
            }
            Some(target) => fuzz_run(target, seconds(&args, 60)?),
        },
        Some("fuzz-all") => fuzz_all(&root, seconds(&args, 5)?),
        Some("interop") => interop(),
        Some("ffi-header") => ffi::write_header(&root),
        Some("ffi-check") => ffi::check_header(&root).and_then(|()| ffi::run_c_demo(&root)),
        Some("tshark-expect") => run(Command::new("python3").arg("testbeds/tshark_expect.py")),
        Some("bench") => bench(&args[1..]),
        _ => {
            say(USAGE);
            bail!("unknown or missing command")
        }
    }
}

#[allow(clippy::print_stdout)]
fn say(line: &str) {
    println!("{line}");
}

/// A loud banner for steps that did not run, so a skip can never pass unnoticed.
#[allow(clippy::print_stderr)]
fn warn_skipped(what: &str, why: &str) {
    eprintln!("\n*** SKIPPED: {what}\n*** reason: {why}\n");
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").into()
}

fn seconds(args: &[String], default: u64) -> Result<u64> {
    match args.iter().position(|a| a == "--seconds") {
        Some(i) => args.get(i + 1).context("--seconds needs a value")?.parse().context("--seconds"),
        None => Ok(default),
    }
}

fn run(cmd: &mut Command) -> Result<()> {
    say(&format!("$ {cmd:?}"));
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // CI builds once from a clean checkout: incremental state would only take disk (several
    // GB for the test build) and time to write.
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        cargo.env("CARGO_INCREMENTAL", "0");
    }
    cargo
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn test(root: &Path) -> Result<()> {
    // Stop 26's CI run died of a full disk mid-build; the free space heads the log so such a
    // failure explains itself.
    if let Ok(df) = Command::new("df").args(["-h", "--output=avail,target", "."]).output() {
        say(&format!(
            "disk free for the build:\n{}",
            String::from_utf8_lossy(&df.stdout).trim_end()
        ));
    }
    shipped_builds_without_fuzzing()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["fmt", "--all", "--manifest-path", "fuzz/Cargo.toml", "--", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // Embedders read the libraries' rustdoc: a broken link or a malformed doc comment fails
    // the run. (The binaries' doc comments are their --help text, written for a terminal.)
    run(cargo().env("RUSTDOCFLAGS", "-D warnings").args([
        "doc",
        "--workspace",
        "--no-deps",
        "--lib",
    ]))?;
    if !have("tshark") {
        warn_skipped(
            "tshark cross-checks (tests that dissect our bytes with Wireshark)",
            "tshark is not installed; .ci/run installs it (apt-get install tshark)",
        );
    }
    ffi::check_header(root)?;
    run(cargo().args(["test", "--workspace"]))?;
    ffi::run_c_demo(root)?;
    pump_under_sanitizers(root)?;
    fuzz_all(root, 5)
}

/// Issue 9 finding 13: the pump is the one crate with `unsafe` (io_uring buffers shared with
/// the kernel), so its tests also run under AddressSanitizer. The stable toolchain ships the
/// ASan runtime (`librustc-stable_rt.asan.a`); `RUSTC_BOOTSTRAP=1` unlocks `-Zsanitizer`.
/// `--target` keeps the flags off build scripts and proc macros, and a target directory of
/// its own keeps the instrumented build from evicting the normal one. Doc tests are left out:
/// rustdoc would build them without the sanitizer against instrumented crates.
fn pump_under_sanitizers(root: &Path) -> Result<()> {
    warn_skipped(
        "Miri run of ikeway-pump's tests",
        "Miri is not installed on this machine (the toolchain has no miri component and none \
         can be fetched here); the pump's unsafe code is checked by the ASan run below only",
    );
    run(cargo()
        .env("RUSTC_BOOTSTRAP", "1")
        .env("RUSTFLAGS", "-Zsanitizer=address")
        .env("CARGO_TARGET_DIR", root.join("target/asan"))
        .args(["test", "-p", "ikeway-pump", "--target", "x86_64-unknown-linux-gnu", "--tests"]))?;
    say("ikeway-pump tests: clean under AddressSanitizer");
    Ok(())
}

/// Packages whose builds ship: the binary, and the crates an embedder links.
const SHIPPED: &[&str] = &["ikeway", "ikeway-manager", "ikeway-pump", "ikeway-sa", "ikeway-tunnel"];
/// Crates whose test-only items (`InsecureKexForFuzzing`, fuzz entry points) sit behind a
/// `fuzzing` feature.
const GATED: &[&str] = &["ikeway-ikev1", "ikeway-pump", "ikeway-sa"];

/// Issue 9 finding 5: `InsecureKexForFuzzing` and the pump's fuzz hooks exist only with a
/// crate's `fuzzing` feature. Cargo resolves features per build, so the proof is what a
/// shipped package's own build (`cargo build -p <package>`) turns on, as `cargo tree` prints it.
/// The compiler does the rest: the gated items are `#[cfg(feature = "fuzzing")]`, and the
/// crates' own tests, which use them, only build because they turn the feature on.
fn shipped_builds_without_fuzzing() -> Result<()> {
    for package in GATED {
        let output = cargo()
            .args(["tree", "-p", package, "--features", "fuzzing", "--depth", "0"])
            .output()
            .context("running cargo tree")?;
        if !output.status.success() {
            bail!(
                "{package} has no `fuzzing` feature: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    for package in SHIPPED {
        let output = cargo()
            .args(["tree", "-p", package, "-e", "normal,build", "--prefix", "none"])
            .args(["--format", "{p} [{f}]"])
            .output()
            .context("running cargo tree")?;
        if !output.status.success() {
            bail!("cargo tree -p {package} failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let leaks = fuzzing_enabled(&String::from_utf8_lossy(&output.stdout));
        if !leaks.is_empty() {
            bail!("`cargo build -p {package}` enables the fuzzing feature of: {leaks:?}");
        }
    }
    say("fuzzing feature: off in every shipped build");
    Ok(())
}

/// The packages whose `fuzzing` feature is on in a `cargo tree --format "{p} [{f}]"` listing.
fn fuzzing_enabled(tree: &str) -> Vec<String> {
    let mut leaks: Vec<String> = tree
        .lines()
        .filter_map(|line| {
            let (package, rest) = line.split_once(" [")?;
            let features = rest.split(']').next()?;
            features
                .split(',')
                .any(|f| f == "fuzzing")
                .then(|| package.split(' ').next().unwrap_or(package).to_owned())
        })
        .collect();
    leaks.sort();
    leaks.dedup();
    leaks
}

fn fuzz_targets(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("fuzz/fuzz_targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs") {
            names.push(path.file_stem().expect("file has a stem").to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn ensure_cargo_fuzz() -> Result<()> {
    let installed = cargo().args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    Ok(())
}

/// cargo-fuzz needs nightly-only compiler flags; the stable toolchain accepts them with
/// RUSTC_BOOTSTRAP, which is the documented way to fuzz on a machine with one toolchain.
fn fuzz_command(args: &[&str]) -> Command {
    let mut cmd = cargo();
    cmd.arg("fuzz").args(args).env("RUSTC_BOOTSTRAP", "1");
    cmd
}

fn fuzz_run(target: &str, seconds: u64) -> Result<()> {
    ensure_cargo_fuzz()?;
    let corpus = format!("fuzz/corpus/{target}");
    std::fs::create_dir_all(&corpus)?;
    run(&mut fuzz_command(&["run", target, &corpus, "--", &format!("-max_total_time={seconds}")]))
}

fn fuzz_all(root: &Path, seconds: u64) -> Result<()> {
    ensure_cargo_fuzz()?;
    run(&mut fuzz_command(&["build"]))?;
    for target in fuzz_targets(root)? {
        fuzz_run(&target, seconds)?;
    }
    Ok(())
}

/// `bench esp [--quick]`: the short timing run of `benches/src/bin/esp_quick.rs`, in release.
fn bench(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("esp") => {
            let mut cmd = cargo();
            cmd.args(["run", "--release", "-q", "-p", "ikeway-benches", "--bin", "esp-quick"]);
            if args.iter().any(|a| a == "--quick") {
                cmd.args(["--", "--quick"]);
            }
            run(&mut cmd)
        }
        Some("testbed-timing") => testbed_timing(),
        Some("datapath") => {
            run(cargo().args(["build", "--release", "-q", "-p", "ikeway-pump", "--examples"]))?;
            let script = project_root().join("testbeds/datapath.sh");
            run(Command::new("bash").arg(script).args(&args[1..]))
        }
        Some("handshake") => run(cargo().args([
            "run",
            "--release",
            "-q",
            "-p",
            "ikeway-benches",
            "--bin",
            "handshake-quick",
        ])),
        Some("responder") => {
            responder_bench::bench(&project_root(), args.iter().any(|a| a == "--quick"))
        }
        Some("responder-datagram") => run(cargo()
            .args(["run", "--release", "-q", "-p", "ikeway-benches", "--features", "insecure-kex"])
            .args(["--bin", "responder-quick", "--"])
            .args(&args[1..])),
        _ => bail!(
            "usage: cargo xtask bench esp [--quick] | handshake | responder [--quick] | responder-datagram [N...] | testbed-timing | datapath [PATH...]"
        ),
    }
}

/// The interop suites: part of `cargo test` (they announce themselves skipped without root or
/// peers); this runs them alone.
fn interop() -> Result<()> {
    run(cargo()
        .args(["test", "-p", "ikeway", "--test", "interop", "--test", "cert_interop"])
        .args(["--test", "eap_interop"])
        .args(["--", "--nocapture"]))
}

/// Runs `testbeds/interop.sh timing` with a release build and prints both initiators' times.
fn testbed_timing() -> Result<()> {
    run(cargo().args(["build", "--release", "-q", "-p", "ikeway"]))?;
    let out = std::env::temp_dir().join(format!("ikeway-timing-{}", std::process::id()));
    run(Command::new("bash")
        .arg("testbeds/interop.sh")
        .arg("timing")
        .arg(&out)
        .arg("target/release/ikeway"))?;
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for i in 1..=6 {
        let events = std::fs::read_to_string(out.join(format!("ours-{i}.jsonl")))?;
        let ms = events
            .lines()
            .find_map(|l| l.split("\"initiate_to_child_ms\":").nth(1))
            .and_then(|v| v.trim_end_matches('}').parse::<f64>().ok())
            .context("our timing line")?;
        ours.push(ms);
        let sw = std::fs::read_to_string(out.join(format!("sw-{i}.ms")))?;
        theirs.push(sw.trim().parse::<f64>().context("strongSwan timing")?);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[2] + v[3]) / 2.0
    };
    say(&format!(
        "ikeway initiator:     initiate -> child SA installed, median of 6: {:.1} ms {ours:?}",
        median(&mut ours)
    ));
    say(&format!(
        "strongSwan initiator: swanctl --initiate -> child up, median of 6: {:.1} ms {theirs:?}",
        median(&mut theirs)
    ));
    let log = std::fs::read_to_string(out.join("cli-charon.log"))?;
    let mut internal = charon_setup_times(&log);
    if internal.len() >= 2 {
        say(&format!(
            "strongSwan initiator, its own log (initiating IKE_SA -> CHILD_SA established), median: {:.1} ms {internal:?}",
            median(&mut internal)
        ));
    }
    say(
        "(same strongSwan responder with kernel-libipsec, same run; swanctl adds a vici round trip)",
    );
    Ok(())
}

/// Milliseconds from `initiating IKE_SA ikw[N]` to the first "CHILD_SA ... established" of the
/// same IKE SA, per IKE SA, from charon's file log (`HH:MM:SS.mmm` timestamps).
fn charon_setup_times(log: &str) -> Vec<f64> {
    let ms = |line: &str| -> Option<f64> {
        let mut parts = line.split_whitespace().next()?.split(':');
        let h = parts.next()?.parse::<f64>().ok()?;
        let m = parts.next()?.parse::<f64>().ok()?;
        let s = parts.next()?.parse::<f64>().ok()?;
        Some(((h * 60.0 + m) * 60.0 + s) * 1000.0)
    };
    let mut started = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(tag) = line.split_whitespace().nth(2).filter(|t| t.starts_with("<ikw|")) else {
            continue;
        };
        if line.contains("initiating IKE_SA") {
            if let Some(t) = ms(line) {
                started.insert(tag.to_owned(), t);
            }
        } else if line.contains("CHILD_SA")
            && line.contains("established")
            && let (Some(t0), Some(t1)) = (started.remove(tag), ms(line))
        {
            out.push(t1 - t0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9 finding 5: the check that keeps `fuzzing` out of shipped builds sees the
    /// feature wherever `cargo tree` lists it, and nothing else.
    #[test]
    fn finds_the_fuzzing_feature_in_a_tree_listing() {
        let tree = "ikeway v0.1.0 (/w/crates/ikeway) []\n\
                    ikeway-sa v0.1.0 (/w/crates/sa) [fuzzing]\n\
                    ikeway-sa v0.1.0 (/w/crates/sa) [fuzzing] (*)\n\
                    ikeway-pump v0.1.0 (/w/crates/pump) [default,fuzzing]\n\
                    serde v1.0.0 [derive,fuzzing_like,std]\n";
        assert_eq!(fuzzing_enabled(tree), ["ikeway-pump", "ikeway-sa"]);
        assert!(fuzzing_enabled("ikeway-sa v0.1.0 (/w/crates/sa) []\n").is_empty());
    }

    /// Issue 9 finding 5: a default build of each shipped package leaves `fuzzing` off (this
    /// is what `cargo xtask test` enforces before anything else).
    #[test]
    fn shipped_packages_build_without_fuzzing() {
        shipped_builds_without_fuzzing().unwrap();
    }
}
