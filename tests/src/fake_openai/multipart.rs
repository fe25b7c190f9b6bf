//! Just enough `multipart/form-data` parsing to log what a transcription request sent.

/// One form part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// The field name.
    pub name: String,
    /// The file name, for file parts.
    pub filename: Option<String>,
    /// The part's content type, if given.
    pub content_type: Option<String>,
    /// The raw content.
    pub data: Vec<u8>,
}

impl FormPart {
    /// The content as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// Splits `body` by the boundary in `content_type`; `None` if it is not multipart.
pub fn parse(content_type: &str, body: &[u8]) -> Option<Vec<FormPart>> {
    let boundary =
        content_type.split(';').map(str::trim).find_map(|p| p.strip_prefix("boundary="))?.trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let mut rest = body;
    let start = find(rest, &delim)?;
    rest = &rest[start + delim.len()..];
    loop {
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, &delim)?;
        let part = rest[..end].strip_suffix(b"\r\n")?;
        rest = &rest[end + delim.len()..];
        let head_end = find(part, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&part[..head_end]).into_owned();
        let data = part[head_end + 4..].to_vec();
        let mut p = FormPart { name: String::new(), filename: None, content_type: None, data };
        for line in head.split("\r\n") {
            let Some((k, v)) = line.split_once(':') else { continue };
            if k.eq_ignore_ascii_case("content-disposition") {
                for attr in v.split(';').map(str::trim) {
                    if let Some(n) = attr.strip_prefix("name=") {
                        p.name = n.trim_matches('"').to_owned();
                    } else if let Some(f) = attr.strip_prefix("filename=") {
                        p.filename = Some(f.trim_matches('"').to_owned());
                    }
                }
            } else if k.eq_ignore_ascii_case("content-type") {
                p.content_type = Some(v.trim().to_owned());
            }
        }
        parts.push(p);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
