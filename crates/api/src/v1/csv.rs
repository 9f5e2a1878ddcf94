//! CSV for devices: the batch endpoint accepts `mac,profile,setting_server,label` rows, and the
//! export answers the same columns (plus what the phone last reported), so an export can be
//! edited in a spreadsheet and sent back as a batch.

use crate::problem::ApiError;

pub const BATCH_HEADER: [&str; 4] = ["mac", "profile", "setting_server", "label"];

/// One CSV record's fields. Quoted fields may hold commas, quotes (doubled) and nothing else
/// special; a record is one line.
fn fields(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field");
    }
    fields.push(field);
    Ok(fields)
}

/// A batch row: the four columns, empty ones as `None`.
pub struct Row {
    pub mac: String,
    pub profile: Option<String>,
    pub setting_server: Option<String>,
    pub label: Option<String>,
}

pub fn parse_batch(text: &str) -> Result<Vec<Row>, ApiError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let header = lines
        .next()
        .map(|(_, l)| l.trim_start_matches('\u{feff}').trim())
        .unwrap_or_default();
    if header != BATCH_HEADER.join(",") {
        return Err(ApiError::invalid(
            "invalid_csv",
            "header",
            format!("the first line must be {}", BATCH_HEADER.join(",")),
        ));
    }
    lines
        .map(|(index, line)| {
            let line_no = index + 1;
            let at = format!("line {line_no}");
            let mut values = fields(line.trim_end_matches('\r'))
                .map_err(|e| ApiError::invalid("invalid_csv", &at, e))?;
            if values.len() != BATCH_HEADER.len() {
                return Err(ApiError::invalid(
                    "invalid_csv",
                    &at,
                    format!("expected {} fields", BATCH_HEADER.len()),
                ));
            }
            let mut take =
                |i: usize| Some(std::mem::take(&mut values[i])).filter(|v| !v.is_empty());
            Ok(Row {
                mac: take(0).unwrap_or_default(),
                profile: take(1),
                setting_server: take(2),
                label: take(3),
            })
        })
        .collect()
}

/// A field as CSV: quoted when it holds a comma, a quote or a line break.
pub fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_quoting() {
        for value in ["plain", "a,b", "say \"hi\"", ""] {
            assert_eq!(fields(&field(value)).unwrap(), [value]);
        }
        assert_eq!(fields("a,,\"b,c\"").unwrap(), ["a", "", "b,c"]);
        assert!(fields("\"open").is_err());
    }

    #[test]
    fn batches_need_the_header_and_four_fields() {
        let rows = parse_batch(
            "mac,profile,setting_server,label\r\n000413AABBCC,desk,,\"Reception, left\"\r\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].profile.as_deref(),
                rows[0].setting_server.as_deref()
            ),
            (Some("desk"), None)
        );
        assert_eq!(rows[0].label.as_deref(), Some("Reception, left"));
        assert!(parse_batch("mac,label\n000413AABBCC,x\n").is_err());
        assert!(parse_batch("mac,profile,setting_server,label\n000413AABBCC,desk\n").is_err());
    }
}
