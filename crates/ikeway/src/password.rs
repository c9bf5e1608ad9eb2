//! The EAP password as the binary gets it: from a file (`--password-file`, first line, read by
//! the manager's bounded secret-file reader), or asked on the terminal without echo
//! (`rpassword`), and only when standard input is a terminal: a script without one fails at
//! once with the flag to use instead of waiting for an answer that never comes.
//!
//! The password lives in `SecretBytes` (zeroized on drop) from the moment it is read; the
//! `String` rpassword returns is wrapped in `Zeroizing` and dropped at once.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Result, bail};
use ikeway_crypto::SecretBytes;
use ikeway_manager::{MAX_PASSWORD, read_secret_file};
use zeroize::Zeroizing;

/// The first line of `path`, bounded like every secret file and refused when longer than an
/// EAP password may be.
pub(crate) fn from_file(path: &Path) -> Result<SecretBytes> {
    let password = read_secret_file(path)?;
    check_length(&password, &path.display().to_string())?;
    Ok(password)
}

/// Asks for `user`'s password on the terminal, without echo. `flag` names the option that
/// gives the password without a terminal, for the error a script sees.
pub(crate) fn prompt(user: &str, flag: &str) -> Result<SecretBytes> {
    prompt_for("EAP", user, flag)
}

/// As [`prompt`], for the password of `method` (`EAP`, or IPSec's `XAUTH`): the error names
/// the method that needs it.
pub(crate) fn prompt_for(method: &str, user: &str, flag: &str) -> Result<SecretBytes> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "{method} needs a password for {user:?} and there is no terminal to ask; \
             give it with {flag} FILE"
        );
    }
    let typed = Zeroizing::new(rpassword::prompt_password(format!("Password for {user}: "))?);
    if typed.is_empty() {
        bail!("no password typed for {user:?}");
    }
    let password = SecretBytes::from_slice(typed.as_bytes());
    check_length(&password, "the password typed")?;
    Ok(password)
}

fn check_length(password: &SecretBytes, what: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD {
        bail!("{what}: an EAP password is at most {MAX_PASSWORD} bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_its_first_line_and_a_long_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\nignored\n").unwrap();
        assert_eq!(from_file(&path).unwrap().expose(), b"s3cret");
        std::fs::write(&path, "x".repeat(MAX_PASSWORD + 1)).unwrap();
        assert_eq!(
            from_file(&path).unwrap_err().to_string(),
            format!("{}: an EAP password is at most 1024 bytes", path.display())
        );
    }
}
