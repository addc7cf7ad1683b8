//! `vardpuls probe URL`: exit 0 when an `http://` URL answers 200. The container health check,
//! so the runtime image needs no curl.

use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(clap::Args)]
pub struct Args {
    /// e.g. http://127.0.0.1:8080/readyz
    url: String,
}

pub async fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rest = args.url.strip_prefix("http://").context("only http:// URLs")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let answer = tokio::time::timeout(Duration::from_secs(3), async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).await?;
        let mut head = vec![0u8; 64];
        let n = stream.read(&mut head).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).to_string())
    })
    .await
    .context("timed out")??;
    let ok = answer.split_whitespace().nth(1) == Some("200");
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
