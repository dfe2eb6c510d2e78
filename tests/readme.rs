//! Every command the README shows, run as a reader would run it, with its
//! output compared to what the README says it prints.
//!
//! The README's shell examples are ```` ```console ```` blocks: a line
//! `$ COMMAND` (continued by a trailing `\`) is run, and the lines after it
//! up to the next command are its expected output (stdout and stderr, as a
//! terminal shows them). In expected output a line `...` stands for any
//! number of lines and `[..]` for any text within a line; trailing blanks
//! do not count. A command must exit 0 (the README shows failing ones
//! with `; echo "exit $?"`). A command ending in `&` runs in the
//! background, as in a terminal: the lines given for it must appear on its
//! stdout, in order, before the next command runs; it is stopped at the end
//! of its section. The commands of one section (the blocks between two
//! headings, as a reader follows them) share one shell state (working
//! directory, exported variables, functions); every section starts in the
//! repository root with the binary under test first on `PATH`. A tab in the output is
//! compared as one space (`keys create` separates its fields by tabs).
//!
//! Two commands are not run, for a reason: `scripts/test` is the command
//! that runs this test, and `cargo install --path . --locked` would build
//! a second (release) binary; the test uses the one `scripts/test` built.
//! Any other shell block (```` ```sh ````, ```` ```bash ````) fails the test, so
//! no command escapes it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

/// Commands shown but not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("scripts/test", "it is the test command that runs this test"),
    (
        "cargo install --path . --locked",
        "the test runs the binary the test command built",
    ),
];

/// Longest a foreground command may take (the demo is the longest).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest a background command may take to print its expected lines.
const BACKGROUND_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug)]
struct Step {
    line: usize,
    command: String,
    expected: Vec<String>,
}

#[derive(Debug)]
struct Block {
    line: usize,
    /// Which section (heading) of the README the block is in.
    section: usize,
    steps: Vec<Step>,
}

/// The console blocks of `text`; an error for any other shell block.
fn parse(text: &str) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    let mut section = 0;
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, l)) = lines.next() {
        if l.starts_with('#') {
            section += 1;
        }
        let fence = l.trim_start();
        let Some(lang) = fence.strip_prefix("```") else {
            continue;
        };
        let lang = lang.trim();
        let mut body = Vec::new();
        for (m, b) in lines.by_ref() {
            if b.trim_start().starts_with("```") {
                break;
            }
            body.push((m + 1, b.to_owned()));
        }
        match lang {
            "sh" | "bash" | "shell" | "shell-session" => {
                return Err(format!(
                    "README.md:{}: a ```{lang} block; shell examples are ```console blocks so that this test runs them",
                    n + 1
                ));
            }
            "console" => {}
            _ => continue,
        }
        let mut steps: Vec<Step> = Vec::new();
        let mut iter = body.into_iter();
        while let Some((m, b)) = iter.next() {
            if let Some(cmd) = b.strip_prefix("$ ") {
                let mut command = cmd.to_owned();
                // A continued line stays continued: bash reads the `\`.
                while command.ends_with('\\') {
                    match iter.next() {
                        Some((_, more)) => {
                            command.push('\n');
                            command.push_str(&more);
                        }
                        None => break,
                    }
                }
                steps.push(Step {
                    line: m,
                    command,
                    expected: Vec::new(),
                });
            } else if let Some(s) = steps.last_mut() {
                s.expected.push(b);
            } else if !b.trim().is_empty() {
                return Err(format!("README.md:{m}: output before any `$ ` command"));
            }
        }
        blocks.push(Block {
            line: n + 1,
            section,
            steps,
        });
    }
    Ok(blocks)
}

/// Whether `line` matches `pattern`, where `[..]` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `actual` matches `expected` (with `...` lines), comparing lines
/// without trailing blanks and ignoring blank lines at either end.
fn output_matches(expected: &[String], actual: &[String]) -> bool {
    fn trim(v: &[String]) -> Vec<&str> {
        let v: Vec<&str> = v.iter().map(|s| s.trim_end()).collect();
        let start = v.iter().position(|s| !s.is_empty()).unwrap_or(v.len());
        let end = v
            .iter()
            .rposition(|s| !s.is_empty())
            .map_or(start, |i| i + 1);
        v[start..end].to_vec()
    }
    fn go(e: &[&str], a: &[&str]) -> bool {
        match e.split_first() {
            None => a.is_empty(),
            Some((&"...", rest)) => (0..=a.len()).any(|k| go(rest, &a[k..])),
            Some((p, rest)) => a
                .split_first()
                .is_some_and(|(l, more)| line_matches(p, l) && go(rest, more)),
        }
    }
    go(&trim(expected), &trim(actual))
}

/// Whether the lines of `expected` appear in `seen` in order (a
/// background command's output so far); `...` lines are skipped.
fn appeared(expected: &[String], seen: &[String]) -> bool {
    let mut it = seen.iter();
    expected
        .iter()
        .map(|e| e.trim_end())
        .filter(|e| !e.is_empty() && *e != "...")
        .all(|e| it.any(|l| line_matches(e, l.trim_end())))
}

struct Session {
    state: PathBuf,
    background: Vec<Child>,
}

impl Session {
    fn new(dir: &Path, n: usize) -> Self {
        let state = dir.join(format!("state-{n}.sh"));
        std::fs::write(&state, format!("cd {REPO:?}\n")).unwrap();
        Self {
            state,
            background: Vec::new(),
        }
    }

    /// `bash -c` running `command` in the session's state, saving the
    /// state after it when `save`.
    fn shell(&self, command: &str, save: bool) -> Command {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let state = self.state.display().to_string();
        let script = if save {
            format!(
                ". {state:?}\n{command}\nrc=$?\n{{ export -p; declare -f; printf 'cd %q\\n' \"$PWD\"; }} > {state:?}\nexit $rc\n"
            )
        } else {
            format!(". {state:?}\n{command}\n")
        };
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(script)
            .env("PATH", path)
            .env("SWITCHYARD_BIN", BIN)
            .env_remove("RUST_LOG")
            .env_remove("SWITCHYARD_RELAYER_KEY")
            .env_remove("SWITCHYARD_SIGNER_KEY")
            .env_remove("SWITCHYARD_IDENTITY_KEY")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&mut self, step: &Step) -> Result<(), String> {
        let command = step.command.trim();
        if let Some(bg) = command.strip_suffix('&') {
            return self.run_background(step, bg.trim());
        }
        let child = self
            .shell(&format!("{{ {command}\n}} 2>&1"), true)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("bash: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let mut child = child;
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let lines: Vec<String> = BufReader::new(out)
                .lines()
                .map_while(Result::ok)
                .map(|l| l.replace('\t', " "))
                .collect();
            let _ = tx.send(lines);
        });
        let lines = match rx.recv_timeout(COMMAND_TIMEOUT) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                return Err(format!("did not finish within {COMMAND_TIMEOUT:?}"));
            }
        };
        let status = child.wait().map_err(|e| e.to_string())?;
        let shown = || {
            format!(
                "--- expected (README.md:{}) ---\n{}\n--- got ---\n{}",
                step.line,
                step.expected.join("\n"),
                lines.join("\n")
            )
        };
        if !status.success() {
            return Err(format!("exited with {status}\n{}", shown()));
        }
        if !output_matches(&step.expected, &lines) {
            return Err(format!("printed something else\n{}", shown()));
        }
        Ok(())
    }

    fn run_background(&mut self, step: &Step, command: &str) -> Result<(), String> {
        use std::os::unix::process::CommandExt;
        let mut child = self
            .shell(command, false)
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("bash: {e}"))?;
        let out = child.stdout.take().unwrap();
        self.background.push(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    // Nobody listens any more: keep draining the pipe.
                    continue;
                }
            }
        });
        let deadline = Instant::now() + BACKGROUND_TIMEOUT;
        let mut seen = Vec::new();
        while !appeared(&step.expected, &seen) {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => seen.push(l),
                Err(_) => {
                    return Err(format!(
                        "background command did not print what the README says (README.md:{})\n--- expected ---\n{}\n--- got ---\n{}",
                        step.line,
                        step.expected.join("\n"),
                        seen.join("\n")
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SIGTERM to the whole process group first, so a devnet stops its
        // anvils; then make sure.
        for c in &mut self.background {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", c.id())])
                .status();
        }
        for c in &mut self.background {
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.wait();
        }
    }
}

// The README's commands start the devnet, its Solana validator included:
// named `needs_solana::...`, so scripts/test runs it once the validator is
// built (`solana::` tests).
mod needs_solana {
    use super::*;

    #[test]
    fn every_command_in_the_readme_runs_and_prints_what_the_readme_says() {
        let text = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
        let blocks = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            blocks.iter().map(|b| b.steps.len()).sum::<usize>() >= 10,
            "the README shows its commands in console blocks"
        );
        let dir = std::env::temp_dir().join(format!("sy-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut failures = Vec::new();
        let mut ran = 0;
        let mut session: Option<(usize, Session)> = None;
        let mut broken = None;
        for (n, block) in blocks.iter().enumerate() {
            if session.as_ref().is_none_or(|(s, _)| *s != block.section) {
                // Stop the previous section's background commands first.
                drop(session.take());
                session = Some((block.section, Session::new(&dir, n)));
            }
            if broken == Some(block.section) {
                continue;
            }
            let Some((_, session)) = session.as_mut() else {
                continue;
            };
            for step in &block.steps {
                if let Some((_, why)) = NOT_RUN.iter().find(|(c, _)| *c == step.command.trim()) {
                    eprintln!("README.md:{}: not run ({why}): {}", step.line, step.command);
                    continue;
                }
                eprintln!("README.md:{}: $ {}", step.line, step.command);
                ran += 1;
                if let Err(e) = session.run(step) {
                    failures.push(format!(
                        "README.md:{} (block at line {}): $ {}\n{e}",
                        step.line, block.line, step.command
                    ));
                    // Later commands of the section build on this one.
                    broken = Some(block.section);
                    break;
                }
            }
        }
        drop(session);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            failures.is_empty(),
            "{} of the README's commands failed:\n\n{}",
            failures.len(),
            failures.join("\n\n")
        );
        assert!(ran > 0);
    }
}

#[test]
fn the_readme_shows_the_shipped_config_verbatim() {
    let readme = std::fs::read_to_string(Path::new(REPO).join("README.md")).unwrap();
    let shipped = std::fs::read_to_string(Path::new(REPO).join("config/switchyard.toml")).unwrap();
    let marker = "<!-- the shipped config/switchyard.toml, verbatim (tests/readme.rs checks) -->";
    let after = readme
        .split_once(marker)
        .expect("the README marks the shipped config")
        .1;
    let block = after
        .split_once("```toml\n")
        .and_then(|(_, b)| b.split_once("```"))
        .expect("a toml block after the marker")
        .0;
    assert_eq!(
        block, shipped,
        "README's config block differs from config/switchyard.toml"
    );
    // Every environment variable the daemon reads is in the README.
    for var in [
        "SWITCHYARD_LISTEN",
        "SWITCHYARD_TOPOLOGY",
        "SWITCHYARD_STORE",
        "SWITCHYARD_STALE_AFTER_MS",
        "SWITCHYARD_RELAYER_KEY",
        "SWITCHYARD_SIGNER_KEY",
        "SWITCHYARD_IDENTITY_KEY",
        "SWITCHYARD_COSIGNER_PASSPHRASE",
        "SWITCHYARD_WEBHOOK_SECRET",
        "SWITCHYARD_CRASH_AT",
        "RUST_LOG",
        "NO_COLOR",
    ] {
        assert!(readme.contains(&format!("`{var}`")), "{var} undocumented");
    }
}

#[test]
fn the_matcher_honours_its_wildcards_and_refuses_differences() {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert!(output_matches(
        &s(&["a", "...", "z"]),
        &s(&["a", "b", "c", "z"])
    ));
    assert!(output_matches(&s(&["a", "...", "z"]), &s(&["a", "z"])));
    assert!(!output_matches(&s(&["a", "z"]), &s(&["a", "b", "z"])));
    assert!(output_matches(&s(&["id [..] ok"]), &s(&["id po_123 ok  "])));
    assert!(!output_matches(&s(&["id [..] ok"]), &s(&["id po_123 no"])));
    assert!(!output_matches(&s(&["x"]), &s(&[])));
    assert!(appeared(&s(&["b", "...", "d"]), &s(&["a", "b", "c", "d"])));
    assert!(!appeared(&s(&["d", "b"]), &s(&["a", "b", "c", "d"])));
    let blocks = parse("```console\n$ echo a \\\n  b\na b\n$ true\n```\n").unwrap();
    assert_eq!(blocks[0].steps.len(), 2);
    assert_eq!(blocks[0].steps[0].command, "echo a \\\n  b");
    assert_eq!(blocks[0].steps[0].expected, vec!["a b".to_owned()]);
    assert!(parse("```sh\nls\n```\n").is_err());
}
