//! `pump-static`: one end of an ESP tunnel with keys from the command line (no IKE), for the
//! datapath testbed (testbeds/datapath.sh) and manual tests. AES-GCM-128 (key 16 + salt 4
//! bytes, hex), tunnel mode, ESP-in-UDP.
//!
//! ```text
//! pump-static --tun ikw0 --local 10.99.0.1:4500 --remote 10.99.0.2:4500 \
//!   --addr 10.200.0.1/24 --route 10.200.0.0/24 --spi-in 1001 --spi-out 2002 \
//!   --key-in HEX40 --key-out HEX40 [--workers N] [--backend auto|uring|poll] [--mtu 1400]
//!   [--local-ts CIDR]... [--remote-ts CIDR]... [--seconds S]
//! ```
//! Prints `stats ...` every second (counters, process CPU time) and at exit.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
use ikeway_esp::SaConfig;
use ikeway_pump::{Backend, ChildSa, Policy, Pump, PumpConfig, Selector};

fn cidr(s: &str) -> (IpAddr, u8) {
    let (a, l) = s.split_once('/').unwrap_or((s, "32"));
    (a.parse().expect("address"), l.parse().expect("prefix"))
}

fn selector(s: &str) -> Selector {
    let (a, l) = cidr(s);
    Selector::cidr(a, l).expect("prefix fits")
}

/// User plus system CPU time of this process (all threads), from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // Fields 14 and 15 (utime, stime) are 12 and 13 after the command name and state.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut get = std::collections::HashMap::<String, Vec<String>>::new();
    while let Some(k) = args.next() {
        let v = args.next().unwrap_or_else(|| panic!("{k} needs a value"));
        get.entry(k.trim_start_matches("--").to_owned()).or_default().push(v);
    }
    let one = |k: &str| get.get(k).and_then(|v| v.last()).cloned();
    let need = |k: &str| one(k).unwrap_or_else(|| panic!("--{k} is required"));
    let hex_key = |k: &str| SecretBytes::new(hex::decode(need(k)).expect("hex key"));
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
    let spi = |k: &str| u32::from_str_radix(&need(k), 16).expect("hex SPI");

    let local: SocketAddr = need("local").parse().expect("--local ADDR:PORT");
    let mut config = PumpConfig::new(&need("tun"), local);
    config.mtu = one("mtu").map_or(1400, |m| m.parse().expect("mtu"));
    config.workers = one("workers").map_or(0, |m| m.parse().expect("workers"));
    config.backend = match one("backend").as_deref() {
        None | Some("auto") => Backend::Auto,
        Some("uring") => Backend::Uring,
        Some("poll") => Backend::Poll,
        Some(other) => panic!("unknown backend {other}"),
    };
    let addresses: Vec<(IpAddr, u8)> =
        get.get("addr").into_iter().flatten().map(|s| cidr(s)).collect();
    let routes: Vec<(IpAddr, u8)> =
        get.get("route").into_iter().flatten().map(|s| cidr(s)).collect();
    let mut policy = Policy {
        local: get.get("local-ts").into_iter().flatten().map(|s| selector(s)).collect(),
        remote: get.get("remote-ts").into_iter().flatten().map(|s| selector(s)).collect(),
    };
    if policy.local.is_empty() {
        policy.local = Policy::any().local;
    }
    if policy.remote.is_empty() {
        policy.remote = Policy::any().remote;
    }
    let child = ChildSa {
        inbound: SaConfig::new(spi("spi-in"), suite, hex_key("key-in"), SecretBytes::default()),
        outbound: SaConfig::new(spi("spi-out"), suite, hex_key("key-out"), SecretBytes::default()),
        policy,
        remote: need("remote").parse().expect("--remote ADDR:PORT"),
    };
    let pump = Pump::start(&config).unwrap_or_else(|e| {
        eprintln!("pump-static: {e}");
        std::process::exit(1)
    });
    // The pump only creates the device; this testbed tool sets it up with iproute2 (the
    // library's users do it over rtnetlink, `ikeway_tunnel::host::configure_link`).
    let tun = pump.tun_name().to_owned();
    ip(&["link", "set", "dev", &tun, "mtu", &config.mtu.to_string(), "up"]);
    for (addr, len) in &addresses {
        ip(&["addr", "replace", &format!("{addr}/{len}"), "dev", &tun]);
    }
    for (net, len) in &routes {
        ip(&["route", "replace", &format!("{net}/{len}"), "dev", &tun]);
    }
    pump.table().install(&child).expect("install SA");
    println!("ready tun={} backend={:?} local={}", pump.tun_name(), pump.backend(), local);
    let end = one("seconds").map(|s| Instant::now() + Duration::from_secs(s.parse().unwrap()));
    let start_cpu = cpu_time();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let s = pump.stats();
        let cpu = cpu_time().saturating_sub(start_cpu);
        let packets = s.tun_rx_packets + s.udp_rx_packets;
        let ns = (cpu.as_nanos() as u64).checked_div(packets).unwrap_or(0);
        println!("stats {} cpu_ms={} ns_per_packet={ns}", s.to_line(), cpu.as_millis());
        if end.is_some_and(|e| Instant::now() >= e) {
            break;
        }
    }
}

fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip").args(args).output().expect("running ip");
    if !out.status.success() {
        eprintln!("pump-static: ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        std::process::exit(1);
    }
}
