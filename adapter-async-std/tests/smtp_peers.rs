//! The async SMTP client on async-std and smol against real peers started
//! here on 127.0.0.1: aiosmtpd (STARTTLS and SMTPS, each with AUTH; a
//! large message streamed from a reader) and Postfix `smtp-sink`
//! (PIPELINING: one write batch per envelope). The
//! scenarios are the ones every async adapter runs
//! (`wireloom_testkit::scenarios::smtp`), each under every executor.

mod common;

use common::each_executor;
use wireloom_testkit::scenarios::smtp as scenarios;

#[test]
fn starttls_with_auth_plain_and_login() {
    each_executor(scenarios::starttls_with_auth_plain_and_login);
}

#[test]
fn smtps_with_auth_several_recipients_and_messages() {
    each_executor(scenarios::smtps_with_auth_several_recipients_and_messages);
}

#[test]
fn large_message_streamed_from_a_reader_over_starttls() {
    each_executor(scenarios::large_message_streamed_from_a_reader_over_starttls);
}

#[test]
fn smtp_sink_pipelining_one_batch_per_envelope() {
    each_executor(scenarios::smtp_sink_pipelining_one_batch_per_envelope);
}
