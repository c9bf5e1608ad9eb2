//! `--tun NAME`: attach the ESP datapath (`ikeway-pump`) to `initiate` / `serve`. The pump owns
//! UDP 4500: it hands IKE datagrams (non-ESP marker) up to the engine through a channel and
//! sends the engine's 4500 datagrams; child SAs go into its table as the engine installs and
//! removes them (make before break on rekey: the new SA is installed while the old one stays
//! for inbound until `ChildSaRemoved`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use ikeway_pump::{Pump, PumpConfig, SaTable};
use ikeway_sa::{Event, IkeSa, Responder};
use ikeway_tunnel::child::datapath_child as child;
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

/// Whatever owns child SAs and can rekey them: one IKE SA (initiator, `connect`), or a
/// responder's many.
pub(crate) trait ChildOwner {
    /// Starts a rekey of the child SA with inbound SPI `spi_in`; `false` if it is not ours.
    fn rekey_child(&mut self, now: Instant, spi_in: u32) -> bool;
}

impl ChildOwner for IkeSa {
    fn rekey_child(&mut self, now: Instant, spi_in: u32) -> bool {
        let ours = self.child_spis().iter().any(|&(spi, _)| spi == spi_in);
        if ours {
            IkeSa::rekey_child(self, now, spi_in);
        }
        ours
    }
}

impl ChildOwner for Responder {
    fn rekey_child(&mut self, now: Instant, spi_in: u32) -> bool {
        // Rare (once per child SA per soft limit): a scan is fine.
        let owner = self
            .sas()
            .find(|sa| sa.child_spis().iter().any(|&(spi, _)| spi == spi_in))
            .map(IkeSa::id);
        owner
            .and_then(|spi_r| self.sa_mut(spi_r))
            .is_some_and(|sa| ChildOwner::rekey_child(sa, now, spi_in))
    }
}

/// Starts a make-before-break rekey (RFC 7296 §2.8) of every child SA the datapath asked for
/// (`SaTable::poll_rekey`: a soft lifetime, or 15/16 of a non-ESN SA's 2^32 sequence numbers
/// used): the engine negotiates the new SA, whose `ChildSaInstalled` puts it in the table in
/// front of the old one, and the old SA's `ChildSaRemoved` takes it out. Without this a
/// non-ESN child stopped sending at 2^32 packets until its lifetime ran out. Returns one JSON
/// line per request.
pub(crate) fn rekey_requested(
    table: &SaTable,
    now: Instant,
    owner: &mut impl ChildOwner,
) -> Vec<Value> {
    let mut lines = Vec::new();
    while let Some(spi_in) = table.poll_rekey() {
        let started = owner.rekey_child(now, spi_in);
        lines.push(json!({
            "event": "datapath_rekey_needed",
            "spi_in": format!("{spi_in:08x}"),
            "rekey_started": started,
        }));
    }
    lines
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

#[cfg(test)]
mod rekey_tests;
