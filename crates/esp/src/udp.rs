//! ESP-in-UDP on port 4500 (RFC 3948): telling ESP, IKE and NAT keepalives apart.

/// UDP port for IKE and ESP-in-UDP once NAT traversal floats (RFC 3948 §2, RFC 7296 §2.23).
pub const NAT_T_PORT: u16 = 4500;
/// Four zero bytes where an SPI would be: the datagram is IKE (RFC 3948 §2.2). SPI 0 is
/// reserved (RFC 4303 §2.1), so no ESP packet starts this way.
pub const NON_ESP_MARKER: [u8; 4] = [0; 4];
/// A NAT keepalive is one byte of 0xFF (RFC 3948 §2.3).
pub const NAT_KEEPALIVE: u8 = 0xFF;
/// An IKE header (RFC 7296 §3.1).
const IKE_HEADER_LEN: usize = 28;
/// SPI and sequence number: the least an ESP packet carries (RFC 4303 §2).
const ESP_MIN_LEN: usize = 8;

/// What a UDP/4500 payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// An IKE message, non-ESP marker stripped.
    Ike(&'a [u8]),
    /// An ESP packet (SPI to ICV).
    Esp(&'a [u8]),
    /// A NAT keepalive: recognised and dropped.
    Keepalive,
    /// None of these: too short to be IKE or ESP.
    Invalid,
}

impl<'a> Datagram<'a> {
    /// Classifies a UDP payload received on port 4500 (RFC 3948 §2).
    pub fn classify(payload: &'a [u8]) -> Self {
        match payload {
            [NAT_KEEPALIVE] => Self::Keepalive,
            [0, 0, 0, 0, ike @ ..] if ike.len() >= IKE_HEADER_LEN => Self::Ike(ike),
            [0, 0, 0, 0, ..] => Self::Invalid,
            esp if esp.len() >= ESP_MIN_LEN => Self::Esp(esp),
            _ => Self::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_each_kind() {
        let mut ike = vec![0u8; 4 + 28];
        ike[4] = 0xaa;
        assert_eq!(Datagram::classify(&ike), Datagram::Ike(&ike[4..]));
        let esp = [0, 0, 2, 0x22, 0, 0, 0, 1, 9, 9];
        assert_eq!(Datagram::classify(&esp), Datagram::Esp(&esp));
        assert_eq!(Datagram::classify(&[0xff]), Datagram::Keepalive);
    }

    #[test]
    fn rejects_short_and_marker_only_datagrams() {
        for bad in [&[][..], &[0xfe], &[0, 0, 0, 0], &[0, 0, 0, 0, 1, 2, 3], &[1, 2, 3, 4, 5, 6, 7]]
        {
            assert_eq!(Datagram::classify(bad), Datagram::Invalid, "{bad:?}");
        }
        // Two 0xFF bytes are not a keepalive; too short for ESP.
        assert_eq!(Datagram::classify(&[0xff, 0xff]), Datagram::Invalid);
    }

    #[test]
    fn classifies_scapy_nat_t_esp_packet() {
        // First bytes of scapy's ikev2_nat_t capture, ESP-in-UDP SPI 0xc1a9656b seq 3.
        let esp = [0xc1, 0xa9, 0x65, 0x6b, 0, 0, 0, 3, 0x11, 0x22];
        assert_eq!(Datagram::classify(&esp), Datagram::Esp(&esp));
    }
}
