"""The ``msgan-eval`` command group. Commands live in sibling modules and load lazily.

Every command runs inside one guard (:meth:`LazyGroup.invoke`):
- a :class:`UserError` prints one line and exits 2 (3 for weights);
- anything unexpected prints one line, writes the full traceback to a log file and exits 1;
- with ``--json`` every error also prints exactly one ``{"error": ..., "exit_code": ...}`` on stdout;
- Python warnings print as one line each, without source lines;
- ``--threads`` / ``$MSGAN_EVAL_THREADS`` (group or command) sets the CPU threads.
"""
import errno
import importlib
import json
import sys
import time
import traceback
import warnings

import click

from msgan_eval import __version__
from msgan_eval.errors import UserError

# name -> (module, attribute, one-line help). Loading a command imports its module only then.
COMMANDS = {
    "fid": ("msgan_eval.cli.fid", "fid", "FID between two image sets or statistics files."),
    "stats": ("msgan_eval.cli.fid", "stats", "Write FID statistics (mu, sigma) of an image set."),
    "weights": ("msgan_eval.cli.fid", "weights", "Show each known weight file and its status."),
    "lpips": ("msgan_eval.cli.lpips", "lpips", "LPIPS diversity within each condition."),
    "ndb": ("msgan_eval.cli.ndb", "ndb", "NDB and JSD against K-means bins of the training set."),
    "train": ("msgan_eval.cli.train", "train", "Train the conditional DCGAN baseline or its MSGAN twin."),
    "sample": ("msgan_eval.cli.train", "sample", "Write per-class samples of a trained run."),
    "compare": ("msgan_eval.cli.compare", "compare", "Baseline vs candidate with CIs and verdicts."),
    "check": ("msgan_eval.cli.compare", "check", "Gate a compare report on an expectations file."),
    "demo": ("msgan_eval.cli.compare", "demo", "Train, sample and compare offline (categorical, image-to-image, modes)."),
    "prepare": ("msgan_eval.cli.data", "prepare", "Export a bundled dataset as image folders."),
    "cache": ("msgan_eval.cli.cache", "cache", "List or clear the statistics and bins cache."),
    "vendi": ("msgan_eval.cli.vendi", "vendi", "Vendi score (diversity) within each condition."),
    "kid": ("msgan_eval.cli.kid", "kid", "KID between two image sets (torch-fidelity's)."),
    "prdc": ("msgan_eval.cli.prdc", "prdc", "Precision, recall, density and coverage vs real images."),
    "modes": ("msgan_eval.cli.modes", "modes", "Modes covered on the 2D ring/grid or stacked digits (PacGAN's)."),
    "track": ("msgan_eval.cli.track", "track", "Metric curves over a run's checkpoints; the best step."),
    "inspect": ("msgan_eval.cli.inspect", "inspect", "Flag degenerate, duplicate, copied and unrealistic samples."),
    "cmmd": ("msgan_eval.cli.cmmd", "cmmd", "CMMD (CLIP embeddings, RBF MMD) between two image sets."),
}
REPORT_URL = "https://github.com/msgan-eval/msgan-eval/issues"
_JSON_META = "msgan_eval.json"
# I/O errors the user fixes (space, permissions, a read-only disk, a path under a file): exit 2.
_USER_IO_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                   errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG, errno.EMFILE}


def one_line(message: str) -> str:
    """``message`` as one printable line: newlines (from file names, say) become ``\\n`` and bytes
    of non-UTF-8 file names become ``\\xNN``, so printing can never raise UnicodeEncodeError."""
    try:
        text = message.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeError:
        text = message.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


_THREADS_META = "msgan_eval.threads"
_THREADS_ERROR = "msgan_eval.threads_error"


_IO_CAUSES = {errno.ENOSPC: "disk full: free some space there or choose another place",
              errno.EDQUOT: "disk quota exceeded: free some space there or choose another place",
              errno.EROFS: "a read-only file system: choose a writable place",
              errno.EACCES: "no permission: choose a place you can write, or fix its permissions",
              errno.EPERM: "not permitted: choose a place you can write, or fix its permissions"}


def io_message(exc: OSError) -> str:
    """One line for an I/O error the user fixes: the real path (never a temporary ``.part``
    sibling), what the system said, and the fix for that cause (a read-only folder is not a full
    disk)."""
    from msgan_eval.fileio import real_path

    where = real_path(exc.filename) if exc.filename is not None else "a file"
    cause = _IO_CAUSES.get(exc.errno, "choose another path")
    return (f"{where}: {exc.strerror or exc}; {cause}, then run again (nothing was "
            "half-written)")


def _threads_callback(ctx, param, value):
    """The group's --threads is applied when the command starts (inside the guard); a command's own
    --threads, parsed later, overrides it."""
    from msgan_eval.threads import apply_threads, parse_threads

    try:
        n = parse_threads(value, "--threads")
    except UserError as exc:
        if param.name == "group_threads":      # parsed before the guard: refused inside it
            ctx.meta[_THREADS_ERROR] = exc
            return value
        raise click.BadParameter(str(exc).split(": ", 1)[-1], ctx=ctx, param=param) from None
    if param.name == "group_threads":
        ctx.meta[_THREADS_META] = n
    elif n is not None:
        apply_threads(n)
    return value


def threads_option(name: str):
    return click.option("--threads", name, default=None, metavar="N", expose_value=False,
                        callback=_threads_callback,
                        help="CPU threads for the maths (else $MSGAN_EVAL_THREADS, else the cores "
                             "not busy with other processes).")


def _close_progress_bars() -> None:
    """Clear progress bars an error interrupted, so the error stays the only line on stderr."""
    tqdm_std = sys.modules.get("tqdm.std")
    if tqdm_std is not None:
        for bar in list(getattr(tqdm_std.tqdm, "_instances", ())):
            bar.close()


def _fail(message: str, exit_code: int, as_json: bool) -> None:
    _close_progress_bars()
    line = one_line(message)
    click.echo(f"msgan-eval: error: {line}", err=True)
    if as_json:
        click.echo(json.dumps({"error": line, "exit_code": exit_code}))
    sys.exit(exit_code)


def _crash_log(exc: BaseException) -> str:
    """Write the traceback of an unexpected error to a log file; its path (or why not)."""
    import tempfile
    from pathlib import Path

    from msgan_eval.paths import cache_dir

    text = f"msgan-eval {__version__}\nargv: {sys.argv!r}\n\n" + "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__))
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{id(exc):x}.log"
    for folder in (cache_dir() / "logs", Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8", errors="backslashreplace")
            return str(folder / name)
        except OSError:
            continue
    return "(no writable folder for the log)"


def _unexpected(exc: Exception, as_json: bool) -> None:
    log = _crash_log(exc)
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    _fail(f"unexpected {type(exc).__name__}: {first}; please report it at {REPORT_URL} with the "
          f"full traceback in {log}", 1, as_json)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"msgan-eval: warning: {one_line(str(message))} ({category.__name__})", err=True)


def check_environment() -> None:
    """Settings read from the environment, refused before any command starts: a bad
    ``$MSGAN_EVAL_CACHE_MAX_MB`` used to become a warning after the work (or nothing at all)."""
    import os

    from msgan_eval.cache import max_bytes

    if os.environ.get("MSGAN_EVAL_CACHE_MAX_MB", "").strip():
        max_bytes()


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        command = getattr(importlib.import_module(module), attr)
        if not isinstance(command, click.Group) and \
                not any(p.name == "command_threads" for p in command.params):
            threads_option("command_threads")(command)      # every command takes --threads
        return command

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx, args):
        cut = args.index("--") if "--" in args else len(args)
        ctx.meta[_JSON_META] = "--json" in args[:cut]
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        from msgan_eval.threads import apply_threads, resolve_threads, threads_scope

        as_json = ctx.meta.get(_JSON_META, False)
        with threads_scope(), warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                if ctx.meta.get(_THREADS_ERROR) is not None:
                    raise ctx.meta[_THREADS_ERROR]
                apply_threads(resolve_threads(ctx.meta.get(_THREADS_META)))
                check_environment()
                return super().invoke(ctx)
            except UserError as exc:
                # One line, no traceback: the message names the file or option and what to do.
                from .options import user_message

                _fail(user_message(exc), exc.exit_code, as_json)
            except click.ClickException as exc:
                # One line like every other error (click's usage block is three), with where to
                # read more.
                hint = ""
                if isinstance(exc, click.UsageError) and exc.ctx is not None:
                    hint = f" (see {exc.ctx.command_path} --help)"
                _fail(exc.format_message().rstrip(".") + hint, exc.exit_code, as_json)
            except (click.exceptions.Exit, click.Abort):
                raise
            except KeyboardInterrupt:
                _fail("interrupted", 130, as_json)
            except OSError as exc:
                if exc.errno not in _USER_IO_ERRNOS:
                    _unexpected(exc, as_json)
                _fail(io_message(exc), 2, as_json)
            except MemoryError:
                _fail("out of memory; use fewer or smaller images, or a smaller --batch-size",
                      1, as_json)
            except Exception as exc:
                _unexpected(exc, as_json)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgan-eval")
@threads_option("group_threads")
def main():
    """Is your generative model diverse or collapsing? FID, LPIPS diversity, NDB/JSD."""
