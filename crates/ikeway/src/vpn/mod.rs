//! The Personal VPN commands: saved configurations and profiles (`config`, `profile`).

pub(crate) mod config;
