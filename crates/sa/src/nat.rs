//! NAT detection hashes (RFC 7296 §2.23): `SHA-1(SPIi | SPIr | IP address | port)`.

use std::net::SocketAddr;

use sha1::{Digest, Sha1};

pub(crate) fn hash(spi_i: u64, spi_r: u64, addr: SocketAddr) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(spi_i.to_be_bytes());
    h.update(spi_r.to_be_bytes());
    match addr.ip() {
        std::net::IpAddr::V4(v4) => h.update(v4.octets()),
        std::net::IpAddr::V6(v6) => h.update(v6.octets()),
    }
    h.update(addr.port().to_be_bytes());
    h.finalize().into()
}
