//! The masking loop (RFC 6455 §5.3): XOR with a 4-byte key, the hot path of
//! every client frame sent and every frame a server receives.
//!
//! Safe and word-wide: the bulk of the buffer goes through
//! `chunks_exact_mut(8)` with one `u64` XOR per chunk (the key repeated
//! twice, rotated to the chunk's phase), which the compiler vectorises;
//! only the unaligned head and the tail of fewer than 8 bytes go byte by
//! byte. `core/benches/ws_mask.rs` measures it against a byte loop and
//! against `memcpy` (see BENCHMARKS.md, "WebSocket masking").

/// XORs `buf` with `key`, where `buf[0]` is byte `offset` of the frame's
/// payload (so a payload unmasked in several pieces gives the same result
/// as in one). Masking and unmasking are the same operation.
///
/// ```
/// use wireloom_core::ws::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut data = *b"Hello";
/// apply_mask(&mut data, key, 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// // in two pieces, with the offset carried
/// let (a, b) = data.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(&data, b"Hello");
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // Rotate the key so that index 0 of `buf` lines up with key[offset % 4].
    let phase = offset & 3;
    let key = [
        key[phase],
        key[(phase + 1) & 3],
        key[(phase + 2) & 3],
        key[(phase + 3) & 3],
    ];
    if buf.len() < 16 {
        apply_mask_bytewise(buf, key, 0);
        return;
    }
    let wide = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    // Each chunk is 8 bytes, a multiple of 4: the tail starts at phase 0.
    apply_mask_bytewise(chunks.into_remainder(), key, 0);
}

/// The reference byte-by-byte loop (used for short buffers and tails; the
/// benchmark's baseline).
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_matches_bytewise_for_every_length_and_offset() {
        let key = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            for offset in 0..8 {
                let mut a = data[..len].to_vec();
                let mut b = a.clone();
                apply_mask(&mut a, key, offset);
                apply_mask_bytewise(&mut b, key, offset);
                assert_eq!(a, b, "len {len} offset {offset}");
            }
        }
    }

    #[test]
    fn split_at_every_position_equals_whole() {
        let key = [0xde, 0xad, 0xbe, 0xef];
        let data: Vec<u8> = (0..100u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for cut in 0..=data.len() {
            let mut d = data.clone();
            let (a, b) = d.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            assert_eq!(d, whole, "cut {cut}");
        }
    }
}
