"""The `counteranimal` command: the only place that parses arguments. Each command is a thin shell over the engine,
defined with its siblings in `eval_commands`, `job_commands` and `data_commands`; torch is imported only inside the
commands that need it. Bad input (any `engine.errors.UserError`) is printed as one line, never as a traceback, and so
is a command that needs the engine run where only the dashboard is installed."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from engine import __version__
from engine.cli import curate_commands, data_commands, eval_commands, import_commands, job_commands
from engine.config import RESULTS_ENV, SERVED_ENV, SHARED_ENV, evaluate_token, is_loopback, marked_shared, results_dir
from engine.errors import UserError

APP_MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"
MAX_UPLOAD_MB = 2048  # the Evaluate page's largest upload (a ViT-L/14 checkpoint is about 1.7 GB)
ENGINE_MODULES = {"torch", "torchvision", "open_clip", "timm", "safetensors"}  # the `engine` extra, not the dashboard
SHARED_ON = "Shared beyond this machine: Evaluate asks visitors for $COUNTERANIMAL_EVALUATE_TOKEN"
SHARED_OFF = "Shared beyond this machine: Evaluate is off; restart with $COUNTERANIMAL_EVALUATE_TOKEN set to turn it on"
NO_ENGINE = "this command needs the engine (torch, open_clip, timm): run `make engine`, or `pip install -e '.[engine]'`"


def serve(args: argparse.Namespace) -> int:
    """Start the Streamlit dashboard in place of this process (so signals such as `docker stop` reach it). Its
    settings are given here, so they hold from any folder and from an installed wheel."""
    env = {**os.environ, RESULTS_ENV: str(results_dir(args.results).resolve())}
    # The app cannot see the address it listens on, so it is told whether others can reach it (which gates Evaluate).
    shared = marked_shared() or not is_loopback(args.host)
    env[SHARED_ENV] = "1" if shared else "0"
    env[SERVED_ENV] = "1"
    command = [sys.executable, "-m", "streamlit", "run", str(APP_MAIN)]
    command += ["--server.address", args.host, "--server.port", str(args.port), "--server.headless", "true"]
    command += ["--server.maxUploadSize", str(MAX_UPLOAD_MB)]
    command += ["--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer"]
    command += ["--server.enableStaticServing", "true"]  # app/static: the charts' plotly.js (app/widgets/chart.py)
    # No watching for edited sources: after every script run the watcher walks every imported module's path on the
    # server's event loop (a tenth of a second on a 2-CPU machine, while the browser waits for the page's messages).
    # To see edits live, run `streamlit run app/main.py --server.enableStaticServing true` instead.
    command += ["--server.fileWatcherType", "none"]
    # Nor a full garbage collection after every script run (Streamlit's default): 90 ms holding the GIL per click with
    # the dashboard's data loaded, while the run's last messages wait; Python's own collector still runs as usual.
    command += ["--runner.postScriptGC", "false"]
    print(f"CounterAnimal Explorer on http://{args.host}:{args.port} (results: {env[RESULTS_ENV]})", flush=True)
    if shared:  # say what visitors may do, and how the operator changes it
        print(SHARED_ON if evaluate_token() else SHARED_OFF, flush=True)
    os.execve(sys.executable, command, env)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counteranimal", description="CounterAnimal Explorer")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="start the dashboard")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for a meeting room)")
    p.add_argument("--port", type=int, default=8501)
    eval_commands.add_results_option(p)
    p.set_defaults(run=serve)

    eval_commands.add_commands(commands)
    job_commands.add_commands(commands)
    data_commands.add_commands(commands)
    import_commands.add_commands(commands)
    curate_commands.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:  # commands import torch & co. only when they run, so this is the one place
        if (error.name or "").split(".")[0] not in ENGINE_MODULES:
            raise
        print(f"error: {NO_ENGINE}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `counteranimal zoo | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes stdout
        return 0
