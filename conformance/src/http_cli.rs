//! `wireloom-conformance http`.

use std::io::{Read, Write};
use std::process::ExitCode;

use wireloom_conformance::http::{run, Options, Role};
use wireloom_core::http::{Lenient, Method};

const HELP: &str = "\
wireloom-conformance http: parse raw HTTP/1.1 bytes and print one JSON object per event

USAGE:
    wireloom-conformance http --role server|client [--request-method METHOD]
                              [--lenient FLAG[,FLAG...]] [FILE|-]

Reads FILE (or standard input for `-` or no FILE) as the bytes a peer sent;
end of input is the peer closing the connection.

    --role server          parse requests; answer each complete request with an
                           empty 200 (a CONNECT answered 200 becomes a tunnel)
    --role client          parse responses; a request with --request-method is
                           sent before each response expected (HEAD and CONNECT
                           rules apply)
    --request-method M     method of the client's requests (default GET)
    --lenient FLAGS        comma-separated opt-in leniency, added to the role's
                           defaults (the server is strict; the client accepts
                           obs-fold and missing-reason, as RFC 9112 asks):
                             bare-lf             accept LF without CR as line end
                             obs-fold            accept obs-fold in responses (each
                                                 fold is shown replaced by one SP)
                             missing-reason      accept a status line without reason
                             space-before-colon  accept `Name : value` in responses
                             target-chars        accept any visible ASCII in targets

Events (one JSON object per line):
    {\"event\":\"request\",\"method\":..,\"target\":..,\"version\":..,\"headers\":[[name,value],..]}
    {\"event\":\"response\",\"status\":..,\"reason\":..,\"version\":..,\"headers\":[..]}
    {\"event\":\"informational\",\"status\":..,\"headers\":[..]}
    {\"event\":\"data\",\"base64\":..}
    {\"event\":\"end\",\"trailers\":[..]}
    {\"event\":\"upgrade\"}            the connection left HTTP; output stops
    {\"event\":\"error\",\"kind\":..,\"status\":..}
    {\"event\":\"incomplete\"}         input ended inside a message
Names, values and targets are printed byte for byte; bytes above 0x7F appear as
the Latin-1 characters of the same code.

Exit status: 0 when the input was read (whatever it contained), 2 on usage or
I/O errors.
";

fn usage(msg: &str) -> ExitCode {
    eprintln!("wireloom-conformance http: {msg}\n\n{HELP}");
    ExitCode::from(2)
}

pub fn run_cli(args: &[String]) -> ExitCode {
    let mut role = None;
    let mut method = Method::GET;
    let mut lenient = Lenient::NONE;
    let mut file: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--role" => match it.next().map(String::as_str) {
                Some("server") => role = Some(Role::Server),
                Some("client") => role = Some(Role::Client),
                _ => return usage("--role takes `server` or `client`"),
            },
            "--request-method" => match it.next().map(|m| m.parse::<Method>()) {
                Some(Ok(m)) => method = m,
                _ => return usage("--request-method takes a method token"),
            },
            "--lenient" => match it.next().map(|l| Lenient::parse_list(l)) {
                Some(Ok(l)) => lenient = lenient | l,
                Some(Err(bad)) => return usage(&format!("unknown leniency flag `{bad}`")),
                None => return usage("--lenient takes a list of flags"),
            },
            s if s.starts_with("--") => return usage(&format!("unknown flag `{s}`")),
            s => {
                if file.replace(s.to_string()).is_some() {
                    return usage("only one input file");
                }
            }
        }
    }
    let Some(role) = role else {
        return usage("--role is required");
    };
    let mut input = Vec::new();
    let read = match file.as_deref() {
        None | Some("-") => std::io::stdin().read_to_end(&mut input).map(|_| ()),
        Some(path) => std::fs::read(path).map(|b| input = b),
    };
    if let Err(e) = read {
        eprintln!("wireloom-conformance http: cannot read input: {e}");
        return ExitCode::from(2);
    }
    let opts = Options {
        role,
        request_method: method,
        lenient,
    };
    let events = run(&opts, [&input[..]]);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for ev in events {
        if writeln!(out, "{ev}").is_err() {
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
