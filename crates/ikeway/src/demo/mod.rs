//! `ikeway demo`: both ends of an IKEv2/IPsec VPN in one process, no root and no server needed.
//!
//! Our initiator and our responder negotiate over loopback UDP (IKE_SA_INIT, IKE_AUTH with a
//! pre-shared key and a configuration request, the first child SA). Two smoltcp userspace TCP/IP
//! stacks, one per end, then talk through that child SA: every packet is ESP-encrypted,
//! carried in UDP over loopback, and decrypted on the other side. A TCP transfer measures it.
// The demo's job is to print.
#![allow(clippy::print_stdout)]

mod link;

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ikeway_codec::{
    ConfigAttributeType, HeaderRepr, IdRepr, IdValue, MessageRepr, TrafficSelector,
};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{
    AddressPool, ChildSaInfo, Config, DefaultKex, EngineEvent, Event, IkeSa, Responder,
};
use indicatif::{ProgressBar, ProgressStyle};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

use link::EspLink;

#[derive(Args, Debug)]
pub(crate) struct DemoArgs {
    /// Megabytes to send through the tunnel.
    #[arg(long, default_value_t = 64)]
    megabytes: u64,
    /// Hide the progress bar (for logs and CI).
    #[arg(long)]
    quiet: bool,
}

/// The protected network behind the demo's responder.
const SERVER_INNER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const PORT: u16 = 5001;

fn describe_datagram(bytes: &[u8]) -> String {
    let Ok(h) = HeaderRepr::parse(bytes) else { return format!("{} bytes (not IKE)", bytes.len()) };
    let kind = if h.flags.response { "response" } else { "request" };
    let payloads = match MessageRepr::parse(bytes) {
        Ok(m) => m.payload_types().iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        Err(e) => format!("malformed: {e}"),
    };
    format!("{} {kind} #{} [{payloads}] {} bytes", h.exchange, h.message_id, bytes.len())
}

struct Ends {
    client: IkeSa,
    server: Responder,
    client_sock: UdpSocket,
    server_sock: UdpSocket,
    buf: Vec<u8>,
}

impl Ends {
    /// Moves datagrams between the two IKE engines over loopback UDP, printing each one.
    fn pump(&mut self, verbose: bool) -> Result<bool> {
        let mut moved = false;
        while let Some(t) = self.client.poll_transmit(&mut self.buf) {
            let t = t.map_err(|n| anyhow::anyhow!("datagram of {n} bytes"))?;
            if verbose {
                println!("  client -> server  {}", describe_datagram(&self.buf[..t.len]));
            }
            self.client_sock.send_to(&self.buf[..t.len], self.server_sock.local_addr()?)?;
            moved = true;
        }
        while let Some(t) = self.server.poll_transmit(&mut self.buf) {
            let t = t.map_err(|n| anyhow::anyhow!("datagram of {n} bytes"))?;
            if verbose {
                println!("  server -> client  {}", describe_datagram(&self.buf[..t.len]));
            }
            self.server_sock.send_to(&self.buf[..t.len], self.client_sock.local_addr()?)?;
            moved = true;
        }
        let now = Instant::now();
        for (sock, to_client) in [(&self.server_sock, false), (&self.client_sock, true)] {
            while let Ok((n, from)) = sock.recv_from(&mut self.buf) {
                let local = sock.local_addr()?;
                if to_client {
                    self.client.handle_datagram(now, from, local, &self.buf[..n]);
                } else {
                    self.server.handle_datagram(now, from, local, &self.buf[..n]);
                }
                moved = true;
            }
        }
        if self.client.poll_timeout().is_some_and(|t| t <= now) {
            self.client.handle_timeout(now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= now) {
            self.server.handle_timeout(now);
        }
        Ok(moved)
    }
}

fn udp_loopback() -> Result<UdpSocket> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a loopback UDP socket")?;
    s.set_nonblocking(true)?;
    Ok(s)
}

pub(crate) fn configs() -> (Config, Config, AddressPool) {
    let psk = SecretBytes::from_slice(b"ikeway demo pre-shared key, not a secret");
    let mut client =
        Config::new(IdRepr::from_value(IdValue::Fqdn("client.demo.ikeway")), psk.clone());
    client.remote_id = Some(IdRepr::from_value(IdValue::Fqdn("vpn.demo.ikeway")));
    client.config_request = vec![
        ConfigAttributeType::INTERNAL_IP4_ADDRESS,
        ConfigAttributeType::INTERNAL_IP4_DNS,
        ConfigAttributeType::INTERNAL_DNS_DOMAIN,
    ];
    let mut server = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.demo.ikeway")), psk);
    server.local_ts = vec![TrafficSelector::Range(ikeway_codec::AddrRange::any(
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 255)),
    ))];
    let pool = AddressPool {
        v4: Some((Ipv4Addr::new(10, 88, 0, 10), 100)),
        dns: vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 53))],
        dns_domains: vec!["demo.ikeway".into()],
        subnets: vec![(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 0)), 24)],
        ..AddressPool::default()
    };
    (client, server, pool)
}

fn ts_text(ts: &[TrafficSelector]) -> String {
    ts.iter()
        .map(|t| match t {
            TrafficSelector::Range(r) if r.start == r.end => r.start.to_string(),
            TrafficSelector::Range(r) => format!("{}-{}", r.start, r.end),
            TrafficSelector::Other { ts_type, .. } => format!("type {}", ts_type.0),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn interface(link: &mut EspLink, addr: Ipv4Addr) -> Interface {
    let mut iface =
        Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut link.queues, SmolInstant::now());
    iface.update_ip_addrs(|a| {
        // Everything in 10/8 is "on the link", which for a point-to-point IP device means:
        // into the tunnel. The child SA's selectors decide what may actually pass.
        a.push(IpCidr::new(IpAddress::Ipv4(addr), 8)).expect("one address fits");
    });
    iface
}

pub(crate) fn run(args: DemoArgs) -> Result<()> {
    println!("ikeway demo: an IKEv2 client and server in one process, over loopback UDP\n");
    let (client_cfg, server_cfg, pool) = configs();
    let (client_ike, server_ike) = (udp_loopback()?, udp_loopback()?);
    let kex = Arc::new(DefaultKex::default());
    let start = Instant::now();
    let client = IkeSa::initiate(
        Arc::new(client_cfg),
        kex.clone(),
        crate::ike::runtime::os_seed()?,
        start,
        client_ike.local_addr()?,
        server_ike.local_addr()?,
    )?;
    let server =
        Responder::new(Arc::new(server_cfg), kex, Some(pool), crate::ike::runtime::os_seed()?);
    let mut ends = Ends {
        client,
        server,
        client_sock: client_ike,
        server_sock: server_ike,
        buf: vec![0; 65536],
    };

    println!("1. Negotiation (RFC 7296): IKE_SA_INIT, IKE_AUTH with a pre-shared key and CP");
    let mut client_child: Option<Box<ChildSaInfo>> = None;
    let mut server_child: Option<Box<ChildSaInfo>> = None;
    let mut handshake = Duration::ZERO;
    while client_child.is_none() || server_child.is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            bail!("negotiation did not complete in 10 s");
        }
        let moved = ends.pump(true)?;
        while let Some(EngineEvent { event: e, .. }) = ends.client.poll_event() {
            match e {
                Event::IkeSaUp { suite, spi_i, spi_r } => println!(
                    "  IKE SA up: {} / {} / {}, SPIs {spi_i:016x} {spi_r:016x}",
                    suite.suite.encryption(),
                    suite.prf,
                    suite.group
                ),
                Event::ConfigReceived(c) => println!(
                    "  configuration from the server: address {}, DNS {}, domain {}",
                    c.addresses
                        .iter()
                        .map(|(a, l)| format!("{a}/{l}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    c.dns.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
                    c.dns_domains.join(" "),
                ),
                Event::ChildSaInstalled(c) => {
                    handshake = start.elapsed();
                    println!(
                        "  CHILD_SA installed: ESP {}{}, SPIs in {:08x} out {:08x}, {} <=> {}",
                        c.suite.suite.encryption(),
                        if c.suite.esn { " with ESN" } else { "" },
                        c.spi_in,
                        c.spi_out,
                        ts_text(&c.local_ts),
                        ts_text(&c.remote_ts)
                    );
                    client_child = Some(c);
                }
                Event::IkeSaClosed { reason } => bail!("the client's IKE SA closed: {reason:?}"),
                other => println!("  {other:?}"),
            }
        }
        while let Some(EngineEvent { event: e, .. }) = ends.server.poll_event() {
            if let Event::ChildSaInstalled(c) = e {
                server_child = Some(c);
            }
        }
        if !moved {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let (client_child, server_child) =
        (client_child.expect("loop ended"), server_child.expect("loop ended"));
    println!("  handshake took {:.2} ms\n", handshake.as_secs_f64() * 1e3);

    let client_addr = match client_child.local_ts.first() {
        Some(TrafficSelector::Range(r)) => match r.start {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(_) => bail!("the demo runs IPv4 inside the tunnel"),
        },
        _ => bail!("no traffic selector for the client"),
    };
    println!(
        "2. Traffic: TCP from {client_addr} to {SERVER_INNER}:{PORT} through the child SA (two smoltcp stacks)"
    );
    let (esp_client, esp_server) = (udp_loopback()?, udp_loopback()?);
    let (client_esp_addr, server_esp_addr) = (esp_client.local_addr()?, esp_server.local_addr()?);
    let mut client_link = EspLink::new(esp_client, server_esp_addr, &client_child)?;
    let mut server_link = EspLink::new(esp_server, client_esp_addr, &server_child)?;
    let transfer = transfer(
        &mut client_link,
        &mut server_link,
        client_addr,
        args.megabytes << 20,
        args.quiet,
    )?;

    println!("\n3. Status");
    let (out, inn, drops) = client_link.traffic();
    let rows = [
        ("status", "connected".to_owned()),
        ("server", format!("{} (vpn.demo.ikeway)", ends.server_sock.local_addr()?)),
        ("internal address", format!("{client_addr}/32")),
        ("IKE SA SPIs", format!("{:016x} {:016x}", ends.client.spis().0, ends.client.spis().1)),
        (
            "child SA",
            format!(
                "ESP {}{}, SPIs in {:08x} out {:08x}",
                client_child.suite.suite.encryption(),
                if client_child.suite.esn { " with ESN" } else { "" },
                client_child.spi_in,
                client_child.spi_out
            ),
        ),
        ("child SA lifetime", format!("{} min", client_child.lifetime.as_secs() / 60)),
        ("sent", format!("{} bytes in {} ESP packets", out.1, out.0)),
        ("received", format!("{} bytes in {} ESP packets", inn.1, inn.0)),
        ("drops", format!("{drops}")),
        ("handshake time", format!("{:.2} ms", handshake.as_secs_f64() * 1e3)),
        (
            "throughput",
            format!(
                "{:.0} Mbit/s ({} MiB in {:.2} s, TCP over ESP over loopback UDP)",
                transfer.mbit_per_s(),
                args.megabytes,
                transfer.elapsed.as_secs_f64()
            ),
        ),
    ];
    for (k, v) in rows {
        println!("  {k:<18} {v}");
    }

    println!("\n4. Disconnect: INFORMATIONAL with DELETE");
    ends.client.delete_ike(Instant::now());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ends.client.is_closed() && Instant::now() < deadline {
        if !ends.pump(true)? {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    while let Some(EngineEvent { event: e, .. }) = ends.client.poll_event() {
        if let Event::IkeSaClosed { reason } = e {
            println!("  IKE SA closed: {reason:?}");
        }
    }
    if !ends.client.is_closed() {
        bail!("the IKE SA did not close");
    }
    Ok(())
}

struct Transfer {
    bytes: u64,
    elapsed: Duration,
}

impl Transfer {
    fn mbit_per_s(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.elapsed.as_secs_f64() / 1e6
    }
}

/// Sends `total` bytes over TCP from the client stack to the server stack and checks they all
/// arrive in order.
fn transfer(
    client_link: &mut EspLink,
    server_link: &mut EspLink,
    client_addr: Ipv4Addr,
    total: u64,
    quiet: bool,
) -> Result<Transfer> {
    let mut client_iface = interface(client_link, client_addr);
    let mut server_iface = interface(server_link, SERVER_INNER);
    // The receive window stays below the loopback socket's default receive buffer (about
    // 200 KiB), so a burst never overflows it: this single thread drains it between bursts.
    let buffer = || tcp::SocketBuffer::new(vec![0u8; 128 << 10]);
    let mut client_sockets = SocketSet::new(vec![]);
    let mut server_sockets = SocketSet::new(vec![]);
    let mut listener = tcp::Socket::new(buffer(), buffer());
    listener.listen(PORT).map_err(|e| anyhow::anyhow!("listen: {e}"))?;
    let server_handle = server_sockets.add(listener);
    let client_handle = client_sockets.add(tcp::Socket::new(buffer(), buffer()));
    let local_port = 49152;
    client_sockets
        .get_mut::<tcp::Socket<'_>>(client_handle)
        .connect(client_iface.context(), (IpAddress::Ipv4(SERVER_INNER), PORT), local_port)
        .map_err(|e| anyhow::anyhow!("connect: {e}"))?;

    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(total) };
    bar.set_style(
        ProgressStyle::with_template("  {bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    // Data is a counter pattern so the receiver can check every byte arrived in order.
    let pattern = |offset: u64, buf: &mut [u8]| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = ((offset + i as u64) % 251) as u8;
        }
    };
    let mut chunk = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(120);
    while received < total {
        if Instant::now() > deadline {
            bail!("transfer stalled at {received} of {total} bytes");
        }
        let now = SmolInstant::now();
        client_link.pump();
        server_link.pump();
        client_iface.poll(now, &mut client_link.queues, &mut client_sockets);
        server_iface.poll(now, &mut server_link.queues, &mut server_sockets);
        client_link.pump();
        server_link.pump();
        let c = client_sockets.get_mut::<tcp::Socket<'_>>(client_handle);
        while sent < total && c.can_send() {
            let n = chunk.len().min((total - sent) as usize);
            pattern(sent, &mut chunk[..n]);
            let written = c.send_slice(&chunk[..n]).map_err(|e| anyhow::anyhow!("send: {e}"))?;
            if written == 0 {
                break;
            }
            sent += written as u64;
        }
        let s = server_sockets.get_mut::<tcp::Socket<'_>>(server_handle);
        while s.can_recv() {
            let n = s.recv_slice(&mut chunk).map_err(|e| anyhow::anyhow!("recv: {e}"))?;
            if n == 0 {
                break;
            }
            let mut expect = vec![0u8; n];
            pattern(received, &mut expect);
            if chunk[..n] != expect[..] {
                bail!("data corrupted at byte {received}");
            }
            received += n as u64;
        }
        bar.set_position(received);
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    println!("  {received} bytes received intact in {:.2} s", elapsed.as_secs_f64());
    Ok(Transfer { bytes: received, elapsed })
}
