//! The settings of `chat-server`: command-line flags, environment variables and an optional
//! TOML file (clap; the file's keys are the flags' long names), in that order of precedence.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

use crate::chat::{ChatSettings, ConnectionLimits, MessageRate};
use crate::client_addr::Networks;
use crate::history::Retention;
use crate::origin::{AllowedOrigins, PublicOrigin};

/// The chat server: serves the chat page and the socket.io chat at /socket.io/.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat-server", version, about)]
pub struct Config {
    /// A TOML file with settings, keyed by the long flag names below (e.g. `port = 3000`,
    /// `resume-grace = 60`, `allowed-origins = ["https://chat.example.com"]`). Flags and
    /// environment variables win over the file.
    #[arg(long, env = "CHAT_CONFIG")]
    pub config: Option<PathBuf>,

    /// TCP port to listen on (the original honoured PORT too).
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,

    /// Address to bind (0.0.0.0: every interface, as the original; 127.0.0.1: this machine only).
    #[arg(long, env = "CHAT_BIND", default_value = "0.0.0.0")]
    pub bind: IpAddr,

    /// Directory for the server's own data (the embedded history store lives here).
    #[arg(long, env = "CHAT_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Serve the page from this directory (e.g. dist/) instead of the copy embedded in the binary.
    #[arg(long, env = "CHAT_PAGE_DIR")]
    pub page_dir: Option<PathBuf>,

    /// Log filter, in tracing's EnvFilter syntax (e.g. "info", "chat_server=debug").
    #[arg(long, env = "CHAT_LOG", default_value = "info")]
    pub log: String,

    /// Log lines for people (`human`) or one JSON object per line for a log collector (`json`).
    /// Lines about a connection carry its id in the `conn` field.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,

    /// Seconds a dropped connection's nickname stays reserved for its owner to resume it.
    #[arg(long = "resume-grace", env = "CHAT_RESUME_GRACE", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub resume_grace_secs: u64,

    /// The chat's name, shown on the first screen and in the tab's title (default: the page's
    /// own word for "Chat", in the reader's language). At most 64 chars.
    #[arg(long, env = "CHAT_NAME", value_parser = text_of::<{ chat_shared::limits::CHAT_NAME_MAX_CHARS }>)]
    pub chat_name: Option<String>,

    /// A line about the chat, shown on the first screen (default: the page's own line). At most
    /// 280 chars.
    #[arg(long, env = "CHAT_ABOUT", value_parser = text_of::<{ chat_shared::limits::CHAT_ABOUT_MAX_CHARS }>)]
    pub chat_about: Option<String>,

    /// Days an owned nickname stays reserved for its owner after its last use (nobody else may
    /// claim it meanwhile).
    #[arg(long = "nickname-reservation-days", env = "CHAT_NICKNAME_RESERVATION_DAYS", default_value_t = chat_shared::limits::NICKNAME_RESERVATION_DAYS, value_parser = clap::value_parser!(u32).range(1..=3_650))]
    pub nickname_reservation_days: u32,

    /// Rooms the chat holds at most, `general` included (past it `create room` is refused).
    #[arg(long, env = "CHAT_ROOMS_MAX", default_value_t = chat_shared::limits::ROOMS_MAX, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub rooms_max: usize,

    /// Messages each history keeps (`general`, each room, each direct conversation; older ones
    /// are dropped); 0 keeps every message.
    #[arg(long, env = "CHAT_HISTORY_MAX_MESSAGES", default_value_t = chat_shared::limits::HISTORY_MAX_MESSAGES)]
    pub history_max_messages: u64,

    /// Messages all the histories keep together (alone and in a cluster; the longest are cut
    /// first, so that a flood in one room cannot empty the others, none below its newest
    /// `HISTORY_TOTAL_FLOOR` lines); 0: no total. Unset: 200,000, or the
    /// per-history limit if that is larger (0 if it is 0: a history kept whole stays whole).
    #[arg(long, env = "CHAT_HISTORY_MAX_TOTAL_MESSAGES")]
    pub history_max_total_messages: Option<u64>,

    /// Days the history keeps a message; 0 keeps them forever.
    #[arg(long, env = "CHAT_HISTORY_MAX_AGE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    pub history_max_age_days: u64,

    /// How the history syncs each commit to disk: `full` (an acknowledged line survives a power
    /// cut), `normal` (survives a crash of the server, not of the machine), `off` (benchmarks).
    #[arg(long, env = "CHAT_HISTORY_SYNC", default_value = "full", value_parser = ["full", "normal", "off"])]
    pub history_sync: String,

    /// Messages one connection may send per second (after its burst).
    #[arg(long, env = "CHAT_MESSAGES_PER_SECOND", default_value_t = chat_shared::limits::MESSAGES_PER_SECOND, value_parser = clap::value_parser!(u32).range(1..))]
    pub messages_per_second: u32,

    /// Messages one connection may send at once before the per-second rate applies.
    #[arg(long, env = "CHAT_MESSAGE_BURST", default_value_t = chat_shared::limits::MESSAGE_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub message_burst: u32,

    /// Origins (besides the page's own) whose pages may connect, comma-separated, e.g.
    /// `https://chat.example.com,http://localhost:8080`; `*` allows any (not recommended).
    #[arg(long, env = "CHAT_ALLOWED_ORIGINS", default_value = "", value_parser = AllowedOrigins::parse)]
    pub allowed_origins: AllowedOrigins,

    /// The page's public origin, e.g. `https://chat.example.com` (unset: the origin whose host
    /// is the request's `Host`). When set, the page's own origin is this one, and socket.io
    /// requests whose `Host` is not its host are refused (DNS rebinding: a page whose name was
    /// pointed at this server sends its own name as `Host`).
    #[arg(long, env = "CHAT_PUBLIC_ORIGIN", value_parser = PublicOrigin::parse)]
    pub public_origin: Option<PublicOrigin>,

    /// Reverse proxies whose `X-Forwarded-For` is believed, as addresses or networks,
    /// comma-separated (e.g. `127.0.0.1/32,::1/128`): a request from one of them counts as
    /// coming from the rightmost forwarded address that is not itself a trusted proxy, so that
    /// per-address limits work behind the proxy. Empty: every client is its TCP peer.
    #[arg(long, env = "CHAT_TRUSTED_PROXIES", default_value = "", value_parser = Networks::parse)]
    pub trusted_proxies: Networks,

    /// Client addresses or networks allowed to read `/metrics`, comma-separated (others get
    /// 403); `0.0.0.0/0,::/0` allows everyone.
    #[arg(long, env = "CHAT_METRICS_ALLOW", default_value = "127.0.0.0/8,::1/128", value_parser = Networks::parse)]
    pub metrics_allow: Networks,

    /// Connections the server accepts at once (0: no limit).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Connections one client address (an IPv6 /64) may hold at once; while it is not 0 an
    /// address also has a new-connection rate, one message budget for all its connections,
    /// and a 60 s refusal after a flood (0: all off). Behind a reverse proxy, list it in
    /// `--trusted-proxies`, or every client has the proxy's address.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100)]
    pub max_connections_per_address: usize,

    /// Seconds to wait for connections to close on SIGINT/SIGTERM before exiting anyway.
    #[arg(long = "shutdown-timeout", env = "CHAT_SHUTDOWN_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub shutdown_timeout_secs: u64,

    /// Run as one of several instances sharing a Redis (7 or later), e.g.
    /// `redis://10.0.0.5:6379`: messages reach the users of every instance. Unset: this
    /// instance is the whole chat and needs no Redis.
    #[arg(long, env = "CHAT_REDIS_URL")]
    pub redis_url: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do instead of serving (none: serve the chat).
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// The chat's moderators: grant, revoke or list, in the store the server uses (the data
    /// directory's SQLite file, or Redis with --redis-url); works while the server runs (it
    /// takes effect within 2 seconds).
    Moderators {
        #[command(subcommand)]
        action: ModeratorsAction,
    },
}

/// `chat-server moderators ...`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ModeratorsAction {
    /// Make an owned nickname a moderator of the whole chat (its current ownership: if its
    /// owner gives it up, the next owner is not a moderator).
    Add { nickname: String },
    /// Take a nickname's moderator rights away.
    Remove { nickname: String },
    /// The chat's moderators, one per line.
    List,
}

/// How log lines are written (to stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

impl Config {
    /// Reads the settings from the process's arguments, environment and `--config` file; on a
    /// bad setting, prints an error naming it and exits (status 2), as clap does.
    pub fn load() -> Self {
        Self::try_load(std::env::args_os().collect()).unwrap_or_else(|e| e.exit())
    }

    fn try_load(args: Vec<OsString>) -> Result<Self, clap::Error> {
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(&args)?;
        let Some(path) = matches.get_one::<PathBuf>("config").cloned() else {
            return Self::from_arg_matches(&matches);
        };
        let file_args = file_arguments(&command, &matches, &path)
            .map_err(|message| command.error(clap::error::ErrorKind::InvalidValue, message))?;
        // The file's settings go before a subcommand's arguments (they are the server's).
        let mut all = args;
        let at = all.len().min(1);
        all.splice(at..at, file_args);
        let matches = command.try_get_matches_from_mut(all).map_err(|e| {
            // Flags and environment were fine the first time round: the file is to blame.
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or_default().trim_start_matches("error: ");
            command.error(
                clap::error::ErrorKind::InvalidValue,
                format!("in the config file {}: {first}", path.display()),
            )
        })?;
        Self::from_arg_matches(&matches)
    }

    /// The total the histories keep together: as set, else [`HISTORY_MAX_TOTAL_MESSAGES`] or
    /// the per-history limit if larger (before the limit was per history, it was the total: a
    /// server upgraded with it set keeps at least as much), and none when histories are kept
    /// whole.
    ///
    /// [`HISTORY_MAX_TOTAL_MESSAGES`]: chat_shared::limits::HISTORY_MAX_TOTAL_MESSAGES
    fn history_max_total(&self) -> u64 {
        self.history_max_total_messages.unwrap_or(match self.history_max_messages {
            0 => 0,
            each => each.max(chat_shared::limits::HISTORY_MAX_TOTAL_MESSAGES),
        })
    }

    /// How long an owned nickname stays its owner's after its last use.
    pub fn reservation(&self) -> Duration {
        Duration::from_secs(u64::from(self.nickname_reservation_days) * 24 * 3600)
    }

    pub fn chat_settings(&self) -> ChatSettings {
        ChatSettings {
            about: crate::chat::AboutChat { name: self.chat_name.clone(), about: self.chat_about.clone() },
            grace: Duration::from_secs(self.resume_grace_secs),
            reservation: self.reservation(),
            rooms_max: self.rooms_max,
            message_rate: MessageRate { per_second: self.messages_per_second, burst: self.message_burst },
            connections: ConnectionLimits {
                total: self.max_connections,
                per_address: self.max_connections_per_address,
            },
            retention: Retention {
                max_messages: self.history_max_messages,
                max_total: self.history_max_total(),
                total_floor: chat_shared::limits::HISTORY_TOTAL_FLOOR,
                max_age_secs: self.history_max_age_days * 24 * 3600,
            },
        }
    }

    /// The history file inside the data directory.
    pub fn history_path(&self) -> PathBuf {
        self.data_dir.join("chat.sqlite3")
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }
}

/// The file's settings as `--name=value` arguments, for every setting that neither a flag nor
/// an environment variable gave already.
fn file_arguments(
    command: &clap::Command,
    matches: &clap::ArgMatches,
    path: &Path,
) -> Result<Vec<OsString>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {} (--config/CHAT_CONFIG): {e}", path.display()))?;
    let table: toml::Table =
        text.parse().map_err(|e| format!("the config file {} is not valid TOML: {e}", path.display()))?;
    let mut args = Vec::new();
    for (key, value) in table {
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && key != "config")
            .ok_or_else(|| format!("the config file {} has an unknown setting `{key}`", path.display()))?;
        let given = matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if given {
            continue;
        }
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
                .collect::<Vec<_>>()
                .join(","),
            other => {
                return Err(format!(
                    "the config file {}: `{key}` must be a string, number, boolean or list, not {}",
                    path.display(),
                    other.type_str()
                ));
            }
        };
        args.push(OsString::from(format!("--{key}={value}")));
    }
    Ok(args)
}

/// A setting's text: trimmed, not empty, at most `MAX` chars, no control characters (the
/// operator's own words: marks such as U+200F that Hebrew or Arabic text needs stay allowed).
fn text_of<const MAX: usize>(raw: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err("empty".to_owned());
    }
    if text.chars().count() > MAX {
        return Err(format!("longer than {MAX} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err("has control characters".to_owned());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::Config;

    fn load(file: &str, args: &[&str]) -> Result<Config, String> {
        // One file per call: the tests run in parallel.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("chat-config-{}-{call}.toml", std::process::id()));
        std::fs::write(&path, file).map_err(|e| e.to_string())?;
        let mut all: Vec<OsString> = vec!["chat-server".into(), "--config".into(), path.clone().into()];
        all.extend(args.iter().map(OsString::from));
        let result = Config::try_load(all).map_err(|e| e.to_string());
        let _ = std::fs::remove_file(path);
        result
    }

    /// An upgrade never keeps less than before: the per-history limit used to be the total, and
    /// 0 (keep everything) still keeps everything.
    #[test]
    fn the_history_total_is_never_below_what_was_kept_before() {
        let total = |args: &[&str]| load("", args).expect("valid").chat_settings().retention.max_total;
        assert_eq!(total(&[]), 200_000);
        assert_eq!(total(&["--history-max-messages", "0"]), 0, "everything, as before");
        assert_eq!(total(&["--history-max-messages", "1000000"]), 1_000_000, "the old total");
        assert_eq!(total(&["--history-max-messages", "0", "--history-max-total-messages", "5000"]), 5_000);
        assert_eq!(total(&["--history-max-total-messages", "0"]), 0);
    }

    #[test]
    fn the_file_fills_in_what_flags_do_not_give() {
        let config = load(
            "port = 4100\nresume-grace = 5\nallowed-origins = [\"https://a.example\", \"https://b.example\"]\n",
            &["--port", "4200"],
        )
        .expect("valid");
        assert_eq!(config.port, 4200, "the flag wins");
        assert_eq!(config.resume_grace_secs, 5, "the file gives the rest");
        assert_eq!(config.allowed_origins.extra, ["https://a.example", "https://b.example"]);
    }

    #[test]
    fn the_edge_settings_come_from_the_file_too() {
        let config = load(
            "trusted-proxies = [\"127.0.0.1/32\", \"::1/128\"]\npublic-origin = \"https://chat.example.com\"\n\
             metrics-allow = [\"10.0.0.0/8\"]\n",
            &["--port", "4300"],
        )
        .expect("valid");
        assert!(config.trusted_proxies.contains("::1".parse().unwrap()));
        assert!(!config.trusted_proxies.contains("10.0.0.1".parse().unwrap()));
        assert!(config.metrics_allow.contains("10.1.2.3".parse().unwrap()));
        assert!(!config.metrics_allow.contains("127.0.0.1".parse().unwrap()), "the list replaces loopback");
        assert_eq!(
            config.public_origin.map(|p| p.origin().to_owned()).as_deref(),
            Some("https://chat.example.com")
        );
        let e = load("trusted-proxies = \"nginx\"\n", &[]).expect_err("refused");
        assert!(e.contains("--trusted-proxies"), "{e}");
    }

    #[test]
    fn a_bad_file_setting_is_named() {
        let e = load("resume-grace = \"soon\"\n", &[]).expect_err("refused");
        assert!(e.contains("config file") && e.contains("--resume-grace"), "{e}");
        let e = load("colour = \"blue\"\n", &[]).expect_err("refused");
        assert!(e.contains("unknown setting `colour`"), "{e}");
        let e = load("port = \n", &[]).expect_err("refused");
        assert!(e.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn the_chats_name_and_line_are_checked() {
        assert_eq!(super::text_of::<5>("  Plein "), Ok("Plein".to_owned()));
        assert!(super::text_of::<5>("Pleintje").is_err(), "too long");
        assert!(super::text_of::<5>("   ").is_err(), "empty");
        assert!(super::text_of::<5>("a\u{7}b").is_err(), "a control char");
    }
}
