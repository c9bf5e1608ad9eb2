//! `ikeway initiate` and `ikeway serve`: our IKE initiator and responder over real UDP, for
//! interop tests against strongSwan and libreswan and for products that embed us. Child SA
//! keys are reported as events; with `--tun NAME` they also drive the ESP datapath
//! (`ikeway-pump`, see `datapath.rs`), which then owns UDP 4500.

pub(crate) mod datapath;
pub(crate) mod faults;
mod proposals;
mod queue;
pub(crate) mod runtime;

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ikeway::wireshark;
use ikeway_codec::{DhGroup, EncrAlg, TrafficSelector};
use ikeway_sa::{
    AddressPool, CloseReason, Config, DefaultKex, EngineEvent, Event, IkeSa, Responder, SaId,
};
use serde_json::{Value, json};

use crate::secret_file;
use faults::Fault;

/// Options both ends share.
#[derive(Args, Debug)]
pub(crate) struct Common {
    /// Our address; UDP ports 500 and 4500 are bound on it.
    #[arg(long)]
    local: IpAddr,
    /// Our identity: an IP address, `user@host` (RFC 822), or a name (FQDN; a leading `@` is
    /// dropped, as strongSwan writes it).
    #[arg(long)]
    id: String,
    /// The identity the peer must authenticate as (default: any).
    #[arg(long)]
    remote_id: Option<String>,
    /// File holding the pre-shared key (its first line).
    #[arg(long, value_name = "FILE")]
    psk_file: PathBuf,
    /// IKE proposals in strongSwan's notation, e.g. `aes256gcm16-prfsha256-x25519`.
    #[arg(long = "ike", value_name = "PROPOSAL")]
    ike: Vec<String>,
    /// ESP proposals, e.g. `aes128gcm16-esn-noesn` (groups listed are for PFS).
    #[arg(long = "esp", value_name = "PROPOSAL")]
    esp: Vec<String>,
    /// Our traffic selectors (CIDR; default: everything).
    #[arg(long = "local-ts", value_name = "CIDR")]
    local_ts: Vec<String>,
    /// The peer's traffic selectors (CIDR; default: everything).
    #[arg(long = "remote-ts", value_name = "CIDR")]
    remote_ts: Vec<String>,
    /// Write the IKE SA keys to FILE as Wireshark `ikev2_decryption_table` rows. This writes
    /// secrets: use it only to debug with tshark. FILE must not exist; it is created 0600.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Seed for every random choice (hex, 64 digits); default: from the OS. Makes every key
    /// predictable: only builds with the `insecure-seed` feature (tests, benches) accept it.
    #[arg(long, hide = !cfg!(feature = "insecure-seed"))]
    seed: Option<String>,
    #[command(flatten)]
    tun: datapath::TunArgs,
}

#[derive(Args, Debug)]
pub(crate) struct InitiateArgs {
    #[command(flatten)]
    common: Common,
    /// The responder's address.
    #[arg(long)]
    remote: IpAddr,
    /// Ask for an internal address, DNS servers and domain (CFG_REQUEST).
    #[arg(long)]
    request_config: bool,
    /// Actions after the first child SA is up: `rekey-child@SECONDS`, `rekey-ike@S`, `dpd@S`,
    /// `create-child@S`, `delete-child@S`, `delete@S` (delete the IKE SA, then exit).
    #[arg(long = "then", value_name = "ACTION@SECONDS")]
    then: Vec<String>,
    /// Stay up this many seconds after the last action (or after the child SA when none).
    #[arg(long, default_value_t = 1)]
    linger: u64,
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// IPv4 address pool for clients, `FIRST/COUNT`, e.g. `10.88.0.10/100`.
    #[arg(long)]
    pool: Option<String>,
    /// IPv6 address pool, `FIRST/COUNT`.
    #[arg(long)]
    pool6: Option<String>,
    /// DNS servers handed out in CFG_REPLY.
    #[arg(long)]
    dns: Vec<IpAddr>,
    /// DNS search domains handed out in CFG_REPLY.
    #[arg(long)]
    domain: Vec<String>,
    /// Protected networks announced as INTERNAL_IP4/6_SUBNET (CIDR).
    #[arg(long)]
    subnet: Vec<String>,
    /// Child SAs one client's IKE SA may hold (more are refused with NO_ADDITIONAL_SAS).
    #[arg(long, default_value_t = ikeway_sa::DEFAULT_MAX_CHILDREN)]
    max_children: usize,
    /// Accept remote selectors wider than one address from clients without a leased address
    /// (site-to-site peers; bounded by --remote-ts). Off: a client speaks for one address.
    #[arg(long)]
    wide_remote_ts: bool,
    /// Actions on the first IKE SA: `rekey-child@S`, `rekey-ike@S`, `dpd@S`, `delete@S`.
    #[arg(long = "then", value_name = "ACTION@SECONDS")]
    then: Vec<String>,
    /// Serve this many seconds, then exit.
    #[arg(long, default_value_t = 60)]
    duration: u64,
}

pub(crate) fn parse_cidr(s: &str) -> Result<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/').unwrap_or((s, ""));
    let addr: IpAddr = addr.parse().with_context(|| format!("{s:?} is not an address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = if len.is_empty() {
        max
    } else {
        len.parse().with_context(|| format!("{s:?}: bad prefix"))?
    };
    if len > max {
        bail!("{s:?}: prefix longer than the address");
    }
    Ok((addr, len))
}

fn cidr_selector(s: &str) -> Result<TrafficSelector> {
    let (addr, len) = parse_cidr(s)?;
    let (start, end) = match addr {
        IpAddr::V4(v4) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            let base = u32::from(v4) & mask;
            (
                IpAddr::from(std::net::Ipv4Addr::from(base)),
                IpAddr::from(std::net::Ipv4Addr::from(base | !mask)),
            )
        }
        IpAddr::V6(v6) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            let base = u128::from(v6) & mask;
            (
                IpAddr::from(std::net::Ipv6Addr::from(base)),
                IpAddr::from(std::net::Ipv6Addr::from(base | !mask)),
            )
        }
    };
    Ok(TrafficSelector::Range(ikeway_codec::AddrRange::any(start, end)))
}

fn config(c: &Common) -> Result<Config> {
    let psk = ikeway_manager::read_secret_file(&c.psk_file)?;
    let mut config = Config::new(ikeway_manager::identity(&c.id), psk);
    config.remote_id = c.remote_id.as_deref().map(ikeway_manager::identity);
    if !c.ike.is_empty() {
        config.ike_proposals = c.ike.iter().map(|p| proposals::ike(p)).collect::<Result<_>>()?;
    }
    if !c.esp.is_empty() {
        config.esp_proposals = c.esp.iter().map(|p| proposals::esp(p)).collect::<Result<_>>()?;
    }
    if !c.local_ts.is_empty() {
        config.local_ts = c.local_ts.iter().map(|s| cidr_selector(s)).collect::<Result<_>>()?;
    }
    if !c.remote_ts.is_empty() {
        config.remote_ts = c.remote_ts.iter().map(|s| cidr_selector(s)).collect::<Result<_>>()?;
    }
    Ok(config)
}

fn seed(c: &Common) -> Result<[u8; 32]> {
    match &c.seed {
        Some(hex_seed) => {
            let seed = parse_seed(hex_seed)?;
            if !cfg!(feature = "insecure-seed") {
                bail!(
                    "--seed makes every key, nonce and SPI predictable; only a test build \
                     (cargo feature insecure-seed) accepts it"
                );
            }
            Ok(seed)
        }
        None => runtime::os_seed(),
    }
}

/// Exactly 32 bytes: a shorter seed padded with zeros or a longer one cut would look accepted
/// while giving another seed than the one written.
fn parse_seed(hex_seed: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_seed).context("--seed is not hex")?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        anyhow::anyhow!("--seed must be 64 hex digits (32 bytes), not {}", hex_seed.len())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    RekeyChild,
    RekeyIke,
    Dpd,
    CreateChild,
    DeleteChild,
    Delete,
}

fn parse_actions(list: &[String]) -> Result<Vec<(Duration, Action)>> {
    let mut out = Vec::new();
    for s in list {
        let (name, secs) =
            s.split_once('@').with_context(|| format!("{s:?}: expected ACTION@SECONDS"))?;
        let secs: f64 = secs.parse().with_context(|| format!("{s:?}: bad seconds"))?;
        let action = match name {
            "rekey-child" => Action::RekeyChild,
            "rekey-ike" => Action::RekeyIke,
            "dpd" => Action::Dpd,
            "create-child" => Action::CreateChild,
            "delete-child" => Action::DeleteChild,
            "delete" => Action::Delete,
            other => bail!("unknown action {other:?}"),
        };
        out.push((Duration::from_secs_f64(secs), action));
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

fn apply(sa: &mut IkeSa, now: Instant, action: Action) {
    let first_child = sa.child_spis().first().map(|c| c.0);
    match action {
        Action::RekeyChild => {
            if let Some(spi) = first_child {
                sa.rekey_child(now, spi);
            }
        }
        Action::RekeyIke => sa.rekey_ike(now),
        Action::Dpd => sa.dpd(now),
        Action::CreateChild => sa.create_child(now),
        Action::DeleteChild => {
            if let Some(spi) = first_child {
                sa.delete_child(now, spi);
            }
        }
        Action::Delete => sa.delete_ike(now),
    }
}

fn hex32(v: u32) -> String {
    format!("{v:08x}")
}

fn suite_name(e: ikeway_crypto::Encryption) -> String {
    let name = EncrAlg(e.iana_id()).to_string();
    match e.key_bits_attribute() {
        Some(bits) => format!("{name}-{bits}"),
        None => name,
    }
}

fn ts_json(ts: &[TrafficSelector]) -> Value {
    json!(
        ts.iter()
            .map(|t| match t {
                TrafficSelector::Range(r) => format!("{}-{}", r.start, r.end),
                TrafficSelector::Other { ts_type, .. } => format!("type {}", ts_type.0),
            })
            .collect::<Vec<_>>()
    )
}

/// One JSON line per event, for tests and scripts to read.
fn event_json(e: &Event) -> Value {
    match e {
        Event::IkeSaUp { spi_i, spi_r, suite } => json!({
            "event": "ike_sa_up",
            "spi_i": format!("{spi_i:016x}"),
            "spi_r": format!("{spi_r:016x}"),
            "encryption": suite_name(suite.suite.encryption()),
            "integrity": suite.suite.integrity().map(|i| format!("{i:?}")),
            "prf": format!("{:?}", suite.prf),
            "group": suite.group.to_string(),
        }),
        Event::ChildSaInstalled(c) => json!({
            "event": "child_sa_installed",
            "spi_in": hex32(c.spi_in),
            "spi_out": hex32(c.spi_out),
            "encryption": suite_name(c.suite.suite.encryption()),
            "integrity": c.suite.suite.integrity().map(|i| format!("{i:?}")),
            "esn": c.suite.esn,
            "pfs_group": c.suite.group.map(|g: DhGroup| g.to_string()),
            "local_ts": ts_json(&c.local_ts),
            "remote_ts": ts_json(&c.remote_ts),
            "udp_encapsulation": c.udp_encapsulation,
            "replaces": c.replaces.map(hex32),
        }),
        Event::ChildSaRemoved { spi_in, spi_out } => {
            json!({"event": "child_sa_removed", "spi_in": hex32(*spi_in), "spi_out": hex32(*spi_out)})
        }
        Event::ChildSaRefused { notify } => {
            json!({"event": "child_sa_refused", "notify": notify.to_string()})
        }
        Event::ConfigReceived(c) => json!({
            "event": "config",
            "addresses": c.addresses.iter().map(|(a, l)| format!("{a}/{l}")).collect::<Vec<_>>(),
            "dns": c.dns.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "domains": c.dns_domains,
            "subnets": c.subnets.iter().map(|(a, l)| format!("{a}/{l}")).collect::<Vec<_>>(),
        }),
        Event::NatDetected { local_behind_nat, remote_behind_nat } => json!({
            "event": "nat_detected", "local_behind_nat": local_behind_nat, "remote_behind_nat": remote_behind_nat,
        }),
        Event::IkeSaRekeyed { old_spis, new_spis } => json!({
            "event": "ike_sa_rekeyed",
            "old": [format!("{:016x}", old_spis.0), format!("{:016x}", old_spis.1)],
            "new": [format!("{:016x}", new_spis.0), format!("{:016x}", new_spis.1)],
        }),
        Event::IkeSaClosed { reason } => {
            json!({"event": "ike_sa_closed", "reason": format!("{reason:?}")})
        }
        other => json!({"event": format!("{other:?}")}),
    }
}

#[allow(clippy::print_stdout)]
pub(crate) fn print(v: &Value) {
    println!("{v}");
}

/// The `--keylog` file, created before anything is negotiated so that a refused path fails
/// early.
fn open_keylog(path: &Option<PathBuf>) -> Result<Option<File>> {
    path.as_deref().map(secret_file::create).transpose()
}

fn write_keylog(file: Option<&mut File>, sa: &IkeSa) -> Result<()> {
    let (Some(f), Some(k)) = (file, sa.export_keys_for_debugging()) else { return Ok(()) };
    let Some(encr) = wireshark::encryption_name(k.suite.suite.encryption()) else { return Ok(()) };
    let row = format!(
        "{:016x},{:016x},{},{},\"{}\",{},{},\"{}\"\n",
        k.spi_i,
        k.spi_r,
        hex::encode(k.sk_ei.expose()),
        hex::encode(k.sk_er.expose()),
        encr,
        hex::encode(k.sk_ai.expose()),
        hex::encode(k.sk_ar.expose()),
        wireshark::integrity_name(k.suite.suite.integrity()),
    );
    f.write_all(row.as_bytes())?;
    Ok(())
}

pub(crate) fn initiate(args: InitiateArgs) -> Result<()> {
    let c = &args.common;
    let mut config = config(c)?;
    if args.request_config {
        config.config_request = ikeway_sa::CLIENT_CONFIG_REQUEST.to_vec();
    }
    let actions = parse_actions(&args.then)?;
    let seed = seed(c)?;
    let mut keylog = open_keylog(&c.keylog)?;
    let (sockets, pump) = runtime::endpoint(c.local, &c.tun)?;
    let start = Instant::now();
    let mut sa = IkeSa::initiate(
        Arc::new(config),
        Arc::new(DefaultKex::default()),
        seed,
        start,
        SocketAddr::new(c.local, 500),
        SocketAddr::new(args.remote, 500),
    )?;
    let mut child_up_at: Option<Instant> = None;
    let mut next_action = 0;
    let mut ike_up = false;
    let mut closed: Option<CloseReason> = None;
    let linger = Duration::from_secs(args.linger);
    let deadline = start + Duration::from_secs(c.timeout);
    runtime::run(&mut sa, &sockets, deadline, |sa, now| {
        while let Some(EngineEvent { event: e, .. }) = sa.poll_event() {
            match &e {
                Event::IkeSaUp { .. } | Event::IkeSaRekeyed { .. } => {
                    ike_up = true;
                    write_keylog(keylog.as_mut(), sa)?;
                }
                Event::ChildSaInstalled(_) if child_up_at.is_none() => {
                    child_up_at = Some(now);
                    print(
                        &json!({"event": "timing", "initiate_to_child_ms": (now - start).as_secs_f64() * 1000.0}),
                    );
                }
                // The IKE SA stays up without a child (e.g. libreswan without kernel ESP).
                Event::ChildSaRefused { .. } if child_up_at.is_none() => child_up_at = Some(now),
                Event::IkeSaClosed { reason } => closed = Some(*reason),
                _ => {}
            }
            print(&event_json(&e));
            if let Some(pump) = &pump
                && let Some(line) = datapath::on_event(pump, &e)?
            {
                print(&line);
            }
        }
        if let Some(pump) = &pump {
            datapath::rekey_requested(pump.table(), now, sa).iter().for_each(print);
        }
        if closed.is_some() {
            return Ok(ControlFlow::Break(()));
        }
        if let Some(up) = child_up_at {
            while let Some((at, action)) = actions.get(next_action) {
                if now < up + *at {
                    break;
                }
                apply(sa, now, *action);
                next_action += 1;
            }
            let last = actions.last().map_or(Duration::ZERO, |(t, _)| *t);
            if next_action == actions.len() && child_up_at.is_some() && now >= up + last + linger {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    print(&json!({
        "event": "stats",
        "ike": format!("{:?}", sa.stats()),
        "dropped_queue_full": sockets.dropped_queue_full(),
    }));
    if let Some(pump) = &pump {
        print(&datapath::stats_json(pump));
    }
    match closed {
        Some(CloseReason::Deleted) | None if ike_up => Ok(()),
        Some(reason) => bail!("IKE SA closed: {reason}"),
        None => bail!("IKE SA never came up"),
    }
}

fn parse_pool<T: std::str::FromStr>(s: &str) -> Result<(T, u32)> {
    let (first, count) =
        s.split_once('/').with_context(|| format!("{s:?}: expected FIRST/COUNT"))?;
    let first = first.parse().map_err(|_| anyhow::anyhow!("{s:?}: bad address"))?;
    Ok((first, count.parse().with_context(|| format!("{s:?}: bad count"))?))
}

pub(crate) fn serve(args: ServeArgs) -> Result<()> {
    let c = &args.common;
    let mut config = config(c)?;
    config.max_children = args.max_children;
    config.wide_remote_ts = args.wide_remote_ts;
    let pool = AddressPool {
        v4: args.pool.as_deref().map(parse_pool).transpose()?,
        v6: args.pool6.as_deref().map(parse_pool).transpose()?,
        dns: args.dns.clone(),
        dns_domains: args.domain.clone(),
        subnets: args.subnet.iter().map(|s| parse_cidr(s)).collect::<Result<_>>()?,
    };
    let actions = parse_actions(&args.then)?;
    let seed = seed(c)?;
    let mut keylog = open_keylog(&c.keylog)?;
    let (sockets, pump) = runtime::endpoint(c.local, &c.tun)?;
    let mut responder =
        Responder::new(Arc::new(config), Arc::new(DefaultKex::default()), Some(pool), seed);
    let start = Instant::now();
    let end = start + Duration::from_secs(args.duration);
    let mut first: Option<(SaId, Instant)> = None;
    let mut next_action = 0;
    let result = runtime::run(&mut responder, &sockets, end + Duration::from_secs(1), |r, now| {
        while let Some(EngineEvent { sa: spi_r, event: e }) = r.poll_event() {
            if let Event::ChildSaInstalled(_) = e
                && first.is_none()
            {
                first = Some((spi_r, now));
            }
            if matches!(e, Event::IkeSaUp { .. } | Event::IkeSaRekeyed { .. })
                && let Some(sa) = r.sa_mut(spi_r)
            {
                write_keylog(keylog.as_mut(), sa)?;
            }
            let mut v = event_json(&e);
            v["sa"] = json!(spi_r.to_string());
            print(&v);
            if let Some(pump) = &pump {
                // A child the datapath cannot take concerns one client: count it, serve on.
                match datapath::on_event(pump, &e) {
                    Ok(Some(line)) => print(&line),
                    Ok(None) => {}
                    Err(err) => sockets.fault(Fault::Datapath, &err),
                }
            }
        }
        if let Some(pump) = &pump {
            datapath::rekey_requested(pump.table(), now, r).iter().for_each(print);
        }
        if let Some((spi_r, up)) = first {
            while let Some((at, action)) = actions.get(next_action) {
                if now < up + *at {
                    break;
                }
                if let Some(sa) = r.sa_mut(spi_r) {
                    apply(sa, now, *action);
                }
                next_action += 1;
            }
        }
        Ok(if now >= end { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
    });
    print(&json!({
        "event": "stats",
        "endpoint": format!("{:?}", responder.stats()),
        "held": format!("{:?}", responder.held()),
        "faults": sockets.faults().to_json(),
        "dropped_queue_full": sockets.dropped_queue_full(),
    }));
    if let Some(pump) = &pump {
        print(&datapath::stats_json(pump));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9 finding 5: a seed is exactly 32 bytes; a short or long one is refused instead of
    /// being padded or cut.
    #[test]
    fn seed_of_the_wrong_length_is_refused() {
        let good = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert_eq!(parse_seed(good).unwrap()[31], 0xff);
        for bad in ["", "00", &good[..62], &format!("{good}00")] {
            let err = parse_seed(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("--seed must be 64 hex digits (32 bytes), not {}", bad.len()),
                "{bad:?}"
            );
        }
        assert_eq!(parse_seed("zz").unwrap_err().to_string(), "--seed is not hex");
    }
}
