"""The ``rmse-ext`` command (also ``python -m rmse_ext``): eval, demo, bench.

Exit codes: 0 success; 2 a usage or input error, reported on one stderr line
``rmse-ext: error: <file>: <what is wrong>`` (a usage error: ``rmse-ext: error:
<what is wrong> (see rmse-ext eval --help)``); 1 an unexpected failure (one
line; the traceback with ``--debug`` or ``RMSE_EXT_DEBUG=1``).

>>> import contextlib, io
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out):
...     code = main(["--version"])
>>> code, out.getvalue().startswith("rmse-ext ")
(0, True)
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from .. import __version__, _backend
from ..io import InputError
from ._format import PROG, Parser, UsageError
from .eval import EVAL_EXAMPLES, add_eval_arguments, evaluate, positive_int, print_result

EXAMPLES = """\
examples:
  rmse-ext eval y_true.npy y_pred.npy                  RMSE of two .npy files
  rmse-ext eval y.npy p.npy --weights w.npy --json     weighted, as JSON
  rmse-ext eval run.npz:y run.npz:p                    arrays of an .npz
  rmse-ext eval val.csv --true-column y --pred-column yhat
  rmse-ext eval val.parquet --true-column y --pred-column yhat --weight-column w
  rmse-ext rolling val.csv --true-column y --pred-column yhat --window 1h \
      --time-column ts --group-column k --out r.csv    rolling RMSE per row
  rmse-ext demo                                        the embedded demonstration
  rmse-ext bench --json                                timings next to NumPy
"""


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog=PROG, formatter_class=raw, epilog=EXAMPLES,
        description="Streaming RMSE with tf.keras semantics, exact and fast. "
                    "Without a command: the demo.")
    kernel = _backend.kernel.__name__.rsplit(".", 1)[-1]
    parser.add_argument("--version", action="version",
                        version=f"{PROG} {__version__} (kernel: {kernel})")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected failure")
    commands = parser.add_subparsers(dest="command", metavar="{eval,rolling,demo,bench}")

    ev = commands.add_parser(
        "eval", formatter_class=raw, epilog=EVAL_EXAMPLES, prog=f"{PROG} eval",
        help="RMSE of predictions and targets stored in files",
        description="RMSE of Y_PRED against Y_TRUE, read in row chunks in "
                    "bounded memory.")
    add_eval_arguments(ev)

    from .rolling import ROLLING_EXAMPLES, add_rolling_arguments
    ro = commands.add_parser(
        "rolling", formatter_class=raw, epilog=ROLLING_EXAMPLES, prog=f"{PROG} rolling",
        help="rolling / time-windowed RMSE of every row, streamed to CSV or Parquet",
        description="The RMSE of the window ending at each row (docs/windows.md), per "
                    "series, in bounded memory.")
    add_rolling_arguments(ro)

    demo = commands.add_parser("demo", help="the embedded demonstration (the default)",
                               description="Streams a synthetic evaluation and sets "
                                           "it beside an exact reference, Keras's "
                                           "float32 arithmetic and NumPy.")
    demo.add_argument("--batches", type=positive_int, default=20000,
                      help="batches in the synthetic stream (default 20000)")
    commands.add_parser("bench", add_help=False,
                        help="timings next to NumPy (rmse-ext bench --help)")
    parser.set_defaults(eval_parser=ev, rolling_parser=ro)
    return parser


# -- entry point -------------------------------------------------------------------

def run(argv: list[str]) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        from .bench import main as bench_main
        code: int = bench_main(extra)
        return code
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "eval":
        print_result(evaluate(args, args.eval_parser), args.json, args.csv)
        return 0
    if args.command == "rolling":
        from .rolling import main as rolling_main
        return rolling_main(args, args.rolling_parser)
    from .demo import main as demo_main
    return demo_main(batches=getattr(args, "batches", 20000))


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 or 2)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("RMSE_EXT_DEBUG", "") not in ("", "0")
    try:
        return run(argv)
    except (InputError, UsageError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # argparse's --help and --version
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(f"{PROG}: error: {exc.code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: nothing more to say
        sys.stderr.close()
        return 1
    except Exception as exc:  # noqa: BLE001 -- the one place that reports bugs
        if debug:
            traceback.print_exc()
        message = " ".join(str(exc).split())
        hint = "" if debug else " (RMSE_EXT_DEBUG=1 or --debug shows the traceback)"
        print(f"{PROG}: internal error: {type(exc).__name__}: {message}{hint}",
              file=sys.stderr)
        return 1
