"""Start-up time: `import udl` and `udl --help` against `import torch`.

Each command runs in a fresh Python process, --repeats times after one unmeasured warm-up
(the commands take turns, so that a busy moment of the machine spreads over all of them);
the table shows the median wall time, its ratio to `python -c "import torch"`, and the
heavy modules (torch, Optuna, matplotlib, pandas, scikit-learn) each command loads. The
targets:

- `import udl` takes at most 0.5 s more than `import torch` (it should take far less: it
  loads none of them);
- `udl --help` and `udl train cae --help` answer in less than half the time of
  `import torch` (building the parser reads the library's signatures, not its kernels).

    python benchmarks/startup.py [--repeats 5]

Exits with 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "optuna", "matplotlib", "pandas", "sklearn")

TORCH = 'python -c "import torch"'
IMPORT = 'python -c "import udl"'
HELP = "python -m udl --help"
TRAIN_HELP = "python -m udl train cae --help"
#: What is timed: the command -> the arguments of python.
COMMANDS: dict[str, list[str]] = {
    'python -c "pass"': ["-c", "pass"],
    TORCH: ["-c", "import torch"],
    IMPORT: ["-c", "import udl"],
    'python -c "import udl; udl.train_cae"': ["-c", "import udl; udl.train_cae"],
    HELP: ["-m", "udl", "--help"],
    TRAIN_HELP: ["-m", "udl", "train", "cae", "--help"],
}
IMPORT_SLACK_S = 0.5  # import udl: at most this much more than import torch
HELP_RATIO = 0.5  # udl --help: less than this fraction of import torch


def seconds(arguments: list[str]) -> float:
    """Wall time of a fresh `python ARGUMENTS`, its output discarded; a failure raises."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], check=True, stdout=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - start


def heavy_modules(arguments: list[str]) -> list[str]:
    """The heavy modules in sys.modules when `python ARGUMENTS` exits."""
    if arguments[0] == "-c":
        code = arguments[1]
    else:  # -m MODULE ARGS, as python -m runs it
        module, *rest = arguments[1:]
        code = (
            f"import runpy, sys; sys.argv = {[module, *rest]!r}; "
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
        )
    probe = (
        "import atexit, json, sys\n"
        f"HEAVY = {HEAVY!r}\n"
        "atexit.register(lambda: sys.stderr.write('\\nHEAVY ' + json.dumps("
        "[m for m in HEAVY if m in sys.modules]) + '\\n'))\n"
        f"{code}\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    line = next(x for x in reversed(result.stderr.splitlines()) if x.startswith("HEAVY "))
    return json.loads(line.removeprefix("HEAVY "))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="measured runs per command")
    args = parser.parse_args()

    for arguments in COMMANDS.values():  # warm-up: the file system cache, .pyc files
        seconds(arguments)
    times: dict[str, list[float]] = {command: [] for command in COMMANDS}
    for _ in range(args.repeats):
        for command, arguments in COMMANDS.items():
            times[command].append(seconds(arguments))
    median = {command: statistics.median(values) for command, values in times.items()}
    torch_s = median[TORCH]

    print(f"median of {args.repeats} fresh processes each; python is {sys.executable}")
    print(f"{'command':42} {'seconds':>8} {'x torch':>8}  heavy modules loaded")
    for command, arguments in COMMANDS.items():
        loaded = ", ".join(heavy_modules(arguments)) or "none"
        print(f"{command:42} {median[command]:8.3f} {median[command] / torch_s:8.2f}  {loaded}")

    targets = {
        f"import udl <= import torch + {IMPORT_SLACK_S} s": (
            median[IMPORT] <= torch_s + IMPORT_SLACK_S
        ),
        f"udl --help < {HELP_RATIO} x import torch": median[HELP] < HELP_RATIO * torch_s,
        f"udl train cae --help < {HELP_RATIO} x import torch": (
            median[TRAIN_HELP] < HELP_RATIO * torch_s
        ),
    }
    print()
    for target, passed in targets.items():
        print(f"{'PASS' if passed else 'FAIL'}  {target}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
