"""The request's args bound to main()'s parameters: INVALID_ARGS before main() is called."""

import ast
import inspect

from .failures import Failure
from .tracebacks import SCRIPT_FILENAME

P = inspect.Parameter
NAMED_KINDS = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)


class Parameter:
    """One parameter of main(), whether read from the live function or from the source."""

    def __init__(self, name, kind, has_default):
        self.name = name
        self.kind = kind
        self.has_default = has_default


def parameters_of(function):
    """The function's parameters; None when Python cannot tell them (a builtin, say)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    return [Parameter(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in signature.parameters.values()]


def check_args(parameters, args):
    """INVALID_ARGS naming the first argument that does not fit main(**args)."""
    by_name = {p.name: p for p in parameters if p.kind in NAMED_KINDS}
    takes_any_name = any(p.kind == P.VAR_KEYWORD for p in parameters)
    for name in args:
        parameter = by_name.get(name)
        if parameter is None and not takes_any_name:
            listed = ", ".join(n for n, p in by_name.items() if p.kind != P.POSITIONAL_ONLY) or "none"
            raise Failure("INVALID_ARGS", f'main() has no parameter "{name}" (its parameters: {listed})')
        if parameter is not None and parameter.kind == P.POSITIONAL_ONLY:
            raise Failure("INVALID_ARGS", f'main()\'s parameter "{name}" is positional-only, so args cannot give it')
    for parameter in by_name.values():
        if not parameter.has_default and (parameter.name not in args or parameter.kind == P.POSITIONAL_ONLY):
            raise Failure("INVALID_ARGS", f'main() requires the argument "{parameter.name}", which args does not give')


def check_no_args_needed(parameters):
    """main() is called with no arguments (the request has no args): MAIN_NOT_FOUND if it needs some."""
    required = [p.name for p in parameters if not p.has_default and p.kind in NAMED_KINDS]
    if required:
        names = ", ".join(required)
        raise Failure("MAIN_NOT_FOUND", f"main() is called with no arguments, but it requires: {names}")


def written_parameters(source):
    """main()'s parameters as the source writes them, when the script binds the name `main`
    exactly once, with an undecorated top-level def; None when only running it can tell."""
    tree = ast.parse(source, SCRIPT_FILENAME)
    defs = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main"
    ]
    if len(defs) != 1 or defs[0].decorator_list or bindings_of_main(tree) != 1:
        return None
    spec = defs[0].args
    positional = spec.posonlyargs + spec.args
    first_default = len(positional) - len(spec.defaults)
    parameters = [
        Parameter(arg.arg, P.POSITIONAL_ONLY if i < len(spec.posonlyargs) else P.POSITIONAL_OR_KEYWORD, i >= first_default)
        for i, arg in enumerate(positional)
    ]
    parameters += [Parameter(arg.arg, P.KEYWORD_ONLY, default is not None) for arg, default in zip(spec.kwonlyargs, spec.kw_defaults)]
    if spec.kwarg is not None:
        parameters.append(Parameter(spec.kwarg.arg, P.VAR_KEYWORD, True))
    return parameters


def bindings_of_main(tree):
    """How many places in the source may bind the name `main` (a star import counts twice)."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            count += node.name == "main"
        elif isinstance(node, ast.Name):
            count += node.id == "main" and not isinstance(node.ctx, ast.Load)
        elif isinstance(node, ast.alias):
            count += 2 if node.name == "*" else (node.asname or node.name.split(".")[0]) == "main"
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            count += "main" in node.names
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)):
            count += node.name == "main"
        elif isinstance(node, ast.MatchMapping):
            count += node.rest == "main"
    return count


def check_args_before_running(source, args):
    """For a plain `def main`, arguments that do not fit fail before any of the script runs."""
    parameters = written_parameters(source)
    if parameters is not None:
        check_args(parameters, args)
