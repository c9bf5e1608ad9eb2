//! `ikeway initiate` and `ikeway serve`: our IKE initiator and responder over real UDP, for
//! interop tests against strongSwan and libreswan. Both run an `ikeway_tunnel::Session` and
//! print its events as JSON lines; with `--tun NAME` child SAs also drive the ESP datapath
//! (`ikeway-pump`), which then owns UDP 4500. The `--then` actions are commands sent to the
//! session when they are due.

mod proposals;
mod redirect;

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use crossbeam_channel::RecvTimeoutError;
use ikeway_codec::TrafficSelector;
use ikeway_decode::wireshark;
use std::sync::Arc;

use ikeway_crypto::SecretBytes;
use ikeway_eap::{AuthenticatorConfig, Method, PeerConfig, TlsServerConfig, Users};
use ikeway_manager::{IdentityData, parse_identity, read_certificate_file};
use ikeway_pki::{Crl, Identity, Purpose, Revocation, certificates_from_pem_or_der};
use ikeway_sa::{AddressPool, CloseReason, Config, KeyExport, LocalAuth, PeerAuth, Ppk, PpkConfig};
use ikeway_tunnel::verifier::{RuntimeVerifier, TrustSettings};
use ikeway_tunnel::{
    Action, EventKind, Session, SessionEvent, SessionHandle, SessionOptions, Spi64, Status,
    TunOptions,
};
use zeroize::Zeroizing;

use crate::secret_file;

/// Options both ends share.
#[derive(Args, Debug)]
pub(crate) struct Common {
    /// Our address; UDP ports 500 and 4500 are bound on it.
    #[arg(long)]
    local: IpAddr,
    /// Our identity: an IP address, `user@host` (RFC 822), or a name (FQDN; a leading `@` is
    /// dropped, as strongSwan writes it).
    #[arg(long)]
    id: String,
    /// The identity the peer must authenticate as (default: any).
    #[arg(long)]
    remote_id: Option<String>,
    /// File holding the pre-shared key (its first line): how we authenticate unless --cert is
    /// given, and how the peer must unless it must show a certificate (--ca).
    #[arg(long, value_name = "FILE")]
    psk_file: Option<PathBuf>,
    /// A post-quantum preshared key (RFC 8784) as `PPK_ID=FILE` (the key on FILE's first
    /// line; repeat for more). `initiate` uses the first; `serve` takes any a client names.
    /// Without --ppk-required, a peer without the PPK still connects, without it.
    #[arg(long, value_name = "ID=FILE")]
    ppk: Vec<String>,
    /// No IKE SA without a PPK: refuse (serve) or stop (initiate) when the peer does not use
    /// one of ours.
    #[arg(long, requires = "ppk")]
    ppk_required: bool,
    /// Our certificate and its chain (PEM or DER, end entity first): we authenticate with it
    /// (RFC 7427 signature) instead of the pre-shared key.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of --cert (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// A trust anchor for the peer's certificate (PEM or DER; repeat for more). `initiate`: the
    /// responder must then authenticate with a certificate; `serve`: with
    /// --require-client-cert, clients must; with --eap-users alone, the anchors of the client
    /// certificates EAP-TLS checks.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Vec<PathBuf>,
    /// A CRL for the peer's certificate chain (PEM or DER; repeat for more).
    #[arg(long = "crl", value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// IKE proposals in strongSwan's notation, e.g. `aes256gcm16-prfsha256-x25519`.
    #[arg(long = "ike", value_name = "PROPOSAL")]
    ike: Vec<String>,
    /// ESP proposals, e.g. `aes128gcm16-esn-noesn` (groups listed are for PFS). Without it,
    /// AES-GCM; `serve` then also accepts Apple's default child proposal (aes256-sha256-modp2048).
    #[arg(long = "esp", value_name = "PROPOSAL")]
    esp: Vec<String>,
    /// Additional key exchanges after IKE_SA_INIT (RFC 9370, IKE_INTERMEDIATE), one per
    /// comma-separated slot, alternatives joined by `/`: `mlkem768`, `mlkem1024`, `none`
    /// (optional slot), e.g. `mlkem768/none`. Added to every IKE proposal.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    addke: Vec<String>,
    /// Our traffic selectors (CIDR; default: everything).
    #[arg(long = "local-ts", value_name = "CIDR")]
    local_ts: Vec<String>,
    /// The peer's traffic selectors (CIDR; default: everything).
    #[arg(long = "remote-ts", value_name = "CIDR")]
    remote_ts: Vec<String>,
    /// Write the IKE SA keys to FILE as Wireshark `ikev2_decryption_table` rows; `serve` with
    /// EAP-TLS also writes the TLS secrets to FILE.tls (NSS key log lines for Wireshark's
    /// `tls.keylog_file`). This writes secrets: use it only to debug with tshark. The files
    /// must not exist; they are created 0600.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Seed for every random choice (hex, 64 digits); default: from the OS. Makes every key
    /// predictable: only builds with the `insecure-seed` feature (tests, benches) accept it.
    #[arg(long, hide = !cfg!(feature = "insecure-seed"))]
    seed: Option<String>,
    #[command(flatten)]
    tun: TunArgs,
}

#[derive(Args, Debug)]
pub(crate) struct InitiateArgs {
    #[command(flatten)]
    common: Common,
    /// The responder's address.
    #[arg(long)]
    remote: IpAddr,
    /// Ask for an internal address, DNS servers and domain (CFG_REQUEST).
    #[arg(long)]
    request_config: bool,
    /// Actions after the first child SA is up: `rekey-child@SECONDS`, `rekey-ike@S`, `dpd@S`,
    /// `create-child@S`, `delete-child@S`, `delete@S` (delete the IKE SA, then exit).
    #[arg(long = "then", value_name = "ACTION@SECONDS")]
    then: Vec<String>,
    /// Stay up this many seconds after the last action (or after the child SA when none).
    #[arg(long, default_value_t = 1)]
    linger: u64,
    /// Authenticate with EAP as this user (RFC 7296 §2.16): instead of our AUTH when neither
    /// --psk-file nor --cert is given, else as a second round after it (RFC 4739). The
    /// responder must then prove itself with a certificate (--ca).
    #[arg(long, value_name = "NAME", requires = "password_file")]
    username: Option<String>,
    /// File holding the EAP password (first line).
    #[arg(long, value_name = "FILE", requires = "username")]
    password_file: Option<PathBuf>,
    /// EAP methods to accept, in order: mschapv2, md5 (default: both).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "username")]
    eap_methods: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    common: Common,
    /// IPv4 address pool for clients, `FIRST/COUNT`, e.g. `10.88.0.10/100`.
    #[arg(long)]
    pool: Option<String>,
    /// IPv6 address pool, `FIRST/COUNT`.
    #[arg(long)]
    pool6: Option<String>,
    /// DNS servers handed out in CFG_REPLY.
    #[arg(long)]
    dns: Vec<IpAddr>,
    /// DNS search domains handed out in CFG_REPLY.
    #[arg(long)]
    domain: Vec<String>,
    /// Protected networks announced as INTERNAL_IP4/6_SUBNET (CIDR).
    #[arg(long)]
    subnet: Vec<String>,
    /// Child SAs one client's IKE SA may hold (more are refused with NO_ADDITIONAL_SAS).
    #[arg(long, default_value_t = ikeway_sa::DEFAULT_MAX_CHILDREN)]
    max_children: usize,
    /// Clients must authenticate with a certificate chaining to a --ca anchor (no PSK).
    #[arg(long, requires = "ca")]
    require_client_cert: bool,
    /// Accept remote selectors wider than one address from clients without a leased address
    /// (site-to-site peers; bounded by --remote-ts). Off: a client speaks for one address.
    #[arg(long)]
    wide_remote_ts: bool,
    /// Actions on the first IKE SA: `rekey-child@S`, `rekey-ike@S`, `dpd@S`, `delete@S`.
    #[arg(long = "then", value_name = "ACTION@SECONDS")]
    then: Vec<String>,
    /// Serve this many seconds, then exit.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Clients must authenticate with EAP against this user file (strongSwan-like lines
    /// `alice : EAP "password"`); we prove ourselves with --cert and --key. EAP is the
    /// client's only proof (EAP-TLS: a client certificate chaining to --ca); with
    /// --require-client-cert, EAP is a second round after the client's certificate (RFC 4739).
    #[arg(long, value_name = "FILE", requires = "cert")]
    eap_users: Option<PathBuf>,
    /// EAP methods offered, in order: mschapv2, md5, tls (default: mschapv2, and tls when
    /// --ca names the CAs of client certificates; tls needs --ca).
    #[arg(long, value_name = "LIST", value_delimiter = ',', requires = "eap_users")]
    eap_methods: Vec<String>,
    /// RFC 5998: a client that asks for EAP-only authentication (EAP_ONLY_AUTHENTICATION)
    /// gets no CERT and AUTH from us in the first IKE_AUTH response; EAP-TLS, the mutual
    /// method, proves us instead. Needs tls first in --eap-methods, and EAP as the client's only
    /// proof (not with --require-client-cert).
    #[arg(long, requires = "eap_users", conflicts_with = "require_client_cert")]
    eap_only: bool,
    /// EAP-TLS 1.3 as strongSwan 5.9.2-5.9.9 speaks it (a draft of RFC 9190): EAP-Success
    /// right after the client's Finished, no success indication, the draft's MSK. Safe only
    /// inside IKE, whose final AUTH is keyed with the MSK. Needs tls in --eap-methods.
    #[arg(long, requires = "eap_users")]
    eap_tls13_draft: bool,
    /// Do not offer MOBIKE (RFC 4555): clients then cannot move their IKE SA to a new address
    /// with UPDATE_SA_ADDRESSES (a NAT that rebinds them is still followed).
    #[arg(long)]
    no_mobike: bool,
    /// Responder loops, one per core (default: one per core the machine has; one with
    /// --tun). Each worker has its own sockets on the IKE ports, all in one SO_REUSEPORT
    /// group that a BPF program steers by SPI, so every message of an IKE SA reaches the
    /// worker holding it; the address pool is shared. Several workers run no datapath.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=ikeway_sa::MAX_WORKERS as i64))]
    workers: Option<u16>,
    #[command(flatten)]
    redirect: redirect::RedirectArgs,
}

pub(crate) fn parse_cidr(s: &str) -> Result<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/').unwrap_or((s, ""));
    let addr: IpAddr = addr.parse().with_context(|| format!("{s:?} is not an address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = if len.is_empty() {
        max
    } else {
        len.parse().with_context(|| format!("{s:?}: bad prefix"))?
    };
    if len > max {
        bail!("{s:?}: prefix longer than the address");
    }
    Ok((addr, len))
}

fn cidr_selector(s: &str) -> Result<TrafficSelector> {
    let (addr, len) = parse_cidr(s)?;
    let (start, end) = match addr {
        IpAddr::V4(v4) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            let base = u32::from(v4) & mask;
            (
                IpAddr::from(std::net::Ipv4Addr::from(base)),
                IpAddr::from(std::net::Ipv4Addr::from(base | !mask)),
            )
        }
        IpAddr::V6(v6) => {
            let mask = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            let base = u128::from(v6) & mask;
            (
                IpAddr::from(std::net::Ipv6Addr::from(base)),
                IpAddr::from(std::net::Ipv6Addr::from(base | !mask)),
            )
        }
    };
    Ok(TrafficSelector::Range(ikeway_codec::AddrRange::any(start, end)))
}

/// How we authenticate: `--cert` and `--key`, else the PSK, else (an initiator) EAP alone.
fn local_auth(c: &Common, eap: Option<&Arc<PeerConfig>>) -> Result<LocalAuth> {
    if let (Some(cert), Some(key)) = (&c.cert, &c.key) {
        return Ok(LocalAuth::Certificate(Arc::new(our_identity(cert, key)?)));
    }
    if let Some(path) = &c.psk_file {
        return Ok(LocalAuth::Psk(ikeway_manager::read_secret_file(path)?.into()));
    }
    match eap {
        Some(eap) => Ok(LocalAuth::Eap(Arc::clone(eap))),
        None => bail!("--psk-file (or --cert and --key) is required"),
    }
}

fn our_identity(cert: &Path, key: &Path) -> Result<Identity> {
    let what = format!("{} and {}", key.display(), cert.display());
    let key = Zeroizing::new(read_certificate_file(key)?);
    let chain = read_certificate_file(cert)?;
    Ok(parse_identity(&what, IdentityData::Pem { key: &key, chain: &chain })?)
}

/// How the peer must prove itself: with a certificate chaining to a `--ca` anchor when
/// `certificate`, else with the PSK.
fn peer_auth(c: &Common, purpose: Purpose, certificate: bool) -> Result<PeerAuth> {
    if !certificate {
        let psk = c.psk_file.as_deref().map(ikeway_manager::read_secret_file).transpose()?;
        let psk = psk.context(
            "--psk-file is required: the peer authenticates with the pre-shared key unless it \
             must show a certificate (--ca)",
        )?;
        return Ok(PeerAuth::Psk(psk.into()));
    }
    Ok(PeerAuth::Certificate(Arc::new(ca_verifier(c, purpose)?)))
}

/// The `--ca` anchors and `--crl` lists, checking certificates for `purpose`.
fn ca_verifier(c: &Common, purpose: Purpose) -> Result<RuntimeVerifier> {
    let mut anchors = Vec::new();
    for path in &c.ca {
        let bytes = read_certificate_file(path)?;
        let mut certs =
            certificates_from_pem_or_der(&bytes).with_context(|| path.display().to_string())?;
        anchors.append(&mut certs);
    }
    let mut settings = TrustSettings::new(anchors, purpose);
    for path in &c.crl {
        let bytes = read_certificate_file(path)?;
        Crl::from_pem_or_der(&bytes).with_context(|| path.display().to_string())?;
        settings.crls.push(bytes);
    }
    if !settings.crls.is_empty() {
        // CRLs given are checked; a certificate none of them covers still passes.
        settings.revocation = Revocation::BestEffort;
    }
    Ok(RuntimeVerifier::new(&settings)?)
}

fn eap_methods(list: &[String], default: Vec<Method>) -> Result<Vec<Method>> {
    if list.is_empty() {
        return Ok(default);
    }
    list.iter()
        .map(|m| {
            Method::from_name(m)
                .with_context(|| format!("unknown EAP method {m:?}; one of mschapv2, md5, tls"))
        })
        .collect()
}

/// `initiate --username`: our side of EAP with a password method.
fn eap_peer(args: &InitiateArgs) -> Result<Option<Arc<PeerConfig>>> {
    let (Some(user), Some(path)) = (&args.username, &args.password_file) else { return Ok(None) };
    if args.common.ca.is_empty() {
        bail!(
            "--username needs --ca: with EAP the responder proves itself with its certificate \
             (RFC 7296 §2.16)"
        );
    }
    let methods = eap_methods(&args.eap_methods, vec![Method::MsChapV2, Method::Md5])?;
    if methods.contains(&Method::Tls) {
        bail!("--eap-methods: initiate runs the password methods (mschapv2, md5) only");
    }
    let password = crate::password::from_file(path)?;
    Ok(Some(Arc::new(PeerConfig {
        identity: user.clone(),
        password: Some(password),
        tls: None,
        methods,
    })))
}

/// `serve --eap-users`: the authenticator clients run EAP against.
fn eap_authenticator(args: &ServeArgs) -> Result<Option<Arc<AuthenticatorConfig>>> {
    let Some(path) = &args.eap_users else { return Ok(None) };
    let c = &args.common;
    let (Some(cert), Some(key)) = (&c.cert, &c.key) else {
        bail!(
            "--eap-users needs --cert and --key: with EAP the server proves itself with its certificate"
        );
    };
    let mut default = vec![Method::MsChapV2];
    if !c.ca.is_empty() {
        default.push(Method::Tls);
    }
    let methods = eap_methods(&args.eap_methods, default)?;
    let users = read_users(path)?;
    if args.eap_only && methods.first() != Some(&Method::Tls) {
        // Else the client's request is never granted: the first method offered must prove us.
        bail!(
            "--eap-only needs tls first in --eap-methods: EAP-TLS proves the server instead of its AUTH"
        );
    }
    let tls = if methods.contains(&Method::Tls) {
        if c.ca.is_empty() {
            bail!("--eap-methods tls needs --ca: the CAs of the clients' certificates");
        }
        let mut tls = TlsServerConfig::new(
            Arc::new(our_identity(cert, key)?),
            Arc::new(ca_verifier(c, Purpose::Client)?),
        );
        tls.key_log = crate::tls_keylog::open(c.keylog.as_deref())?;
        tls.draft_tls13 = args.eap_tls13_draft;
        Some(tls)
    } else if args.eap_tls13_draft {
        bail!("--eap-tls13-draft needs tls in --eap-methods");
    } else {
        None
    };
    Ok(Some(Arc::new(AuthenticatorConfig { methods, users: Arc::new(users), tls })))
}

/// The user file, read bounded (it is no larger than a certificate file may be) into memory
/// that is wiped afterwards, and parsed by `ikeway_eap::Users`. A file other users can read
/// is served, with a warning: its passwords are theirs to read.
fn read_users(path: &Path) -> Result<Users> {
    let what = || format!("--eap-users {}", path.display());
    let bytes = Zeroizing::new(read_certificate_file(path).with_context(what)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not UTF-8 text (at byte {})", what(), e.valid_up_to()))?;
    let users = Users::parse(text).with_context(what)?;
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0);
    if mode & 0o077 != 0 {
        warn(&format!(
            "{}: other users can read it (mode {:o}); its passwords should be 0600",
            what(),
            mode & 0o777
        ));
    }
    Ok(users)
}

#[allow(clippy::print_stderr)]
fn warn(s: &str) {
    eprintln!("warning: {s}");
}

fn config(c: &Common, local_auth: LocalAuth, peer_auth: PeerAuth) -> Result<Config> {
    let mut config = Config::new(ikeway_manager::identity(&c.id), SecretBytes::from_slice(b""));
    config.local_auth = local_auth;
    config.peer_auth = peer_auth;
    config.remote_id = c.remote_id.as_deref().map(ikeway_manager::identity);
    if !c.ike.is_empty() {
        config.ike_proposals = c.ike.iter().map(|p| proposals::ike(p)).collect::<Result<_>>()?;
    }
    if !c.esp.is_empty() {
        config.esp_proposals = c.esp.iter().map(|p| proposals::esp(p)).collect::<Result<_>>()?;
    }
    let additional = proposals::addke(&c.addke)?;
    for p in &mut config.ike_proposals {
        p.additional_kes.clone_from(&additional);
    }
    config.ppk = ppk_config(&c.ppk, c.ppk_required)?;
    if !c.local_ts.is_empty() {
        config.local_ts = c.local_ts.iter().map(|s| cidr_selector(s)).collect::<Result<_>>()?;
    }
    if !c.remote_ts.is_empty() {
        config.remote_ts = c.remote_ts.iter().map(|s| cidr_selector(s)).collect::<Result<_>>()?;
    }
    Ok(config)
}

/// `--ppk ID=FILE ...` and `--ppk-required`. Keys are read now, and never printed.
fn ppk_config(list: &[String], required: bool) -> Result<Option<PpkConfig>> {
    if list.is_empty() {
        return Ok(None);
    }
    let mut keys: Vec<Ppk> = Vec::new();
    for item in list {
        let Some((id, file)) =
            item.split_once('=').filter(|(id, f)| !id.is_empty() && !f.is_empty())
        else {
            bail!("--ppk {item:?}: expected PPK_ID=FILE");
        };
        if keys.iter().any(|k| k.id == id.as_bytes()) {
            bail!("--ppk: PPK_ID {id:?} given twice");
        }
        let key = ikeway_manager::read_secret_file(Path::new(file))
            .with_context(|| format!("--ppk {id}"))?;
        keys.push(Ppk { id: id.as_bytes().to_vec(), key });
    }
    Ok(Some(PpkConfig { keys, mandatory: required }))
}

/// `--tun NAME` and its companions: the ESP datapath for `initiate` and `serve`.
#[derive(Args, Debug, Default)]
pub(crate) struct TunArgs {
    /// Run the ESP datapath over this TUN device (created if missing); UDP 4500 then belongs to
    /// the datapath, which passes IKE through.
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
    /// Address for the TUN device (CIDR); an initiator also takes the internal addresses it
    /// is assigned (CFG_REPLY).
    #[arg(long = "tun-addr", value_name = "CIDR")]
    tun_addr: Vec<String>,
    /// Route through the TUN device (CIDR), e.g. the responder's protected network.
    #[arg(long = "tun-route", value_name = "CIDR")]
    tun_route: Vec<String>,
    /// TUN MTU.
    #[arg(long = "tun-mtu", default_value_t = 1400)]
    tun_mtu: usize,
    /// Datapath threads (0: one per core).
    #[arg(long = "pump-workers", default_value_t = 0)]
    pump_workers: usize,
}

impl TunArgs {
    fn options(&self) -> Result<Option<TunOptions>> {
        let Some(name) = &self.tun else { return Ok(None) };
        let mut tun = TunOptions::new(name.clone());
        tun.mtu = self.tun_mtu;
        tun.workers = self.pump_workers;
        tun.addresses = self.tun_addr.iter().map(|s| parse_cidr(s)).collect::<Result<_>>()?;
        tun.routes = self.tun_route.iter().map(|s| parse_cidr(s)).collect::<Result<_>>()?;
        Ok(Some(tun))
    }
}

/// `--seed`, refused unless this is a test build; `None`: the session takes one from the OS.
fn seed(c: &Common) -> Result<Option<[u8; 32]>> {
    let Some(hex_seed) = &c.seed else { return Ok(None) };
    let seed = parse_seed(hex_seed)?;
    if !cfg!(feature = "insecure-seed") {
        bail!(
            "--seed makes every key, nonce and SPI predictable; only a test build \
             (cargo feature insecure-seed) accepts it"
        );
    }
    Ok(Some(seed))
}

/// Exactly 32 bytes: a shorter seed padded with zeros or a longer one cut would look accepted
/// while giving another seed than the one written.
fn parse_seed(hex_seed: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_seed).context("--seed is not hex")?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        anyhow::anyhow!("--seed must be 64 hex digits (32 bytes), not {}", hex_seed.len())
    })
}

fn parse_actions(list: &[String]) -> Result<Vec<(Duration, Action)>> {
    let mut out = Vec::new();
    for s in list {
        let (name, secs) =
            s.split_once('@').with_context(|| format!("{s:?}: expected ACTION@SECONDS"))?;
        let secs: f64 = secs.parse().with_context(|| format!("{s:?}: bad seconds"))?;
        let action = match name {
            "rekey-child" => Action::RekeyChild(None),
            "rekey-ike" => Action::RekeyIke,
            "dpd" => Action::Dpd,
            "create-child" => Action::CreateChild,
            "delete-child" => Action::DeleteChild(None),
            "delete" => Action::DeleteIke,
            other => bail!("unknown action {other:?}"),
        };
        out.push((Duration::from_secs_f64(secs), action));
    }
    out.sort_by_key(|(t, _)| *t);
    Ok(out)
}

/// Stdout for the session's events, one JSON line each: locked once (nothing else in this
/// process writes to stdout while a session runs) and buffered, so that a burst of events
/// costs one write instead of one per line. [`next_event`] writes it out before it waits.
type EventOut = std::io::BufWriter<std::io::StdoutLock<'static>>;

fn event_out() -> EventOut {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

fn print(out: &mut EventOut, e: &SessionEvent) -> std::io::Result<()> {
    writeln!(out, "{}", e.to_json())
}

/// SIGTERM and SIGINT end the session as its own end does (`shutdown`): the event loop then
/// sees it disconnected and writes out every event it printed before the process exits.
/// Without a handler their default action would end the process at once, and the events of
/// the last burst, still in [`EventOut`]'s buffer, would never reach stdout.
fn shutdown_on_signal(handle: &SessionHandle) -> Result<()> {
    let handle = handle.clone();
    ctrlc::set_handler(move || {
        // Gone: the session ended by itself, and the loop is leaving anyway.
        let _ = handle.shutdown();
    })
    .context("installing the SIGTERM/SIGINT handler")
}

/// The session's next event: one already queued, else, once what was printed is written
/// out, the next before `wake`. A burst is taken one event at a time, each handled as if
/// it had been waited for, in the order sent.
fn next_event(
    out: &mut EventOut,
    events: &crossbeam_channel::Receiver<SessionEvent>,
    wake: Instant,
) -> std::io::Result<Result<SessionEvent, RecvTimeoutError>> {
    if let Ok(e) = events.try_recv() {
        return Ok(Ok(e));
    }
    out.flush()?;
    Ok(events.recv_deadline(wake))
}

/// The `--keylog` file, created before anything is negotiated so that a refused path fails
/// early; the session hands it each IKE SA's keys as they come up.
fn keylog(options: &mut SessionOptions, path: &Option<PathBuf>) -> Result<()> {
    let Some(mut file) = path.as_deref().map(secret_file::create).transpose()? else {
        return Ok(());
    };
    options.keylog = Some(Box::new(move |k: &KeyExport<'_>| write_keylog(&mut file, k)));
    Ok(())
}

pub(crate) fn write_keylog(f: &mut File, k: &KeyExport<'_>) -> std::io::Result<()> {
    let Some(encr) = wireshark::encryption_name(k.suite.suite.encryption()) else { return Ok(()) };
    let row = format!(
        "{:016x},{:016x},{},{},\"{}\",{},{},\"{}\"\n",
        k.spi_i,
        k.spi_r,
        hex::encode(k.sk_ei.expose()),
        hex::encode(k.sk_er.expose()),
        encr,
        hex::encode(k.sk_ai.expose()),
        hex::encode(k.sk_ar.expose()),
        wireshark::integrity_name(k.suite.suite.integrity()),
    );
    f.write_all(row.as_bytes())
}

fn options(c: &Common, mut options: SessionOptions) -> Result<SessionOptions> {
    options.seed = seed(c)?;
    if let Some(tun) = c.tun.options()? {
        options = options.with_tun(tun);
    }
    keylog(&mut options, &c.keylog)?;
    Ok(options)
}

/// The `--then` actions not yet sent, each due a time after the first child SA.
struct Schedule {
    actions: Vec<(Duration, Action)>,
    next: usize,
}

impl Schedule {
    fn next_due(&self, from: Instant) -> Option<Instant> {
        self.actions.get(self.next).map(|(at, _)| from + *at)
    }

    /// The actions due at `now`.
    fn due(&mut self, from: Instant, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some((at, action)) = self.actions.get(self.next) {
            if now < from + *at {
                break;
            }
            out.push(*action);
            self.next += 1;
        }
        out
    }

    fn last(&self) -> Duration {
        self.actions.last().map_or(Duration::ZERO, |(t, _)| *t)
    }

    fn done(&self) -> bool {
        self.next == self.actions.len()
    }
}

pub(crate) fn initiate(args: InitiateArgs) -> Result<()> {
    let c = &args.common;
    let eap = eap_peer(&args)?;
    let local = local_auth(c, eap.as_ref())?;
    let first_round_eap = matches!(local, LocalAuth::Eap(_));
    let mut config = config(c, local, peer_auth(c, Purpose::Server, !c.ca.is_empty())?)?;
    if !first_round_eap {
        // A PSK or certificate first, then EAP (RFC 4739).
        config.local_auth2 = eap;
    }
    if args.request_config {
        config.config_request = ikeway_sa::CLIENT_CONFIG_REQUEST.to_vec();
    }
    let mut schedule = Schedule { actions: parse_actions(&args.then)?, next: 0 };
    let session =
        Session::start(options(c, SessionOptions::initiator(c.local, args.remote, config))?)?;
    let handle = session.handle();
    shutdown_on_signal(&handle)?;
    let deadline = Instant::now() + Duration::from_secs(c.timeout);
    let linger = Duration::from_secs(args.linger);
    let mut child_up_at: Option<Instant> = None;
    let mut ike_up = false;
    let mut closed: Option<CloseReason> = None;
    let mut ending = false;
    let mut timed_out = false;
    let mut out = event_out();
    loop {
        let next =
            child_up_at.map(|up| schedule.next_due(up).unwrap_or(up + schedule.last() + linger));
        let wake = next.map_or(deadline, |n| n.min(deadline));
        let event = match next_event(&mut out, session.events(), wake)? {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let now = Instant::now();
        if let Some(e) = event {
            print(&mut out, &e)?;
            match e.kind {
                EventKind::IkeSaUp { .. } | EventKind::IkeSaRekeyed { .. } => ike_up = true,
                // The IKE SA stays up without a child (e.g. libreswan without kernel ESP).
                EventKind::ChildSaInstalled { .. } | EventKind::ChildSaRefused { .. }
                    if child_up_at.is_none() =>
                {
                    child_up_at = Some(now);
                }
                EventKind::IkeSaClosed { reason } => closed = Some(reason),
                EventKind::Status { status: Status::Disconnected } => break,
                _ => {}
            }
        }
        if ending {
            continue;
        }
        if now >= deadline {
            timed_out = true;
            ending = true;
            handle.shutdown()?;
            continue;
        }
        let Some(up) = child_up_at else { continue };
        for action in schedule.due(up, now) {
            let _ = handle.act(action);
        }
        if schedule.done() && now >= up + schedule.last() + linger {
            ending = true;
            handle.shutdown()?;
        }
    }
    out.flush()?;
    session.wait()?;
    match closed {
        _ if timed_out => bail!("timed out"),
        Some(CloseReason::Deleted) | None if ike_up => Ok(()),
        Some(reason) => bail!("IKE SA closed: {reason}"),
        None => bail!("IKE SA never came up"),
    }
}

fn parse_pool<T: std::str::FromStr>(s: &str) -> Result<(T, u32)> {
    let (first, count) =
        s.split_once('/').with_context(|| format!("{s:?}: expected FIRST/COUNT"))?;
    let first = first.parse().map_err(|_| anyhow::anyhow!("{s:?}: bad address"))?;
    Ok((first, count.parse().with_context(|| format!("{s:?}: bad count"))?))
}

/// `NEVPNIKEv2SecurityAssociationParameters` defaults for a child SA: AES-256 (CBC), SHA2-256,
/// group 14 for PFS on rekeys.
const APPLE_DEFAULT_CHILD: &str = "aes256-sha256-modp2048";

/// The responder's switches that map one to one onto its `Config`.
fn responder_switches(config: &mut ikeway_sa::Config, args: &ServeArgs) {
    config.max_children = args.max_children;
    config.eap_only = args.eap_only;
    config.wide_remote_ts = args.wide_remote_ts;
    // On unless refused: a client that moves keeps its tunnel (RFC 4555).
    config.mobike = !args.no_mobike;
    config.redirect = args.redirect.policy();
}

/// `--workers`, or one per core; one with a datapath, which owns the ESP port alone.
fn workers(asked: Option<u16>, datapath: bool) -> Result<usize> {
    match (asked, datapath) {
        (Some(n), true) if n > 1 => bail!("--workers {n}: with --tun, one worker only"),
        (Some(n), _) => Ok(usize::from(n)),
        (None, true) => Ok(1),
        (None, false) => Ok(std::thread::available_parallelism().map_or(1, usize::from)),
    }
}

pub(crate) fn serve(args: ServeArgs) -> Result<()> {
    let c = &args.common;
    if !c.ca.is_empty() && !args.require_client_cert && args.eap_users.is_none() {
        bail!(
            "serve: --ca names the CAs of client certificates; add --require-client-cert, or \
             --eap-users for EAP-TLS"
        );
    }
    let eap = eap_authenticator(&args)?;
    let tls_offered = eap.as_ref().is_some_and(|e| e.methods.contains(&Method::Tls));
    if !c.ca.is_empty() && !args.require_client_cert && !tls_offered {
        // Else the anchors would be read and never used: a server its admin thinks checks
        // client certificates.
        bail!(
            "serve: --ca with --eap-users anchors EAP-TLS client certificates; add tls to \
             --eap-methods, or --require-client-cert"
        );
    }
    let local = local_auth(c, None)?;
    let mut config = match eap {
        // EAP as the client's only proof.
        Some(eap) if !args.require_client_cert => config(c, local, PeerAuth::Eap(eap))?,
        // The client's certificate, then EAP (RFC 4739).
        Some(eap) => {
            let mut config = config(c, local, peer_auth(c, Purpose::Client, true)?)?;
            config.peer_auth2 = Some(eap);
            config
        }
        None => config(c, local, peer_auth(c, Purpose::Client, args.require_client_cert)?)?,
    };
    if c.esp.is_empty() {
        // Besides the AEADs, what Apple's clients propose for a child SA unless told
        // otherwise (and what `config add` saves by default), so they connect out of the box.
        config.esp_proposals.push(proposals::esp(APPLE_DEFAULT_CHILD)?);
    }
    responder_switches(&mut config, &args);
    let mut redirect_established = args.redirect.established();
    let pool = AddressPool {
        v4: args.pool.as_deref().map(parse_pool).transpose()?,
        v6: args.pool6.as_deref().map(parse_pool).transpose()?,
        dns: args.dns.clone(),
        dns_domains: args.domain.clone(),
        subnets: args.subnet.iter().map(|s| parse_cidr(s)).collect::<Result<_>>()?,
    };
    let mut schedule = Schedule { actions: parse_actions(&args.then)?, next: 0 };
    let mut options = options(c, SessionOptions::responder(c.local, config, Some(pool)))?;
    options.workers = workers(args.workers, options.datapath.is_some())?;
    let session = Session::start(options)?;
    let handle = session.handle();
    shutdown_on_signal(&handle)?;
    let end = Instant::now() + Duration::from_secs(args.duration);
    let mut first: Option<(Spi64, Instant)> = None;
    let mut ending = false;
    let mut out = event_out();
    loop {
        let next = first.and_then(|(_, up)| schedule.next_due(up));
        let redirect_due =
            first.zip(redirect_established.as_ref()).map(|((_, up), (_, t))| up + *t);
        let wake = [next, redirect_due].into_iter().flatten().fold(end, Instant::min);
        match next_event(&mut out, session.events(), wake)? {
            Ok(e) => {
                print(&mut out, &e)?;
                if let (EventKind::ChildSaInstalled { .. }, Some(sa), None) = (&e.kind, e.sa, first)
                {
                    first = Some((sa, Instant::now()));
                }
                if e.kind == (EventKind::Status { status: Status::Disconnected }) {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if !ending && now >= end {
            ending = true;
            handle.shutdown()?;
        }
        if let Some((sa, up)) = first.filter(|_| !ending) {
            for action in schedule.due(up, now) {
                let _ = handle.act_on(sa, action);
            }
            if redirect_established.as_ref().is_some_and(|(_, after)| now >= up + *after)
                && let Some((gateway, _)) = redirect_established.take()
            {
                let _ = handle.redirect(sa, gateway);
            }
        }
    }
    out.flush()?;
    Ok(session.wait()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9 finding 5: a seed is exactly 32 bytes; a short or long one is refused instead of
    /// being padded or cut.
    #[test]
    fn seed_of_the_wrong_length_is_refused() {
        let good = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert_eq!(parse_seed(good).unwrap()[31], 0xff);
        for bad in ["", "00", &good[..62], &format!("{good}00")] {
            let err = parse_seed(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("--seed must be 64 hex digits (32 bytes), not {}", bad.len()),
                "{bad:?}"
            );
        }
        assert_eq!(parse_seed("zz").unwrap_err().to_string(), "--seed is not hex");
    }

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    /// `serve` offers MOBIKE unless `--no-mobike`.
    #[test]
    fn serve_offers_mobike_unless_told_not_to() {
        use clap::Parser;
        let mobike = |extra: &[&str]| {
            let mut argv = vec!["serve", "--local", "127.0.0.1", "--id", "vpn.unit.test"];
            argv.extend(extra);
            let args = Serve::try_parse_from(argv).unwrap().args;
            let mut config = ikeway_sa::Config::new(
                ikeway_codec::IdRepr::from_value(ikeway_codec::IdValue::Fqdn("vpn.unit.test")),
                ikeway_crypto::SecretBytes::from_slice(b"unit"),
            );
            assert!(!config.mobike, "off in the library's defaults");
            responder_switches(&mut config, &args);
            config.mobike
        };
        assert!(mobike(&[]));
        assert!(!mobike(&["--no-mobike"]));
    }

    /// `serve --workers`: as asked, else one per core; with a datapath only one (it owns the
    /// ESP port alone), and more is refused rather than cut.
    #[test]
    fn workers_default_to_the_cores_and_to_one_with_a_datapath() {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(workers(None, false).unwrap(), cores);
        assert_eq!(workers(None, true).unwrap(), 1);
        assert_eq!(workers(Some(3), false).unwrap(), 3);
        assert_eq!(workers(Some(1), true).unwrap(), 1);
        assert_eq!(
            workers(Some(2), true).unwrap_err().to_string(),
            "--workers 2: with --tun, one worker only"
        );
        use clap::Parser;
        let parse = |n: &str| {
            Serve::try_parse_from(["serve", "--local", "127.0.0.1", "--id", "x", "--workers", n])
                .map(|s| s.args.workers)
        };
        assert_eq!(parse("2").unwrap(), Some(2));
        assert!(parse("0").is_err());
        assert!(parse("129").is_err());
    }

    /// `serve --eap-tls13-draft` reaches the EAP-TLS server's configuration, and only with it;
    /// without tls offered it is refused rather than ignored.
    #[test]
    fn eap_tls13_draft_switches_the_tls_server_to_the_draft() {
        use clap::Parser;
        use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Unit CA");
        let server = ca.issue("vpn.unit.test", "vpn.unit.test", &PKCS_ECDSA_P256_SHA256);
        let path = |name: &str| dir.path().join(name).display().to_string();
        for (name, text) in [
            ("ca.pem", ca.cert_pem.as_str()),
            ("server.pem", server.cert_pem.as_str()),
            ("server.key", server.key_pem.as_str()),
            ("users", "alice : EAP \"x\"\n"),
        ] {
            std::fs::write(path(name), text).unwrap();
        }
        std::fs::set_permissions(path("users"), std::fs::Permissions::from_mode(0o600)).unwrap();
        let authenticator = |extra: &[&str]| {
            let mut argv = vec!["serve", "--local", "127.0.0.1", "--id", "vpn.unit.test"]
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
            for (flag, name) in
                [("--cert", "server.pem"), ("--key", "server.key"), ("--eap-users", "users")]
            {
                argv.extend([flag.to_owned(), path(name)]);
            }
            argv.extend(extra.iter().map(|s| s.replace("CA", &path("ca.pem"))));
            eap_authenticator(&Serve::try_parse_from(argv).unwrap().args).map(Option::unwrap)
        };
        let draft = |a: &AuthenticatorConfig| a.tls.as_ref().unwrap().draft_tls13;
        assert!(draft(&authenticator(&["--ca", "CA", "--eap-tls13-draft"]).unwrap()));
        assert!(!draft(&authenticator(&["--ca", "CA"]).unwrap()));
        let refused = authenticator(&["--eap-methods", "mschapv2", "--eap-tls13-draft"]);
        assert_eq!(
            refused.unwrap_err().to_string(),
            "--eap-tls13-draft needs tls in --eap-methods"
        );
    }
}
