//! The Personal VPN commands: saved configurations and profiles (`config`, `profile`), and
//! connections (`connect`, `status`, `disconnect`).

pub(crate) mod config;
pub(crate) mod connect;
pub(crate) mod control;
pub(crate) mod daemon;
mod runtime_dir;
