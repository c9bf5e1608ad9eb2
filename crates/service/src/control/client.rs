//! One exchange on a connected control socket, as `ikeway status`, `connect` and
//! `disconnect` make it. Finding the socket and checking who listens there is the caller's.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

use super::protocol::{MAX_REPLY, ProtocolError, Reply, Request};

/// Why an exchange gave no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server accepted and closed without a word (or reset with our request unread): it
    /// is ending, which a caller waiting for the end takes as "not yet".
    #[error("the connection closed without answering (it is ending)")]
    Ending,
    #[error("reading the daemon's answer: {0}")]
    Protocol(#[from] ProtocolError),
    #[error("talking to the daemon: {0}")]
    Io(#[from] io::Error),
}

/// Sends `request` and reads the first answer line.
pub fn exchange(stream: &UnixStream, request: &Request) -> Result<Reply, ClientError> {
    // A server that refuses may have closed its end already; its reason is still to be read.
    let _ = (&*stream).write_all(&request.to_line());
    Answers::new(stream).next_reply()?.ok_or(ClientError::Ending)
}

/// The answer lines of a `watch`, one at a time (one buffer for all of them: a read may
/// bring more than one line).
#[derive(Debug)]
pub struct Answers<R> {
    reader: BufReader<R>,
    /// What a read that timed out brought of the next line.
    partial: Vec<u8>,
}

impl<R: Read> Answers<R> {
    pub fn new(stream: R) -> Self {
        Self { reader: BufReader::new(stream), partial: Vec::new() }
    }

    /// The stream underneath (to set its read timeout).
    pub fn get_ref(&self) -> &R {
        self.reader.get_ref()
    }

    /// The next answer; `None` when the server closed (or reset) the stream. A read that
    /// times out is an `Io` error and keeps what it read for the next call.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ClientError> {
        let room = (MAX_REPLY + 1).saturating_sub(self.partial.len()) as u64;
        let read = (&mut self.reader).take(room).read_until(b'\n', &mut self.partial);
        match read {
            Ok(0) if self.partial.is_empty() => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(None),
            Err(e) => Err(e.into()),
            Ok(_) => {
                let line = std::mem::take(&mut self.partial);
                if line.len() > MAX_REPLY {
                    return Err(ProtocolError::TooLong(MAX_REPLY).into());
                }
                if !line.ends_with(b"\n") {
                    // Half a line and the end: a server that died mid-answer.
                    let why = "the answer ended mid-line".into();
                    return Err(ProtocolError::Malformed(why).into());
                }
                Ok(Some(Reply::parse(&line)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that ends while `disconnect` waits for it accepts and closes without a word
    /// (or resets with our request unread): that is [`ClientError::Ending`]; half an answer is
    /// not an ending.
    #[test]
    fn a_server_closing_without_an_answer_is_ending() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        drop(theirs);
        let e = exchange(&ours, &Request::Status).unwrap_err();
        assert!(matches!(e, ClientError::Ending), "{e}");

        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"{\"status\": \"conn").unwrap();
        drop(theirs);
        let e = exchange(&ours, &Request::Status).unwrap_err();
        assert_eq!(
            e.to_string(),
            "reading the daemon's answer: not a JSON object of the control protocol: the answer ended mid-line"
        );

        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"{\"error\": \"refuses uid 1001\"}\n").unwrap();
        let reply = exchange(&ours, &Request::Disconnect).unwrap();
        assert_eq!(reply, Reply::Error("refuses uid 1001".into()));

        let (ours, theirs) = UnixStream::pair().unwrap();
        (&theirs).write_all(b"{\"status\": \"connected\"}\n").unwrap();
        let reply = exchange(&ours, &Request::Status).unwrap();
        assert_eq!(reply, Reply::Snapshot(serde_json::json!({"status": "connected"})));
        let mut asked = String::new();
        BufReader::new(&theirs).read_line(&mut asked).unwrap();
        assert_eq!(asked, "{\"request\":\"status\"}\n");
    }

    /// A server that sends an endless line is cut off at [`MAX_REPLY`], not read into memory.
    #[test]
    fn an_endless_answer_is_bounded() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let chunk = vec![b' '; 64 * 1024];
            while (&theirs).write_all(&chunk).is_ok() {}
        });
        let e = exchange(&ours, &Request::Status).unwrap_err();
        assert_eq!(
            e.to_string(),
            "reading the daemon's answer: the line is longer than 1048576 bytes"
        );
        drop(ours);
        writer.join().unwrap();
    }
}
