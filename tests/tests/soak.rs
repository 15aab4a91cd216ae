//! The soak scenario, short: clients keep joining, chatting and leaving for a few seconds;
//! no delivery is lost and the server's memory does not run away (the long run is a benchmark:
//! `loadgen soak`, docs/benchmarks.md).

use chat_tests::ChatServer;

#[tokio::test(flavor = "multi_thread")]
async fn churn_loses_nothing_and_memory_stays_bounded() {
    let server = ChatServer::start_with(&[], &[("CHAT_MAX_CONNECTIONS_PER_ADDRESS", "0")]);
    let report =
        chat_tests::soak::run(server.port, Some(server.pid()), 5, 40, 6, std::time::Duration::ZERO).await;
    eprintln!("soak: {report:?}");
    assert!(report.joins > 40 && report.accepted > 100, "the churn ran: {report:?}");
    assert_eq!(report.lost, 0, "every accepted line reached every listener: {report:?}");
    let (start, end) = (report.rss_start_kib.unwrap_or(0), report.rss_end_kib.unwrap_or(0));
    assert!(end < start * 3 + 64 * 1024, "memory {start} KiB -> {end} KiB");
}
