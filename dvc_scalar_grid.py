"""Let a DVC `matrix` take a scalar where it expects a list: `dvc exp run -S noise=0.3` runs the 0.3 cell.

Why it exists: dvc.yaml's stages are `matrix` stages over the grids in params.yaml (`noise: [...]`), and
`dvc exp run -S noise=0.3` writes the scalar `noise: 0.3`. DVC then crashes, "unexpected error - 'Value'
object is not iterable" (exit 255): `MatrixDefinition.normalized_iterable` (dvc/parsing/__init__.py) calls
`enumerate()` on each resolved matrix value, and a scalar from params resolves to a `dvc.parsing.context.Value`.
This bridge wraps `MatrixDefinition._resolve_matrix_data` so that such a `Value` becomes `CtxList([value])`,
exactly what the list form `-S 'noise=[0.3]'` resolves to: same stage names (`inject_noise@fashion_mnist-0.3`),
commands, dvc.lock and outputs. A matrix with no scalar from params gets DVC's own object back; literals in
dvc.yaml are left alone. It applies wherever DVC reads params.yaml (`dvc repro` after a hand edit too).

Checked against DVC 3.67.1: its MatrixDefinition source read, its CLI run end to end by
tests/test_dvc_bridge.py. At run time what is checked is DVC's shape, not its version: `install()` requires a
class `MatrixDefinition` with a plain method `_resolve_matrix_data(self)`, cached properties
`resolved_iterable` (reading that method) and `normalized_iterable` (reading `resolved_iterable`), and
`dvc.parsing.context.Value` (`.value`, `.meta`) and `CtxList(values, meta)`. If any of that is missing or
different, every DVC command stops with one line, "ERROR: dvc_scalar_grid: ...", and exit status 2, rather than
silently leaving the crash in place. `DVC_SCALAR_GRID=0` switches the bridge off (the list form still works).

How it is loaded: `python -m dvc_scalar_grid install` (run by `make setup`) writes a one-line .pth into the
environment's site-packages. At interpreter start, that line imports this module only if "dvc" is on the
command line, and `activate()` then checks that the process is DVC's CLI: the `dvc` console script (also how
DVC 3.67.1 starts its queue workers, `dvc exp queue-worker`, and their runs, `dvc exp exec-run`; `--temp` runs
in-process), `python -m dvc`, or `python .../dvc/__main__.py` (DVC's daemons). There it adds an import hook
that patches `dvc.parsing` right after it is imported; other Python processes (stages, pytest) get nothing.
It must stay out of the `labelsweep` package and never import it: labelsweep imported at start-up from the
editable install would shadow the checkout (a `--temp` or queued copy) whose stages DVC runs.
"""

from __future__ import annotations

import os
import sys

CHECKED_DVC_VERSIONS = ("3.67.1",)
DISABLE_ENV = "DVC_SCALAR_GRID"  # set to 0 to switch the bridge off
PTH_NAME = "dvc_scalar_grid.pth"  # sorts after setuptools' __editable__*.pth, which makes this module importable
PTH_LINE = 'import sys; "dvc" in " ".join(sys.orig_argv) and __import__("dvc_scalar_grid").activate()\n'
_PATCHED = "_dvc_scalar_grid_patched"


class BridgeError(RuntimeError):
    """DVC no longer has the shape this bridge was written against."""


def is_dvc_process(argv: list[str]) -> bool:
    """Whether `argv` (as in `sys.orig_argv`: interpreter first) starts DVC's command line."""
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-m":
            return args[i + 1 : i + 2] in (["dvc"], ["dvc.__main__"])
        if arg.startswith("-m"):
            return arg[2:] in ("dvc", "dvc.__main__")
        if arg.startswith("-c") or arg == "-":
            return False
        if arg in ("-X", "-W", "--check-hash-based-pycs"):  # options whose value is the next argument
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        path = os.path.normpath(arg)  # the script: the console script `dvc`, or dvc/__main__.py (daemons)
        name = os.path.basename(path).lower()
        if name in ("dvc", "dvc.exe", "dvc-script.py"):
            return True
        return name == "__main__.py" and os.path.basename(os.path.dirname(path)) == "dvc"
    return False


def activate(argv: list[str] | None = None) -> bool:
    """Called by the .pth line: in a DVC process, patch `dvc.parsing` once it is imported. True if it will."""
    if os.environ.get(DISABLE_ENV, "1") == "0" or not is_dvc_process(sys.orig_argv if argv is None else argv):
        return False
    parsing = sys.modules.get("dvc.parsing")
    if parsing is not None:
        _install_or_exit(parsing)
    elif not any(isinstance(finder, _Hook) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Hook())
    return True


def install(parsing) -> None:
    """Patch `parsing` (the `dvc.parsing` module); BridgeError if it is not shaped like DVC 3.67.1's."""
    import functools
    import inspect
    from collections.abc import Mapping

    matrix = getattr(parsing, "MatrixDefinition", None)
    if not isinstance(matrix, type):
        _fail("dvc.parsing.MatrixDefinition is missing")
    if matrix.__dict__.get(_PATCHED):
        return
    resolve = matrix.__dict__.get("_resolve_matrix_data")
    if not inspect.isfunction(resolve) or _parameters(resolve) != ["self"]:
        _fail("MatrixDefinition._resolve_matrix_data(self) is missing or has another signature")
    for prop, reads in (("resolved_iterable", "_resolve_matrix_data"), ("normalized_iterable", "resolved_iterable")):
        attr = matrix.__dict__.get(prop)  # funcy's cached_property in 3.67.1 (.fget); functools' has .func
        func = getattr(attr, "fget", None) or getattr(attr, "func", None)
        if not inspect.isfunction(func) or reads not in func.__code__.co_names:
            _fail(f"MatrixDefinition.{prop} is no longer a cached property reading {reads}")
    context = getattr(parsing, "context", None)
    value_type, list_type = getattr(context, "Value", None), getattr(context, "CtxList", None)
    if not (
        isinstance(value_type, type)
        and isinstance(getattr(value_type, "value", None), property)
        and "meta" in getattr(value_type, "__dataclass_fields__", {})
    ):
        _fail("dvc.parsing.context.Value is missing or has no .value/.meta")
    if not isinstance(list_type, type) or _parameters(list_type)[:2] != ["values", "meta"]:
        _fail("dvc.parsing.context.CtxList(values, meta) is missing or has another signature")

    @functools.wraps(resolve)
    def _resolve_matrix_data(self):
        iterable = resolve(self)
        if not isinstance(iterable, Mapping) or not any(isinstance(v, value_type) for v in iterable.values()):
            return iterable  # no scalar from params (or not a mapping: DVC's own assert reports it)
        return {
            key: list_type([node.value], meta=node.meta) if isinstance(node, value_type) else node
            for key, node in iterable.items()
        }

    matrix._resolve_matrix_data = _resolve_matrix_data
    setattr(matrix, _PATCHED, True)


def _parameters(func) -> list[str]:
    import inspect

    try:
        return list(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # no signature to read
        return []


def _fail(what: str):
    try:
        from dvc import __version__ as version
    except Exception:  # noqa: BLE001 - only for the message
        version = "unknown"
    raise BridgeError(
        f"{what} in DVC {version} (checked against DVC {', '.join(CHECKED_DVC_VERSIONS)}): "
        f"update {os.path.basename(__file__)} for this DVC, or install dvc=={CHECKED_DVC_VERSIONS[-1]}, "
        f"or set {DISABLE_ENV}=0 and use the list form -S 'key=[value]'"
    )


def _install_or_exit(parsing) -> None:
    try:
        install(parsing)
    except BridgeError as exc:
        print(f"ERROR: dvc_scalar_grid: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


class _Hook:
    """Meta path finder that lets `dvc.parsing` load normally, then patches it (one shot)."""

    done = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "dvc.parsing" or self.done:
            return None
        self.done = True  # (not removed from sys.meta_path: the import system is iterating over it)
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            print("ERROR: dvc_scalar_grid: dvc.parsing is no longer a regular module", file=sys.stderr)
            raise SystemExit(2)
        spec.loader = _PatchingLoader(spec.loader)
        return spec


class _PatchingLoader:
    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):  # get_source, get_filename, ...: the real loader's
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        _install_or_exit(module)


def _site_packages() -> str:
    import sysconfig

    return sysconfig.get_paths()["purelib"]


def install_pth(check: bool = True) -> str | None:
    """Write the .pth into this interpreter's site-packages; its path, or None if it was already there.

    With `check`, first patch this environment's DVC, so that a DVC of another shape fails `make setup`.
    """
    if check:
        import dvc.parsing

        install(dvc.parsing)
    path = os.path.join(_site_packages(), PTH_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == PTH_LINE:
                return None
    except FileNotFoundError:
        pass
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(PTH_LINE)
    os.replace(tmp, path)
    return path


def main(args: list[str]) -> int:
    if args == ["install"]:
        try:
            if written := install_pth():
                print(f"dvc_scalar_grid: wrote {written}")
        except BridgeError as exc:
            print(f"ERROR: dvc_scalar_grid: {exc}", file=sys.stderr)
            return 2
        return 0
    if args == ["uninstall"]:
        path = os.path.join(_site_packages(), PTH_NAME)
        if os.path.exists(path):
            os.remove(path)
        return 0
    print("usage: python -m dvc_scalar_grid install|uninstall", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
