//! The load generator of `cargo xtask bench responder` (run by testbeds/responder-bench.sh in
//! the client namespace, once per responder): handshakes against one responder at growing
//! numbers of established SAs, its memory per SA, then liveness checks and child rekeys of
//! established clients without and during a spoofed IKE_SA_INIT flood. It prints:
//!
//! ```text
//! responder <name> rate <N> handshakes/s p50 <ms> p99 <ms> at <K> established SAs
//! responder <name> cpu <us> us/handshake, generator <us> us/handshake at <K> established SAs
//! responder <name> memory <B> bytes/SA
//! responder <name> rss <MiB> MiB -> <MiB> MiB over <N> SAs
//! responder <name> quiet|flood ... dpd p50 <ms> p99 <ms> answered <a>/<n>, rekey ...
//! responder <name> handshakes <n> completed, <n> failed, <n> established lost
//! ```
//!
//! `<K>` is the number of established SAs when the timed batch starts (the batch adds its own).
//! CPU figures are the responder's process (all threads) and this process over the batch.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ikeway_benches::wire::clients::{Batch, Clients, Probes, Setup};
use ikeway_benches::wire::{flood, ms, process, quantile};

#[derive(Debug)]
struct Args {
    name: String,
    server: Ipv4Addr,
    sources: Vec<IpAddr>,
    psk: Vec<u8>,
    pid: u32,
    levels: Vec<usize>,
    sample: usize,
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
}

const USAGE: &str = "responder-wire --name NAME --server IPV4 --sources IP,IP.. --psk-file FILE \
--pid PID [--levels 0,1000,10000] [--sample 2000] [--concurrency 32] [--probes 200] \
[--probe-period-ms 200] [--probe-seconds 5] [--flood 50000] [--flood-net 10.200.0.0] \
[--flood-hosts 65000] [--limit-seconds 300] [--key-pool 4096]";

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
        sample: num("--sample", &opt("--sample", "2000"))?,
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
        let k = clients.established();
        let cpu_before = process::cpu(a.pid)?;
        let own_before = process::cpu(std::process::id())?;
        let mut b: Batch = clients.connect(a.sample, a.concurrency, a.limit)?;
        let cpu = process::cpu(a.pid)? - cpu_before;
        let own = process::cpu(std::process::id())? - own_before;
        completed += b.latencies.len();
        failed += b.failed;
        let done = b.latencies.len().max(1) as f64;
        let per = |d: Duration| d.as_secs_f64() * 1e6 / done;
        println!(
            "responder {name} rate {:.0} handshakes/s p50 {} p99 {} at {k} established SAs",
            b.rate(),
            ms(quantile(&mut b.latencies, 0.5)),
            ms(quantile(&mut b.latencies, 0.99)),
        );
        println!(
            "responder {name} cpu {:.0} us/handshake, generator {:.0} us/handshake at {k} established SAs",
            per(cpu),
            per(own)
        );
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
