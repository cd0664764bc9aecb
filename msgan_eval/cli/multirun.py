"""``--baseline R1 R2 R3``: an option that takes every value up to the next option, and globs."""
import glob
from typing import List, Sequence

import click

from msgan_eval.errors import UserError

_GLOB_CHARS = "*?["


class SeveralPaths(click.Option):
    """A ``multiple=True`` option that also eats the words after it up to the next option, so
    ``--baseline runs/b*`` (expanded by the shell) and ``--baseline R1 R2`` both work."""

    def add_to_parser(self, parser, ctx):
        result = super().add_to_parser(parser, ctx)
        for name in self.opts:
            option = parser._long_opt.get(name) or parser._short_opt.get(name)
            if option is None:
                continue
            process = option.process

            def eat(value, state, process=process):
                process(value, state)
                while state.rargs and not state.rargs[0].startswith("-"):
                    process(state.rargs.pop(0), state)
            option.process = eat
        return result


def expand_runs(option: str, values: Sequence[str]) -> List[str]:
    """Each value, or the sorted paths its glob pattern matches (a quoted pattern reaches us)."""
    out: List[str] = []
    for value in values:
        if any(c in value for c in _GLOB_CHARS) and not glob.os.path.exists(value):
            matches = sorted(glob.glob(value))
            if not matches:
                raise UserError(f"{option} {value}: the pattern matches nothing")
            out += matches
        else:
            out.append(value)
    return out
