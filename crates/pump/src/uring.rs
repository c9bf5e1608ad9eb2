//! The io_uring worker: one ring per worker thread, one TUN queue and one UDP socket per
//! worker, both registered as fixed files.
//!
//! - **Outbound.** `TUN_SLOTS` `ReadFixed`s stay queued on the TUN queue, each into its own
//!   slot of a registered buffer area (index 0), at [`HEADROOM`]. A completion seals the
//!   packet in place and queues a `SendMsg` from the same slot; the send's completion queues
//!   the read again.
//! - **Inbound.** One multishot `RecvMsgMulti` on the UDP socket picks buffers from a provided
//!   buffer ring (group 0) laid over a second registered area (index 1). A completion opens
//!   the ESP packet in place and queues a `WriteFixed` of the inner packet to TUN straight
//!   from that buffer; the write's completion gives the buffer back to the ring. The
//!   multishot receive is re-armed when the kernel ends it (no `MORE` flag), and after running
//!   out of buffers (`ENOBUFS`, counted as a ring stall) once one comes back.
//! - **Batching.** Completions are handled in batches; new operations go to the submission
//!   queue, or to a backlog when it is full (a ring stall), and one `io_uring_enter` submits
//!   them all and waits for the next completion, with a 100 ms timeout to notice a stop.
//!
//! Needs Linux 6.0 (multishot recvmsg, provided buffer rings); [`UringWorker::new`] fails on
//! older kernels and the pump falls back to the poll loop.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;

use io_uring::types::{BufRingEntry, Fixed, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{IoUring, Probe, cqueue, opcode, squeue};

use crate::counters::{Drop, bump};
use crate::datapath::{Datapath, HEADROOM, Opened, TAILROOM};
use crate::sys::RawAddr;

const TUN_SLOTS: usize = 64;
const RX_BUFFERS: u16 = 256;
const BGID: u16 = 0;
const TUN_FILE: Fixed = Fixed(0);
const UDP_FILE: Fixed = Fixed(1);

const KIND_TUN_READ: u64 = 1;
const KIND_UDP_SEND: u64 = 2;
const KIND_UDP_RECV: u64 = 3;
const KIND_TUN_WRITE: u64 = 4;

fn user_data(kind: u64, index: usize) -> u64 {
    (kind << 56) | index as u64
}

/// A page-aligned, zeroed heap area whose address never changes: the kernel holds pointers
/// into it for the ring's lifetime.
#[derive(Debug)]
struct Area {
    ptr: *mut u8,
    layout: Layout,
}

impl Area {
    fn new(len: usize) -> io::Result<Self> {
        let layout = Layout::from_size_align(len.max(4096), 4096)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        Ok(Self { ptr, layout })
    }

    fn iovec(&self) -> libc::iovec {
        libc::iovec { iov_base: self.ptr.cast(), iov_len: self.layout.size() }
    }

    /// The bytes `range` of the area.
    ///
    /// # Safety
    /// No operation the kernel is running may write to these bytes while the slice lives.
    unsafe fn slice_mut(&mut self, start: usize, len: usize) -> &mut [u8] {
        assert!(start + len <= self.layout.size());
        // SAFETY: in bounds (checked above); exclusive per the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

impl std::ops::Drop for Area {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

/// What an outbound slot's `SendMsg` points at; boxed so the addresses stay put.
#[derive(Debug)]
#[repr(C)]
struct TxSlot {
    msg: libc::msghdr,
    iov: libc::iovec,
    addr: RawAddr,
}

/// Whether this kernel has what the worker needs; `Err` says what is missing.
pub(crate) fn probe() -> io::Result<()> {
    if let Some(v) = crate::sys::io_uring_disabled()
        && v != 0
    {
        return Err(io::Error::other(format!("/proc/sys/kernel/io_uring_disabled = {v}")));
    }
    let ring = IoUring::new(8)?;
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    for (code, name) in [
        (opcode::ReadFixed::CODE, "READ_FIXED"),
        (opcode::WriteFixed::CODE, "WRITE_FIXED"),
        (opcode::SendMsg::CODE, "SENDMSG"),
        (opcode::RecvMsg::CODE, "RECVMSG"),
    ] {
        if !probe.is_supported(code) {
            return Err(io::Error::other(format!("io_uring lacks {name}")));
        }
    }
    Ok(())
}

/// One io_uring datapath worker. Built on the worker's own thread.
pub(crate) struct UringWorker {
    ring: IoUring,
    dp: Datapath,
    buf_len: usize,
    tx_area: Area,
    tx_slots: Box<[TxSlot]>,
    rx_area: Area,
    ring_entries: Area,
    rx_msg: Box<libc::msghdr>,
    ring_tail: u16,
    recv_armed: bool,
    backlog: VecDeque<squeue::Entry>,
    // Kept open for as long as the ring uses them as fixed files.
    _tun: File,
    _udp: UdpSocket,
}

impl std::fmt::Debug for UringWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringWorker").field("buf_len", &self.buf_len).finish_non_exhaustive()
    }
}

impl UringWorker {
    /// `mtu` bounds the inner packets: every buffer holds HEADROOM + mtu + TAILROOM bytes.
    pub(crate) fn new(dp: Datapath, tun: File, udp: UdpSocket, mtu: usize) -> io::Result<Self> {
        let buf_len = (HEADROOM + mtu + TAILROOM + 64).next_multiple_of(64);
        let ring = IoUring::builder().setup_single_issuer().build(1024)?;
        ring.submitter().register_files(&[tun.as_raw_fd(), udp.as_raw_fd()])?;
        let tx_area = Area::new(buf_len * TUN_SLOTS)?;
        let rx_area = Area::new(buf_len * usize::from(RX_BUFFERS))?;
        // SAFETY: both areas end up in the same struct as the ring, which is declared first
        // and so dropped first (fields drop in declaration order): the kernel never sees a
        // freed registered buffer.
        unsafe { ring.submitter().register_buffers(&[tx_area.iovec(), rx_area.iovec()])? };
        let ring_entries = Area::new(usize::from(RX_BUFFERS) * size_of::<BufRingEntry>())?;
        // SAFETY: `ring_entries` holds RX_BUFFERS entries, is page aligned and outlives the ring
        // (dropped after it, see above).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                ring_entries.ptr as u64,
                RX_BUFFERS,
                BGID,
                0,
            )?
        };
        let empty_slot = || TxSlot {
            // SAFETY: msghdr is plain old data; all-zero is valid (no name, no iovecs).
            msg: unsafe { std::mem::zeroed() },
            iov: libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 },
            addr: RawAddr::empty(),
        };
        let tx_slots: Box<[TxSlot]> = (0..TUN_SLOTS).map(|_| empty_slot()).collect();
        // SAFETY: as above.
        let mut rx_msg: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        // Multishot recvmsg reads only the name and control lengths from this header.
        rx_msg.msg_namelen = RawAddr::SIZE;
        let mut w = Self {
            ring,
            dp,
            buf_len,
            tx_area,
            tx_slots,
            rx_area,
            ring_entries,
            rx_msg,
            ring_tail: 0,
            recv_armed: false,
            backlog: VecDeque::new(),
            _tun: tun,
            _udp: udp,
        };
        for bid in 0..RX_BUFFERS {
            w.give_back(bid);
        }
        for i in 0..TUN_SLOTS {
            let e = w.tun_read(i);
            w.push(e);
        }
        w.arm_recv();
        Ok(w)
    }

    fn tun_read(&mut self, slot: usize) -> squeue::Entry {
        let start = slot * self.buf_len + HEADROOM;
        // In bounds of the tx area; the kernel writes through it, we do not.
        let ptr = self.tx_area.ptr.wrapping_add(start);
        opcode::ReadFixed::new(TUN_FILE, ptr, (self.buf_len - HEADROOM - TAILROOM) as u32, 0)
            .build()
            .user_data(user_data(KIND_TUN_READ, slot))
    }

    fn arm_recv(&mut self) {
        let e = opcode::RecvMsgMulti::new(UDP_FILE, &raw const *self.rx_msg, BGID)
            .build()
            .user_data(user_data(KIND_UDP_RECV, 0));
        self.push(e);
        self.recv_armed = true;
    }

    /// Returns buffer `bid` to the provided-buffer ring.
    fn give_back(&mut self, bid: u16) {
        let mask = RX_BUFFERS - 1;
        let index = usize::from(self.ring_tail & mask);
        let base = self.ring_entries.ptr.cast::<BufRingEntry>();
        // SAFETY: `index` < RX_BUFFERS, the number of entries in `ring_entries`; the kernel only
        // reads entries between its head and our published tail, and this one is past the tail.
        let entry = unsafe { &mut *base.add(index) };
        entry.set_addr(self.rx_area.ptr.wrapping_add(usize::from(bid) * self.buf_len) as u64);
        entry.set_len(self.buf_len as u32);
        entry.set_bid(bid);
        self.ring_tail = self.ring_tail.wrapping_add(1);
        // SAFETY: the tail is the u16 that overlays the first entry's reserved field
        // (io_uring_buf_ring), properly aligned inside `ring_entries`, and shared with the
        // kernel, which reads it; an atomic release store publishes the entry written above.
        let tail = unsafe { AtomicU16::from_ptr(BufRingEntry::tail(base).cast_mut()) };
        tail.store(self.ring_tail, Ordering::Release);
    }

    fn push(&mut self, e: squeue::Entry) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(e);
            return;
        }
        // SAFETY: every entry built here points into the worker's areas, slots or header, which
        // outlive the ring, and each buffer is used by one operation at a time (a slot cycles
        // read -> send -> read; an rx buffer recv -> write -> ring).
        if unsafe { self.ring.submission().push(&e) }.is_err() {
            bump(&self.dp.counters().ring_stalls, 1);
            self.backlog.push_back(e);
        }
    }

    fn flush_backlog(&mut self) {
        while let Some(e) = self.backlog.front() {
            // SAFETY: as in `push`.
            if unsafe { self.ring.submission().push(e) }.is_err() {
                return;
            }
            self.backlog.pop_front();
        }
    }

    /// Runs until `stop` is set or the ring fails.
    pub(crate) fn run(&mut self, stop: &AtomicBool) -> io::Result<()> {
        let ts = Timespec::from(Duration::from_millis(100));
        let args = SubmitArgs::new().timespec(&ts);
        let mut done: Vec<(u64, i32, u32)> = Vec::with_capacity(1024);
        while !stop.load(Ordering::Relaxed) {
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                    ) => {}
                Err(e) => return Err(e),
            }
            bump(&self.dp.counters().submits, 1);
            done.clear();
            done.extend(self.ring.completion().map(|c| (c.user_data(), c.result(), c.flags())));
            for &(ud, res, flags) in &done {
                self.complete(ud, res, flags)?;
            }
            self.flush_backlog();
        }
        Ok(())
    }

    fn complete(&mut self, ud: u64, res: i32, flags: u32) -> io::Result<()> {
        let index = (ud & ((1 << 56) - 1)) as usize;
        match ud >> 56 {
            KIND_TUN_READ => {
                if res < 0 {
                    if res != -libc::EAGAIN && res != -libc::EINTR {
                        return Err(io::Error::from_raw_os_error(-res));
                    }
                } else {
                    let start = index * self.buf_len;
                    // SAFETY: this slot's read completed and no other operation uses the slot.
                    let buf = unsafe { self.tx_area.slice_mut(start, self.buf_len) };
                    if let Ok((at, len, to)) = self.dp.seal(buf, res as usize) {
                        let ptr = buf[at..].as_mut_ptr();
                        let slot = &mut self.tx_slots[index];
                        let (addr, addr_len) = RawAddr::new(to);
                        slot.addr = addr;
                        slot.iov = libc::iovec { iov_base: ptr.cast(), iov_len: len };
                        slot.msg.msg_name = (&raw mut slot.addr).cast();
                        slot.msg.msg_namelen = addr_len;
                        slot.msg.msg_iov = &raw mut slot.iov;
                        slot.msg.msg_iovlen = 1;
                        let e = opcode::SendMsg::new(UDP_FILE, &raw const slot.msg)
                            .build()
                            .user_data(user_data(KIND_UDP_SEND, index));
                        self.push(e);
                        return Ok(());
                    }
                }
                let e = self.tun_read(index);
                self.push(e);
            }
            KIND_UDP_SEND => {
                if res < 0 {
                    self.dp.counters().drop(Drop::Io);
                }
                let e = self.tun_read(index);
                self.push(e);
            }
            KIND_UDP_RECV => {
                if !cqueue::more(flags) {
                    self.recv_armed = false;
                }
                match cqueue::buffer_select(flags) {
                    Some(bid) if res >= 0 => self.received(bid, res as usize),
                    Some(bid) => self.give_back(bid),
                    None if res == -libc::ENOBUFS => bump(&self.dp.counters().ring_stalls, 1),
                    None if res < 0 && res != -libc::EINTR && res != -libc::EAGAIN => {
                        return Err(io::Error::from_raw_os_error(-res));
                    }
                    None => {}
                }
                // Re-arm unless every buffer is out (ENOBUFS): then a returned one re-arms.
                if !self.recv_armed && res != -libc::ENOBUFS {
                    self.arm_recv();
                }
            }
            KIND_TUN_WRITE => {
                if res < 0 {
                    self.dp.counters().drop(Drop::Io);
                }
                self.give_back(index as u16);
                if !self.recv_armed {
                    self.arm_recv();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn received(&mut self, bid: u16, len: usize) {
        let start = usize::from(bid) * self.buf_len;
        // SAFETY: the kernel completed this buffer and gave it to us (buffer_select); it is not
        // in the ring until `give_back`.
        let buf = unsafe { self.rx_area.slice_mut(start, len.min(self.buf_len)) };
        let (payload_at, payload_len, from) = match RecvMsgOut::parse(buf, &self.rx_msg) {
            Ok(out) if !out.is_payload_truncated() => (
                out.payload_data().as_ptr() as usize - buf.as_ptr() as usize,
                out.payload_data().len(),
                RawAddr::parse(out.name_data()),
            ),
            _ => {
                self.dp.counters().drop(Drop::Invalid);
                self.give_back(bid);
                return;
            }
        };
        let Some(from) = from else {
            self.dp.counters().drop(Drop::Invalid);
            self.give_back(bid);
            return;
        };
        let payload = &mut buf[payload_at..];
        match self.dp.open(payload, payload_len, from) {
            Opened::Inner { start: at, len } => {
                let ptr = payload[at..].as_ptr();
                let e = opcode::WriteFixed::new(TUN_FILE, ptr, len as u32, 1)
                    .build()
                    .user_data(user_data(KIND_TUN_WRITE, usize::from(bid)));
                self.push(e);
            }
            Opened::Consumed | Opened::Dropped(_) => self.give_back(bid),
        }
    }
}
