//! `ikeway-pump`: the userspace IPsec datapath. Packets move between a TUN device and UDP
//! port 4500, through ESP ([`ikeway_esp`]) on every packet; IKE datagrams that arrive on 4500
//! (non-ESP marker) go up to the control plane through a crossbeam channel.
//!
//! ```text
//!   control plane (IKE engine)                         ^ IkeDatagram (channel)
//!       |  SaTable::install / remove (RCU snapshot)     |
//!       v                                               |
//!   +--------------------------- worker i (one per core) -------------------------+
//!   | TUN queue i --read--> MSS clamp, policy match --> seal --sendmsg--> UDP i   |
//!   | TUN queue i <-write-- policy check, MSS clamp <-- open <--recvmsg-- UDP i   |
//!   +----------------------------------------------------------------------------+
//! ```
//!
//! - [`Pump::start`] creates the TUN device (multi-queue when several workers), applies MTU,
//!   addresses and routes with `ip`, binds one `SO_REUSEPORT` socket per worker and starts
//!   the workers: io_uring (`uring.rs`) when the kernel has it, else a `poll(2)` loop, logged.
//! - [`SaTable`]: SAs shared read-mostly (see its module for the locking and rekey story).
//! - [`Datapath`]: the per-packet work, used by every worker and by the in-memory devices of
//!   [`device`], so the ESP path is tested without root, TUN or io_uring.
//! - [`Stats`]: packets, bytes, drops by reason ([`Drop`]), ring stalls, MSS clamps.
//! - TCP SYNs crossing the tunnel have their MSS lowered to the TUN MTU's
//!   ([`ikeway_esp::mss`]), both ways, in the buffer the worker seals or writes.
//!
//! This is the only crate of the workspace with `unsafe` code; it is confined to the modules
//! `sys` (TUN ioctl, socket options, poll) and `uring` (io_uring), and each block carries a
//! `// SAFETY:` comment.

mod counters;
mod datapath;
mod dest_index;
pub mod device;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod offload;
mod poll;
mod selector;
#[allow(unsafe_code)]
mod sys;
mod table;
#[allow(unsafe_code)]
mod uring;

use std::fs::File;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, bounded};
use ikeway_esp::mss::MssClamp;

pub use counters::{Counters, Drop, Stats};
pub use datapath::{Datapath, HEADROOM, IkeDatagram, Opened, TAILROOM};
pub use poll::{TunDevice, UdpTransport};
pub use selector::{Flow, Policy, Selector};
pub use table::{ChildSa, SaStats, SaTable};

/// Which worker loop to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// io_uring when the kernel offers it, else the poll loop.
    #[default]
    Auto,
    Uring,
    Poll,
}

/// How to set up the pump.
#[derive(Debug, Clone)]
pub struct PumpConfig {
    /// TUN device name (created if missing).
    pub tun_name: String,
    /// TUN MTU: the largest inner packet the workers' buffers take. The pump only creates
    /// the device: bringing it up with this MTU, its addresses and routes are the caller's
    /// (`ikeway_tunnel::host` does it over rtnetlink).
    pub mtu: usize,
    /// The UDP address ESP (and IKE on 4500) arrives on.
    pub local: SocketAddr,
    /// Datapath threads; 0 means one per core.
    pub workers: usize,
    pub backend: Backend,
    /// Socket send and receive buffer, bytes.
    pub socket_buffer: usize,
}

impl PumpConfig {
    pub fn new(tun_name: &str, local: SocketAddr) -> Self {
        Self {
            tun_name: tun_name.to_owned(),
            mtu: 1400,
            local,
            workers: 0,
            backend: Backend::Auto,
            socket_buffer: 4 << 20,
        }
    }
}

#[allow(clippy::print_stderr)]
fn log(msg: &str) {
    eprintln!("ikeway-pump: {msg}");
}

/// A running datapath. Dropping it stops the workers.
#[derive(Debug)]
pub struct Pump {
    table: SaTable,
    counters: Vec<Arc<Counters>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    ike: Receiver<IkeDatagram>,
    sender: UdpSocket,
    tun_name: String,
    backend: Backend,
}

/// Whether io_uring can be used here, and why not.
pub fn uring_available() -> Result<(), String> {
    uring::probe().map_err(|e| e.to_string())
}

impl Pump {
    /// Creates and configures the TUN device, binds the sockets and starts the workers.
    pub fn start(config: &PumpConfig) -> io::Result<Self> {
        let workers = if config.workers == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            config.workers
        };
        let backend = match config.backend {
            Backend::Poll => Backend::Poll,
            wanted => match uring::probe() {
                Ok(()) => Backend::Uring,
                Err(e) if wanted == Backend::Uring => {
                    return Err(io::Error::other(format!("io_uring unavailable: {e}")));
                }
                Err(e) => {
                    log(&format!("io_uring unavailable ({e}): FALLING BACK to the poll loop"));
                    Backend::Poll
                }
            },
        };
        let mut queues = Vec::with_capacity(workers);
        let mut tun_name = config.tun_name.clone();
        for _ in 0..workers {
            // The io_uring worker reads TUN with offloads (virtio_net_hdr, TSO super-packets).
            let (file, name) =
                sys::open_tun(&tun_name, workers > 1, true, backend == Backend::Uring)?;
            tun_name = name;
            queues.push(file);
        }
        if backend == Backend::Uring {
            sys::set_tun_offload(queues[0].as_raw_fd(), sys::TUN_OFFLOAD_TSO)?;
        }
        let mut sockets = Vec::with_capacity(workers);
        for _ in 0..workers {
            sockets.push(sys::udp_socket(config.local, true, config.socket_buffer)?);
        }
        let local = sockets[0].local_addr()?;
        let sender = sockets[0].try_clone()?;
        let (ike_tx, ike) = bounded(1024);
        let table = SaTable::new();
        let stop = Arc::new(AtomicBool::new(false));
        let mut counters = Vec::new();
        let mut threads = Vec::new();
        for (i, (tun, udp)) in queues.into_iter().zip(sockets).enumerate() {
            let c = Arc::new(Counters::default());
            counters.push(Arc::clone(&c));
            // Every TCP connection through the tunnel agrees on segments that fit its MTU.
            let dp = Datapath::new(table.clone(), c, ike_tx.clone(), local)
                .with_mss_clamp(MssClamp::for_mtu(config.mtu));
            let stop = Arc::clone(&stop);
            let mtu = config.mtu;
            let thread = std::thread::Builder::new()
                .name(format!("pump-{i}"))
                .spawn(move || worker(i, backend, dp, tun, udp, mtu, &stop))?;
            threads.push(thread);
        }
        log(&format!(
            "{tun_name}: {workers} worker(s), backend {backend:?}, UDP {local}, MTU {}",
            config.mtu
        ));
        Ok(Self { table, counters, stop, threads, ike, sender, tun_name, backend })
    }

    /// The shared SA table: install and remove child SAs here.
    pub fn table(&self) -> &SaTable {
        &self.table
    }

    /// IKE datagrams received on the pump's port (non-ESP marker included).
    pub fn ike(&self) -> &Receiver<IkeDatagram> {
        &self.ike
    }

    /// Sends an IKE datagram from the pump's port; on 4500 `bytes` must start with the
    /// non-ESP marker (the IKE engine writes it).
    pub fn send_ike(&self, remote: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        self.sender.send_to(bytes, remote).map(drop)
    }

    /// Sends a NAT keepalive (one 0xFF byte, RFC 3948 §2.3) to `remote`.
    pub fn send_keepalive(&self, remote: SocketAddr) -> io::Result<()> {
        self.send_ike(remote, &[ikeway_esp::udp::NAT_KEEPALIVE])
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sender.local_addr()
    }

    pub fn tun_name(&self) -> &str {
        &self.tun_name
    }

    /// The backend the workers were started with (a worker that fails to set up io_uring
    /// falls back to poll on its own and says so in the log).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Counters summed over the workers.
    pub fn stats(&self) -> Stats {
        Stats::sum(self.counters.iter().map(|c| &**c))
    }

    /// Stops the workers and waits for them.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl std::ops::Drop for Pump {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn worker(
    i: usize,
    backend: Backend,
    dp: Datapath,
    tun: File,
    udp: UdpSocket,
    mtu: usize,
    stop: &AtomicBool,
) {
    let result = match backend {
        Backend::Uring | Backend::Auto => {
            // The descriptors are needed again if io_uring setup fails.
            let (tun2, udp2) = match (tun.try_clone(), udp.try_clone()) {
                (Ok(t), Ok(u)) => (t, u),
                (Err(e), _) | (_, Err(e)) => {
                    log(&format!("worker {i}: {e}"));
                    return;
                }
            };
            match uring::UringWorker::new(dp.clone(), tun, udp, mtu) {
                Ok(mut w) => w.run(stop),
                Err(e) => {
                    log(&format!(
                        "worker {i}: io_uring setup failed ({e}): FALLING BACK to the poll loop"
                    ));
                    // The queue was opened with a virtio_net_hdr: no offloads any more (for
                    // every queue of the device), the poll loop strips and adds the header.
                    match sys::set_tun_offload(tun2.as_raw_fd(), 0) {
                        Ok(()) => poll::run(&dp, tun2, udp2, mtu, true, stop),
                        Err(e) => Err(e),
                    }
                }
            }
        }
        Backend::Poll => poll::run(&dp, tun, udp, mtu, false, stop),
    };
    if let Err(e) = result {
        log(&format!("worker {i} stopped: {e}"));
    }
}
