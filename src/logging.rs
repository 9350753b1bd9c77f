//! Structured logs: JSON lines by default for services (LOG_FORMAT=text for people), filtered by
//! RUST_LOG. Personal data never goes into a field or message: spans carry ids only.

use tracing_subscriber::EnvFilter;

pub fn init(format: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,lapin=warn,actix_server=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = match format {
        Some("json") => builder
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .try_init(),
        _ => builder.compact().try_init(),
    };
}
