//! What the user answers or types beyond the argument grammar: confirmations and durations.

use std::io::{IsTerminal, Write};

use trove::{Error, ErrorKind, Result};

/// Ask a yes/no question on the terminal; without a terminal, refuse with a hint about --yes.
pub fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("{question} — cannot ask without a terminal: pass --yes to confirm"),
        ));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::io("cannot read the answer", e))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
}

/// Ask before deleting records for good, unless `yes`; without a terminal, refuse. `permanent`
/// says the user asked for permanent deletion; otherwise the records were found in the trash
/// by a plain delete. Declining is an error, so nothing is deleted permanently.
pub fn confirm_permanent(names: &[String], permanent: bool, yes: bool) -> Result<()> {
    // A bulk selection can name thousands: the question names the first few and counts them.
    const SHOWN: usize = 5;
    let listed = if names.len() > SHOWN {
        format!("{} artifacts ({}, ...)", names.len(), names[..SHOWN].join(", "))
    } else {
        names.join(", ")
    };
    let question = if permanent {
        format!("delete {listed} permanently?")
    } else {
        format!("{listed} already in the trash; delete permanently?")
    };
    if !yes && !confirm(&question)? {
        return Err(Error::new(ErrorKind::InvalidInput, "cancelled: nothing was deleted permanently"));
    }
    Ok(())
}

/// Parse `30d`, `12h`, `90m`, `45s`.
pub fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| Error::invalid_input(format!("'{s}' is not a duration: use e.g. 30d, 12h, 90m, 45s")))?;
    let secs = match unit {
        "d" => n * 86_400,
        "h" => n * 3_600,
        "m" => n * 60,
        "s" | "" => n,
        _ => return Err(Error::invalid_input(format!("'{s}' is not a duration: use e.g. 30d, 12h, 90m, 45s"))),
    };
    Ok(std::time::Duration::from_secs(secs))
}
