//! `--tun NAME`: attach the ESP datapath (`ikeway-pump`) to `initiate` / `serve`. The pump owns
//! UDP 4500: it hands IKE datagrams (non-ESP marker) up to the engine through a channel and
//! sends the engine's 4500 datagrams; child SAs go into its table as the engine installs and
//! removes them (make before break on rekey: the new SA is installed while the old one stays
//! for inbound until `ChildSaRemoved`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use ikeway_codec::TrafficSelector;
use ikeway_esp::SaConfig;
use ikeway_pump::{ChildSa, Policy, Pump, PumpConfig, Selector};
use ikeway_sa::{ChildSaInfo, Event};
use serde_json::{Value, json};

use super::parse_cidr;

#[derive(Args, Debug, Default)]
pub(crate) struct TunArgs {
    /// Run the ESP datapath over this TUN device (created if missing); UDP 4500 then belongs to
    /// the datapath, which passes IKE through.
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
    /// Address for the TUN device (CIDR); an initiator also takes the internal addresses it
    /// is assigned (CFG_REPLY).
    #[arg(long = "tun-addr", value_name = "CIDR")]
    tun_addr: Vec<String>,
    /// Route through the TUN device (CIDR), e.g. the responder's protected network.
    #[arg(long = "tun-route", value_name = "CIDR")]
    tun_route: Vec<String>,
    /// TUN MTU.
    #[arg(long = "tun-mtu", default_value_t = 1400)]
    tun_mtu: usize,
    /// Datapath threads (0: one per core).
    #[arg(long = "pump-workers", default_value_t = 0)]
    pump_workers: usize,
}

impl TunArgs {
    /// A datapath on TUN device `name` with the defaults of the flags.
    pub(crate) fn named(name: String) -> Self {
        Self { tun: Some(name), tun_mtu: 1400, ..Self::default() }
    }
}

/// Starts the pump if `--tun` was given.
pub(crate) fn start(args: &TunArgs, local: IpAddr) -> Result<Option<Arc<Pump>>> {
    let Some(name) = &args.tun else { return Ok(None) };
    let mut config = PumpConfig::new(name, SocketAddr::new(local, 4500));
    config.mtu = args.tun_mtu;
    config.workers = args.pump_workers;
    config.addresses = args.tun_addr.iter().map(|s| parse_cidr(s)).collect::<Result<_>>()?;
    config.routes = args.tun_route.iter().map(|s| parse_cidr(s)).collect::<Result<_>>()?;
    let pump = Pump::start(&config).with_context(|| format!("starting the datapath on {name}"))?;
    Ok(Some(Arc::new(pump)))
}

fn selectors(ts: &[TrafficSelector]) -> Vec<Selector> {
    ts.iter()
        .filter_map(|t| match t {
            TrafficSelector::Range(r) => Some(Selector {
                start: r.start,
                end: r.end,
                protocol: r.ip_protocol,
                start_port: r.start_port,
                end_port: r.end_port,
            }),
            TrafficSelector::Other { .. } => None,
        })
        .collect()
}

/// The ESP SAs of a child SA, inbound and outbound, as the negotiation emitted it (keys
/// already cut from KEYMAT in RFC 7296 §2.17 order). One mapping for every datapath.
pub(crate) fn esp_configs(c: &ChildSaInfo) -> (SaConfig, SaConfig) {
    let sa = |spi, keys: &ikeway_crypto::keys::DirectionKeys| {
        let mut config =
            SaConfig::new(spi, c.suite.suite, keys.encryption.clone(), keys.integrity.clone());
        config.esn = c.suite.esn;
        config
    };
    (sa(c.spi_in, &c.inbound), sa(c.spi_out, &c.outbound))
}

/// The datapath's form of a child SA: both ESP directions, the selectors, the peer.
pub(crate) fn child(c: &ChildSaInfo) -> ChildSa {
    let (inbound, outbound) = esp_configs(c);
    ChildSa {
        inbound,
        outbound,
        policy: Policy { local: selectors(&c.local_ts), remote: selectors(&c.remote_ts) },
        remote: c.remote,
    }
}

/// Applies an engine event to the datapath; returns a JSON line to print, if any.
pub(crate) fn on_event(pump: &Pump, e: &Event) -> Result<Option<Value>> {
    match e {
        Event::ChildSaInstalled(c) => {
            pump.table().install(&child(c)).context("installing the child SA in the datapath")?;
            Ok(Some(
                json!({"event": "datapath_sa_installed", "spi_in": format!("{:08x}", c.spi_in), "tun": pump.tun_name()}),
            ))
        }
        Event::ChildSaRemoved { spi_in, .. } => {
            let found = pump.table().remove(*spi_in);
            Ok(Some(
                json!({"event": "datapath_sa_removed", "spi_in": format!("{spi_in:08x}"), "found": found}),
            ))
        }
        Event::ConfigReceived(cfg) => {
            for (addr, _) in &cfg.addresses {
                // A /32 or /128 host address: routes come from --tun-route.
                let host = if addr.is_ipv4() { 32 } else { 128 };
                let status = std::process::Command::new("ip")
                    .args(["addr", "replace", &format!("{addr}/{host}"), "dev", pump.tun_name()])
                    .status()?;
                anyhow::ensure!(status.success(), "ip addr replace {addr} failed");
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// The datapath's counters as one JSON object, for the final stats line.
pub(crate) fn stats_json(pump: &Pump) -> Value {
    let s = pump.stats();
    json!({
        "event": "datapath_stats",
        "backend": format!("{:?}", pump.backend()),
        "counters": s.to_line(),
        "sas": pump.table().stats().iter().map(|sa| json!({
            "spi_in": format!("{:08x}", sa.spi_in),
            "in_packets": sa.inbound.packets,
            "in_drops": sa.inbound.total_drops(),
            "out_packets": sa.outbound.as_ref().map(|o| o.packets),
        })).collect::<Vec<_>>(),
    })
}
