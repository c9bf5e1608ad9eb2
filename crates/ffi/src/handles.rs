//! Opaque handles: C gets a number dressed as a pointer, never an address of ours. A call
//! looks the number up, so a handle that was never made, or was already freed, is
//! `IKEWAY_RESULT_INVALID_HANDLE` rather than a use after free, and numbers are never reused.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Failure, IkewayResult};

#[cfg(test)]
thread_local! {
    /// Makes the next [`Registry::with`] on this thread panic with its lock held, so tests can
    /// check what a bug inside a call does at the boundary.
    pub(crate) static PANIC_INSIDE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The next handle number, shared by every handle type so that a handle of one type is
/// never a live handle of another.
static NEXT: AtomicUsize = AtomicUsize::new(1);

/// The live objects of one handle type.
pub(crate) struct Registry<T> {
    live: Mutex<BTreeMap<usize, Arc<Mutex<T>>>>,
}

impl<T> std::fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("live", &self.map().len()).finish()
    }
}

/// Locks without propagating a poison: each operation leaves the map consistent.
fn relock<U>(m: &Mutex<U>) -> MutexGuard<'_, U> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Registry<T> {
    pub(crate) const fn new() -> Self {
        Self { live: Mutex::new(BTreeMap::new()) }
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<usize, Arc<Mutex<T>>>> {
        relock(&self.live)
    }

    /// Registers `value` and returns its handle.
    pub(crate) fn insert<H>(&self, value: T) -> *mut H {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        self.map().insert(id, Arc::new(Mutex::new(value)));
        std::ptr::without_provenance_mut(id)
    }

    /// The object behind `handle`, shared with any concurrent call on it.
    pub(crate) fn get<H>(&self, handle: *mut H, what: &str) -> Result<Arc<Mutex<T>>, Failure> {
        if handle.is_null() {
            return Err(Failure::new(IkewayResult::NullPointer, format!("{what} is NULL")));
        }
        self.map().get(&handle.addr()).cloned().ok_or_else(|| invalid(what))
    }

    /// Runs `f` on the object behind `handle`, one call at a time.
    pub(crate) fn with<H, R>(
        &self,
        handle: *mut H,
        what: &str,
        f: impl FnOnce(&mut T) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let object = self.get(handle, what)?;
        let mut guard = relock(&object);
        #[cfg(test)]
        if PANIC_INSIDE.with(|p| p.replace(false)) {
            panic!("injected while holding the {what} lock");
        }
        f(&mut guard)
    }

    /// Unregisters `handle`; the object goes when the last call using it returns.
    pub(crate) fn remove<H>(&self, handle: *mut H, what: &str) -> Result<Arc<Mutex<T>>, Failure> {
        if handle.is_null() {
            return Err(Failure::new(IkewayResult::NullPointer, format!("{what} is NULL")));
        }
        self.map().remove(&handle.addr()).ok_or_else(|| invalid(what))
    }
}

fn invalid(what: &str) -> Failure {
    Failure::new(
        IkewayResult::InvalidHandle,
        format!("{what} is not a live handle (never created, or already freed)"),
    )
}
