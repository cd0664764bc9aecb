"""The ``msgan-eval`` command group. Commands live in sibling modules and load lazily."""
import importlib
import sys

import click

from .. import __version__
from ..errors import UserError

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
    "demo": ("msgan_eval.cli.compare", "demo", "Train, sample and compare offline (categorical or image-to-image)."),
    "prepare": ("msgan_eval.cli.data", "prepare", "Export a bundled dataset as image folders."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            # One line, no traceback: the message names the file or option and what to do.
            click.echo(f"msgan-eval: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("msgan-eval: interrupted", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgan-eval")
def main():
    """Is your generative model diverse or collapsing? FID, LPIPS diversity, NDB/JSD."""
