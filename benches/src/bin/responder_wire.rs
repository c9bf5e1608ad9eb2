//! The load generator of `cargo xtask bench responder` (run by testbeds/responder-bench.sh in
//! the client namespace, once per responder): the handshake rate of one responder holding a
//! steady population of K established SAs, for growing K, its memory per SA, then liveness
//! checks and child rekeys of established clients without and during a spoofed IKE_SA_INIT
//! flood.
//!
//! At each K the population is filled, then held at K under churn: every handshake that
//! completes retires the oldest established SA with a DELETE, so the responder's table neither
//! grows nor shrinks while it is timed (a batch of new SAs on top of K would time a growing
//! table, and charon's rate falls as its table grows). After a warm-up, several windows of a
//! fixed length are timed; the rate printed is their median, and the windows line gives the
//! slowest, median and fastest with the spread (fastest / slowest - 1). It prints:
//!
//! ```text
//! responder <name> rate <N> handshakes/s p50 <ms> p99 <ms> at <K> established SAs
//! responder <name> windows <W> x <s> s rate min <N> median <N> max <N> handshakes/s spread <p>% at <K> established SAs
//! responder <name> cpu <us> us/handshake, generator <us> us/handshake at <K> established SAs
//! responder <name> memory <B> bytes/SA
//! responder <name> rss <MiB> MiB -> <MiB> MiB over <N> SAs
//! responder <name> quiet|flood ... dpd p50 <ms> p99 <ms> answered <a>/<n>, rekey ...
//! responder <name> handshakes <n> completed, <n> failed, <n> established lost
//! ```
//!
//! `<K>` is the number of established SAs the churn holds. p50 and p99 are of every handshake
//! completed in the windows (IKE_SA_INIT sent to child SA installed). CPU figures are the
//! responder's process (all threads) and this process over the windows, per handshake
//! completed in them (a DELETE of the churn included).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ikeway_benches::wire::clients::{Clients, Flight, Probes, Setup};
use ikeway_benches::wire::{flood, ms, process, quantile};

#[derive(Debug)]
struct Args {
    name: String,
    server: Ipv4Addr,
    sources: Vec<IpAddr>,
    psk: Vec<u8>,
    pid: u32,
    levels: Vec<usize>,
    /// Churn before the timed windows, so they start in the steady state.
    warmup: Duration,
    window: Duration,
    windows: usize,
    concurrency: usize,
    probes: usize,
    probe_period: Duration,
    probe_length: Duration,
    flood_rate: u32,
    flood_net: Ipv4Addr,
    flood_hosts: u32,
    /// Longest a batch of handshakes may take.
    limit: Duration,
    /// The clients' pool of X25519 key pairs (0: a new key pair per handshake).
    key_pool: usize,
    /// Record the responder with `perf record` over each level's windows, into this directory.
    perf: Option<String>,
}

const USAGE: &str = "responder-wire --name NAME --server IPV4 --sources IP,IP.. --psk-file FILE \
--pid PID [--levels 0,1000,10000] [--warmup-ms 1000] [--window-ms 2000] [--windows 5] \
[--concurrency 32] [--probes 200] \
[--probe-period-ms 200] [--probe-seconds 5] [--flood 50000] [--flood-net 10.200.0.0] \
[--flood-hosts 65000] [--limit-seconds 300] [--key-pool 4096] [--perf DIR]";

fn parse() -> Result<Args, String> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let get = |key: &str| -> Option<&str> {
        argv.iter().position(|a| a == key).and_then(|i| argv.get(i + 1)).map(String::as_str)
    };
    let need = |key: &str| get(key).ok_or(format!("{key} is required\nusage: {USAGE}"));
    fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
        v.parse().map_err(|_| format!("{key}: {v:?} is not a number"))
    }
    let opt = |key: &str, default: &str| get(key).unwrap_or(default).to_owned();
    let psk_file = need("--psk-file")?;
    let psk = std::fs::read_to_string(psk_file).map_err(|e| format!("{psk_file}: {e}"))?;
    Ok(Args {
        name: need("--name")?.to_owned(),
        server: num("--server", need("--server")?)?,
        sources: need("--sources")?
            .split(',')
            .map(|s| num("--sources", s))
            .collect::<Result<_, _>>()?,
        psk: psk.lines().next().unwrap_or_default().as_bytes().to_vec(),
        pid: num("--pid", need("--pid")?)?,
        levels: opt("--levels", "0,1000,10000")
            .split(',')
            .map(|s| num("--levels", s))
            .collect::<Result<_, _>>()?,
        warmup: Duration::from_millis(num("--warmup-ms", &opt("--warmup-ms", "1000"))?),
        window: Duration::from_millis(num("--window-ms", &opt("--window-ms", "2000"))?),
        windows: num("--windows", &opt("--windows", "5"))?,
        concurrency: num("--concurrency", &opt("--concurrency", "32"))?,
        probes: num("--probes", &opt("--probes", "200"))?,
        probe_period: Duration::from_millis(num(
            "--probe-period-ms",
            &opt("--probe-period-ms", "200"),
        )?),
        probe_length: Duration::from_secs(num("--probe-seconds", &opt("--probe-seconds", "5"))?),
        flood_rate: num("--flood", &opt("--flood", "50000"))?,
        flood_net: num("--flood-net", &opt("--flood-net", "10.200.0.0"))?,
        flood_hosts: num("--flood-hosts", &opt("--flood-hosts", "65000"))?,
        limit: Duration::from_secs(num("--limit-seconds", &opt("--limit-seconds", "300"))?),
        key_pool: num("--key-pool", &opt("--key-pool", "4096"))?,
        perf: get("--perf").map(str::to_owned),
    })
}

fn seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    if let Ok(bytes) = std::fs::read("/proc/sys/kernel/random/uuid") {
        for (s, b) in seed.iter_mut().zip(bytes.iter().chain(bytes.iter())) {
            *s ^= *b;
        }
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    for (s, b) in seed.iter_mut().zip(nanos.to_le_bytes()) {
        *s ^= b;
    }
    seed
}

fn probe_line(name: &str, phase: &str, p: &mut Probes) -> String {
    format!(
        "responder {name} {phase} dpd p50 {} p99 {} answered {}/{}, rekey p50 {} p99 {} answered {}/{}",
        ms(quantile(&mut p.dpd, 0.5)),
        ms(quantile(&mut p.dpd, 0.99)),
        p.dpd.len(),
        p.dpd_sent,
        ms(quantile(&mut p.rekey, 0.5)),
        ms(quantile(&mut p.rekey, 0.99)),
        p.rekey.len(),
        p.rekey_sent,
    )
}

fn run(a: &Args) -> std::io::Result<bool> {
    let mut clients = Clients::bind(Setup {
        server: SocketAddr::new(IpAddr::V4(a.server), 500),
        sources: a.sources.clone(),
        psk: a.psk.clone(),
        seed: seed(),
        key_pool: a.key_pool,
    })?;
    let name = &a.name;
    let rss_before = process::rss(a.pid)?;
    let (mut completed, mut failed) = (0, 0);
    for &level in &a.levels {
        let fill = level.saturating_sub(clients.established());
        if fill > 0 {
            let b = clients.connect(fill, a.concurrency, a.limit)?;
            completed += b.latencies.len();
            failed += b.failed;
            eprintln!(
                "{name}: filled {} SAs in {:.1} s ({:.0}/s, {} failed)",
                b.latencies.len(),
                b.elapsed.as_secs_f64(),
                b.rate(),
                b.failed
            );
        }
        let mut flight = Flight::churn(a.concurrency, level);
        let warm = clients.churn(&mut flight, a.warmup)?;
        completed += warm.latencies.len();
        failed += warm.failed;
        let k = clients.established();
        let perf = match &a.perf {
            Some(dir) => Some(process::Profile::start(a.pid, &format!("{dir}/{name}-{k}.data"))?),
            None => None,
        };
        let cpu_before = process::cpu(a.pid)?;
        let own_before = process::cpu(std::process::id())?;
        let mut rates = Vec::with_capacity(a.windows);
        let mut latencies = Vec::new();
        for _ in 0..a.windows.max(1) {
            let b = clients.churn(&mut flight, a.window)?;
            rates.push(b.rate());
            completed += b.latencies.len();
            failed += b.failed;
            latencies.extend(b.latencies);
        }
        let cpu = process::cpu(a.pid)? - cpu_before;
        let own = process::cpu(std::process::id())? - own_before;
        if let Some(p) = perf {
            p.stop()?;
        }
        let landed = clients.land(&mut flight, a.limit)?;
        completed += landed.latencies.len();
        failed += landed.failed;
        let done = latencies.len().max(1) as f64;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / done;
        let w = Windows::of(&rates);
        println!(
            "responder {name} rate {:.0} handshakes/s p50 {} p99 {} at {k} established SAs",
            w.median,
            ms(quantile(&mut latencies, 0.5)),
            ms(quantile(&mut latencies, 0.99)),
        );
        println!(
            "responder {name} windows {} x {} s rate min {:.0} median {:.0} max {:.0} handshakes/s spread {:.0}% at {k} established SAs",
            rates.len(),
            a.window.as_secs_f64(),
            w.min,
            w.median,
            w.max,
            w.spread_percent(),
        );
        println!(
            "responder {name} cpu {:.0} us/handshake, generator {:.0} us/handshake at {k} established SAs",
            per(cpu),
            per(own)
        );
        eprintln!("{name}: {} SAs retired by DELETE so far", clients.retired);
    }
    let rss_after = process::rss(a.pid)?;
    let held = clients.established();
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    println!(
        "responder {name} memory {:.0} bytes/SA",
        rss_after.saturating_sub(rss_before) as f64 / held.max(1) as f64
    );
    println!(
        "responder {name} rss {:.1} MiB -> {:.1} MiB over {held} SAs",
        mib(rss_before),
        mib(rss_after)
    );

    let probes = clients.some_established(a.probes);
    let settle = Duration::from_secs(3);
    let mut quiet = clients.probe(&probes, a.probe_period, a.probe_length, settle)?;
    println!("{}", probe_line(name, "quiet", &mut quiet));
    let plan = flood::Plan {
        request: clients.init_request()?,
        server: SocketAddrV4::new(a.server, 500),
        net: a.flood_net,
        hosts: a.flood_hosts,
        rate: a.flood_rate,
        length: a.probe_length,
    };
    let stop = AtomicBool::new(false);
    let (sent, during) = std::thread::scope(|s| {
        let flooder = s.spawn(|| flood::run(&plan, &stop));
        let during = clients.probe(&probes, a.probe_period, a.probe_length, settle);
        stop.store(true, Ordering::Relaxed);
        (flooder.join().expect("the flood thread does not panic"), during)
    });
    let (sent, during) = (sent?, &mut during?);
    println!(
        "{} during a flood of {} IKE_SA_INIT/s from {} spoofed sources (sent {:.0}/s, {} refused by the kernel)",
        probe_line(name, "flood", during),
        a.flood_rate,
        a.flood_hosts,
        sent.rate(),
        sent.errors
    );
    println!(
        "responder {name} handshakes {completed} completed, {failed} failed, {} established lost",
        clients.lost
    );
    let answered = |p: &Probes| p.dpd.len() == p.dpd_sent && p.rekey.len() == p.rekey_sent;
    Ok(failed == 0 && clients.lost == 0 && answered(&quiet))
}

/// The timed windows of one level.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Windows {
    min: f64,
    median: f64,
    max: f64,
}

impl Windows {
    /// Of the windows' rates (at least one); the median of an even count is the mean of the
    /// middle two.
    fn of(rates: &[f64]) -> Self {
        let mut r = rates.to_vec();
        r.sort_by(f64::total_cmp);
        let n = r.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => r[n / 2],
            _ => (r[n / 2 - 1] + r[n / 2]) / 2.0,
        };
        Self {
            min: r.first().copied().unwrap_or(0.0),
            median,
            max: r.last().copied().unwrap_or(0.0),
        }
    }

    /// How much faster the fastest window was than the slowest, in percent.
    fn spread_percent(&self) -> f64 {
        (self.max / self.min.max(1e-9) - 1.0) * 100.0
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("responder-wire: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!(
                "responder-wire: {}: some handshakes or quiet probes did not complete",
                args.name
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("responder-wire: {}: {e}", args.name);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_give_median_and_spread() {
        let w = Windows::of(&[900.0, 1000.0, 1200.0, 950.0, 1100.0]);
        assert_eq!(w, Windows { min: 900.0, median: 1000.0, max: 1200.0 });
        assert_eq!(format!("{:.1}", w.spread_percent()), "33.3");
        assert_eq!(Windows::of(&[1.0, 4.0, 3.0, 2.0]).median, 2.5);
        assert_eq!(Windows::of(&[7.0]), Windows { min: 7.0, median: 7.0, max: 7.0 });
    }
}
