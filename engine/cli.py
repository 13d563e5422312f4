"""The `counteranimal` command. The only module that parses arguments."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from engine import __version__
from engine.config import RESULTS_ENV, results_dir

APP_MAIN = Path(__file__).resolve().parent.parent / "app" / "main.py"


def serve(args: argparse.Namespace) -> int:
    """Start the Streamlit dashboard; returns its exit status."""
    env = {**os.environ, RESULTS_ENV: str(results_dir(args.results).resolve())}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_MAIN),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]
    print(f"CounterAnimal Explorer on http://{args.host}:{args.port} (results: {env[RESULTS_ENV]})", flush=True)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counteranimal", description="CounterAnimal Explorer")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="start the dashboard")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for a meeting room)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--results", help=f"results folder (default ${RESULTS_ENV}, else ./results)")
    p.set_defaults(run=serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
