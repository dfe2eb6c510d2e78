"""Chaos run of switchyard serve: SIGKILLs at random moments under a mixed
workload, then proof from the chains that every payment happened exactly
once. Driven by scripts/chaos; see there for the arguments.

Workload (each request idempotent, resubmitted with the same key until the
daemon takes it, wherever a kill lands):
  - payouts on devnet-a and devnet-b, one devnet-b recipient blacklisted by
    the token (it must fail alone, with the token's reason);
  - payouts on devnet-c beyond its batcher's float (they wait for a routed
    top-up transfer from the treasury on devnet-a);
  - a routed transfer devnet-a -> devnet-c;
  - an operator pause of a bridge, and its resume.
At the end: every item is final or failed with a reason, every recipient
holds exactly what it was sent once (failed ones nothing), the transfer is
done, no lane is halted or failing, no batch or hop is left open, the audit
log verifies and reconciliation found nothing. One line of figures.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

BIN, DIR, KILLS = sys.argv[1], sys.argv[2], int(sys.argv[3])
SEED = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))
rng = random.Random(SEED)
info = json.load(open(f"{DIR}/devnet.json"))
chains = {c["chain"]: c for c in info["chains"]}
env = dict(os.environ)
for line in open(f"{DIR}/env"):
    k, _, v = line.strip().removeprefix("export ").partition("=")
    env[k] = v
env["RUST_LOG"] = env.get("RUST_LOG", "warn")
DEPLOYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil account 0, TestUSD's owner


def post(url, method, params, timeout=10):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=timeout))


def chain_call(chain, method, params):
    r = post(chains[chain]["rpc_url"], method, params)
    if "error" in r:
        raise RuntimeError(f"{chain} {method}: {r['error']}")
    return r["result"]


def balance(chain, who):
    data = "0x70a08231" + who[2:].lower().rjust(64, "0")
    out = chain_call(chain, "eth_call", [{"to": chains[chain]["token"], "data": data}, "latest"])
    return int(out, 16)


def blacklist(chain, who):
    data = "0x0ecb93c0" + who[2:].lower().rjust(64, "0")
    tx = chain_call(chain, "eth_sendTransaction", [{"from": DEPLOYER, "to": chains[chain]["token"], "data": data}])
    for _ in range(100):
        if chain_call(chain, "eth_getTransactionReceipt", [tx]):
            return
        time.sleep(0.1)
    raise RuntimeError("blacklisting never mined")


class Daemon:
    def __init__(self, log):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--config", f"{DIR}/switchyard.toml"],
            stdout=subprocess.PIPE, stderr=log, env=env, text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"daemon did not start: {line!r} (see {DIR}/chaos-daemon.log)")
        self.url = "http://" + line.strip().removeprefix("listening on ")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def api(self, method, params):
        r = post(self.url, method, params)
        if "error" in r:
            raise RuntimeError(f"{method}: {r['error']}")
        return r["result"]


def recipient(n):
    return "0x" + format((0xC4A05 << 100) | n, "040x")


# The workload, in the order it is given; each step runs once the daemon
# takes it, across kills.
payouts = {}  # idempotency key -> (items, ids)
steps = []
n = 0
BLACKLISTED = recipient(10_000)
for chain, requests, per, amount in [("devnet-a", 3, 10, "2"), ("devnet-b", 3, 10, "3"), ("devnet-c", 3, 12, "35")]:
    for r in range(requests):
        items = []
        for i in range(per):
            who = BLACKLISTED if (chain == "devnet-b" and r == 1 and i == 4) else recipient(n)
            n += 1
            items.append({"to": f"{chain}:TUSD", "recipient": who, "amount": amount})
        steps.append(("payout", f"chaos-{chain}-{r}", items))
steps.insert(1, ("blacklist", "devnet-b", BLACKLISTED))
steps.insert(3, ("transfer", "chaos-transfer", {
    "idempotency_key": "chaos-transfer", "from": "devnet-a:TUSD", "to": "devnet-c:TUSD",
    "amount": "250", "recipient": recipient(20_000), "mode": "cheapest",
}))
steps.insert(5, ("pause", "bridge", "escrow-a-b"))
steps.insert(9, ("resume", "bridge", "escrow-a-b"))
rng.shuffle(steps[6:])  # the later part in a random order
transfer_id = None


def run_step(d, step):
    global transfer_id
    kind = step[0]
    if kind == "payout":
        _, key, items = step
        r = d.api("payout_submit", {"idempotency_key": key, "items": items})
        payouts[key] = (items, r["ids"])
    elif kind == "blacklist":
        blacklist(step[1], step[2])
    elif kind == "transfer":
        transfer_id = d.api("transfer_submit", step[2])["transfer"]["id"]
    elif kind == "pause":
        try:
            d.api("ops_pause", {"kind": step[1], "target": step[2], "reason": "chaos: maintenance", "actor": "chaos"})
        except RuntimeError as e:
            if "already" not in str(e):
                raise
    elif kind == "resume":
        try:
            d.api("ops_resume", {"kind": step[1], "target": step[2], "reason": "chaos: done", "actor": "chaos"})
        except RuntimeError as e:
            if "is not paused" not in str(e):
                raise


started = time.time()
log = open(f"{DIR}/chaos-daemon.log", "a")
done_steps = 0
kills = 0
lost_calls = 0
# Spread the steps over the kills.
per_life = max(1, -(-len(steps) // max(1, KILLS // 2)))
for k in range(KILLS):
    d = Daemon(log)
    # The kill comes at a random moment of this life, whatever the daemon
    # (or a call to it) is doing.
    life = rng.uniform(0.2, 3.0)
    timer = threading.Timer(life, d.kill)
    timer.start()
    for s in steps[done_steps:done_steps + per_life]:
        # Some calls start just as the kill comes.
        time.sleep(rng.uniform(0.0, life))
        try:
            run_step(d, s)
            done_steps += 1
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            lost_calls += 1
            break
    timer.join()
    kills += 1
    print(f"\r  kill {kills}/{KILLS}, workload step {done_steps}/{len(steps)}", end="", flush=True)
print()

d = Daemon(log)
while done_steps < len(steps):
    run_step(d, steps[done_steps])
    done_steps += 1

# Settle: every item final or failed, the transfer done.
ids = [i for _, (_, got) in payouts.items() for i in got]
deadline = time.time() + 600
states = {}
while time.time() < deadline:
    states = {i: d.api("payout_status", {"id": i}) for i in ids}
    t = d.api("transfer_status", {"transfer_id": transfer_id})
    if all(s["state"] in ("final", "failed") for s in states.values()) and t["state"] in ("done", "failed"):
        break
    time.sleep(1)
else:
    open_ = [s for s in states.values() if s["state"] not in ("final", "failed")]
    print(f"chaos: FAILED, {len(open_)} items not settled after 600 s, e.g. {open_[:2]}")
    sys.exit(1)

problems = []
final = failed = 0
for key, (items, got) in payouts.items():
    for it, i in zip(items, got):
        s = states[i]
        held = balance(it["to"].split(":")[0], it["recipient"])
        want = int(float(it["amount"]) * 1_000_000) if s["state"] == "final" else 0
        if s["state"] == "final":
            final += 1
        else:
            failed += 1
            if not s.get("reason"):
                problems.append(f"{i} failed without a reason")
            if it["recipient"] != BLACKLISTED:
                problems.append(f"{i} failed: {s.get('reason')}")
        if held != want:
            problems.append(f"{i} ({s['state']}): recipient holds {held}, expected {want}")
t = d.api("transfer_status", {"transfer_id": transfer_id})
if t["state"] != "done":
    problems.append(f"transfer {transfer_id}: {t['state']} {t.get('error')}")
else:
    got = balance("devnet-c", recipient(20_000))
    want = int(t["hops"][-1]["amount_out"])
    if got != want:
        problems.append(f"transfer recipient holds {got}, expected {want}")
health = json.load(urllib.request.urlopen(d.url + "/health", timeout=10))
for lane in health.get("lanes", []):
    if lane.get("halted") or lane.get("failing_rows"):
        problems.append(f"lane {lane.get('chain_id', lane.get('chain'))}: halted={lane.get('halted')} failing={lane.get('failing_rows')}")
if health.get("alerts", 0):
    problems.append(f"reconciliation alerts: {health.get('latest_alerts')}")
status = d.api("ops_status", {})
open_transfers = [x for x in status["transfers"] if x[0] == "pending"] if isinstance(status["transfers"], list) else []
if open_transfers:
    problems.append(f"transfers still pending: {open_transfers}")
audit = d.api("ops_audit", {"limit": 1000})
if not audit["verified"]:
    problems.append("audit log does not verify")
d.kill()
elapsed = time.time() - started
for p in problems:
    print(f"  problem: {p}")
verdict = "ok" if not problems else f"FAILED ({len(problems)} problems)"
print(
    f"chaos: {verdict}: {kills} SIGKILLs + restarts in {elapsed:.0f} s (seed {SEED}), "
    f"{len(ids)} payouts on 3 chains: {final} final, {failed} failed (blacklisted recipient), "
    f"1 routed transfer {t['state']}, paid exactly once: {'yes' if not problems else 'no'}, "
    f"calls cut by a kill and retried: {lost_calls}, stuck: {len(problems)}"
)
sys.exit(0 if not problems else 1)
