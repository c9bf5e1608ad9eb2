//! NAT traversal in phase 1 (RFC 3947): both sides announce it by vendor ID, exchange NAT-D
//! payloads (main mode messages 3 and 4, aggressive mode 2 and 3), and when a NAT sits
//! between them the initiator moves to port 4500 (main mode message 5, aggressive mode
//! message 3), where IKE travels after the non-ESP marker (RFC 3948 §2.2).

use std::net::{IpAddr, SocketAddr};

use crate::keys::HashAlg;

/// The UDP port IKE and ESP float to.
pub(crate) const NAT_T_PORT: u16 = 4500;
/// Four zero octets before an IKE message on port 4500 (RFC 3948 §2.2).
pub(crate) const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// NAT-T keepalives while we are behind a NAT (RFC 3948 §2.3 leaves it local; 20 s is what
/// Apple and strongSwan use).
pub(crate) const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(20);
/// NAT-D payloads we look at in one message: ours names one address per interface; more than
/// a handful is noise.
pub(crate) const MAX_NAT_D: usize = 8;

/// Which NAT traversal both sides announced (the vendor ID decides the NAT-D payload
/// number and quick mode's UDP encapsulation numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatTVariant {
    /// RFC 3947: NAT-D 20, NAT-OA 21, encapsulation modes 3 and 4.
    Rfc3947,
    /// draft-ietf-ipsec-nat-t-ike-02/03: NAT-D 130, NAT-OA 131, modes 61443 and 61444.
    Draft,
}

/// What phase 1 learned about NATs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatState {
    pub variant: NatTVariant,
    /// Our address is translated: the peer's NAT-D for us does not match.
    pub local_behind_nat: bool,
    /// The peer's address is translated.
    pub remote_behind_nat: bool,
}

impl NatState {
    pub fn nat_detected(&self) -> bool {
        self.local_behind_nat || self.remote_behind_nat
    }
}

/// `HASH(CKY-I | CKY-R | IP | Port)` with the negotiated hash (RFC 3947 §3.2).
pub(crate) fn nat_d(hash: HashAlg, cky_i: u64, cky_r: u64, addr: SocketAddr) -> Vec<u8> {
    let ip: Vec<u8> = match addr.ip() {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    hash.digest(&[&cky_i.to_be_bytes(), &cky_r.to_be_bytes(), &ip, &addr.port().to_be_bytes()])
}

/// The NAT-D payloads we send: the peer's address as we see it first, then ours.
pub(crate) fn ours(
    hash: HashAlg,
    cky_i: u64,
    cky_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
) -> [Vec<u8>; 2] {
    [nat_d(hash, cky_i, cky_r, remote), nat_d(hash, cky_i, cky_r, local)]
}

/// Compares the peer's NAT-D payloads with the addresses we see (RFC 3947 §3.2): the first
/// names us as the peer sent to us, the others the peer itself. `None` when the peer sent
/// fewer than two (it then does not do NAT-T).
pub(crate) fn detect(
    variant: NatTVariant,
    hash: HashAlg,
    cky_i: u64,
    cky_r: u64,
    local: SocketAddr,
    remote: SocketAddr,
    received: &[&[u8]],
) -> Option<NatState> {
    let [first, rest @ ..] = received else { return None };
    if rest.is_empty() {
        return None;
    }
    let me = nat_d(hash, cky_i, cky_r, local);
    let them = nat_d(hash, cky_i, cky_r, remote);
    Some(NatState {
        variant,
        local_behind_nat: *first != me.as_slice(),
        remote_behind_nat: !rest.iter().take(MAX_NAT_D).any(|d| *d == them.as_slice()),
    })
}

/// The same address on port 4500.
pub(crate) fn floated(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), NAT_T_PORT)
}

/// Whether IKE on this path travels after the non-ESP marker.
pub(crate) fn on_nat_t_port(local: SocketAddr, remote: SocketAddr) -> bool {
    local.port() == NAT_T_PORT || remote.port() == NAT_T_PORT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nat_d_hashes_cookies_address_and_port() {
        // An independent computation: sha1(cky_i | cky_r | 10.0.0.1 | 500).
        let d = nat_d(HashAlg::Sha1, 1, 2, addr("10.0.0.1:500"));
        let expected = HashAlg::Sha1.digest(&[
            &[0, 0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 0, 0, 2],
            &[10, 0, 0, 1],
            &[0x01, 0xf4],
        ]);
        assert_eq!(d, expected);
    }

    #[test]
    fn matching_hashes_mean_no_nat_and_a_rewritten_source_means_the_peer_is_behind_one() {
        let (client, server) = (addr("10.0.0.1:500"), addr("10.0.0.2:500"));
        let h = HashAlg::Sha256;
        // The client's view: it sends [server, client].
        let sent = ours(h, 5, 6, client, server);
        let seen: Vec<&[u8]> = sent.iter().map(Vec::as_slice).collect();
        let direct = detect(NatTVariant::Rfc3947, h, 5, 6, server, client, &seen).unwrap();
        assert!(!direct.nat_detected());
        // A NAT rewrote the client's source to 192.0.2.7:4096.
        let natted =
            detect(NatTVariant::Rfc3947, h, 5, 6, server, addr("192.0.2.7:4096"), &seen).unwrap();
        assert_eq!((natted.local_behind_nat, natted.remote_behind_nat), (false, true));
        // One NAT-D alone is not NAT-T.
        assert_eq!(detect(NatTVariant::Rfc3947, h, 5, 6, server, client, &seen[..1]), None);
    }
}
