//! Result codes, the calling thread's last error message, and the guard every exported
//! function runs its body in: a panic never crosses into C, it becomes
//! [`IkewayResult::Panic`].

use std::cell::RefCell;
use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The result of every `ikeway_*` call. On anything but `IKEWAY_RESULT_OK`,
/// `ikeway_last_error_message` on the same thread says what went wrong.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IkewayResult {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL.
    NullPointer = 1,
    /// A string argument was not UTF-8.
    InvalidUtf8 = 2,
    /// The handle is not a live handle of this library (never created, or already freed).
    InvalidHandle = 3,
    /// An argument had a value the call cannot take (malformed JSON, an empty name, ...).
    InvalidArgument = 4,
    /// No configuration, managed configuration or secret of that name.
    NotFound = 5,
    /// The preferences or secret store could not be read or written.
    Preferences = 6,
    /// The `.mobileconfig` profile could not be imported.
    Profile = 7,
    /// The saved configuration cannot start a tunnel (`NEVPNErrorConfigurationInvalid`).
    ConfigurationInvalid = 8,
    /// The configuration is not enabled (`NEVPNErrorConfigurationDisabled`).
    ConfigurationDisabled = 9,
    /// The tunnel refused to start (`NEVPNErrorConnectionFailed`).
    ConnectionFailed = 10,
    /// The tunnel failed while running (the demo: negotiation, transfer, DELETE).
    Tunnel = 11,
    /// The user did not allow the application to add a configuration, or the configuration
    /// is managed and read-only.
    PermissionDenied = 12,
    /// The configuration changed elsewhere since it was loaded: load it again.
    Stale = 13,
    /// A bug inside the library (a Rust panic, caught at the boundary).
    Panic = 14,
}

/// An error on its way to C: its code and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: IkewayResult,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(code: IkewayResult, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

thread_local! {
    /// The message of the last failed call on this thread (C's `errno` model: each thread
    /// reads its own, so concurrent calls never see each other's errors).
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// The last error message of this thread, if any.
pub(crate) fn last_error() -> Option<CString> {
    LAST_ERROR.with(|e| e.borrow().clone())
}

/// Puts back a message saved with [`last_error`].
pub(crate) fn restore_last_error(saved: Option<CString>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = saved);
}

fn set_last_error(message: &str) {
    // A message with a NUL inside would be cut by C; replace the NULs instead.
    let text = CString::new(message.replace('\0', "\u{FFFD}"))
        .unwrap_or_else(|_| CString::from(c"error message unavailable"));
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(text));
}

/// Runs an exported function's body: its error, or a panic inside it, becomes a code and this
/// thread's last error message; success clears the message.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> IkewayResult {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(Failure::new(IkewayResult::Panic, format!("internal error (a bug in ikeway): {what}")))
    });
    match outcome {
        Ok(()) => {
            LAST_ERROR.with(|e| *e.borrow_mut() = None);
            IkewayResult::Ok
        }
        Err(f) => {
            set_last_error(&f.message);
            f.code
        }
    }
}

impl IkewayResult {
    /// The code with this number, if there is one.
    pub(crate) fn from_raw(raw: i32) -> Option<Self> {
        const ALL: [IkewayResult; 15] = [
            IkewayResult::Ok,
            IkewayResult::NullPointer,
            IkewayResult::InvalidUtf8,
            IkewayResult::InvalidHandle,
            IkewayResult::InvalidArgument,
            IkewayResult::NotFound,
            IkewayResult::Preferences,
            IkewayResult::Profile,
            IkewayResult::ConfigurationInvalid,
            IkewayResult::ConfigurationDisabled,
            IkewayResult::ConnectionFailed,
            IkewayResult::Tunnel,
            IkewayResult::PermissionDenied,
            IkewayResult::Stale,
            IkewayResult::Panic,
        ];
        ALL.into_iter().find(|c| *c as i32 == raw)
    }

    /// The code's name as the header spells it.
    pub(crate) fn name(self) -> &'static std::ffi::CStr {
        match self {
            Self::Ok => c"IKEWAY_RESULT_OK",
            Self::NullPointer => c"IKEWAY_RESULT_NULL_POINTER",
            Self::InvalidUtf8 => c"IKEWAY_RESULT_INVALID_UTF8",
            Self::InvalidHandle => c"IKEWAY_RESULT_INVALID_HANDLE",
            Self::InvalidArgument => c"IKEWAY_RESULT_INVALID_ARGUMENT",
            Self::NotFound => c"IKEWAY_RESULT_NOT_FOUND",
            Self::Preferences => c"IKEWAY_RESULT_PREFERENCES",
            Self::Profile => c"IKEWAY_RESULT_PROFILE",
            Self::ConfigurationInvalid => c"IKEWAY_RESULT_CONFIGURATION_INVALID",
            Self::ConfigurationDisabled => c"IKEWAY_RESULT_CONFIGURATION_DISABLED",
            Self::ConnectionFailed => c"IKEWAY_RESULT_CONNECTION_FAILED",
            Self::Tunnel => c"IKEWAY_RESULT_TUNNEL",
            Self::PermissionDenied => c"IKEWAY_RESULT_PERMISSION_DENIED",
            Self::Stale => c"IKEWAY_RESULT_STALE",
            Self::Panic => c"IKEWAY_RESULT_PANIC",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let code = guard(|| panic!("boom at {}", 42));
        assert_eq!(code, IkewayResult::Panic);
        assert_eq!(
            last_error().unwrap().to_str().unwrap(),
            "internal error (a bug in ikeway): boom at 42"
        );
        let code = guard(|| std::panic::panic_any(7u8));
        assert_eq!(code, IkewayResult::Panic);
        assert_eq!(
            last_error().unwrap().to_str().unwrap(),
            "internal error (a bug in ikeway): no message"
        );
    }

    #[test]
    fn success_clears_the_message_and_errors_set_it() {
        assert_eq!(
            guard(|| Err(Failure::new(IkewayResult::NotFound, "no x\0y"))),
            IkewayResult::NotFound
        );
        assert_eq!(last_error().unwrap().to_str().unwrap(), "no x\u{FFFD}y");
        assert_eq!(guard(|| Ok(())), IkewayResult::Ok);
        assert_eq!(last_error(), None);
    }

    #[test]
    fn messages_are_per_thread() {
        guard(|| Err(Failure::new(IkewayResult::Stale, "here")));
        std::thread::spawn(|| assert_eq!(last_error(), None)).join().unwrap();
        assert_eq!(last_error().unwrap().to_str().unwrap(), "here");
    }
}
