//! Boundary search and the header-line backstop, from the inside.

use std::cell::Cell;

use super::*;

thread_local! {
    /// Octets examined by `taken_boundary_suffixes` on this thread.
    pub(super) static SCANNED: Cell<usize> = const { Cell::new(0) };
}

fn ctx(seed: u64) -> PlanCtx {
    PlanCtx {
        allow_8bit: false,
        seed,
        counter: 0,
    }
}

/// A body that plants the first `k` candidates of a seed costs one pass
/// over the scannable octets, not one per candidate, and the boundary is
/// the first candidate not planted.
#[test]
fn planted_boundary_candidates_cost_a_single_scan() {
    let seed = 42;
    for k in [0usize, 10, 1000] {
        let mut gen = ctx(seed);
        let candidates: Vec<String> = (0..=k).map(|_| gen.next_boundary()).collect();
        let mut body = String::new();
        for b in &candidates[..k] {
            body.push_str(&format!("--{b}\r\n"));
        }
        body.push_str(&format!("{}\r\n", "x".repeat(99)).repeat(1000));
        let head = Bytes::from_static(b"Content-Type: text/plain\r\n\r\n");
        let planned = vec![
            vec![
                Seg::Static(head.clone()),
                Seg::Raw(Bytes::from(body.clone())),
            ],
            vec![
                Seg::Static(head.clone()),
                // Encoded output cannot hold a delimiter: not scanned.
                Seg::Base64(Bytes::from(body.clone())),
                Seg::Qp(Bytes::from(body.clone())),
            ],
        ];
        let scannable = 2 * head.len() + body.len();

        SCANNED.with(|n| n.set(0));
        let mut c = ctx(seed);
        let boundary = c.pick_boundary(&planned);
        assert_eq!(boundary, candidates[k], "k={k}");
        assert_eq!(c.counter, k as u64 + 1, "k={k}: candidates tried");
        assert_eq!(SCANNED.with(Cell::get), scannable, "k={k}: octets scanned");
    }
}

#[test]
fn boundary_suffixes_need_sixteen_octets_after_the_prefix() {
    let segs = [
        Seg::Raw(Bytes::from_static(b"--=_wl0123")),
        Seg::Base64(Bytes::from_static(b"--=_wl0123456789abcdef")),
        Seg::Static(Bytes::from_static(b"x--=_wl0123456789abcdefZ--=_wl")),
    ];
    let taken = taken_boundary_suffixes(segs.iter());
    assert_eq!(taken.len(), 1);
    assert!(taken.contains(&b"0123456789abcdef"[..]));
}

#[test]
fn header_lines_over_998_octets_are_refused() {
    let line = |n: usize| Seg::Static(format!("X-Long: {}\r\n", "a".repeat(n - 8)).into());
    assert_eq!(check_header_lines(&[line(998)]), Ok(()));
    assert_eq!(
        check_header_lines(&[line(999)]),
        Err(MimeError::LineTooLong {
            field: "X-Long".into()
        })
    );
    // Bodies are not header lines (their encoding handles long lines).
    let body = Seg::Raw(Bytes::from("b".repeat(5000)));
    assert_eq!(check_header_lines(&[line(10), body]), Ok(()));
}
