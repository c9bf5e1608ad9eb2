//! The daemon's control socket: the protocol ([`protocol`]), the listening side
//! ([`server`]) and one exchange as a client makes it ([`client`]).

pub mod client;
pub mod protocol;
pub mod server;

pub use protocol::{ConnectRequest, ProtocolError, Reply, Request};
pub use server::{BindError, Call, ControlServer, Peer, SOCKET, Watcher};
