//! Every pointer that comes from C is read or written here, after a NULL check, under the
//! contract the header states for it: strings are NUL-terminated UTF-8 valid for the call,
//! byte buffers are `len` readable bytes, out-pointers point to writable, aligned storage.
//! Strings this library returns are registered, so freeing one twice, or freeing a pointer
//! it never returned, is an error code and not heap corruption.
#![allow(unsafe_code)]

use std::collections::BTreeSet;
use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::Mutex;

use crate::error::{Failure, IkewayResult};

/// Addresses of the strings handed to C and not yet freed.
static STRINGS: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn strings() -> std::sync::MutexGuard<'static, BTreeSet<usize>> {
    // The set stays consistent across a panic: each operation is one insert or remove.
    STRINGS.lock().unwrap_or_else(|e| e.into_inner())
}

fn null(what: &str) -> Failure {
    Failure::new(IkewayResult::NullPointer, format!("{what} is NULL"))
}

/// Borrows a NUL-terminated UTF-8 string argument.
pub(crate) fn str_in<'a>(p: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL, and the header's contract for every `const char *` argument is a
    // NUL-terminated string that stays valid and unchanged for the duration of the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        Failure::new(
            IkewayResult::InvalidUtf8,
            format!("{what} is not UTF-8 (invalid byte at offset {})", e.valid_up_to()),
        )
    })
}

/// Borrows a byte-buffer argument of `len` bytes (NULL is allowed when `len` is 0).
pub(crate) fn bytes_in<'a>(p: *const u8, len: usize, what: &str) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(what));
    }
    if len > isize::MAX as usize {
        return Err(Failure::new(
            IkewayResult::InvalidArgument,
            format!("{what}: length {len} is too large"),
        ));
    }
    // SAFETY: non-NULL, `len` fits `isize`, and the header's contract is `len` readable bytes
    // that stay unchanged for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Checks an out-pointer before any work is done, so a NULL one never loses a result.
pub(crate) fn out_ok<T>(p: *mut T, what: &str) -> Result<(), Failure> {
    if p.is_null() { Err(null(what)) } else { Ok(()) }
}

/// Writes a result through an out-pointer.
pub(crate) fn write_out<T>(p: *mut T, value: T, what: &str) -> Result<(), Failure> {
    out_ok(p, what)?;
    // SAFETY: non-NULL, and the header's contract for every out-pointer is writable storage
    // for one `T`, aligned for it. `write` does not read or drop the old contents, which C
    // may have left uninitialised.
    unsafe { p.write(value) };
    Ok(())
}

/// Hands a string to C: it owns it until `ikeway_string_free`.
pub(crate) fn string_out(s: &str) -> *mut c_char {
    let c = CString::new(s.replace('\0', "\u{FFFD}"))
        .unwrap_or_else(|_| CString::from(c"(unrepresentable string)"));
    let p = c.into_raw();
    strings().insert(p as usize);
    p
}

/// Takes back a string handed out by [`string_out`].
pub(crate) fn string_free(p: *mut c_char) -> Result<(), Failure> {
    if p.is_null() {
        return Ok(());
    }
    if !strings().remove(&(p as usize)) {
        return Err(Failure::new(
            IkewayResult::InvalidHandle,
            "ikeway_string_free: not a string from this library, or already freed",
        ));
    }
    // SAFETY: the address was registered by `string_out` from `CString::into_raw` and has
    // just been unregistered, so this is its one and only reclamation.
    drop(unsafe { CString::from_raw(p) });
    Ok(())
}

/// A C context pointer carried to the thread that calls the C callback with it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context(pub(crate) *mut c_void);

// SAFETY: the pointer is never dereferenced here, only passed back to the C callback; the
// header tells the caller that a status callback runs on a library thread, so whatever `ctx`
// points to must be safe to use from there.
unsafe impl Send for Context {}
