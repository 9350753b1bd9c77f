//! Settings: defaults, then `--config FILE` (TOML, the same keys in lower case), then the
//! environment. Built once and passed down; nothing reads the environment later.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// What a process does, for sizing its connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Api,
    Worker,
    Dev,
    /// One-shot commands (`migrate`, imports, `ledger …`).
    Admin,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database_url: Option<String>,
    pub amqp_url: Option<String>,
    pub amqp_prefix: Option<String>,
    pub storage_url: Option<String>,
    pub listen: Option<String>,
    pub jwt_key_file: Option<String>,
    pub ledger_key_file: Option<String>,
    pub pii_key_file: Option<String>,
    pub http_workers: Option<usize>,
    pub worker_prefetch: Option<u16>,
    pub worker_evidence_concurrency: Option<usize>,
    pub worker_sign_off_concurrency: Option<usize>,
    pub retry_delay_ms: Option<u64>,
    pub max_attempts: Option<u32>,
    pub metrics_listen: Option<String>,
    pub log_format: Option<String>,
    pub db_pool_size: Option<u32>,
    pub income_line: Option<f64>,
    pub checkpoint_interval_secs: Option<u64>,
    pub review_deadline_days: Option<u32>,
    pub worker_nice: Option<i32>,
    pub worker_yield_at: Option<u64>,
    pub worker_yield_max_secs: Option<u64>,
    pub sweep_after_secs: Option<u64>,
    pub sweep_every_secs: Option<u64>,
    pub outbox_keep_hours: Option<u64>,
    pub queue_vacuum_secs: Option<u64>,
    pub sign_in_free_failures: Option<u32>,
    pub sign_in_free_failures_per_address: Option<u32>,
    pub sign_in_max_delay_secs: Option<u64>,
    pub uploads_per_minute: Option<u32>,
    pub upload_burst: Option<u32>,
    pub concurrent_uploads: Option<usize>,
    pub body_idle_timeout_secs: Option<u64>,
    pub header_timeout_secs: Option<u64>,
    pub trust_forwarded_for: Option<bool>,
    pub office_tz: Option<String>,
    pub upload_spool_dir: Option<String>,
    pub upload_lifetime_secs: Option<u64>,
    pub max_unfinished_uploads: Option<i64>,
    pub export_direct_rows: Option<i64>,
}

const KEYS: [&str; 41] = [
    "QUEUE_VACUUM_SECS",
    "EXPORT_DIRECT_ROWS",
    "UPLOAD_SPOOL_DIR",
    "UPLOAD_LIFETIME_SECS",
    "MAX_UNFINISHED_UPLOADS",
    "OFFICE_TZ",
    "SIGN_IN_FREE_FAILURES",
    "SIGN_IN_FREE_FAILURES_PER_ADDRESS",
    "SIGN_IN_MAX_DELAY_SECS",
    "UPLOADS_PER_MINUTE",
    "UPLOAD_BURST",
    "CONCURRENT_UPLOADS",
    "BODY_IDLE_TIMEOUT_SECS",
    "HEADER_TIMEOUT_SECS",
    "TRUST_FORWARDED_FOR",
    "WORKER_NICE",
    "WORKER_YIELD_AT",
    "WORKER_YIELD_MAX_SECS",
    "SWEEP_AFTER_SECS",
    "SWEEP_EVERY_SECS",
    "OUTBOX_KEEP_HOURS",
    "LEDGER_KEY_FILE",
    "PII_KEY_FILE",
    "DATABASE_URL",
    "AMQP_URL",
    "AMQP_PREFIX",
    "STORAGE_URL",
    "LISTEN",
    "JWT_KEY_FILE",
    "HTTP_WORKERS",
    "WORKER_PREFETCH",
    "WORKER_EVIDENCE_CONCURRENCY",
    "WORKER_SIGN_OFF_CONCURRENCY",
    "RETRY_DELAY_MS",
    "MAX_ATTEMPTS",
    "METRICS_LISTEN",
    "LOG_FORMAT",
    "DB_POOL_SIZE",
    "INCOME_LINE",
    "CHECKPOINT_INTERVAL_SECS",
    "REVIEW_DEADLINE_DAYS",
];

impl Settings {
    pub fn load(file: Option<&Path>) -> Result<Settings> {
        let mut s = match file {
            Some(f) => {
                let text = std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", f.display()))?
            }
            None => Settings::default(),
        };
        for key in KEYS {
            if let Ok(v) = std::env::var(key) {
                s.set(key, v)?;
            }
        }
        s.office_zone()?;
        Ok(s)
    }

    fn set(&mut self, key: &str, v: String) -> Result<()> {
        fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
            v.parse()
                .map_err(|_| anyhow::anyhow!("{key}={v:?} is not a valid number"))
        }
        match key {
            "DATABASE_URL" => self.database_url = Some(v),
            "AMQP_URL" => self.amqp_url = Some(v),
            "AMQP_PREFIX" => self.amqp_prefix = Some(v),
            "STORAGE_URL" => self.storage_url = Some(v),
            "LISTEN" => self.listen = Some(v),
            "JWT_KEY_FILE" => self.jwt_key_file = Some(v),
            "LEDGER_KEY_FILE" => self.ledger_key_file = Some(v),
            "PII_KEY_FILE" => self.pii_key_file = Some(v),
            "HTTP_WORKERS" => self.http_workers = Some(num(key, &v)?),
            "WORKER_PREFETCH" => self.worker_prefetch = Some(num(key, &v)?),
            "WORKER_EVIDENCE_CONCURRENCY" => self.worker_evidence_concurrency = Some(num(key, &v)?),
            "WORKER_SIGN_OFF_CONCURRENCY" => self.worker_sign_off_concurrency = Some(num(key, &v)?),
            "RETRY_DELAY_MS" => self.retry_delay_ms = Some(num(key, &v)?),
            "MAX_ATTEMPTS" => self.max_attempts = Some(num(key, &v)?),
            "CHECKPOINT_INTERVAL_SECS" => self.checkpoint_interval_secs = Some(num(key, &v)?),
            "REVIEW_DEADLINE_DAYS" => self.review_deadline_days = Some(num(key, &v)?),
            "WORKER_NICE" => self.worker_nice = Some(num(key, &v)?),
            "WORKER_YIELD_AT" => self.worker_yield_at = Some(num(key, &v)?),
            "WORKER_YIELD_MAX_SECS" => self.worker_yield_max_secs = Some(num(key, &v)?),
            "SWEEP_AFTER_SECS" => self.sweep_after_secs = Some(num(key, &v)?),
            "SWEEP_EVERY_SECS" => self.sweep_every_secs = Some(num(key, &v)?),
            "OUTBOX_KEEP_HOURS" => self.outbox_keep_hours = Some(num(key, &v)?),
            "QUEUE_VACUUM_SECS" => self.queue_vacuum_secs = Some(num(key, &v)?),
            "SIGN_IN_FREE_FAILURES" => self.sign_in_free_failures = Some(num(key, &v)?),
            "SIGN_IN_FREE_FAILURES_PER_ADDRESS" => {
                self.sign_in_free_failures_per_address = Some(num(key, &v)?)
            }
            "SIGN_IN_MAX_DELAY_SECS" => self.sign_in_max_delay_secs = Some(num(key, &v)?),
            "UPLOADS_PER_MINUTE" => self.uploads_per_minute = Some(num(key, &v)?),
            "UPLOAD_BURST" => self.upload_burst = Some(num(key, &v)?),
            "CONCURRENT_UPLOADS" => self.concurrent_uploads = Some(num(key, &v)?),
            "BODY_IDLE_TIMEOUT_SECS" => self.body_idle_timeout_secs = Some(num(key, &v)?),
            "HEADER_TIMEOUT_SECS" => self.header_timeout_secs = Some(num(key, &v)?),
            "TRUST_FORWARDED_FOR" => {
                self.trust_forwarded_for = Some(match v.as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" | "" => false,
                    _ => bail!("TRUST_FORWARDED_FOR={v:?} is not true or false"),
                })
            }
            "OFFICE_TZ" => self.office_tz = Some(v),
            "UPLOAD_SPOOL_DIR" => self.upload_spool_dir = Some(v),
            "UPLOAD_LIFETIME_SECS" => self.upload_lifetime_secs = Some(num(key, &v)?),
            "MAX_UNFINISHED_UPLOADS" => self.max_unfinished_uploads = Some(num(key, &v)?),
            "EXPORT_DIRECT_ROWS" => self.export_direct_rows = Some(num(key, &v)?),
            "METRICS_LISTEN" => self.metrics_listen = Some(v),
            "LOG_FORMAT" => self.log_format = Some(v),
            "DB_POOL_SIZE" => self.db_pool_size = Some(num(key, &v)?),
            "INCOME_LINE" => self.income_line = Some(num(key, &v)?),
            _ => bail!("unknown setting {key}"),
        }
        Ok(())
    }

    /// The zone pages show times in (`OFFICE_TZ`, an IANA name; default Asia/Shanghai).
    pub fn office_zone(&self) -> Result<fieldsurvey_api::office_time::OfficeZone> {
        match &self.office_tz {
            Some(z) => Ok(z.parse()?),
            None => Ok(Default::default()),
        }
    }

    pub fn database_url(&self) -> Result<&str> {
        self.database_url
            .as_deref()
            .context("DATABASE_URL is not set (postgres://… or sqlite://PATH)")
    }

    pub fn amqp_url(&self) -> Result<&str> {
        self.amqp_url
            .as_deref()
            .context("AMQP_URL is not set (amqp://user:pass@host:5672/%2f)")
    }

    pub fn amqp_prefix(&self) -> String {
        self.amqp_prefix
            .clone()
            .unwrap_or_else(|| "fieldsurvey".into())
    }

    pub fn storage_root(&self) -> Result<String> {
        self.storage_url
            .clone()
            .context("STORAGE_URL is not set (file:///var/lib/fieldsurvey/photos)")
    }

    pub fn jwt_key_file(&self) -> Result<PathBuf> {
        self.jwt_key_file
            .as_deref()
            .map(PathBuf::from)
            .context("JWT_KEY_FILE is not set")
    }

    /// The service's ledger signing key (created on first use; every worker must share it).
    pub fn ledger_key(&self) -> Result<fieldsurvey_core::ledger::LedgerKey> {
        let path = self
            .ledger_key_file
            .as_deref()
            .context("LEDGER_KEY_FILE is not set")?;
        let seed = fieldsurvey_db::keyfile::load_or_create_seed(std::path::Path::new(path))?;
        Ok(fieldsurvey_core::ledger::LedgerKey::from_seed(&seed))
    }

    /// The key of the ID-number look-ups (and, later, of personal data at rest): the same file
    /// for every API and worker process.
    pub fn pii_key(&self) -> Result<fieldsurvey_core::pii::PiiKey> {
        let path = self
            .pii_key_file
            .as_deref()
            .context("PII_KEY_FILE is not set")?;
        let seed = fieldsurvey_db::keyfile::load_or_create_seed(std::path::Path::new(path))?;
        Ok(fieldsurvey_core::pii::PiiKey::from_seed(&seed))
    }

    pub fn retry_delay(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.retry_delay_ms.unwrap_or(5_000))
    }

    /// How often the API vacuums the tables it uses as queues (`QUEUE_VACUUM_SECS`, default
    /// 30; see `fieldsurvey_db::upkeep`).
    pub fn upkeep_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.queue_vacuum_secs.unwrap_or(30).max(1))
    }

    /// How often the API publishes a signed tree head when the ledger has grown.
    pub fn checkpoint_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.checkpoint_interval_secs.unwrap_or(300).max(1))
    }

    /// Working days a level has to decide a signed-off version (default 5).
    pub fn review_deadline_days(&self) -> u32 {
        self.review_deadline_days.unwrap_or(5)
    }

    /// The API's settings: token lifetimes, upload limits and the abuse limits (README,
    /// "Settings").
    pub fn api_config(
        &self,
        jwt: fieldsurvey_api::auth::jwt::JwtKeys,
    ) -> fieldsurvey_api::ApiConfig {
        use std::time::Duration;
        let d = fieldsurvey_api::AbuseLimits::default();
        let abuse = fieldsurvey_api::AbuseLimits {
            sign_in_free_failures: self
                .sign_in_free_failures
                .unwrap_or(d.sign_in_free_failures),
            sign_in_free_failures_per_address: self
                .sign_in_free_failures_per_address
                .unwrap_or(d.sign_in_free_failures_per_address),
            sign_in_max_delay: self
                .sign_in_max_delay_secs
                .map_or(d.sign_in_max_delay, Duration::from_secs),
            uploads_per_minute: self.uploads_per_minute.unwrap_or(d.uploads_per_minute),
            upload_burst: self.upload_burst.unwrap_or(d.upload_burst),
            concurrent_uploads: self.concurrent_uploads.unwrap_or(d.concurrent_uploads),
            header_timeout: self
                .header_timeout_secs
                .map_or(d.header_timeout, |s| Duration::from_secs(s.max(1))),
        };
        let mut config = fieldsurvey_api::ApiConfig::new(jwt)
            .with_abuse_limits(abuse, self.trust_forwarded_for.unwrap_or(false));
        if let Some(s) = self.body_idle_timeout_secs {
            config.limits.body_idle = Duration::from_secs(s.max(1));
        }
        // Checked when the settings were loaded.
        config.office_zone = self.office_zone().unwrap_or_default();
        let r = &mut config.resumable;
        r.spool_dir = self.upload_spool_dir.as_ref().map(PathBuf::from);
        if let Some(s) = self.upload_lifetime_secs {
            r.lifetime = Duration::from_secs(s.max(1));
        }
        if let Some(n) = self.max_unfinished_uploads {
            r.max_unfinished = n.max(1);
        }
        r.collect_every = self.upkeep_interval();
        if let Some(n) = self.export_direct_rows {
            config.export_direct_rows = n.max(1);
        }
        config
    }

    /// The relay's sweep for lost messages: every `SWEEP_EVERY_SECS` (default 60), when the
    /// queues stand empty, a `queued` submission whose message was sent more than
    /// `SWEEP_AFTER_SECS` ago (default 900) is sent again. At the same cadence, outbox rows
    /// published more than `OUTBOX_KEEP_HOURS` ago (default 168, a week; at least 1) are deleted.
    pub fn sweep_policy(&self) -> fieldsurvey_worker::queue::SweepPolicy {
        let after = self.sweep_after_secs.unwrap_or(900).max(1);
        // A row the sweep still consults (sent less than SWEEP_AFTER_SECS ago) is never purged.
        let keep = (self.outbox_keep_hours.unwrap_or(168).max(1) * 3600).max(after);
        fieldsurvey_worker::queue::SweepPolicy {
            every: std::time::Duration::from_secs(self.sweep_every_secs.unwrap_or(60).max(1)),
            after: std::time::Duration::from_secs(after),
            keep_sent: std::time::Duration::from_secs(keep),
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(5)
    }

    /// The scheduling priority a worker gives itself (`nice`, 0–19; default 10): on a host it
    /// shares with the API, uploads are answered first and sign-offs use the rest of the CPU.
    pub fn worker_nice(&self) -> i32 {
        self.worker_nice.unwrap_or(10).clamp(0, 19)
    }

    /// Whether a worker stands aside while uploads arrive fast (`worker/src/queue/yielding.rs`):
    /// when the ready messages grow by at least `WORKER_YIELD_AT` a second (default 0: never),
    /// it takes no new message, for `WORKER_YIELD_MAX_SECS` at most (default 300, well inside
    /// RabbitMQ's 30-minute limit on an unacknowledged delivery). For a host shared with the API.
    pub fn yield_policy(&self) -> Option<fieldsurvey_worker::queue::YieldPolicy> {
        let at_growth = self.worker_yield_at.unwrap_or(0);
        (at_growth > 0).then(|| fieldsurvey_worker::queue::YieldPolicy {
            at_growth,
            max: std::time::Duration::from_secs(self.worker_yield_max_secs.unwrap_or(300).max(1)),
        })
    }

    pub fn prefetch(&self) -> u16 {
        self.worker_prefetch.unwrap_or(8)
    }

    /// How many of the messages a worker holds may be in the evidence stage (photo decoding) at
    /// once. Default: all of them (`WORKER_PREFETCH`). Capping it at the cores cost about a fifth
    /// of the sign-offs on the 2-core machine (docs/performance.md); a lower cap bounds the
    /// decoding memory of a worker that holds many messages.
    pub fn evidence_concurrency(&self) -> usize {
        self.worker_evidence_concurrency
            .unwrap_or_else(|| usize::from(self.prefetch()))
            .max(1)
    }

    /// How many of the messages a worker holds may be in the stages that work in the database
    /// (signature and sign-off, one session each) at once. Default: all of them
    /// (`WORKER_PREFETCH`). Those sessions run at the database's priority, not at the worker's
    /// niced one: a lower cap leaves more of a shared host's CPU to uploads, at the cost of
    /// sign-offs (docs/performance.md, eighth sitting).
    pub fn sign_off_concurrency(&self) -> usize {
        self.worker_sign_off_concurrency
            .unwrap_or_else(|| usize::from(self.prefetch()))
            .max(1)
    }

    /// The connection pool of a process in `role`. Defaults fit one API and four workers in
    /// PostgreSQL's default 100 connections with half to spare (12 + 4 × 10 = 52): a worker
    /// holds one connection per message in flight (`WORKER_PREFETCH`), plus two for the ledger
    /// sequencer and reads; `DB_POOL_SIZE` overrides.
    pub fn pool_options(&self, role: Role) -> fieldsurvey_db::PoolOptions {
        let max_size = self.db_pool_size.unwrap_or(match role {
            Role::Api => 12,
            Role::Worker => u32::from(self.prefetch()) + 2,
            Role::Dev => 8,
            Role::Admin => 2,
        });
        fieldsurvey_db::PoolOptions {
            max_size,
            // A one-shot command opens its few connections up front: a connection still being
            // opened on r2d2's background thread while the process exits can crash libpq's
            // teardown (seen as SIGSEGV after the command's output).
            min_idle: if role == Role::Admin { max_size } else { 1 },
            ..fieldsurvey_db::PoolOptions::default()
        }
    }

    pub fn indicator_config(&self) -> fieldsurvey_core::indicators::IndicatorConfig {
        let mut c = fieldsurvey_core::indicators::IndicatorConfig::default();
        if let Some(line) = self.income_line {
            c.default_income_line = line;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::{KEYS, Settings};

    /// `load` reads from the environment only the names in `KEYS`: a setting `set` knows but
    /// `KEYS` leaves out works in a TOML file and is silently ignored in the environment, as
    /// `QUEUE_VACUUM_SECS` was.
    #[test]
    fn every_setting_is_read_from_the_environment() -> anyhow::Result<()> {
        let source = include_str!("config.rs");
        let set = source
            .split_once("fn set(&mut self")
            .and_then(|(_, rest)| rest.split_once("_ => bail!(\"unknown setting"))
            .map(|(body, _)| body)
            .ok_or_else(|| anyhow::anyhow!("Settings::set and its catch-all arm not found"))?;
        let arms: Vec<&str> = set
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix('"'))
            .filter_map(|rest| rest.split_once("\" =>").map(|(key, _)| key))
            .filter(|key| {
                key.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
            .collect();
        assert!(arms.len() >= KEYS.len(), "found only {arms:?}");
        let missing: Vec<&&str> = arms.iter().filter(|k| !KEYS.contains(k)).collect();
        assert!(
            missing.is_empty(),
            "set but never read from the environment: {missing:?}"
        );
        for key in KEYS {
            assert!(
                arms.contains(&key),
                "{key} is read but `set` does not know it"
            );
        }
        Ok(())
    }

    #[test]
    fn sign_offs_in_flight_default_to_the_messages_a_worker_holds() -> anyhow::Result<()> {
        assert_eq!(Settings::default().sign_off_concurrency(), 8);
        let mut s = Settings::default();
        s.set("WORKER_PREFETCH", "3".into())?;
        assert_eq!(s.sign_off_concurrency(), 3, "as many as the messages held");
        s.set("WORKER_SIGN_OFF_CONCURRENCY", "2".into())?;
        assert_eq!(s.sign_off_concurrency(), 2, "the setting wins");
        s.set("WORKER_SIGN_OFF_CONCURRENCY", "0".into())?;
        assert_eq!(s.sign_off_concurrency(), 1, "at least one");
        assert!(s.set("WORKER_SIGN_OFF_CONCURRENCY", "many".into()).is_err());
        Ok(())
    }
}
