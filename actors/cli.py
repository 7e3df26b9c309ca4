"""``goby-script``: the command line of the engine.

Every command that runs or checks a script prints ONE JSON object on stdout:
``{"ok": true, "result": ..., "logs": [...], "metrics": {...}}`` or
``{"ok": false, "error": {"type", "message", "line", "column"}}``; exit 0 when
ok, 1 on a script error, 2 on a usage error. Bytes cross JSON as
``{"$bytes": "<base64>"}`` both ways.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import cattrs
import click

from engines import (
    Language,
    RunnerNotFound,
    RunnerProcess,
    Script,
    ScriptError,
    ScriptInput,
    ScriptOutput,
    SecurityLimits,
    Whitelist,
)
from engines.model import DEFAULT_TENGO_MODULES

_json = cattrs.Converter()


def to_json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_value(v) for v in value]
    return value


def from_json_value(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bytes"} and isinstance(value["$bytes"], str):
            return base64.b64decode(value["$bytes"])
        return {k: from_json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json_value(v) for v in value]
    return value


def emit_output(out: ScriptOutput) -> NoReturn:
    doc = {
        "ok": True,
        "result": to_json_value(out.result),
        "logs": out.logs,
        "metrics": _json.unstructure(out.metrics),
    }
    click.echo(json.dumps(doc))
    sys.exit(0)


def emit_error(err: ScriptError) -> NoReturn:
    doc = {
        "ok": False,
        "error": {"type": err.type.value, "message": err.message, "line": err.line, "column": err.column},
    }
    if err.logs:
        doc["logs"] = err.logs
    click.echo(json.dumps(doc))
    sys.exit(1)


def usage_error(message: str) -> NoReturn:
    click.echo(f"goby-script: {message}", err=True)
    sys.exit(2)


def parse_input(raw: str | None) -> ScriptInput:
    if raw is None:
        return ScriptInput()
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        usage_error(f"--input is not valid JSON: {exc}")
    if not isinstance(doc, dict):
        usage_error("--input must be a JSON object (its keys become the script's globals)")
    return ScriptInput(context=from_json_value(doc))


def read_script(path: str) -> Script:
    try:
        Language.from_filename(path)
        return Script.from_file(Path(path))
    except ValueError as exc:
        usage_error(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        usage_error(f"cannot read {path}: {exc}")


def open_runner(limits: SecurityLimits | None = None, whitelist: Whitelist | None = None) -> RunnerProcess:
    try:
        runner = RunnerProcess(name="cli", limits=limits, whitelist=whitelist)
        runner.start()
    except RunnerNotFound as exc:
        usage_error(str(exc))
    return runner


def widened_whitelist(names: tuple[str, ...]) -> Whitelist:
    """The default whitelist plus NAMEs (a Tengo module or a Zygomys function each)."""
    return Whitelist(tengo_modules=DEFAULT_TENGO_MODULES | set(names), zygomys_functions=frozenset(names))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Run and manage Tengo (.tengo) and Zygomys (.zy) scripts."""


@main.command("exec")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--input", "input_json", help="JSON object: the execution context (each key a global).")
@click.option("--timeout", type=click.FloatRange(min=0.001), default=1.0, show_default=True, help="Seconds.")
@click.option("--memory-mb", type=click.FloatRange(min=0.1), default=64.0, show_default=True)
@click.option(
    "--allow-module",
    multiple=True,
    metavar="NAME",
    help="Tengo stdlib module or Zygomys function to allow beyond the defaults (repeatable).",
)
def exec_command(
    file: str, input_json: str | None, timeout: float, memory_mb: float, allow_module: tuple[str, ...]
) -> None:
    """Run one script FILE and print its result as JSON."""
    script = read_script(file)
    inp = parse_input(input_json)
    limits = SecurityLimits(timeout=timeout, memory_mb=memory_mb)
    runner = open_runner(limits, widened_whitelist(allow_module))
    try:
        out = runner.execute(script, inp)
    except ScriptError as err:
        emit_error(err)
    finally:
        runner.stop()
    emit_output(out)


@main.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--allow-module", multiple=True, metavar="NAME")
def check_command(file: str, allow_module: tuple[str, ...]) -> None:
    """Compile FILE without running it. Names the script reads but does not
    define are listed in the logs: they are expected from the context."""
    script = read_script(file)
    runner = open_runner(whitelist=widened_whitelist(allow_module))
    try:
        info = runner.check(script)
    except ScriptError as err:
        emit_error(err)
    finally:
        runner.stop()
    logs = ["names expected from the context: " + ", ".join(info.free)] if info.free else []
    emit_output(ScriptOutput(result=None, logs=logs))
