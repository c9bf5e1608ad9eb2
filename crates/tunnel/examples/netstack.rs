//! An HTTP-like request and response over TCP through an IKEv2/IPsec tunnel, with the
//! userspace netstack at both ends: no root, no TUN device, no change to the host's routes.
//!
//! Both ends run in this process over loopback UDP (`DemoTunnel`); an app would put its own
//! [`Netstack`] over the child SAs its session installs. Run it with
//! `cargo run -p ikeway-tunnel --example netstack`.
// An example prints.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ikeway_tunnel::netstack::demo::{DemoError, DemoTunnel, SERVER_INNER};
use ikeway_tunnel::netstack::{Netstack, NetstackError, TcpHandle};

/// The port the server answers on, inside the tunnel.
const HTTP_PORT: u16 = 80;
/// The body the server sends back.
const BODY: &str = "hello from 10.77.0.1, through ESP\n";

fn main() -> Result<(), DemoError> {
    let (request, response) = exchange()?;
    println!("server got:  {}", request.lines().next().unwrap_or_default());
    println!("client got:\n{response}");
    Ok(())
}

/// Negotiates the tunnel, sends `GET /hello` from the client's stack to the server's, answers
/// it, and returns (the request as the server read it, the response as the client read it).
fn exchange() -> Result<(String, String), DemoError> {
    let mut tunnel = DemoTunnel::establish(&mut |_| {})?;
    let listener = tunnel.server.listen(HTTP_PORT)?;
    let conn = tunnel.client.connect(SocketAddr::from((SERVER_INNER, HTTP_PORT)))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let until =
        |tunnel: &mut DemoTunnel,
         done: &mut dyn FnMut(&mut DemoTunnel) -> Result<bool, NetstackError>| {
            while !done(tunnel)? {
                if Instant::now() > deadline {
                    return Err(DemoError::Timeout("the exchange did not finish in 10 s"));
                }
                if !tunnel.poll() {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
            Ok(())
        };

    until(&mut tunnel, &mut |t| t.client.is_established(conn))?;
    send_all(&mut tunnel.client, conn, b"GET /hello HTTP/1.0\r\nHost: 10.77.0.1\r\n\r\n")?;
    let mut request = Vec::new();
    until(&mut tunnel, &mut |t| {
        read_some(&mut t.server, listener, &mut request)?;
        Ok(request.ends_with(b"\r\n\r\n"))
    })?;

    let answer = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{BODY}", BODY.len());
    send_all(&mut tunnel.server, listener, answer.as_bytes())?;
    tunnel.server.close(listener)?;
    let mut response = Vec::new();
    until(&mut tunnel, &mut |t| {
        read_some(&mut t.client, conn, &mut response)?;
        t.client.is_finished(conn)
    })?;
    tunnel.close(&mut |_| {})?;
    Ok((
        String::from_utf8_lossy(&request).into_owned(),
        String::from_utf8_lossy(&response).into_owned(),
    ))
}

/// Queues all of `data` (a short message fits the send buffer at once).
fn send_all(stack: &mut Netstack, conn: TcpHandle, data: &[u8]) -> Result<(), NetstackError> {
    let mut sent = 0;
    while sent < data.len() {
        sent += stack.send(conn, &data[sent..])?;
        stack.poll();
    }
    Ok(())
}

/// Appends whatever has arrived on `conn` to `out`.
fn read_some(
    stack: &mut Netstack,
    conn: TcpHandle,
    out: &mut Vec<u8>,
) -> Result<(), NetstackError> {
    let mut buf = [0u8; 2048];
    while stack.can_recv(conn)? {
        let n = stack.recv(conn, &mut buf)?;
        out.extend_from_slice(&buf[..n]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_like_exchange_through_the_tunnel() {
        let (request, response) = exchange().unwrap();
        assert_eq!(request, "GET /hello HTTP/1.0\r\nHost: 10.77.0.1\r\n\r\n");
        assert_eq!(
            response,
            format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{BODY}", BODY.len())
        );
    }
}
