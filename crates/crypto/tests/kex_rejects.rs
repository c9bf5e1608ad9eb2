//! Bad peer values and private keys are rejected with an exact error, on every backend
//! (RFC 6989, RFC 8031 §2.1, RFC 7296 §3.4).

use ikeway_crypto::{CryptoError, KexBackend, KexGroup, KeyExchange};

fn key(group: KexGroup, backend: KexBackend) -> KeyExchange {
    KeyExchange::from_private_bytes(group, backend, &vec![0x5a; group.private_len()]).unwrap()
}

fn modp_groups() -> [KexGroup; 3] {
    [KexGroup::Modp2048, KexGroup::Modp3072, KexGroup::Modp4096]
}

/// `p + delta` for a small negative or zero `delta`, big-endian at the prime's length. The RFC
/// 3526 primes end in 0xff, so no borrow crosses the last byte.
fn prime_plus(group: KexGroup, delta: i8) -> Vec<u8> {
    let mut p = group.modp_prime().unwrap();
    let last = p.last_mut().unwrap();
    *last = last.wrapping_add_signed(delta);
    p
}

#[test]
fn rejects_wrong_length_public_value() {
    for group in KexGroup::ALL {
        for backend in KexBackend::ALL {
            let k = key(group, backend);
            let n = group.public_len();
            for got in [0, 1, n - 1, n + 1, 2 * n] {
                assert_eq!(
                    k.shared_secret(&vec![2; got]).unwrap_err(),
                    CryptoError::PublicValueLength { expected: n, got },
                    "{group} {backend:?} {got}"
                );
            }
        }
    }
}

#[test]
fn rejects_ecp_public_value_with_sec1_prefix() {
    // RFC 5903 §7: the KE data is x || y, no 0x04. A SEC1 point is one byte too long.
    for group in [KexGroup::Ecp256, KexGroup::Ecp384] {
        for backend in KexBackend::ALL {
            let peer = key(group, backend);
            let mut sec1 = vec![0x04];
            sec1.extend_from_slice(peer.public_value());
            let err = key(group, backend).shared_secret(&sec1).unwrap_err();
            assert_eq!(
                err,
                CryptoError::PublicValueLength { expected: group.public_len(), got: sec1.len() }
            );
        }
    }
}

#[test]
fn rejects_modp_y_zero() {
    for group in modp_groups() {
        let k = key(group, KexBackend::default());
        assert_eq!(
            k.shared_secret(&vec![0; group.public_len()]).unwrap_err(),
            CryptoError::InvalidPublicValue
        );
    }
}

#[test]
fn rejects_modp_y_one() {
    for group in modp_groups() {
        let mut y = vec![0; group.public_len()];
        *y.last_mut().unwrap() = 1;
        let k = key(group, KexBackend::default());
        assert_eq!(k.shared_secret(&y).unwrap_err(), CryptoError::InvalidPublicValue);
    }
}

#[test]
fn rejects_modp_y_p_minus_one() {
    for group in modp_groups() {
        let k = key(group, KexBackend::default());
        assert_eq!(
            k.shared_secret(&prime_plus(group, -1)).unwrap_err(),
            CryptoError::InvalidPublicValue
        );
    }
}

#[test]
fn rejects_modp_y_p() {
    for group in modp_groups() {
        let k = key(group, KexBackend::default());
        assert_eq!(
            k.shared_secret(&prime_plus(group, 0)).unwrap_err(),
            CryptoError::InvalidPublicValue
        );
    }
}

#[test]
fn rejects_modp_y_above_p() {
    for group in modp_groups() {
        let k = key(group, KexBackend::default());
        assert_eq!(
            k.shared_secret(&vec![0xff; group.public_len()]).unwrap_err(),
            CryptoError::InvalidPublicValue
        );
    }
}

#[test]
fn accepts_modp_y_two_and_p_minus_two() {
    for group in modp_groups() {
        let k = key(group, KexBackend::default());
        let mut two = vec![0; group.public_len()];
        *two.last_mut().unwrap() = 2;
        assert!(k.shared_secret(&two).is_ok());
        assert!(k.shared_secret(&prime_plus(group, -2)).is_ok());
    }
}

#[test]
fn rejects_ecp_point_not_on_curve() {
    for group in [KexGroup::Ecp256, KexGroup::Ecp384] {
        for backend in KexBackend::ALL {
            let mut bad = key(group, backend).public_value().to_vec();
            *bad.last_mut().unwrap() ^= 1; // changes y only: (x, y') is off the curve
            let k = key(group, backend);
            assert_eq!(
                k.shared_secret(&bad).unwrap_err(),
                CryptoError::InvalidPublicValue,
                "{group} {backend:?}"
            );
            // (0, 0) is not on either curve (b != 0), and stands in for the point at infinity
            // that x || y cannot encode.
            assert_eq!(
                k.shared_secret(&vec![0; group.public_len()]).unwrap_err(),
                CryptoError::InvalidPublicValue,
                "{group} {backend:?}"
            );
        }
    }
}

#[test]
fn rejects_ecp_coordinate_not_below_field_prime() {
    // x = all-ones is >= p for both curves.
    for group in [KexGroup::Ecp256, KexGroup::Ecp384] {
        for backend in KexBackend::ALL {
            let mut bad = key(group, backend).public_value().to_vec();
            let half = bad.len() / 2;
            bad[..half].fill(0xff);
            assert_eq!(
                key(group, backend).shared_secret(&bad).unwrap_err(),
                CryptoError::InvalidPublicValue
            );
        }
    }
}

#[test]
fn rejects_x25519_all_zero_shared_secret() {
    // Low-order points (RFC 7748 §6.1; list as in the Curve25519 paper): u = 0, 1, and the
    // order-8 points, and their non-canonical forms u + p.
    let low_order: [&str; 7] = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    for backend in KexBackend::ALL {
        let k = key(KexGroup::Curve25519, backend);
        for u in low_order {
            let u = hex::decode(u).unwrap();
            assert_eq!(
                k.shared_secret(&u).unwrap_err(),
                CryptoError::InvalidPublicValue,
                "{backend:?} {u:02x?}"
            );
        }
    }
}

#[test]
fn rejects_ecp_private_key_out_of_range() {
    let p256_order =
        hex::decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").unwrap();
    for backend in KexBackend::ALL {
        for bad in [vec![0; 32], p256_order.clone(), vec![0xff; 32], vec![1; 31], vec![1; 33]] {
            assert_eq!(
                KeyExchange::from_private_bytes(KexGroup::Ecp256, backend, &bad).unwrap_err(),
                CryptoError::InvalidPrivateKey,
                "{backend:?} {bad:02x?}"
            );
        }
        for bad in [vec![0; 48], vec![0xff; 48], vec![1; 32]] {
            assert_eq!(
                KeyExchange::from_private_bytes(KexGroup::Ecp384, backend, &bad).unwrap_err(),
                CryptoError::InvalidPrivateKey
            );
        }
        assert_eq!(
            KeyExchange::from_private_bytes(KexGroup::Curve25519, backend, &[1; 31]).unwrap_err(),
            CryptoError::InvalidPrivateKey
        );
    }
}

#[test]
fn rejects_modp_private_exponent_out_of_range() {
    for group in modp_groups() {
        let n = group.public_len();
        let mut p_minus_one = group.modp_prime().unwrap();
        *p_minus_one.last_mut().unwrap() -= 1;
        for bad in [vec![], vec![0], vec![0, 1], vec![1; n + 1], p_minus_one] {
            assert_eq!(
                KeyExchange::from_private_bytes(group, KexBackend::default(), &bad).unwrap_err(),
                CryptoError::InvalidPrivateKey,
                "{group} {} bytes",
                bad.len()
            );
        }
    }
}
