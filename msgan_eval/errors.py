"""Errors that reach the user as one line and an exit code (never a traceback).

Every one of them is a ``ValueError`` (a :class:`ParameterTypeError` also a ``TypeError``), so
Python callers of the API catch them as they catch any bad argument; the command line catches
:class:`UserError` and prints one line.
"""


class UserError(ValueError):
    """Bad input: a file, folder or option the user can fix. Exit code 2."""

    exit_code = 2


class WeightsUnavailable(UserError):
    """Pretrained weights could not be found, verified or downloaded. Exit code 3."""

    exit_code = 3


class ParameterError(UserError):
    """A bad value of a named parameter. The message names each parameter as ``{name}``.

    Library code names Python parameters (``resize 8: ...``); the command line renders the same
    message with its flags (``--resize 8: ...``) through one table (``msgan_eval.cli.options``).
    ``renamed`` lets a caller that exposes a parameter under another name (``compare``'s
    ``lpips_resize`` for ``lpips_diversity``'s ``resize``) speak of its own name.
    """

    def __init__(self, template: str, *params: str):
        self.template, self.params = template, tuple(params)
        super().__init__(self.render(lambda name: name))

    def render(self, name_of) -> str:
        """The message with each ``{param}`` written as ``name_of(param)``."""
        out = self.template
        for param in self.params:
            out = out.replace("{" + param + "}", name_of(param))
        return out

    def renamed(self, names: "dict[str, str]") -> "ParameterError":
        params = [names.get(p, p) for p in self.params]
        template = self.template
        for old, new in zip(self.params, params):
            template = template.replace("{" + old + "}", "{" + new + "}")
        err = type(self).__new__(type(self))
        ParameterError.__init__(err, template, *params)
        err.exit_code = self.exit_code
        return err


class ParameterTypeError(ParameterError, TypeError):
    """A parameter of a type the function does not accept."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(exc)
    return text.splitlines()[0] if text.strip() else type(exc).__name__


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """Why a load failed, in at most ``limit`` characters and never cut mid-sentence. A pickle
    that names code (``weights_only`` refused it) is said as such: torch's own message is a
    paragraph of advice on how to run that code anyway."""
    import re

    text = str(exc)
    found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", text)
    if found or text.startswith("Weights only load failed"):
        found = found or ["", "an object that is not a tensor"]
        return (f"it holds pickled code ({found[1]}), which is never loaded: only plain tensors "
                "are read")
    line = first_line(exc).strip()
    if len(line) <= limit:
        return line
    cut = line[:limit]
    end = max(cut.rfind(". "), cut.rfind("; "))
    return cut[:end + 1] if end > limit // 2 else cut.rsplit(" ", 1)[0] + " ..."
