//! `ikeway-tunnel`: the connection runtime that embedders, the manager and the `ikeway` binary
//! share. It sits over the sans-IO negotiation (`ikeway-sa`) and the datapath (`ikeway-pump`)
//! as `quinn` sits over `quinn-proto` and `quinn-udp`: a [`Session`] owns the UDP sockets, the
//! timers and the datapath, and runs them on its own thread; a [`SessionHandle`] commands it;
//! what happens comes out as one stream of [`SessionEvent`]s.
//!
//! ```no_run
//! use std::time::Duration;
//! use ikeway_codec::{IdRepr, IdValue};
//! use ikeway_crypto::SecretBytes;
//! use ikeway_sa::Config;
//! use ikeway_tunnel::{EventKind, Session, SessionOptions, Status};
//!
//! let psk = SecretBytes::from_slice(b"a pre-shared key");
//! let config = Config::new(IdRepr::from_value(IdValue::Fqdn("client.example.org")), psk);
//! let options = SessionOptions::initiator(
//!     "192.0.2.1".parse().unwrap(),
//!     "198.51.100.7".parse().unwrap(),
//!     config,
//! );
//! let session = Session::start(options).unwrap();
//! for event in session.events() {
//!     println!("{event}"); // or event.to_json()
//!     if event.kind == (EventKind::Status { status: Status::Connected }) {
//!         session.handle().disconnect(Duration::from_secs(3)).unwrap();
//!     }
//! }
//! session.wait().unwrap();
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod child;
mod crew;
mod datapath;
mod doorbell;
mod driver;
mod engine;
mod event;
mod faults;
pub mod host;
mod ikev1;
mod mobility;
pub mod netstack;
mod options;
mod queue;
mod redirect;
mod session;
mod sockets;
mod steering;
pub mod verifier;

pub use datapath::TunOptions;
pub use event::{
    Cidr, DatapathStats, EventKind, ModeConfigNotes, SaCounters, Selector, SessionEvent,
    SessionStats, Spi32, Spi64, Status,
};
pub use faults::{Fault, FaultCounts};
pub use options::{
    DEFAULT_EVENT_DEPTH, DEFAULT_QUEUE_DEPTH, DatagramTrace, DatapathOptions, Ikev1KeyLogger,
    KeyLogger, Ports, Role, SessionOptions,
};
pub use redirect::{MAX_REDIRECTS, RedirectFailure};
pub use session::{Action, Session, SessionError, SessionGone, SessionHandle, random_seed};
