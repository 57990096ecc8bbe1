//! tokio's IO traits on top of the runtime-neutral types: the engine's
//! bodies and upgraded connections speak `futures-io`; [`TokioIo`] lets
//! tokio code (`tokio::io::copy`, `AsyncReadExt`, codecs) use them, and
//! [`reader_body`] turns a tokio reader into a response body.
//!
//! ```no_run
//! use wireloom_tokio::compat::{reader_body, TokioIo};
//! use wireloom_tokio::server::{Body, Request, Response, Upgraded};
//! use wireloom_tokio::core::http::StatusCode;
//!
//! // A file streamed with tokio's file API.
//! async fn download(_req: Request) -> Response {
//!     match tokio::fs::File::open("big.iso").await {
//!         Ok(f) => Response::new(StatusCode::OK).with_body(reader_body(f)),
//!         Err(_) => Response::new(StatusCode::NOT_FOUND),
//!     }
//! }
//!
//! // An echo over an upgraded connection, with tokio's copy.
//! async fn echo(up: Upgraded) {
//!     let (mut r, mut w) = tokio::io::split(TokioIo(up.io));
//!     let _ = tokio::io::copy(&mut r, &mut w).await;
//! }
//! # let _ = (download, echo, Body::Empty);
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use tokio::io::ReadBuf;
use wireloom_io::aio::body::Body;

/// A `futures-io` reader/writer seen through tokio's `AsyncRead` and
/// `AsyncWrite` (a request body, an upgraded connection).
#[derive(Debug)]
pub struct TokioIo<T>(pub T);

impl<T: futures_io::AsyncRead + Unpin> tokio::io::AsyncRead for TokioIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = match Pin::new(&mut self.0).poll_read(cx, buf.initialize_unfilled()) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<T: futures_io::AsyncWrite + Unpin> tokio::io::AsyncWrite for TokioIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// A streamed response body read from a tokio reader (64 KiB pieces; each
/// is written before the next is read).
pub fn reader_body(r: impl tokio::io::AsyncRead + Send + Unpin + 'static) -> Body {
    Body::stream(TokioReaderStream {
        r,
        buf: vec![0; 64 * 1024],
    })
}

struct TokioReaderStream<R> {
    r: R,
    buf: Vec<u8>,
}

impl<R: tokio::io::AsyncRead + Unpin> Stream for TokioReaderStream<R> {
    type Item = io::Result<Bytes>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let mut rb = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.r).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) if rb.filled().is_empty() => Poll::Ready(None),
            Poll::Ready(Ok(())) => Poll::Ready(Some(Ok(Bytes::copy_from_slice(rb.filled())))),
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}
