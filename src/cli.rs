//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Cross-chain stablecoin withdrawal routing and relayer daemon.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, about)]
pub struct Cli {
    /// Log format on stderr: `text` (coloured only on a terminal) or
    /// `json` (one object per line, for log collectors).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people: one line per event, ANSI colours only on a terminal.
    Text,
    /// For machines: one JSON object per line.
    Json,
}

/// Prints a command-line error and returns exit code 2; help and version
/// requests print in full and return 0. clap's message is kept whole
/// (the missing arguments, the allowed values, its "a similar ... exists"
/// tip) on one line, followed by where to read more. A command given
/// without its subcommand prints that command's help (which lists them).
/// With `--json` among the arguments the error is also a JSON object on
/// stdout.
pub fn report_parse_error(e: &clap::Error) -> std::process::ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return std::process::ExitCode::SUCCESS;
    }
    let code = std::process::ExitCode::from(crate::EXIT_USAGE);
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        eprint!("{e}");
        return code;
    }
    let line = one_line(&e.to_string());
    if std::env::args().any(|a| a == "--json") {
        let message = line.strip_prefix("error: ").unwrap_or(&line);
        println!("{}", crate::json_error("usage", None, message));
    }
    eprintln!("{line}");
    code
}

/// clap's multi-line error as one line: its lines joined, the usage line
/// replaced by a pointer to the `--help` of the command the arguments name.
pub fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty()
            || line.starts_with("For more information")
            || line.starts_with("Usage: ")
        {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') || line.starts_with('[') {
                " "
            } else {
                "; "
            });
        }
        out.push_str(line);
    }
    format!(
        "{out} (see '{} --help')",
        command_path(std::env::args().skip(1))
    )
}

/// `switchyard` and the subcommands among `args`, as far as they name
/// real ones (`switchyard keys create`), for pointing at the right help.
fn command_path(args: impl Iterator<Item = String>) -> String {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut path = vec!["switchyard".to_owned()];
    for a in args.filter(|a| !a.starts_with('-')) {
        match cmd.find_subcommand(&a) {
            Some(sub) => {
                path.push(a.clone());
                cmd = sub.clone();
            }
            None => continue,
        }
    }
    path.join(" ")
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Quote routes for moving an amount between two chain:asset pairs.
    Quote(QuoteArgs),
    /// List a topology's chains, assets and bridges (what `quote` accepts).
    Topology(TopologyArgs),
    /// Run the daemon: JSON-RPC over HTTP and WebSocket on one port.
    Serve(ServeArgs),
    /// Produce domain-separated signatures for Switchyard's contracts.
    Sign {
        /// What to sign.
        #[command(subcommand)]
        what: SignCommand,
    },
    /// API keys in the daemon's store.
    Keys(KeysArgs),
    /// One co-signer of the M-of-N signer set: its own key, policy, store
    /// and audit log.
    Signer {
        /// What to do.
        #[command(subcommand)]
        what: SignerCommand,
    },
    /// Local chains for development and the demo.
    Devnet {
        /// What to do.
        #[command(subcommand)]
        what: DevnetCommand,
    },
    /// Benchmarks.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        what: BenchCommand,
    },
}

/// `--listen`: see [`switchyard_core::config::parse_listen`].
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    switchyard_core::config::parse_listen("--listen", s).map_err(|e| match e {
        switchyard_core::Error::Invalid { reason, .. } => reason,
        other => other.to_string(),
    })
}

impl Command {
    /// Whether the command was asked for JSON output (`--json`), so that
    /// its errors are JSON too.
    pub fn prints_json(&self) -> bool {
        match self {
            Self::Quote(a) => a.json,
            Self::Topology(a) => a.json,
            Self::Sign {
                what: SignCommand::PayoutBatch(a),
            } => a.json,
            Self::Bench {
                what: BenchCommand::Router(a),
            } => a.json,
            Self::Bench {
                what: BenchCommand::Relayer(a),
            } => a.json,
            Self::Bench {
                what: BenchCommand::Solana(a),
            } => a.json,
            Self::Bench {
                what: BenchCommand::Intake(a),
            } => a.json,
            Self::Serve(_) | Self::Keys(_) | Self::Devnet { .. } | Self::Signer { .. } => false,
        }
    }
}

/// Route modes as flags.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Every non-dominated route.
    Pareto,
    /// Most received.
    Cheapest,
    /// Least ETA.
    Fastest,
    /// Highest success probability.
    Safest,
    /// Least generalized cost within limits.
    Weighted,
}

/// `switchyard quote`.
#[derive(Debug, Args)]
pub struct QuoteArgs {
    /// Topology file (TOML).
    #[arg(long)]
    pub topology: PathBuf,
    /// Source, as CHAIN:ASSET (e.g. ethereum:USDT).
    #[arg(long)]
    pub from: String,
    /// Destination, as CHAIN:ASSET (e.g. solana:USDC).
    #[arg(long)]
    pub to: String,
    /// Amount in human units of the source asset (e.g. 2500.75).
    #[arg(long, allow_hyphen_values = true)]
    pub amount: String,
    /// Which routes to return.
    #[arg(long, value_enum, default_value = "pareto")]
    pub mode: ModeArg,
    /// Most legs a route may have (1-8).
    #[arg(long, default_value_t = 4)]
    pub max_hops: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List every excluded bridge with its reason (the table summarises
    /// them by reason).
    #[arg(long, visible_alias = "verbose")]
    pub explain: bool,
    /// Weighted mode: multiplier of the fee in USD.
    #[arg(long)]
    pub weight_fee: Option<f64>,
    /// Weighted mode: USD per hour of ETA.
    #[arg(long)]
    pub weight_time: Option<f64>,
    /// Weighted mode: multiplier of the expected loss in USD.
    #[arg(long)]
    pub weight_risk: Option<f64>,
    /// Weighted mode: largest fee, in destination units.
    #[arg(long)]
    pub max_fee: Option<String>,
    /// Weighted mode: longest ETA, seconds.
    #[arg(long)]
    pub max_eta_s: Option<u64>,
    /// Weighted mode: lowest success probability (0-1).
    #[arg(long)]
    pub min_success_p: Option<f64>,
}

/// `switchyard topology`.
#[derive(Debug, Args)]
pub struct TopologyArgs {
    /// Topology file (TOML).
    #[arg(long, default_value = "config/topology/mainnet.toml")]
    pub topology: PathBuf,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// `switchyard serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Daemon config file (TOML).
    #[arg(long, default_value = "config/switchyard.toml")]
    pub config: PathBuf,
    /// Override the listen address (HOST:PORT, the host a name or an IP;
    /// port 0 picks a free one).
    #[arg(long, value_parser = parse_listen)]
    pub listen: Option<SocketAddr>,
    /// Override the topology file.
    #[arg(long)]
    pub topology: Option<PathBuf>,
}

/// Messages `switchyard sign` produces.
#[derive(Debug, Subcommand)]
pub enum SignCommand {
    /// EIP-712 PayoutBatch for a PayoutBatcher contract. The key comes from
    /// SWITCHYARD_SIGNER_KEY (hex).
    PayoutBatch(SignPayoutBatchArgs),
}

/// `switchyard sign payout-batch`.
#[derive(Debug, Args)]
pub struct SignPayoutBatchArgs {
    /// EVM chain id of the domain.
    #[arg(long)]
    pub chain_id: u64,
    /// Address of the verifying contract.
    #[arg(long)]
    pub contract: String,
    /// Batch file (JSON: batch_id, token, payouts[{to, amount}], deadline).
    #[arg(long)]
    pub batch: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `switchyard signer ...`.
#[derive(Debug, Subcommand)]
pub enum SignerCommand {
    /// Serve the co-signer's API on its policy's `listen` address until
    /// SIGINT/SIGTERM (passphrase from SWITCHYARD_COSIGNER_PASSPHRASE).
    Serve {
        /// The co-signer's policy file (TOML).
        #[arg(long)]
        config: PathBuf,
    },
    /// Create an encrypted keystore (Web3 Secret Storage, scrypt) with a
    /// new random key, or a key inside a PKCS#11 token (--pkcs11); prints
    /// its address (secp256k1) or public key (ed25519). Passphrase from
    /// SWITCHYARD_COSIGNER_PASSPHRASE.
    Keygen {
        /// The keystore file to write (never overwritten).
        #[arg(long, required_unless_present = "pkcs11")]
        out: Option<PathBuf>,
        /// Curve: secp256k1 (EVM) or ed25519.
        #[arg(long, default_value = "secp256k1")]
        kind: String,
        /// Generate the key inside a PKCS#11 token instead: the module
        /// (e.g. /usr/lib/softhsm/libsofthsm2.so); PIN from
        /// SWITCHYARD_PKCS11_PIN.
        #[arg(long, conflicts_with = "out", requires_all = ["token", "label"])]
        pkcs11: Option<PathBuf>,
        /// The token's label (with --pkcs11).
        #[arg(long)]
        token: Option<String>,
        /// The key's label in the token (with --pkcs11).
        #[arg(long)]
        label: Option<String>,
    },
    /// Print the co-signer's audit log (JSON lines) and check its hash
    /// chain.
    Audit {
        /// The co-signer's policy file (names its store).
        #[arg(long)]
        config: PathBuf,
    },
}

/// `switchyard keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// Daemon config file (its [relayer] store holds the keys); before or
    /// after the key operation.
    #[arg(long, global = true, default_value = "config/switchyard.toml")]
    pub config: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// Key operations.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print `id role name token` (the token only now).
    Create {
        /// wallet, merchant, operator or admin.
        #[arg(long)]
        role: String,
        /// Whose key (merchant or operator name).
        #[arg(long)]
        name: String,
        /// Requests per second.
        #[arg(long, default_value_t = 50)]
        rate: u32,
    },
    /// List keys (never tokens).
    List,
    /// Revoke a key.
    Revoke {
        /// Key id.
        #[arg(long)]
        id: String,
    },
}

/// `switchyard devnet ...`.
#[derive(Debug, Subcommand)]
pub enum DevnetCommand {
    /// Start the topology's chains with anvil, deploy and fund the
    /// contracts, write a daemon config, and run until SIGINT/SIGTERM.
    Up(DevnetUpArgs),
}

/// `switchyard devnet up`.
#[derive(Debug, Args)]
pub struct DevnetUpArgs {
    /// Devnet topology (EVM chains with `contracts`).
    #[arg(long, default_value = "config/topology/devnet.toml")]
    pub topology: PathBuf,
    /// Where to write topology.toml, switchyard.toml, env and devnet.json.
    #[arg(long, default_value = "var/devnet")]
    pub dir: PathBuf,
    /// Pick free ports instead of the ports of the topology's rpc_urls.
    #[arg(long)]
    pub free_ports: bool,
    /// Listen port written into the daemon config.
    #[arg(long, default_value_t = 8711)]
    pub listen_port: u16,
    /// Port of the operators' console written into the daemon config
    /// (0: a free one; the daemon prints `console on URL`). Default: the
    /// listen port + 1 (8712), or a free one when the listen port is 0.
    #[arg(long)]
    pub console_port: Option<u16>,
    /// Also run the daemon (with relayer and embedded store) on the
    /// written config, in this process.
    #[arg(long)]
    pub serve: bool,
    /// Turn on API keys: write an [auth] section and create one key per
    /// role (admin, two operators, two merchants, a wallet) into
    /// DIR/keys.json; payouts from 100 TUSD need one operator's approval,
    /// from 500 TUSD two.
    #[arg(long)]
    pub auth: bool,
    /// With --auth: print the API keys in full (by default only their
    /// first characters; DIR/keys.json always holds them).
    #[arg(long)]
    pub show_keys: bool,
    /// TestUSD minted to each chain's PayoutBatcher (the payout float);
    /// payouts beyond it are held until a transfer from the treasury (the
    /// first asset of the topology) tops it up.
    #[arg(long, default_value_t = 1_000)]
    pub batcher_float: u64,
    /// Seconds after a deposit before the escrow lets it be refunded.
    #[arg(long, default_value_t = 60)]
    pub refund_delay_s: u64,
    /// anvil executable.
    #[arg(long, default_value = "node_modules/.bin/anvil")]
    pub anvil: PathBuf,
    /// forge build output with the contract artifacts.
    #[arg(long, default_value = "contracts/out")]
    pub artifacts: PathBuf,
    /// Leave out the topology's Solana chains (and their assets and
    /// bridges): EVM chains only, no validator started.
    #[arg(long)]
    pub skip_solana: bool,
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Router throughput and latency on generated graphs.
    Router(BenchRouterArgs),
    /// Relayer overhead per transaction on a local anvil.
    Relayer(BenchRelayerArgs),
    /// SPL payouts on a local Solana validator: recipients and lamports per
    /// transaction, batched against one per transaction, and the lane's
    /// cost per transaction.
    Solana(BenchSolanaArgs),
    /// Payout intake rate and quote latency under load, against a running
    /// daemon with a relayer.
    Intake(BenchIntakeArgs),
}

/// `switchyard bench intake`.
#[derive(Debug, Args)]
pub struct BenchIntakeArgs {
    /// The daemon's URL.
    #[arg(long, default_value = "http://127.0.0.1:8711")]
    pub url: String,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 8)]
    pub submitters: usize,
    /// Items per request.
    #[arg(long, default_value_t = 100)]
    pub items: usize,
    /// Duration of the loaded phase, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Destination assets the items cycle through.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "devnet-a:TUSD,devnet-b:TUSD,devnet-c:TUSD"
    )]
    pub chains: Vec<String>,
    /// Source of the quotes measured.
    #[arg(long, default_value = "devnet-a:TUSD")]
    pub quote_from: String,
    /// Destination of the quotes measured.
    #[arg(long, default_value = "devnet-c:TUSD")]
    pub quote_to: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `switchyard bench relayer`.
#[derive(Debug, Args)]
pub struct BenchRelayerArgs {
    /// Transactions per measurement.
    #[arg(long, default_value_t = 200)]
    pub txs: usize,
    /// anvil executable.
    #[arg(long, default_value = "node_modules/.bin/anvil")]
    pub anvil: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `switchyard bench solana`.
#[derive(Debug, Clone, Args)]
pub struct BenchSolanaArgs {
    /// Recipients per batched case (the one-per-transaction cases pay at
    /// most 20).
    #[arg(long, default_value_t = 100)]
    pub recipients: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Generated graph sizes.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphSize {
    /// 10 chains x 4 assets, ~400 edges.
    Small,
    /// 50 chains x 10 assets, ~10k edges.
    Medium,
    /// 100 chains x 20 assets, ~40k edges.
    Large,
}

/// `switchyard bench router`.
#[derive(Debug, Args)]
pub struct BenchRouterArgs {
    /// Graph size.
    #[arg(long, value_enum, default_value = "medium")]
    pub graph: GraphSize,
    /// Queries per mode.
    #[arg(long, default_value_t = 2000)]
    pub queries: usize,
    /// Hop budget.
    #[arg(long, default_value_t = 4)]
    pub max_hops: u64,
    /// Random seed for the graph and the queries.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
