//! Bad input: every malformed or unauthenticated packet is dropped with a counted reason, and
//! the replay window moves only for authenticated packets. Plus the sending limits.

mod common;

use common::*;
use ikeway_crypto::{AeadAlgorithm, AeadBackend, BlockCipher, Integrity, SaltedAead};
use ikeway_esp::{
    DropReason, EspError, InboundSa, Lifetime, Mode, NextHeader, OutboundSa, SaConfig, SaEvent,
    SaTable,
};

fn gcm_pair() -> (SaConfig, OutboundSa, InboundSa) {
    let config = config(gcm128(), AeadBackend::Ring, false);
    let (out, inb) = pair(&config);
    (config, out, inb)
}

/// Drops `packet` and checks the reason and that exactly that counter moved.
fn assert_drop(inb: &mut InboundSa, packet: &mut [u8], reason: DropReason) {
    let before = inb.counters().clone();
    assert_eq!(inb.decapsulate(packet).unwrap_err(), reason);
    assert_eq!(inb.counters().drops(reason), before.drops(reason) + 1, "{reason:?} counted");
    assert_eq!(inb.counters().total_drops(), before.total_drops() + 1);
    assert_eq!(inb.counters().packets, before.packets, "nothing accepted");
}

/// An authentic AES-GCM packet with a body chosen freely (for trailer checks): only a holder of
/// the key can build one, so these exercise the checks after the ICV.
fn authentic(config: &SaConfig, seq: u32, plain_body: &[u8]) -> Vec<u8> {
    let aead = SaltedAead::new(
        AeadBackend::RustCrypto,
        AeadAlgorithm::AES128_GCM16,
        config.encryption_key.expose(),
    )
    .unwrap();
    let mut packet = Vec::new();
    packet.extend_from_slice(&SPI.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&u64::from(seq).to_be_bytes());
    let mut body = plain_body.to_vec();
    let mut tag = [0u8; 16];
    aead.seal(&packet[8..16], &packet[..8], &mut body, &mut tag).unwrap();
    packet.extend_from_slice(&body);
    packet.extend_from_slice(&tag);
    packet
}

#[test]
fn rejects_short_packets() {
    let (_, mut out, mut inb) = gcm_pair();
    let good = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    // Header + IV + trailer + ICV is the least: 8 + 8 + 2 + 16.
    for len in [0, 4, 8, 16, 33] {
        assert_drop(&mut inb, &mut good[..len].to_vec(), DropReason::Short);
    }
    let mut table = SaTable::new();
    assert_eq!(table.decapsulate(&mut [1, 2, 3]).unwrap_err(), DropReason::Short);
    assert_eq!(table.counters().drops(DropReason::Short), 1);
}

#[test]
fn rejects_unknown_spi() {
    let (config, mut out, inb) = gcm_pair();
    let mut table = SaTable::new();
    table.insert(inb);
    let mut packet = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    packet[0] ^= 0x80;
    assert_eq!(table.decapsulate(&mut packet).unwrap_err(), DropReason::UnknownSpi);
    assert_eq!(table.counters().drops(DropReason::UnknownSpi), 1);
    // Handed straight to an SA with another SPI, the SA counts it too.
    let mut inb = InboundSa::new(&config).unwrap();
    assert_drop(&mut inb, &mut packet, DropReason::UnknownSpi);
    packet[0] ^= 0x80;
    assert!(table.decapsulate(&mut packet).is_ok());
    assert_eq!(table.get(SPI).unwrap().counters().packets, 1);
}

#[test]
fn rejects_bad_icv_for_any_flipped_bit() {
    for (suite, backend) in all_suites() {
        for esn in [false, true] {
            let config = config(suite, backend, esn);
            let (mut out, mut inb) = pair(&config);
            let good = seal(&mut out, &ipv4_packet(64, 7), NextHeader::IPV4);
            // Every byte after the SPI: sequence number, IV, ciphertext, ICV.
            for i in 4..good.len() {
                let mut bad = good.clone();
                bad[i] ^= 0x01;
                let got = inb.decapsulate(&mut bad).unwrap_err();
                assert!(
                    got == DropReason::BadIcv || (i < 8 && got == DropReason::TooOld),
                    "{suite:?} {backend:?} esn={esn} byte {i}: {got:?}"
                );
            }
            assert_eq!(inb.window().top(), 0, "forgeries never move the window");
            assert!(inb.decapsulate(&mut good.clone()).is_ok(), "{suite:?} {backend:?}");
        }
    }
}

#[test]
fn rejects_replay() {
    let (_, mut out, mut inb) = gcm_pair();
    let packet = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    inb.decapsulate(&mut packet.clone()).unwrap();
    assert_drop(&mut inb, &mut packet.clone(), DropReason::Replay);
}

#[test]
fn rejects_too_old() {
    let (config, mut out, _) = gcm_pair();
    let mut inb = InboundSa::new(&config).unwrap();
    let old = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    out.skip_to(u64::from(config.replay_window) + 10).unwrap();
    let new = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    inb.decapsulate(&mut new.clone()).unwrap();
    assert_drop(&mut inb, &mut old.clone(), DropReason::TooOld);
}

#[test]
fn rejects_bad_padding() {
    let (config, _, mut inb) = gcm_pair();
    let inner = ipv4_packet(28, 0);
    // Padding 1, 3 instead of 1, 2; then a pad length longer than the body.
    let cases: [&[u8]; 2] = [&[1, 3, 2, 4], &[1, 2, 200, 4]];
    for (n, trailer) in cases.iter().enumerate() {
        let body = [&inner[..], trailer].concat();
        let mut packet = authentic(&config, n as u32 + 1, &body);
        assert_drop(&mut inb, &mut packet, DropReason::BadPadding);
    }
    // Authenticated, so the sequence numbers are consumed.
    assert_eq!(inb.window().top(), 2);
}

#[test]
fn rejects_bad_next_header_in_tunnel_mode() {
    let (config, _, mut inb) = gcm_pair();
    let body = [&ipv4_packet(28, 0)[..], &[1, 2, 2, 6]].concat();
    assert_drop(&mut inb, &mut authentic(&config, 1, &body), DropReason::BadNextHeader);
}

#[test]
fn rejects_dummy_packets() {
    let (_, mut out, mut inb) = gcm_pair();
    let mut dummy = seal(&mut out, &[0; 16], NextHeader::NO_NEXT_HEADER);
    assert_drop(&mut inb, &mut dummy, DropReason::Dummy);
}

#[test]
fn rejects_unaligned_cbc_ciphertext() {
    let suite = ikeway_crypto::Suite::new(
        ikeway_crypto::Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
        Some(Integrity::HmacSha256_128),
    )
    .unwrap();
    let config = config(suite, AeadBackend::RustCrypto, false);
    let (mut out, mut inb) = pair(&config);
    let good = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    let mut bad = [&good[..40], &good[41..]].concat();
    assert_drop(&mut inb, &mut bad, DropReason::BadLength);
}

#[test]
fn forged_packet_never_moves_the_window() {
    let (_, mut out, mut inb) = gcm_pair();
    let first = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    inb.decapsulate(&mut first.clone()).unwrap();
    out.skip_to(100).unwrap();
    let genuine = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    let mut forged = genuine.clone();
    *forged.last_mut().unwrap() ^= 1;
    assert_drop(&mut inb, &mut forged, DropReason::BadIcv);
    assert_eq!(inb.window().top(), 1);
    // A forgery far ahead must not push genuine packets out of the window either.
    let mut far = first.clone();
    far[4..8].copy_from_slice(&5000u32.to_be_bytes());
    assert_drop(&mut inb, &mut far, DropReason::BadIcv);
    assert_eq!(inb.window().top(), 1);
    assert_eq!(inb.decapsulate(&mut genuine.clone()).unwrap().seq, 100);
}

#[test]
fn rejects_short_buffer_with_needed_size() {
    let (_, mut out, _) = gcm_pair();
    let needed = out.buffer_len(100);
    assert_eq!(needed, 8 + 8 + 100 + 2 + 2 + 16);
    let mut buf = vec![0u8; needed - 1];
    assert_eq!(
        out.encapsulate(&mut buf, 100, NextHeader::IPV4).unwrap_err(),
        EspError::BufferTooSmall { needed, got: needed - 1 }
    );
    assert_eq!(out.next_sequence(), 1, "a refused packet consumes no sequence number");
}

#[test]
fn sequence_numbers_never_wrap() {
    for esn in [false, true] {
        let config = config(gcm128(), AeadBackend::Ring, esn);
        let (mut out, mut inb) = pair(&config);
        let last = if esn { u64::MAX } else { u64::from(u32::MAX) };
        out.skip_to(last - 1).unwrap();
        inb.restore_window(last - 2);
        assert!(out.rekey_needed() || out.poll_event().is_none());
        for seq in [last - 1, last] {
            let p = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
            assert_eq!(inb.decapsulate(&mut p.clone()).unwrap().seq, seq);
        }
        assert_eq!(out.poll_event(), Some(SaEvent::RekeyNeeded), "soft limit raised");
        assert_eq!(out.poll_event(), None, "once");
        let mut buf = vec![0u8; 200];
        assert_eq!(
            out.encapsulate(&mut buf, 40, NextHeader::IPV4).unwrap_err(),
            EspError::SequenceExhausted
        );
        assert!(out.skip_to(1).is_err(), "never back");
    }
}

#[test]
fn esn_round_trip_across_the_32_bit_boundary() {
    let config = config(gcm128(), AeadBackend::Ring, true);
    let (mut out, mut inb) = pair(&config);
    let start = (1u64 << 32) - 3;
    out.skip_to(start).unwrap();
    inb.restore_window(start - 1);
    let packets: Vec<_> =
        (0..6).map(|_| seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4)).collect();
    // Deliver out of order across the boundary.
    for i in [1, 0, 4, 3, 5, 2] {
        assert_eq!(inb.decapsulate(&mut packets[i].clone()).unwrap().seq, start + i as u64);
    }
}

#[test]
fn packet_and_byte_lifetimes() {
    let mut config = config(gcm128(), AeadBackend::Ring, false);
    config.lifetime =
        Lifetime { soft_packets: Some(2), hard_packets: Some(3), ..Lifetime::default() };
    let (mut out, mut inb) = pair(&config);
    let inner = ipv4_packet(40, 1);
    let mut sent = vec![seal(&mut out, &inner, NextHeader::IPV4)];
    assert_eq!(out.poll_event(), None);
    sent.push(seal(&mut out, &inner, NextHeader::IPV4));
    assert_eq!(out.poll_event(), Some(SaEvent::RekeyNeeded));
    sent.push(seal(&mut out, &inner, NextHeader::IPV4));
    let mut buf = vec![0u8; 200];
    assert_eq!(out.encapsulate(&mut buf, 40, NextHeader::IPV4), Err(EspError::LifetimeExpired));

    for p in &sent {
        inb.decapsulate(&mut p.clone()).unwrap();
    }
    assert_eq!(inb.poll_event(), Some(SaEvent::RekeyNeeded));
    let mut extra = OutboundSa::new(&config).unwrap();
    extra.skip_to(10).unwrap();
    let mut late = seal(&mut extra, &inner, NextHeader::IPV4);
    assert_drop(&mut inb, &mut late, DropReason::Expired);

    config.lifetime =
        Lifetime { soft_bytes: Some(50), hard_bytes: Some(100), ..Lifetime::default() };
    let mut out = OutboundSa::new(&config).unwrap();
    seal(&mut out, &inner, NextHeader::IPV4);
    assert_eq!(out.poll_event(), None);
    seal(&mut out, &inner, NextHeader::IPV4);
    assert_eq!(out.poll_event(), Some(SaEvent::RekeyNeeded));
    assert_eq!(out.counters().bytes, 80);
    let mut buf = vec![0u8; 200];
    assert_eq!(out.encapsulate(&mut buf, 40, NextHeader::IPV4), Err(EspError::LifetimeExpired));
}

#[test]
fn round_trips_every_suite_size_and_mode() {
    for (suite, backend) in all_suites() {
        for esn in [false, true] {
            let mut config = config(suite, backend, esn);
            config.mode = Mode::Transport;
            let (mut out, mut inb) = pair(&config);
            for len in (0..=70).chain([255, 256, 1400, 8000]) {
                let inner: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let packet = seal(&mut out, &inner, NextHeader::UDP);
                assert_eq!(packet.len(), out.buffer_len(len));
                assert!(packet.len() - len <= out.max_overhead());
                let mut copy = packet.clone();
                let got = inb.decapsulate(&mut copy).unwrap();
                assert_eq!(got.payload, &inner[..], "{suite:?} {backend:?} {len}");
                assert_eq!(got.next_header, NextHeader::UDP);
            }
            assert_eq!(inb.counters().packets, out.counters().packets);
            assert_eq!(inb.counters().bytes, out.counters().bytes);
        }
    }
}

#[test]
fn tfc_padding_is_stripped_by_the_inner_ip_length() {
    let mut config = config(gcm128(), AeadBackend::Ring, false);
    config.tfc_pad_to = Some(300);
    let (mut out, mut inb) = pair(&config);
    let inner = ipv4_packet(60, 9);
    let mut packet = seal(&mut out, &inner, NextHeader::IPV4);
    assert_eq!(packet.len(), 8 + 8 + 300 + 2 + 2 + 16, "padded to 300 plus trailer");
    assert_eq!(inb.decapsulate(&mut packet).unwrap().payload, &inner[..]);
}

#[test]
fn debug_output_shows_no_key_material() {
    let (config, out, inb) = gcm_pair();
    // The keys are 0, 1, 2, ... so a leaked key would print as a list of those.
    for shown in [format!("{config:?}"), format!("{out:?}"), format!("{inb:?}")] {
        assert!(!shown.contains("[0, 1, 2"), "{shown}");
        assert!(!shown.contains("000102"), "{shown}");
    }
}

/// An authentic 3DES-CBC + HMAC-SHA1-96 packet with a plaintext body chosen freely (block
/// aligned), built with the crypto primitives directly, for the checks after the ICV.
fn authentic_3des(config: &SaConfig, seq: u32, plain_body: &[u8]) -> Vec<u8> {
    let cipher = BlockCipher::TripleDesCbc.key(config.encryption_key.expose()).unwrap();
    let mac = Integrity::HmacSha1_96.key(config.integrity_key.expose()).unwrap();
    let mut packet = Vec::new();
    packet.extend_from_slice(&SPI.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&[0xa5; 8]);
    let mut body = plain_body.to_vec();
    cipher.encrypt(&packet[8..16], &mut body).unwrap();
    packet.extend_from_slice(&body);
    let mut icv = [0u8; 12];
    mac.compute(&[&packet[..]], &mut icv).unwrap();
    packet.extend_from_slice(&icv);
    packet
}

#[test]
fn triple_des_packets_are_padded_to_8_bytes_with_an_8_byte_iv() {
    let config = config(triple_des_sha1(), AeadBackend::RustCrypto, false);
    let (mut out, mut inb) = pair(&config);
    assert_eq!(out.headroom(), 8 + 8);
    // Largest overhead: header 8 + IV 8 + padding 7 + trailer 2 + ICV 12.
    assert_eq!(out.max_overhead(), 37);
    for (inner_len, padded) in [(28, 32), (30, 32), (31, 40), (38, 40)] {
        let packet = seal(&mut out, &ipv4_packet(inner_len, 7), NextHeader::IPV4);
        assert_eq!(packet.len(), 16 + padded + 12, "inner {inner_len}");
        let mut copy = packet.clone();
        let got = inb.decapsulate(&mut copy).unwrap();
        assert_eq!(got.payload, &ipv4_packet(inner_len, 7)[..]);
    }
    // The IV is E_K(seq): unpredictable without the key, and never the sequence number itself.
    let a = seal(&mut out, &ipv4_packet(28, 0), NextHeader::IPV4);
    let b = seal(&mut out, &ipv4_packet(28, 0), NextHeader::IPV4);
    assert_ne!(a[8..16], b[8..16]);
    assert_ne!(a[8..16], 5u64.to_be_bytes());
    // Same plaintext, different IVs: different ciphertext.
    assert_ne!(a[16..48], b[16..48]);
}

#[test]
fn triple_des_rejects_short_unaligned_forged_and_badly_padded_packets() {
    let config = config(triple_des_sha1(), AeadBackend::RustCrypto, false);
    let (mut out, mut inb) = pair(&config);
    let good = seal(&mut out, &ipv4_packet(40, 1), NextHeader::IPV4);
    assert_eq!(good.len(), 16 + 48 + 12);
    // Header + IV + trailer + ICV is the least: 8 + 8 + 2 + 12 = 30.
    for len in [0, 8, 16, 29] {
        assert_drop(&mut inb, &mut good[..len].to_vec(), DropReason::Short);
    }
    // A body that is not whole 8-byte blocks, before any MAC work.
    let mut unaligned = [&good[..40], &good[41..]].concat();
    assert_drop(&mut inb, &mut unaligned, DropReason::BadLength);
    // 2 bytes of body (the least the trailer needs) is not a block either.
    let mut tiny = [&good[..16], &[0, 0][..], &good[good.len() - 12..]].concat();
    assert_drop(&mut inb, &mut tiny, DropReason::BadLength);
    // Any flipped bit in header, IV, ciphertext or ICV.
    for bit in (0..good.len() * 8).step_by(13) {
        let mut forged = good.clone();
        forged[bit / 8] ^= 1 << (bit % 8);
        let expected = if bit < 32 { DropReason::UnknownSpi } else { DropReason::BadIcv };
        assert_drop(&mut inb, &mut forged, expected);
    }
    assert_eq!(inb.window().top(), 0, "no forgery moved the window");
    assert_eq!(inb.decapsulate(&mut good.clone()).unwrap().payload, &ipv4_packet(40, 1)[..]);

    // Authentic packets with bad trailers: padding 1, 3 instead of 1, 2; a pad length longer
    // than the body; a bad next header.
    let inner = ipv4_packet(28, 0);
    let trailers: [(&[u8], DropReason); 3] = [
        (&[1, 3, 2, 4], DropReason::BadPadding),
        (&[1, 2, 200, 4], DropReason::BadPadding),
        (&[1, 2, 2, 6], DropReason::BadNextHeader),
    ];
    for (n, (trailer, reason)) in trailers.into_iter().enumerate() {
        let body = [&inner[..], trailer].concat();
        let mut packet = authentic_3des(&config, n as u32 + 2, &body);
        assert_drop(&mut inb, &mut packet, reason);
    }
    assert_eq!(inb.window().top(), 4, "authenticated, so their sequence numbers are consumed");
    // And the helper itself builds packets we accept.
    let body = [&inner[..], &[1, 2, 2, 4]].concat();
    let mut fine = authentic_3des(&config, 5, &body);
    assert_eq!(inb.decapsulate(&mut fine).unwrap().payload, &inner[..]);
}

#[test]
fn triple_des_keys_of_the_wrong_length_are_refused() {
    let mut config = config(triple_des_sha1(), AeadBackend::RustCrypto, false);
    config.encryption_key = ikeway_crypto::SecretBytes::new(vec![1; 16]);
    assert!(matches!(
        OutboundSa::new(&config).unwrap_err(),
        EspError::Crypto(ikeway_crypto::CryptoError::KeyLength { expected: 24, got: 16 })
    ));
}
