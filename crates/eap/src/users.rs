//! The authenticator's user file: strongSwan-like `secrets` lines, parsed from text (no I/O).
//!
//! ```text
//! # comment
//! alice : EAP "correct horse battery staple"
//! bob : EAP s3cret            # a bare secret ends at the first blank or '#'
//! "carol smith" dave : EAP "shared by two users"
//! ```
//!
//! One or more user names (bare or double-quoted), a colon, the word `EAP`, one secret (bare or
//! double-quoted; quotes have no escapes, as in strongSwan's `ipsec.secrets`). strongSwan's
//! `0x`/`0s` encoded secrets are refused rather than taken literally: quote such a password.
//! Errors name the line, never its secret.

use core::fmt;
use std::collections::HashMap;

use ikeway_crypto::SecretBytes;

use crate::config::Credentials;

/// Why a user file was refused. Each names the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// A line that is not `names : EAP secret`.
    #[error("line {line}: {what}")]
    Syntax {
        /// The line.
        line: usize,
        /// What is wrong, without the line's text (it may hold a secret).
        what: &'static str,
    },
    /// A user named twice.
    #[error("line {line}: this user was already given a secret on line {first}")]
    Duplicate {
        /// The second mention.
        line: usize,
        /// The first.
        first: usize,
    },
}

/// Users and their EAP passwords, from a user file ([`Users::parse`]).
#[derive(Default)]
pub struct Users {
    /// Name -> (password, line it came from).
    entries: HashMap<String, (SecretBytes, usize)>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither names (personal data) nor passwords.
        write!(f, "Users({} entries)", self.entries.len())
    }
}

impl Users {
    /// Parses a user file.
    pub fn parse(text: &str) -> Result<Self, UsersError> {
        let mut users = Users::default();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let syntax = |what| UsersError::Syntax { line, what };
            let tokens = tokens(raw).map_err(syntax)?;
            if tokens.is_empty() {
                continue;
            }
            let colon = tokens
                .iter()
                .position(|t| *t == Token::Colon)
                .ok_or(syntax("expected `name : EAP \"password\"`"))?;
            let (names, rest) = tokens.split_at(colon);
            if names.is_empty() {
                return Err(syntax("no user name before the colon"));
            }
            let secret = match rest {
                [Token::Colon, Token::Bare(kind), secret] => {
                    if !kind.eq_ignore_ascii_case("EAP") {
                        return Err(syntax("only EAP secrets are supported"));
                    }
                    match secret {
                        Token::Quoted(s) => *s,
                        Token::Bare(s) if s.starts_with("0x") || s.starts_with("0s") => {
                            return Err(syntax(
                                "hex (0x) and base64 (0s) secrets are not decoded: quote the password",
                            ));
                        }
                        Token::Bare(s) => *s,
                        Token::Colon => return Err(syntax("a second colon")),
                    }
                }
                [Token::Colon] | [Token::Colon, _] => {
                    return Err(syntax("expected `EAP` and a secret after the colon"));
                }
                _ => return Err(syntax("expected one secret after `EAP`")),
            };
            if secret.is_empty() {
                return Err(syntax("empty password"));
            }
            for name in names {
                let name = match name {
                    Token::Bare(s) | Token::Quoted(s) => *s,
                    Token::Colon => unreachable!("split before the first colon"),
                };
                if name.is_empty() {
                    return Err(syntax("empty user name"));
                }
                if let Some((_, first)) = users.entries.get(name) {
                    return Err(UsersError::Duplicate { line, first: *first });
                }
                users
                    .entries
                    .insert(name.to_owned(), (SecretBytes::from_slice(secret.as_bytes()), line));
            }
        }
        Ok(users)
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No users at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Credentials for Users {
    fn password(&self, user: &str) -> Option<SecretBytes> {
        self.entries.get(user).map(|(password, _)| password.clone())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Bare(&'a str),
    Quoted(&'a str),
    Colon,
}

/// Splits a line into tokens; `#` outside quotes starts a comment.
fn tokens(line: &str) -> Result<Vec<Token<'_>>, &'static str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while let Some(c) = rest.chars().next() {
        match c {
            '#' => break,
            ':' => {
                out.push(Token::Colon);
                rest = &rest[1..];
            }
            '"' => {
                let end = rest[1..].find('"').ok_or("a quote is not closed")?;
                out.push(Token::Quoted(&rest[1..1 + end]));
                rest = &rest[end + 2..];
                if rest.chars().next().is_some_and(|c| !c.is_whitespace() && c != ':' && c != '#') {
                    return Err("text right after a closing quote");
                }
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == ':' || c == '#' || c == '"')
                    .unwrap_or(rest.len());
                out.push(Token::Bare(&rest[..end]));
                rest = &rest[end..];
            }
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(users: &Users, name: &str) -> Option<Vec<u8>> {
        users.password(name).map(|p| p.expose().to_vec())
    }

    #[test]
    fn parses_quoted_bare_comments_and_blank_lines() {
        let users = Users::parse(
            "# users\n\nalice : EAP \"correct horse\"\n  bob:EAP s3cret # trailing comment\n\
             \"carol smith\" dave : eap \"shared: # not a comment\"\n",
        )
        .expect("valid file");
        assert_eq!(users.len(), 4);
        assert_eq!(password(&users, "alice").as_deref(), Some(&b"correct horse"[..]));
        assert_eq!(password(&users, "bob").as_deref(), Some(&b"s3cret"[..]));
        assert_eq!(
            password(&users, "carol smith").as_deref(),
            Some(&b"shared: # not a comment"[..])
        );
        assert_eq!(password(&users, "dave").as_deref(), Some(&b"shared: # not a comment"[..]));
        assert_eq!(password(&users, "mallory"), None);
        assert_eq!(format!("{users:?}"), "Users(4 entries)");
    }

    #[test]
    fn utf8_passwords_are_kept_as_utf8() {
        let users = Users::parse("zoë : EAP \"pässwörd\"\n").expect("valid file");
        assert_eq!(password(&users, "zoë").as_deref(), Some("pässwörd".as_bytes()));
    }

    #[test]
    fn errors_name_the_line_and_never_the_secret() {
        let cases = [
            (
                "alice EAP \"hunter2\"",
                UsersError::Syntax { line: 1, what: "expected `name : EAP \"password\"`" },
            ),
            (
                "\n: EAP \"hunter2\"",
                UsersError::Syntax { line: 2, what: "no user name before the colon" },
            ),
            (
                "alice : PSK \"hunter2\"",
                UsersError::Syntax { line: 1, what: "only EAP secrets are supported" },
            ),
            (
                "alice : EAP",
                UsersError::Syntax { line: 1, what: "expected `EAP` and a secret after the colon" },
            ),
            (
                "alice :",
                UsersError::Syntax { line: 1, what: "expected `EAP` and a secret after the colon" },
            ),
            (
                "alice : EAP hunter2 more",
                UsersError::Syntax { line: 1, what: "expected one secret after `EAP`" },
            ),
            (
                "alice : EAP \"hunter2",
                UsersError::Syntax { line: 1, what: "a quote is not closed" },
            ),
            (
                "alice : EAP \"hunter2\"x",
                UsersError::Syntax { line: 1, what: "text right after a closing quote" },
            ),
            ("alice : EAP \"\"", UsersError::Syntax { line: 1, what: "empty password" }),
            ("\"\" : EAP \"hunter2\"", UsersError::Syntax { line: 1, what: "empty user name" }),
            (
                "alice : EAP 0x68756e74657232",
                UsersError::Syntax {
                    line: 1,
                    what: "hex (0x) and base64 (0s) secrets are not decoded: quote the password",
                },
            ),
            (
                "alice : EAP a\n# x\nalice : EAP hunter2",
                UsersError::Duplicate { line: 3, first: 1 },
            ),
        ];
        for (text, expected) in cases {
            let err = Users::parse(text).expect_err(text);
            assert_eq!(err, expected, "{text}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        assert_eq!(
            Users::parse("alice : EAP a\nalice : EAP b").expect_err("dup").to_string(),
            "line 2: this user was already given a secret on line 1"
        );
    }

    #[test]
    fn an_empty_file_has_no_users() {
        let users = Users::parse("# nobody yet\n\n").expect("valid");
        assert!(users.is_empty());
        assert_eq!(users.password(""), None);
    }
}
