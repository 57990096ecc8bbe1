//! `wireloom-conformance http`.

use std::io::{Read, Write};
use std::process::ExitCode;

use wireloom_conformance::http::{run, Options, Role};
use wireloom_core::http::{Lenient, Method};

/// Details shown after the flags by `http --help`.
const DETAILS: &str = "\
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

/// Which side of the connection wireloom plays.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    /// Parse requests.
    Server,
    /// Parse responses.
    Client,
}

/// `wireloom-conformance http`: parse raw HTTP/1.1 bytes and print one
/// JSON object per event.
#[derive(clap::Args)]
#[command(
    override_usage = "wireloom-conformance http --role server|client [--request-method METHOD]\n                              [--lenient FLAG[,FLAG...]] [FILE|-]",
    after_help = DETAILS
)]
pub struct Args {
    /// Parse requests (server) or responses (client).
    #[arg(long, value_enum)]
    role: RoleArg,
    /// Method of the client's requests.
    #[arg(long, value_name = "METHOD", default_value = "GET", value_parser = parse_method)]
    request_method: Method,
    /// Comma-separated opt-in leniency flags (may be repeated).
    #[arg(long, value_name = "FLAG[,FLAG...]", value_parser = parse_lenient)]
    lenient: Vec<Lenient>,
    /// The input (`-` or none: standard input).
    #[arg(value_name = "FILE|-")]
    file: Option<String>,
}

fn parse_method(s: &str) -> Result<Method, String> {
    s.parse::<Method>()
        .map_err(|_| "takes a method token".to_string())
}

fn parse_lenient(s: &str) -> Result<Lenient, String> {
    Lenient::parse_list(s).map_err(|bad| format!("unknown leniency flag `{bad}`"))
}

/// Runs `http` as `args` ask.
pub fn run_cli(args: Args) -> ExitCode {
    let role = match args.role {
        RoleArg::Server => Role::Server,
        RoleArg::Client => Role::Client,
    };
    let method = args.request_method;
    let lenient = args.lenient.into_iter().fold(Lenient::NONE, |a, l| a | l);
    let file = args.file;
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
