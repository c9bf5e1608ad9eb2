//! The ESP datapath of a session on a TUN device (`ikeway-pump`). The pump owns the NAT-T
//! port: it hands IKE datagrams (non-ESP marker) up to the engine through a channel and sends
//! the engine's datagrams on that port; child SAs go into its table as the engine installs and
//! removes them (make before break on rekey: the new SA is installed while the old one stays
//! for inbound until `ChildSaRemoved`).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ikeway_pump::{Pump, PumpConfig, SaTable};
use ikeway_sa::{Event, IkeSa, Responder};

use crate::SessionError;
use crate::child::datapath_child as child;
use crate::event::{DatapathStats, EventKind, SaCounters, Spi32};

/// A datapath on a TUN device, created if missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunOptions {
    /// The device's name.
    pub name: String,
    /// Addresses put on the device (an initiator also gets the internal addresses it is
    /// assigned, CFG_REPLY).
    pub addresses: Vec<(IpAddr, u8)>,
    /// Routes into the device.
    pub routes: Vec<(IpAddr, u8)>,
    /// The device's MTU: the largest inner packet.
    pub mtu: usize,
    /// Datapath threads (0: one per core).
    pub workers: usize,
}

impl TunOptions {
    /// Device `name`, no addresses or routes, MTU 1400, one worker per core.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), addresses: Vec::new(), routes: Vec::new(), mtu: 1400, workers: 0 }
    }
}

/// Starts the pump on `local`'s NAT-T port.
pub(crate) fn start(tun: &TunOptions, local: SocketAddr) -> Result<Pump, SessionError> {
    let mut config = PumpConfig::new(&tun.name, local);
    config.mtu = tun.mtu;
    config.workers = tun.workers;
    let pump = Pump::start(&config)
        .map_err(|source| SessionError::Datapath { tun: tun.name.clone(), source })?;
    // The pump only creates the device; it is set up here, over rtnetlink.
    let mtu = u32::try_from(tun.mtu).unwrap_or(u32::MAX);
    crate::host::configure_link(pump.tun_name(), mtu, &tun.addresses, &tun.routes).map_err(
        |e| SessionError::Datapath { tun: tun.name.clone(), source: std::io::Error::other(e) },
    )?;
    Ok(pump)
}

/// Why the datapath could not apply an engine event.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApplyError {
    #[error("installing child SA {spi_in} in the datapath: {source}")]
    Install { spi_in: Spi32, source: ikeway_esp::EspError },
    #[error("putting {addr} on {tun}: {reason}")]
    Address { addr: IpAddr, tun: String, reason: String },
}

/// Applies an engine event to the datapath; returns the event to report, if any.
pub(crate) fn on_event(pump: &Pump, e: &Event) -> Result<Option<EventKind>, ApplyError> {
    match e {
        Event::ChildSaInstalled(c) => {
            // A rekey's successor carries our traffic once the peer is known to have it
            // (RFC 7296 §2.8; `SaTable::install_successor`).
            let table = pump.table();
            match c.replaces {
                Some(old) => table.install_successor(&child(c), old),
                None => table.install(&child(c)),
            }
            .map_err(|source| ApplyError::Install { spi_in: Spi32(c.spi_in), source })?;
            Ok(Some(EventKind::DatapathSaInstalled {
                spi_in: Spi32(c.spi_in),
                tun: pump.tun_name().to_owned(),
            }))
        }
        Event::ChildSaRemoved { spi_in, .. } => {
            let found = pump.table().remove(*spi_in);
            Ok(Some(EventKind::DatapathSaRemoved { spi_in: Spi32(*spi_in), found }))
        }
        Event::ConfigReceived(cfg) => {
            for (addr, _) in &cfg.addresses {
                add_host_address(pump.tun_name(), *addr)?;
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// Puts an internal address on the TUN device as a host address (/32 or /128): routes come
/// from the options or from the connection's plan.
fn add_host_address(tun: &str, addr: IpAddr) -> Result<(), ApplyError> {
    let host = if addr.is_ipv4() { 32 } else { 128 };
    crate::host::replace_link_addresses(tun, &[(addr, host)]).map_err(|e| ApplyError::Address {
        addr,
        tun: tun.to_owned(),
        reason: e.to_string(),
    })
}

/// Whatever owns child SAs and can rekey them: one IKE SA (an initiator), or a responder's
/// many.
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
            .and_then(|id| self.sa_mut(id))
            .is_some_and(|sa| ChildOwner::rekey_child(sa, now, spi_in))
    }
}

/// Starts a make-before-break rekey (RFC 7296 §2.8) of every child SA the datapath asked for
/// (`SaTable::poll_rekey`: a soft lifetime, or 15/16 of a non-ESN SA's 2^32 sequence numbers
/// used): the engine negotiates the new SA, whose `ChildSaInstalled` puts it in the table in
/// front of the old one, and the old SA's `ChildSaRemoved` takes it out. Without this a
/// non-ESN child stopped sending at 2^32 packets until its lifetime ran out. Returns one event
/// per request.
pub(crate) fn rekey_requested(
    table: &SaTable,
    now: Instant,
    owner: &mut impl ChildOwner,
) -> Vec<EventKind> {
    let mut events = Vec::new();
    while let Some(spi_in) = table.poll_rekey() {
        let rekey_started = owner.rekey_child(now, spi_in);
        events.push(EventKind::DatapathRekeyNeeded { spi_in: Spi32(spi_in), rekey_started });
    }
    events
}

/// The datapath's counters.
pub(crate) fn stats(pump: &Pump) -> DatapathStats {
    DatapathStats {
        backend: format!("{:?}", pump.backend()),
        counters: pump.stats().to_line(),
        sas: pump
            .table()
            .stats()
            .iter()
            .map(|sa| SaCounters {
                spi_in: Spi32(sa.spi_in),
                in_packets: sa.inbound.packets,
                in_drops: sa.inbound.total_drops(),
                out_packets: sa.outbound.as_ref().map(|o| o.packets),
            })
            .collect(),
    }
}

/// A responder's client moved (`Event::PathUpdated`: MOBIKE, or a NAT rebinding its IKE SA
/// followed): the ESP of that IKE SA's child SAs, and of no other client's, goes to `remote`
/// from now on. Returns how many child SAs moved.
pub(crate) fn move_children(table: &SaTable, children: &[(u32, u32)], remote: SocketAddr) -> usize {
    children.iter().filter(|(spi_in, _)| table.set_remote(*spi_in, remote)).count()
}

#[cfg(test)]
mod rekey_tests;

#[cfg(test)]
mod tests {
    use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
    use ikeway_pump::{ChildSa, Policy, Selector};

    use super::*;

    /// Two clients of one responder; the one whose IKE SA moved gets its ESP sent to its new
    /// address, the other keeps its own.
    #[test]
    fn a_responder_moves_only_the_child_sas_of_the_client_that_moved() {
        let table = SaTable::new();
        let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
        let esp = |spi| {
            ikeway_esp::SaConfig::new(
                spi,
                suite,
                SecretBytes::from_slice(&[1; 20]),
                SecretBytes::default(),
            )
        };
        let any = || Policy { local: vec![Selector::any_v4()], remote: vec![Selector::any_v4()] };
        for (spi_in, spi_out, remote) in
            [(0x1000, 0x2000, "10.99.0.1:4500"), (0x1001, 0x2001, "10.99.0.7:4500")]
        {
            table
                .install(&ChildSa {
                    inbound: esp(spi_in),
                    outbound: esp(spi_out),
                    policy: any(),
                    remote: remote.parse().unwrap(),
                })
                .unwrap();
        }
        let moved: SocketAddr = "192.0.2.50:44500".parse().unwrap();
        assert_eq!(move_children(&table, &[(0x1000, 0x2000), (0x9999, 0x1)], moved), 1);
        let remote = |spi: u32| table.stats().iter().find(|s| s.spi_in == spi).unwrap().remote;
        assert_eq!(remote(0x1000), Some(moved));
        assert_eq!(remote(0x1001), Some("10.99.0.7:4500".parse().unwrap()));
    }
}
