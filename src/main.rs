//! `fieldsurvey`: one binary, several roles. This file only parses arguments and hands each
//! command its settings; the commands wire the crates together.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

mod commands;
mod config;
mod demo;
mod logging;
mod wiring;

#[derive(Parser)]
#[command(
    name = "fieldsurvey",
    version,
    about = "Photo-backed household verification surveys: upload, validate, sign off, review.",
    long_about = "Photo-backed household verification surveys (入户核查).\n\n\
        Quick start on one machine, no other services needed:\n    fieldsurvey dev --demo\n\n\
        Production: PostgreSQL + RabbitMQ, configured through the environment (DATABASE_URL, \
        AMQP_URL, STORAGE_URL, LISTEN, JWT_KEY_FILE) or --config FILE:\n    \
        fieldsurvey migrate && fieldsurvey api   # and N × fieldsurvey worker"
)]
struct Cli {
    /// A TOML file with settings (the environment's keys in lower case); the environment wins.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything in one process on embedded storage (SQLite, a photo directory, an in-process queue).
    Dev {
        /// Address for the API and console.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Where the database, photos and keys live.
        #[arg(long, default_value = "./fieldsurvey-data")]
        data_dir: PathBuf,
        /// Load a demo prefecture: org units, households, one user per role (safe to repeat).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations to DATABASE_URL.
    Migrate,
    /// Run the HTTP API (and its outbox relay).
    Api,
    /// Run one worker process; run as many as you like.
    Worker,
    /// Org units: `org import FILE.csv` (code,name,level,parent_code,lat,lon).
    Org {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The household registry: `household import FILE.csv` (household_code,head_name,head_id_number,member_count).
    Household {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Grids (包干到人): `grid import FILE.csv` (household_code,username), each household's
    /// responsible surveyor, an active surveyor whose unit contains the household's village.
    Grid {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Department data comparison (数据比对): `compare import --source NAME FILE.csv` takes a
    /// department's list (id_number,status[,date]); `compare run` compares the lists with the
    /// survey's current versions and the registry and raises clues.
    Compare {
        #[command(subcommand)]
        command: commands::compare::CompareCommand,
    },
    /// Monthly bulletins (通报): `--org CODE --period YYYY-MM` issues a unit's (or shows the one
    /// issued: a bulletin never changes); `--due` issues last month's for every county and
    /// township, as the API's schedule does; `verify` checks every stored bulletin against its
    /// ledger entry.
    #[command(args_conflicts_with_subcommands = true)]
    Bulletin {
        #[command(subcommand)]
        command: Option<BulletinCommand>,
        /// The org unit (its child units are ranked among themselves).
        #[arg(long, requires = "period")]
        org: Option<String>,
        /// The month in the office's calendar, YYYY-MM; it must have ended.
        #[arg(long, requires = "org")]
        period: Option<String>,
        /// Last month's bulletins for every county and township that lacks one.
        #[arg(long, conflicts_with_all = ["org", "period"])]
        due: bool,
    },
    /// User accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The tamper-evident ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Surveyors' signing keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Send every submission still `queued` to the queue again (after a restore into a broker
    /// that lost its queues); processing is idempotent, so none is processed twice.
    Requeue,
    /// Collect photos that no submission names (left by refused or abandoned uploads), and
    /// unfinished upload files. Dry run unless --delete.
    Gc {
        /// Remove them (otherwise only say what would be removed).
        #[arg(long)]
        delete: bool,
        /// Only photos unwritten for this long (at least 1).
        #[arg(long, default_value_t = 24)]
        older_than_hours: u64,
        /// A `fieldsurvey dev` data directory: its database and photos, where the settings do
        /// not name others.
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
    },
    /// List the submissions that need attention (their processing message was parked), with
    /// the reason, longest waiting first.
    Attention {
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Send submissions that need attention to the workers again, once the cause is fixed
    /// (back to `queued`; each re-drive is recorded with the operator's name).
    Redrive {
        /// The submissions to re-drive.
        ids: Vec<String>,
        /// Every submission that needs attention.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Prove that the database, the photo store and the key files belong together (after a
    /// restore, or at any time): the schema, every key, the whole ledger, every referenced
    /// photo and its hash. Reads only; exit 1 naming every fault.
    Check {
        /// A `fieldsurvey dev` data directory: its database, photos and keys, where the
        /// settings do not name others.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import (insert or update) rows from a CSV file with a header line.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum BulletinCommand {
    /// Recompute every stored bulletin's digest and check it against its `bulletin_issued`
    /// ledger entry; exit 1 naming each bulletin that fails.
    Verify {
        /// The service's ledger public key (base64url); default: derived from LEDGER_KEY_FILE.
        // base64url: a key may begin with '-' (one in 64), a value here, not an option.
        #[arg(long, allow_hyphen_values = true)]
        public_key: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user (refused when the username exists), on record in the ledger.
    Add {
        username: String,
        /// surveyor, reviewer (its level is its org unit's level), auditor or admin.
        #[arg(long)]
        role: String,
        /// The org unit code the user belongs to (their jurisdiction is its subtree).
        #[arg(long)]
        org: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set a user's password (read from the first line of stdin), on record in the ledger.
    Passwd {
        username: String,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Change a user's role (and org unit), on record in the ledger.
    Role {
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        org: Option<String>,
    },
    /// Tie an account to its person: the ID number is read from stdin and kept only as its
    /// keyed HMAC, so nobody decides on what they verified through another account.
    Identify {
        username: String,
        /// Read the ID number from standard input (first line).
        #[arg(long, required = true)]
        id_number_stdin: bool,
    },
    /// Deactivate a user: their tokens stop working at once.
    Deactivate { username: String },
    /// Reactivate a deactivated user.
    Activate { username: String },
    /// Issue a one-time key-enrolment code for a user (valid 24 h), recorded in the ledger;
    /// prints the code. The person enrols their own key with it (`POST /api/v1/keys`, or the
    /// console's 签名密钥 page).
    EnrolmentCode { username: String },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute every entry hash and the chain, and check every signature; exit 0 and a
    /// summary when intact, non-zero naming the first bad entry otherwise.
    Verify {
        /// The service's ledger public key (base64url); default: derived from LEDGER_KEY_FILE.
        // base64url: a key may begin with '-' (one in 64), a value here, not an option.
        #[arg(long, allow_hyphen_values = true)]
        public_key: Option<String>,
        /// Checkpoints kept by a witness: the ledger must extend each of them.
        #[arg(long, num_args = 1..)]
        against: Vec<PathBuf>,
        /// Verify an export file offline instead of the database (needs --public-key).
        #[arg(long)]
        export: Option<PathBuf>,
        /// The auditor's age identity file, to open an encrypted export.
        #[arg(long)]
        identity: Option<PathBuf>,
        /// Verify a household's dossier (一户一档) offline instead: its attached ledger proof
        /// (the PDF, or the `ledger-proof.json` taken out of it) against the checkpoint it
        /// carries, signed with --public-key.
        #[arg(long, conflicts_with_all = ["export", "against"])]
        dossier: Option<PathBuf>,
    },
    /// Publish a signed tree head of the ledger as it stands and write it to FILE for a
    /// witness to keep.
    Checkpoint {
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the whole ledger, its checkpoints and the signed surveys it names to FILE,
    /// encrypted to the auditor's age X25519 public key, for offline verification with
    /// `ledger verify --export FILE --public-key KEY --identity AUDITOR_KEY`. On record in the
    /// ledger.
    Export {
        file: PathBuf,
        /// The auditor's public key (`age1…`), or a file holding it.
        #[arg(long, required = true)]
        to: String,
    },
    /// Make an auditor's age X25519 key: the secret goes to FILE (owner-only), the public key
    /// (`age1…`, to export to) is printed.
    AuditorKey {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the service's ledger public key (base64url), for witnesses and auditors.
    PublicKey,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Enrol an Ed25519 public key (32 bytes, base64url) for a user; prints the key id.
    Add {
        username: String,
        // base64url: a key may begin with '-' (one in 64), a value here, not an option.
        #[arg(long, allow_hyphen_values = true)]
        public_key: String,
    },
    /// Revoke a key: surveys uploaded after this moment and signed with it are rejected (key_revoked).
    Revoke { key_id: String },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match config::Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    logging::init(settings.log_format.as_deref());
    let result = match cli.command {
        Command::Dev {
            listen,
            data_dir,
            demo,
        } => commands::dev::run(settings, listen, data_dir, demo),
        Command::Migrate => commands::admin::migrate(&settings),
        Command::Check { data_dir } => commands::check::run(settings, data_dir),
        Command::Requeue => commands::admin::requeue(&settings),
        Command::Gc {
            delete,
            older_than_hours,
            data_dir,
        } => commands::gc::run(
            &commands::check::with_data_dir(settings, data_dir),
            delete,
            older_than_hours,
        ),
        Command::Attention { limit } => commands::admin::attention(&settings, limit),
        Command::Redrive { ids, all } => commands::admin::redrive(&settings, &ids, all),
        Command::Api => commands::serve::api(settings),
        Command::Worker => commands::serve::worker(settings),
        Command::Org {
            command: ImportCommand::Import { file },
        } => commands::import::org(&settings, &file),
        Command::Household {
            command: ImportCommand::Import { file },
        } => commands::import::households(&settings, &file),
        Command::Grid {
            command: ImportCommand::Import { file },
        } => commands::import::grids(&settings, &file),
        Command::Compare { command } => commands::compare::run(&settings, command),
        Command::Bulletin {
            command: Some(BulletinCommand::Verify { public_key }),
            ..
        } => commands::bulletin::verify(&settings, public_key.as_deref()),
        Command::Bulletin {
            command: None,
            org: Some(org),
            period: Some(period),
            ..
        } => commands::bulletin::one(&settings, &org, &period),
        Command::Bulletin {
            command: None,
            due: true,
            ..
        } => commands::bulletin::due(&settings),
        Command::Bulletin { .. } => Err(anyhow::anyhow!(
            "bulletin needs --org CODE --period YYYY-MM, --due, or verify"
        )),
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    org,
                    name,
                    password_stdin: _,
                },
        } => commands::admin::user_add(&settings, &username, &role, &org, name),
        Command::User {
            command: UserCommand::Deactivate { username },
        } => commands::admin::user_set_active(&settings, &username, false),
        Command::User {
            command: UserCommand::Activate { username },
        } => commands::admin::user_set_active(&settings, &username, true),
        Command::User {
            command: UserCommand::EnrolmentCode { username },
        } => commands::admin::enrolment_code(&settings, &username),
        Command::User {
            command: UserCommand::Passwd { username, .. },
        } => commands::admin::user_passwd(&settings, &username),
        Command::User {
            command:
                UserCommand::Role {
                    username,
                    role,
                    org,
                },
        } => commands::admin::user_role(&settings, &username, &role, org.as_deref()),
        Command::User {
            command: UserCommand::Identify { username, .. },
        } => commands::admin::user_identify(&settings, &username),
        Command::Key {
            command:
                KeyCommand::Add {
                    username,
                    public_key,
                },
        } => commands::admin::key_add(&settings, &username, &public_key),
        Command::Key {
            command: KeyCommand::Revoke { key_id },
        } => commands::admin::key_revoke(&settings, &key_id),
        Command::Ledger {
            command:
                LedgerCommand::Verify {
                    public_key,
                    against,
                    export,
                    identity,
                    dossier,
                },
        } => match dossier {
            Some(file) => commands::ledger::verify_dossier(&settings, &file, public_key.as_deref()),
            None => commands::ledger::verify(
                &settings,
                commands::ledger::VerifyArgs {
                    public_key,
                    against,
                    export,
                    identity,
                },
            ),
        },
        Command::Ledger {
            command: LedgerCommand::Checkpoint { out },
        } => commands::ledger::checkpoint(&settings, &out),
        Command::Ledger {
            command: LedgerCommand::Export { file, to },
        } => commands::ledger::export(&settings, &file, &to),
        Command::Ledger {
            command: LedgerCommand::AuditorKey { out },
        } => commands::ledger::auditor_key(&out),
        Command::Ledger {
            command: LedgerCommand::PublicKey,
        } => commands::ledger::public_key(&settings),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
