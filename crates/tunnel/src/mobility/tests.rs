//! The path decisions, against a scripted kernel and a recording IKE SA.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::*;

/// Answers the probe from a script, one answer per call.
struct Script(Arc<Mutex<VecDeque<io::Result<Option<IpAddr>>>>>);

impl Probe for Script {
    fn source_toward(&mut self, _server: IpAddr) -> io::Result<Option<IpAddr>> {
        self.0.lock().unwrap().pop_front().expect("a scripted answer for every probe")
    }
}

/// An IKE SA that records the updates asked of it.
struct FakeSa {
    established: bool,
    mobike: bool,
    local: SocketAddr,
    remote: SocketAddr,
    updates: Vec<(SocketAddr, SocketAddr)>,
    refuse: Option<String>,
    confirmed: u64,
}

impl PathOwner for FakeSa {
    fn is_established(&self) -> bool {
        self.established
    }
    fn mobike_negotiated(&self) -> bool {
        self.mobike
    }
    fn local(&self) -> SocketAddr {
        self.local
    }
    fn remote(&self) -> SocketAddr {
        self.remote
    }
    fn path_updates(&self) -> u64 {
        self.confirmed
    }
    fn update_path(
        &mut self,
        _: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(), String> {
        if let Some(r) = &self.refuse {
            return Err(r.clone());
        }
        self.updates.push((local, remote));
        Ok(())
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn sa(mobike: bool) -> FakeSa {
    FakeSa {
        established: true,
        mobike,
        local: "10.99.0.1:4500".parse().unwrap(),
        remote: "10.99.0.2:4500".parse().unwrap(),
        updates: Vec::new(),
        refuse: None,
        confirmed: 0,
    }
}

fn mobility(answers: Vec<io::Result<Option<IpAddr>>>) -> Mobility {
    Mobility::new(Box::new(Script(Arc::new(Mutex::new(answers.into())))))
}

/// A new source address: one update from it (the SA's port, the same server), announced; the
/// confirmation clears it, and the same address again asks nothing more.
#[test]
fn a_new_source_address_asks_the_sa_to_move_once() {
    let mut sa = sa(true);
    let mut m = mobility(vec![Ok(Some(ip("10.99.0.11"))), Ok(Some(ip("10.99.0.11")))]);
    let now = Instant::now();
    let events = m.on_change(now, &mut sa);
    let new: SocketAddr = "10.99.0.11:4500".parse().unwrap();
    assert_eq!(events, vec![EventKind::PathChanging { local: new, remote: sa.remote }]);
    assert_eq!(sa.updates, vec![(new, sa.remote)]);
    assert_eq!(m.local_ip(&sa), ip("10.99.0.11"), "answers arrive at the newest path");
    // The kernel says the same again before the SA confirmed: no second update.
    assert!(m.on_change(now, &mut sa).is_empty());
    assert_eq!(sa.updates.len(), 1);
    sa.local = new;
    assert!(m.on_path_updated(new).is_empty(), "it was never reasserting");
    assert_eq!(m.local_ip(&sa), ip("10.99.0.11"));
}

/// Nothing changed for the path (another link's address came or went): nothing is done.
#[test]
fn an_unrelated_change_does_nothing() {
    let mut sa = sa(true);
    let mut m = mobility(vec![Ok(Some(ip("10.99.0.1")))]);
    assert!(m.on_change(Instant::now(), &mut sa).is_empty());
    assert!(sa.updates.is_empty());
}

/// No route: reasserting, said once however many changes follow; a path back with a new
/// address is an update, and its confirmation is `Connected` again.
#[test]
fn no_route_is_reasserting_until_an_update_succeeds() {
    let mut sa = sa(true);
    let mut m = mobility(vec![Ok(None), Ok(None), Ok(Some(ip("10.98.0.12")))]);
    let now = Instant::now();
    assert_eq!(
        m.on_change(now, &mut sa),
        vec![
            EventKind::PathLost { remote: sa.remote },
            EventKind::Status { status: Status::Reasserting }
        ]
    );
    assert!(m.on_change(now, &mut sa).is_empty(), "said once");
    let new: SocketAddr = "10.98.0.12:4500".parse().unwrap();
    assert_eq!(
        m.on_change(now, &mut sa),
        vec![EventKind::PathChanging { local: new, remote: sa.remote }]
    );
    assert_eq!(m.on_path_updated(new), vec![EventKind::Status { status: Status::Connected }]);
}

/// The path returns with the old address: MOBIKE still checks it with an update (the
/// mapping of a NAT on the way may have changed) before `Connected`.
#[test]
fn the_old_address_back_is_confirmed_by_an_update() {
    let mut sa = sa(true);
    let mut m = mobility(vec![Ok(None), Ok(Some(ip("10.99.0.1")))]);
    let now = Instant::now();
    m.on_change(now, &mut sa);
    assert_eq!(
        m.on_change(now, &mut sa),
        vec![EventKind::PathChanging { local: sa.local, remote: sa.remote }]
    );
    // The SA confirms without a move (no `PathUpdated`): seen after the turn.
    assert!(m.after_turn(&sa).is_empty(), "not confirmed yet");
    sa.confirmed += 1;
    assert_eq!(m.after_turn(&sa), vec![EventKind::Status { status: Status::Connected }]);
    assert!(m.after_turn(&sa).is_empty(), "said once");
}

/// Without MOBIKE: no update, the reason said once; a path back with the SA's own address
/// is `Connected` again without one.
#[test]
fn without_mobike_nothing_moves_and_it_is_said_once() {
    let mut sa = sa(false);
    let mut m = mobility(vec![
        Ok(Some(ip("10.99.0.11"))),
        Ok(Some(ip("10.99.0.12"))),
        Ok(None),
        Ok(Some(ip("10.99.0.1"))),
    ]);
    let now = Instant::now();
    let first = m.on_change(now, &mut sa);
    assert!(
        matches!(&first[..], [EventKind::PathNotFollowed { local: Some(l), reason }]
            if *l == ip("10.99.0.11") && reason.contains("MOBIKE was not negotiated")),
        "{first:?}"
    );
    assert!(m.on_change(now, &mut sa).is_empty(), "said once");
    assert_eq!(m.on_change(now, &mut sa).len(), 2, "path lost, reasserting");
    assert_eq!(m.on_change(now, &mut sa), vec![EventKind::Status { status: Status::Connected }]);
    assert!(sa.updates.is_empty());
}

/// Before the IKE SA is up there is nothing to move, and the kernel is not even asked.
#[test]
fn nothing_before_the_sa_is_established() {
    let mut sa = sa(true);
    sa.established = false;
    let mut m = mobility(Vec::new());
    assert!(m.on_change(Instant::now(), &mut sa).is_empty());
}

/// The SA refuses the update, or the kernel cannot be asked: said, nothing else changes.
#[test]
fn refusals_and_probe_errors_are_said() {
    let mut sa = sa(true);
    sa.refuse = Some("an exchange is outstanding".into());
    let mut m = mobility(vec![
        Ok(Some(ip("10.99.0.11"))),
        Err(io::Error::from(io::ErrorKind::PermissionDenied)),
    ]);
    let now = Instant::now();
    assert_eq!(
        m.on_change(now, &mut sa),
        vec![EventKind::PathNotFollowed {
            local: Some(ip("10.99.0.11")),
            reason: "an exchange is outstanding".into()
        }]
    );
    assert_eq!(m.local_ip(&sa), ip("10.99.0.1"));
    let e = m.on_change(now, &mut sa);
    assert!(matches!(&e[..], [EventKind::PathNotFollowed { local: None, .. }]), "{e:?}");
}

/// With the SA up, the datapath follows authenticated ESP from a new source only without
/// MOBIKE; a confirmed move sends every child SA's ESP to the new remote and ends
/// reasserting.
#[test]
fn the_datapath_follows_the_sa() {
    use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
    use ikeway_pump::{ChildSa, Policy, Selector};
    let table = SaTable::new();
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
    let esp = |spi| {
        ikeway_esp::SaConfig::new(
            spi,
            suite,
            SecretBytes::from_slice(&[1; 20]),
            SecretBytes::default(),
        )
    };
    let any = Policy { local: vec![Selector::any_v4()], remote: vec![Selector::any_v4()] };
    table
        .install(&ChildSa {
            inbound: esp(0x1000),
            outbound: esp(0x2000),
            policy: any,
            remote: "10.99.0.2:4500".parse().unwrap(),
        })
        .unwrap();
    let up = Event::IkeSaUp {
        spi_i: 1,
        spi_r: 2,
        suite: ikeway_sa::IkeSuite {
            suite,
            prf: ikeway_crypto::Prf::HmacSha256,
            group: ikeway_codec::DhGroup::CURVE25519,
            additional_kes: [ikeway_codec::DhGroup::NONE; 7],
        },
    };
    let mut m = mobility(vec![Ok(None)]);
    let mut with = sa(true);
    table.set_follow_peer(true);
    assert!(m.on_event(&up, &with, Some(&table)).is_empty());
    assert!(!table.follows_peer(), "MOBIKE: addresses move only by UPDATE_SA_ADDRESSES");
    assert!(m.on_event(&up, &sa(false), Some(&table)).is_empty());
    assert!(table.follows_peer(), "no MOBIKE: RFC 7296 §2.23 rebinding");

    m.on_change(Instant::now(), &mut with); // no route: reasserting
    let moved = Event::PathUpdated {
        local: "10.98.0.12:4500".parse().unwrap(),
        remote: "10.99.0.3:4500".parse().unwrap(),
        local_behind_nat: true,
        remote_behind_nat: false,
        udp_encapsulation: true,
    };
    assert_eq!(
        m.on_event(&moved, &with, Some(&table)),
        vec![EventKind::Status { status: Status::Connected }]
    );
    assert_eq!(table.stats()[0].remote, Some("10.99.0.3:4500".parse().unwrap()));
}

/// Ports taken on the wildcard (another daemon bound to one address) fall back to our own
/// address, said once; any other start failure is not that.
#[test]
fn a_taken_port_is_told_apart_and_said() {
    let taken = crate::SessionError::Bind {
        addr: "0.0.0.0:500".parse().unwrap(),
        source: io::Error::from(io::ErrorKind::AddrInUse),
    };
    assert!(port_taken(&taken));
    assert!(!port_taken(&crate::SessionError::Bind {
        addr: "0.0.0.0:500".parse().unwrap(),
        source: io::Error::from(io::ErrorKind::PermissionDenied),
    }));
    assert!(!port_taken(&crate::SessionError::TimedOut));
    let EventKind::PathNotFollowed { local, reason } = not_followed_bound(ip("127.0.0.1"), &taken)
    else {
        panic!("a path_not_followed event");
    };
    assert_eq!(local, Some(ip("127.0.0.1")));
    assert!(reason.contains("bound to 127.0.0.1") && reason.contains("not followed"), "{reason}");
}
