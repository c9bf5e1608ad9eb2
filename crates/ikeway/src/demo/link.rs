//! One end of the demo's tunnel: a smoltcp device whose packets leave as ESP-in-UDP and arrive
//! the same way, through the child SA the negotiation installed.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};

use anyhow::{Context, Result};
use ikeway_esp::{InboundSa, NextHeader, OutboundSa};
use ikeway_sa::ChildSaInfo;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant as SmolInstant;

/// Inner MTU: what fits a 1500-byte path after IPv4, UDP and the largest ESP overhead.
pub(crate) const INNER_MTU: usize = 1400;

/// An ESP-in-UDP link to the peer, with the decrypted packets waiting for smoltcp.
#[derive(Debug)]
pub(crate) struct EspLink {
    socket: UdpSocket,
    peer: SocketAddr,
    outbound: OutboundSa,
    inbound: InboundSa,
    received: VecDeque<Vec<u8>>,
    tx: Vec<u8>,
    rx: Vec<u8>,
    pub(crate) send_errors: u64,
}

impl EspLink {
    pub(crate) fn new(socket: UdpSocket, peer: SocketAddr, child: &ChildSaInfo) -> Result<Self> {
        socket.set_nonblocking(true)?;
        let (inbound, outbound) = crate::ike::datapath::esp_configs(child);
        let outbound = OutboundSa::new(&outbound).context("outbound ESP SA")?;
        let inbound = InboundSa::new(&inbound).context("inbound ESP SA")?;
        let tx = vec![0u8; outbound.buffer_len(INNER_MTU) + outbound.headroom()];
        Ok(Self {
            socket,
            peer,
            outbound,
            inbound,
            received: VecDeque::new(),
            tx,
            rx: vec![0u8; 65536],
            send_errors: 0,
        })
    }

    pub(crate) fn outbound(&self) -> &OutboundSa {
        &self.outbound
    }

    pub(crate) fn inbound(&self) -> &InboundSa {
        &self.inbound
    }

    /// Reads every waiting datagram, decrypts it and queues the inner packet. Returns how
    /// many arrived; forged or replayed ones are dropped and counted by the SA.
    pub(crate) fn receive_all(&mut self) -> Result<usize> {
        let mut n = 0;
        loop {
            match self.socket.recv_from(&mut self.rx) {
                Ok((len, from)) if from == self.peer => {
                    n += 1;
                    if let Ok(d) = self.inbound.decapsulate(&mut self.rx[..len]) {
                        self.received.push_back(d.payload.to_vec());
                    }
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(n),
                Err(e) => return Err(e).context("receiving ESP"),
            }
        }
    }

    fn send(&mut self, inner_len: usize) {
        let next = NextHeader::of_ip_packet(&self.tx[self.outbound.headroom()..])
            .unwrap_or(NextHeader::IPV4);
        match self.outbound.encapsulate(&mut self.tx, inner_len, next) {
            Ok(esp) => {
                // Loopback drops only when its buffer is full; TCP above recovers like on a wire.
                if self.socket.send_to(esp, self.peer).is_err() {
                    self.send_errors += 1;
                }
            }
            Err(_) => self.send_errors += 1,
        }
    }
}

pub(crate) struct Rx(Vec<u8>);
pub(crate) struct Tx<'a>(&'a mut EspLink);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let link = self.0;
        let at = link.outbound.headroom();
        let len = len.min(INNER_MTU);
        let r = f(&mut link.tx[at..at + len]);
        link.send(len);
        r
    }
}

impl Device for EspLink {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(Rx, Tx<'_>)> {
        let packet = self.received.pop_front()?;
        Some((Rx(packet), Tx(self)))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<Tx<'_>> {
        Some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = INNER_MTU;
        caps
    }
}
