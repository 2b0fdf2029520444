//! A minimal, blocking PostgreSQL client: the simple-query protocol over TCP with `trust`
//! authentication, enough to create and drop test databases and to check a server answers.
//! (The testkit stays free of database drivers; the crates under test bring their own.)

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One row of a result: each column as text, `None` for SQL NULL.
pub type Row = Vec<Option<String>>;

/// Connects as `user` to `database` at `host:port` and runs `sql` (one or more statements,
/// outside any transaction block); returns the rows of the last statement that returned any.
pub fn simple_query(host: &str, port: u16, user: &str, database: &str, sql: &str) -> Result<Vec<Row>, String> {
    let stream =
        TcpStream::connect((host, port)).map_err(|e| format!("connecting to PostgreSQL at {host}:{port}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| format!("configuring the socket: {e}"))?;
    let mut writer = stream.try_clone().map_err(|e| format!("cloning the socket: {e}"))?;
    let mut reader = BufReader::new(stream);

    // StartupMessage: length, protocol 3.0, then name/value pairs.
    let mut body = Vec::new();
    body.extend_from_slice(&196_608_i32.to_be_bytes());
    for (name, value) in [("user", user), ("database", database)] {
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut startup = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    startup.extend_from_slice(&body);
    writer.write_all(&startup).map_err(|e| format!("sending the startup message: {e}"))?;

    // Until ReadyForQuery.
    loop {
        let (tag, payload) = read_message(&mut reader)?;
        match tag {
            b'R' => {
                let code = i32::from_be_bytes(payload_prefix(&payload)?);
                if code != 0 {
                    return Err(format!(
                        "PostgreSQL asked for authentication method {code}; the test servers use trust"
                    ));
                }
            }
            b'E' => return Err(error_text(&payload)),
            b'Z' => break,
            _ => {} // ParameterStatus, BackendKeyData, NoticeResponse
        }
    }

    let mut query = vec![b'Q'];
    query.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
    query.extend_from_slice(sql.as_bytes());
    query.push(0);
    writer.write_all(&query).map_err(|e| format!("sending the query: {e}"))?;

    let mut rows = Vec::new();
    let mut current: Vec<Row> = Vec::new();
    let mut error = None;
    loop {
        let (tag, payload) = read_message(&mut reader)?;
        match tag {
            b'T' => current.clear(),
            b'D' => current.push(data_row(&payload)?),
            b'C' if !current.is_empty() => rows = std::mem::take(&mut current),
            b'E' => error = Some(error_text(&payload)),
            b'Z' => break,
            _ => {} // EmptyQueryResponse, NoticeResponse, ParameterStatus
        }
    }
    let _ = writer.write_all(&[b'X', 0, 0, 0, 4]);
    match error {
        Some(error) => Err(error),
        None => Ok(rows),
    }
}

fn payload_prefix(payload: &[u8]) -> Result<[u8; 4], String> {
    payload.get(..4).and_then(|p| p.try_into().ok()).ok_or_else(|| "short message from PostgreSQL".to_string())
}

fn read_message(reader: &mut impl Read) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0_u8; 5];
    reader.read_exact(&mut header).map_err(|e| format!("reading from PostgreSQL: {e}"))?;
    let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let len = usize::try_from(len)
        .ok()
        .and_then(|l| l.checked_sub(4))
        .ok_or_else(|| format!("bad message length {len} from PostgreSQL"))?;
    let mut payload = vec![0_u8; len];
    reader.read_exact(&mut payload).map_err(|e| format!("reading from PostgreSQL: {e}"))?;
    Ok((header[0], payload))
}

fn data_row(payload: &[u8]) -> Result<Row, String> {
    let short = || "short DataRow from PostgreSQL".to_string();
    let count = u16::from_be_bytes(payload.get(..2).ok_or_else(short)?.try_into().unwrap_or([0; 2]));
    let mut at = 2;
    let mut row = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let len = i32::from_be_bytes(payload_prefix(payload.get(at..).ok_or_else(short)?)?);
        at += 4;
        if len < 0 {
            row.push(None);
        } else {
            let end = at + len as usize;
            let bytes = payload.get(at..end).ok_or_else(short)?;
            row.push(Some(String::from_utf8_lossy(bytes).into_owned()));
            at = end;
        }
    }
    Ok(row)
}

/// "SEVERITY CODE: message" from an ErrorResponse.
fn error_text(payload: &[u8]) -> String {
    let (mut severity, mut code, mut message) = ("ERROR", String::new(), String::new());
    for field in payload.split(|b| *b == 0) {
        if let Some((kind, text)) = field.split_first() {
            let text = String::from_utf8_lossy(text);
            match kind {
                b'S' if text == "FATAL" => severity = "FATAL",
                b'C' => code = text.into_owned(),
                b'M' => message = text.into_owned(),
                _ => {}
            }
        }
    }
    format!("PostgreSQL {severity} {code}: {message}")
}
