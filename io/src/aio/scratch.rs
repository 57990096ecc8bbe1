//! Read buffers shared by every connection of a thread.
//!
//! `futures-io` reads into an initialised `&mut [u8]`, and the workspace
//! allows no `unsafe` to read into a `BytesMut`'s spare capacity, so a read
//! goes into a zeroed scratch buffer and the bytes received are appended to
//! the connection's own buffer. That scratch is only in use for the length
//! of one `poll_read` call: one per thread serves every connection the
//! thread polls. Held per connection instead, it was 16 KiB of resident
//! memory for each idle keep-alive connection (75 % of what an idle
//! connection of the async server held).
//!
//! Two buffers, because reads nest: a driver reads plaintext from a
//! [`TlsConn`](super::conn::TlsConn), which reads ciphertext from the
//! socket. A nested use of the same buffer (a transport that itself runs a
//! driver) gets a fresh one for that call, as does a use while the thread
//! is shutting down.
//!
//! The buffer keeps bytes of earlier reads, possibly of other connections:
//! only `buf[..n]` after a read that returned `n` is ever looked at, the
//! contract of `AsyncRead::poll_read`.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Bytes read per call into either buffer (64 KiB: a 16 KiB WebSocket
/// message plus its frame header arrives in one read, not two).
pub(crate) const LEN: usize = 64 * 1024;

thread_local! {
    /// Plaintext reads of the drivers (and lingering closes).
    static READ: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Ciphertext reads of TLS connections.
    static CIPHER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's plaintext read buffer (`LEN` bytes).
pub(crate) fn with_read<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    with(&READ, f)
}

/// Runs `f` with this thread's ciphertext read buffer (`LEN` bytes).
pub(crate) fn with_cipher<T>(f: impl FnOnce(&mut [u8]) -> T) -> T {
    with(&CIPHER, f)
}

fn with<T>(key: &'static LocalKey<RefCell<Vec<u8>>>, f: impl FnOnce(&mut [u8]) -> T) -> T {
    let mut f = Some(f);
    let shared = key.try_with(|cell| {
        let mut v = cell.try_borrow_mut().ok()?;
        if v.len() < LEN {
            v.resize(LEN, 0);
        }
        let f = f.take()?;
        Some(f(&mut v[..LEN]))
    });
    match (shared, f) {
        (Ok(Some(r)), _) => r,
        // In use further up this thread's stack, or the thread is exiting.
        (_, Some(f)) => f(&mut vec![0u8; LEN]),
        (_, None) => unreachable!("`f` ran and returned a value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_then_fresh_when_nested() {
        let outer = with_read(|a| {
            assert_eq!(a.len(), LEN);
            a[0] = 7;
            let p = a.as_ptr() as usize;
            // Nested: another buffer, zeroed.
            let inner = with_read(|b| {
                assert_eq!(b.len(), LEN);
                assert!(b.iter().all(|&x| x == 0));
                b.as_ptr() as usize
            });
            assert_ne!(p, inner);
            // The cipher buffer is a third one.
            let c = with_cipher(|c| c.as_ptr() as usize);
            assert_ne!(p, c);
            p
        });
        // Shared: the same buffer again, its bytes kept.
        let again = with_read(|a| {
            assert_eq!(a[0], 7);
            a.as_ptr() as usize
        });
        assert_eq!(outer, again);
    }
}
