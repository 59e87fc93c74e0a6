//! `webedt-testapi [PORT]`: the test API server as a process (plain HTTP on 127.0.0.1), for
//! trying the operator binary by hand: point a kubeconfig's `server:` at the printed URL.

#[tokio::main]
async fn main() {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let api = webedt_testapi::TestApi::start_on(port).await;
    println!("{}", api.url());
    let _ = tokio::signal::ctrl_c().await;
}
