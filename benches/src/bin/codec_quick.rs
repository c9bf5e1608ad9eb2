//! `cargo run --release -p ikeway-benches --bin codec-quick`: CPU time of the codec alone on
//! the payload chains of an X25519 PSK handshake like `handshake-quick`'s, with the default
//! offer of `ikeway_sa::Config::new` (three IKE proposals of four key exchange methods each,
//! three ESP proposals with both ESN choices; `handshake-quick` cuts each IKE proposal to the
//! one group of its row) and NAT detection, CP, TS: parsing the IKE_SA_INIT request's chain and the
//! IKE_AUTH request's inner chain, emitting both, and building both offers. Thread CPU time,
//! median of seven 200 ms batches (`cpu_time::per_op`), so that other processes do not inflate
//! it (a batch of calls per clock reading); a codec change shows here apart from the key
//! exchange that dominates a handshake.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ikeway_benches::cpu_time::per_op;
use ikeway_codec::{
    AddrRange, AuthMethod, AuthRepr, ConfigAttribute, ConfigAttributeType, ConfigRepr, ConfigType,
    DhGroup, EncrAlg, EsnMode, HashAlgorithm, IdRepr, IdValue, IntegAlg, KeRepr, NonceRepr,
    NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType, PrfAlg, ProposalRepr, ProtocolId,
    SaRepr, Spi, TrafficSelector, TransformRepr, Transforms, TsRepr, chain_to_vec, first_type,
    parse_chain,
};

/// The key exchange methods `Config::new` offers in each IKE proposal.
const GROUPS: [DhGroup; 4] =
    [DhGroup::CURVE25519, DhGroup::ECP_256, DhGroup::ECP_384, DhGroup::MODP_2048];

fn ike_offer() -> SaRepr {
    let proposal = |number: u8, encr: TransformRepr, integ: Option<TransformRepr>| {
        let mut transforms = Transforms::new();
        transforms.push(encr);
        transforms.push(TransformRepr::prf(PrfAlg::PRF_HMAC_SHA2_256));
        transforms.extend(integ);
        transforms.extend(GROUPS.map(TransformRepr::dh));
        ProposalRepr { number, protocol: ProtocolId::IKE, spi: Spi::new(), transforms }
    };
    let cbc = TransformRepr::encr(EncrAlg::ENCR_AES_CBC, Some(256));
    SaRepr {
        proposals: vec![
            proposal(1, TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(256)), None),
            proposal(2, TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(128)), None),
            proposal(3, cbc, Some(TransformRepr::integ(IntegAlg::AUTH_HMAC_SHA2_256_128))),
        ],
    }
}

fn esp_offer() -> SaRepr {
    let proposal = |number: u8, encr: TransformRepr| {
        let mut transforms = Transforms::new();
        transforms.push(encr);
        transforms.push(TransformRepr::esn(EsnMode::ESN));
        transforms.push(TransformRepr::esn(EsnMode::NO_ESN));
        let spi = Spi::from_slice(&[0xc0, 1, 2, 3]);
        ProposalRepr { number, protocol: ProtocolId::ESP, spi, transforms }
    };
    SaRepr {
        proposals: vec![
            proposal(1, TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(256))),
            proposal(2, TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(128))),
            proposal(3, TransformRepr::encr(EncrAlg::ENCR_CHACHA20_POLY1305, None)),
        ],
    }
}

fn chains() -> [Vec<Payload>; 2] {
    let p = Payload::new;
    let notify = |kind, data: &[u8]| p(PayloadRepr::Notify(NotifyRepr::new(kind, data)));
    let hashes = [HashAlgorithm::SHA2_256, HashAlgorithm::SHA2_384, HashAlgorithm::SHA2_512];
    let init = vec![
        p(PayloadRepr::Sa(ike_offer())),
        p(PayloadRepr::Ke(KeRepr { group: DhGroup::CURVE25519, data: vec![7; 32].into() })),
        p(PayloadRepr::Nonce(NonceRepr { data: vec![9; 32].into() })),
        notify(NotifyType::NAT_DETECTION_SOURCE_IP, &[1; 20]),
        notify(NotifyType::NAT_DETECTION_DESTINATION_IP, &[2; 20]),
        notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, &[]),
        p(PayloadRepr::Notify(NotifyRepr::signature_hash_algorithms(&hashes))),
    ];
    let v4 = TrafficSelector::Range(AddrRange::any(
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V4(Ipv4Addr::BROADCAST),
    ));
    let v6 = TrafficSelector::Range(AddrRange::any(
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::from([0xff; 16])),
    ));
    let request = |kind| ConfigAttribute::request(kind);
    let auth = vec![
        p(PayloadRepr::IdI(IdRepr::from_value(IdValue::Fqdn("client.example")))),
        p(PayloadRepr::Auth(AuthRepr {
            method: AuthMethod::SHARED_KEY_MIC,
            data: vec![3; 32].into(),
        })),
        p(PayloadRepr::Config(ConfigRepr {
            kind: ConfigType::CFG_REQUEST,
            attributes: [
                request(ConfigAttributeType::INTERNAL_IP4_ADDRESS),
                request(ConfigAttributeType::INTERNAL_IP4_DNS),
            ]
            .into_iter()
            .collect(),
        })),
        notify(NotifyType::INITIAL_CONTACT, &[]),
        p(PayloadRepr::Sa(esp_offer())),
        p(PayloadRepr::TsI(TsRepr { selectors: [v4.clone(), v6.clone()].into_iter().collect() })),
        p(PayloadRepr::TsR(TsRepr { selectors: [v4, v6].into_iter().collect() })),
    ];
    [init, auth]
}

/// Calls per clock reading: reading the thread's CPU clock is a system call of a few hundred
/// nanoseconds, as long as the operations timed here.
const BATCH: u32 = 100;

/// CPU time per call of `f`.
fn per_call(mut f: impl FnMut()) -> std::time::Duration {
    per_op(|| (0..BATCH).for_each(|_| f())) / BATCH
}

fn main() {
    let chains = chains();
    let encoded: Vec<(PayloadType, Vec<u8>)> = chains
        .iter()
        .map(|c| (first_type(c), chain_to_vec(c).expect("the chains are well formed")))
        .collect();
    let parse = per_call(|| {
        for (first, bytes) in &encoded {
            black_box(parse_chain(*first, black_box(bytes)).expect("our own encoding parses"));
        }
    });
    let emit = per_call(|| {
        for c in &chains {
            black_box(chain_to_vec(black_box(c)).expect("the chains are well formed"));
        }
    });
    let build = per_call(|| {
        black_box(ike_offer());
        black_box(esp_offer());
    });
    let ns = |d: std::time::Duration| d.as_secs_f64() * 1e9;
    println!(
        "codec: parse both chains {:.0} ns, emit both {:.0} ns, build both offers {:.0} ns",
        ns(parse),
        ns(emit),
        ns(build)
    );
}
