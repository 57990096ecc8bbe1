//! The body tree: a [`Part`] is a leaf (text or binary content) or a
//! multipart of parts, to any depth.

use bytes::Bytes;

use super::header::{check_text, is_token_char, validate_header_name, MediaType, MAX_TYPE_NAME};
use super::MimeError;

/// The content of a [`Part`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Body {
    /// Text, sent as UTF-8 with CRLF line endings (7bit, 8bit,
    /// quoted-printable or base64, whichever fits).
    Text(String),
    /// Octets sent as they are after base64 decoding (the encoding is
    /// always base64). Zero-copy: an mmap'd file can be given as `Bytes`.
    Binary(Bytes),
    /// A multipart (`multipart/<subtype>` from the part's content type).
    Multipart(Vec<Part>),
}

/// Content-Disposition type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DispositionKind {
    /// `inline`: shown in the body (images referenced by `cid:`).
    Inline,
    /// `attachment`: offered as a file.
    Attachment,
}

/// One entity of a MIME message: headers describing it and a [`Body`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub(crate) content_type: MediaType,
    pub(crate) body: Body,
    pub(crate) disposition: Option<DispositionKind>,
    pub(crate) filename: Option<String>,
    pub(crate) content_id: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
}

/// Header names a part's own headers may not use: they are written from the
/// part's fields.
const PART_RESERVED: &[&str] = &[
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "mime-version",
];

/// Checks a Content-ID / Message-ID and returns it without angle brackets:
/// printable ASCII, no whitespace, no `<`, `>`, `"`, `\`, `(`, `)`, `,`.
pub(crate) fn check_id(field: &str, id: &str, need_at: bool) -> Result<String, MimeError> {
    check_text(field, id)?;
    let inner = id
        .strip_prefix('<')
        .and_then(|i| i.strip_suffix('>'))
        .unwrap_or(id);
    let ok = !inner.is_empty()
        && inner.len() <= 900
        && inner
            .bytes()
            .all(|b| (33..=126).contains(&b) && !b"<>\"\\(),;[]".contains(&b))
        && (!need_at
            || inner
                .split_once('@')
                .is_some_and(|(l, r)| !l.is_empty() && !r.is_empty() && !r.contains('@')));
    if !ok {
        return Err(MimeError::InvalidId {
            field: field.to_owned(),
            id: id.to_owned(),
        });
    }
    Ok(inner.to_owned())
}

/// Parses the content type of a leaf part: not `multipart/*` (no parts, no
/// boundary) nor `message/*` (only 7bit, 8bit or binary allowed, RFC 2046
/// §5.2.1, §5.2.2, §5.2.3; a leaf is sent base64 or quoted-printable).
fn leaf_type(content_type: &str) -> Result<MediaType, MimeError> {
    let ct = MediaType::parse(content_type)?;
    if matches!(ct.type_(), "multipart" | "message") {
        return Err(MimeError::InvalidContentType(content_type.to_owned()));
    }
    Ok(ct)
}

impl Part {
    /// A `text/plain; charset=utf-8` part.
    pub fn text(text: impl Into<String>) -> Part {
        Part::leaf(MediaType::text_plain(), Body::Text(text.into()))
    }

    /// A `text/html; charset=utf-8` part.
    pub fn html(html: impl Into<String>) -> Part {
        Part::leaf(MediaType::text_html(), Body::Text(html.into()))
    }

    /// A text part of another type (`text/calendar`, `text/csv`...). The
    /// charset parameter is set to `utf-8`.
    ///
    /// `multipart/*` (which needs parts and a boundary: use
    /// [`Part::multipart`]) and `message/*` (which RFC 2046 §5.2 forbids to
    /// send base64 or quoted-printable, as a leaf body may be) are
    /// [`MimeError::InvalidContentType`].
    pub fn text_of_type(content_type: &str, text: impl Into<String>) -> Result<Part, MimeError> {
        let mut ct = leaf_type(content_type)?;
        ct.set_param_unchecked("charset", "utf-8");
        Ok(Part::leaf(ct, Body::Text(text.into())))
    }

    /// A binary part (base64-encoded) with the given content type.
    ///
    /// `multipart/*` and `message/*` are refused as for
    /// [`Part::text_of_type`] (a binary part is always base64). To attach
    /// a message as a file, use `application/octet-stream`.
    pub fn binary(content_type: &str, data: impl Into<Bytes>) -> Result<Part, MimeError> {
        let ct = leaf_type(content_type)?;
        Ok(Part::leaf(ct, Body::Binary(data.into())))
    }

    /// An attachment: a binary part with `Content-Disposition: attachment`
    /// and a filename (non-ASCII names become RFC 2231 parameters).
    pub fn attachment(
        content_type: &str,
        filename: &str,
        data: impl Into<Bytes>,
    ) -> Result<Part, MimeError> {
        Part::binary(content_type, data)?
            .with_disposition(DispositionKind::Attachment)
            .with_filename(filename)
    }

    /// An inline part referenced from HTML as `cid:<content_id>` (given
    /// with or without angle brackets), with `Content-Disposition: inline`.
    pub fn inline(
        content_type: &str,
        content_id: &str,
        data: impl Into<Bytes>,
    ) -> Result<Part, MimeError> {
        Part::binary(content_type, data)?
            .with_disposition(DispositionKind::Inline)
            .with_content_id(content_id)
    }

    /// A `multipart/<subtype>` of `parts` (at least one).
    pub fn multipart(subtype: &str, parts: Vec<Part>) -> Result<Part, MimeError> {
        if subtype.is_empty()
            || subtype.len() > MAX_TYPE_NAME
            || !subtype.bytes().all(is_token_char)
        {
            return Err(MimeError::InvalidContentType(format!(
                "multipart/{subtype}"
            )));
        }
        if parts.is_empty() {
            return Err(MimeError::EmptyMultipart);
        }
        Ok(Part::leaf(
            MediaType::new_unchecked("multipart", subtype),
            Body::Multipart(parts),
        ))
    }

    /// `multipart/alternative`: the same content in several forms, least
    /// preferred first (text, then HTML).
    pub fn alternative(parts: Vec<Part>) -> Result<Part, MimeError> {
        Part::multipart("alternative", parts)
    }

    /// `multipart/mixed`: a body followed by attachments.
    pub fn mixed(parts: Vec<Part>) -> Result<Part, MimeError> {
        Part::multipart("mixed", parts)
    }

    /// `multipart/related`: a root (usually HTML or an alternative) followed
    /// by the inline parts it references.
    pub fn related(parts: Vec<Part>) -> Result<Part, MimeError> {
        Part::multipart("related", parts)
    }

    fn leaf(content_type: MediaType, body: Body) -> Part {
        Part {
            content_type,
            body,
            disposition: None,
            filename: None,
            content_id: None,
            headers: Vec::new(),
        }
    }

    /// Sets the Content-Disposition type.
    pub fn with_disposition(mut self, kind: DispositionKind) -> Part {
        self.disposition = Some(kind);
        self
    }

    /// Sets the filename parameter of Content-Disposition (attachment unless
    /// a disposition was set). CR/LF are refused.
    pub fn with_filename(mut self, filename: &str) -> Result<Part, MimeError> {
        check_text("filename", filename)?;
        if filename.is_empty() {
            return Err(MimeError::InvalidFilename(filename.to_owned()));
        }
        self.filename = Some(filename.to_owned());
        self.disposition.get_or_insert(DispositionKind::Attachment);
        Ok(self)
    }

    /// Sets the Content-ID (with or without angle brackets).
    pub fn with_content_id(mut self, id: &str) -> Result<Part, MimeError> {
        self.content_id = Some(check_id("Content-ID", id, false)?);
        Ok(self)
    }

    /// Sets a content-type parameter (e.g. `format=flowed`); `boundary` on
    /// a multipart and `charset` on text are managed by the renderer. The
    /// name is checked as by [`MediaType::set_param`].
    pub fn with_content_type_param(mut self, name: &str, value: &str) -> Result<Part, MimeError> {
        self.content_type.set_param(name, value)?;
        Ok(self)
    }

    /// Adds a header to this part (e.g. `Content-Language`). The Content-*
    /// headers written from the part's fields are refused
    /// ([`MimeError::ReservedHeader`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Part, MimeError> {
        validate_header_name(name)?;
        if name.len() > 76 {
            return Err(MimeError::InvalidHeaderName(name.to_owned()));
        }
        if PART_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(MimeError::ReservedHeader(name.to_owned()));
        }
        check_text(name, value)?;
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// The content type.
    pub fn content_type(&self) -> &MediaType {
        &self.content_type
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The filename, if any.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// The Content-ID without angle brackets, if any.
    pub fn content_id(&self) -> Option<&str> {
        self.content_id.as_deref()
    }

    /// The Content-Disposition type, if any.
    pub fn disposition(&self) -> Option<DispositionKind> {
        self.disposition
    }

    /// Subparts of a multipart (empty for a leaf).
    pub fn parts(&self) -> &[Part] {
        match &self.body {
            Body::Multipart(p) => p,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_validate() {
        assert!(Part::attachment("application/pdf", "a.pdf", Bytes::new()).is_ok());
        assert!(matches!(
            Part::attachment("application/pdf", "a\r\n.pdf", Bytes::new()),
            Err(MimeError::HeaderInjection { .. })
        ));
        assert!(matches!(
            Part::inline("image/png", "a b", Bytes::new()),
            Err(MimeError::InvalidId { .. })
        ));
        assert_eq!(
            Part::inline("image/png", "<logo@x>", Bytes::new())
                .unwrap()
                .content_id(),
            Some("logo@x")
        );
        assert!(matches!(
            Part::mixed(vec![]),
            Err(MimeError::EmptyMultipart)
        ));
        assert!(matches!(
            Part::text("x").with_header("Content-Type", "text/html"),
            Err(MimeError::ReservedHeader(_))
        ));
        assert!(matches!(
            Part::text("x").with_header("X-A", "b\nc"),
            Err(MimeError::HeaderInjection { .. })
        ));
        assert!(Part::binary("multipart/mixed", Bytes::new()).is_err());
    }
}
