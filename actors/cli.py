"""``goby-script``: the command line of the engine.

Every command that runs or checks a script prints ONE JSON object on stdout:
``{"ok": true, "result": ..., "logs": [...], "metrics": {...}}`` or
``{"ok": false, "error": {"type", "message", "line", "column"}}``; exit 0 when
ok, 1 on a script error, 2 on a usage error. Bytes cross JSON as
``{"$bytes": "<base64>"}`` both ways.
"""

from __future__ import annotations

import base64
import collections
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import attrs
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
    runner_path,
)
from engines.model import DEFAULT_TENGO_MODULES
from registry.extract import FAILED, SKIPPED, WRITTEN, extract_scripts
from registry.providers import discover_providers

from .config import DEFAULT_CONFIG_FILE, ConfigError, EngineConfig, load_config
from .engine import ScriptEngine
from .logs import configure_logging

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
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"TOML configuration (default: {DEFAULT_CONFIG_FILE} when present).",
)
@click.option(
    "--scripts-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="External overrides root, scripts/<module>/<name>.<ext> (default: scripts).",
)
@click.option("--hot-reload/--no-hot-reload", default=None, help="Watch the scripts directory (default: on).")
@click.option("-v", "--verbose", count=True, help="Log more on stderr (-v info, -vv debug).")
@click.pass_context
def main(
    ctx: click.Context, config_path: Path | None, scripts_dir: Path | None, hot_reload: bool | None, verbose: int
) -> None:
    """Run and manage Tengo (.tengo) and Zygomys (.zy) scripts."""
    configure_logging(("WARNING", "INFO", "DEBUG")[min(verbose, 2)])
    ctx.obj = (config_path, scripts_dir, hot_reload)


def engine_config(ctx: click.Context) -> EngineConfig:
    config_path, scripts_dir, hot_reload = ctx.obj
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        usage_error(f"configuration: {exc}")
    if scripts_dir is not None:
        config = attrs.evolve(config, scripts_dir=scripts_dir)
    if hot_reload is not None:
        config = attrs.evolve(config, hot_reload=hot_reload)
    return config


def start_engine(ctx: click.Context, *, hot_reload: bool | None = None) -> ScriptEngine:
    config = engine_config(ctx)
    if hot_reload is not None:
        config = attrs.evolve(config, hot_reload=hot_reload)
    if config.runner_binary is None:
        try:
            runner_path()
        except RunnerNotFound as exc:
            usage_error(str(exc))
    return ScriptEngine.start(config)


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


@main.command("run")
@click.argument("module")
@click.argument("script")
@click.option("--input", "input_json", help="JSON object: the execution context (each key a global).")
@click.option("--timeout", type=click.FloatRange(min=0.001), help="Seconds (default: the configured limit).")
@click.pass_context
def run_command(ctx: click.Context, module: str, script: str, input_json: str | None, timeout: float | None) -> None:
    """Run the active version of MODULE/SCRIPT through the engine."""
    inp = parse_input(input_json)
    with start_engine(ctx, hot_reload=False) as engine:
        try:
            out = engine.execute(module, script, inp, timeout=timeout)
        except ScriptError as err:
            emit_error(err)
    emit_output(out)


@main.command("list")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    """The scripts the engine knows: module, script, language, source, checksum."""
    with start_engine(ctx, hot_reload=False) as engine:
        scripts = engine.status().scripts
    rows = [(s.module, s.name, s.language, s.source, s.checksum[:16]) for s in scripts]
    header = ("MODULE", "SCRIPT", "LANGUAGE", "SOURCE", "CHECKSUM")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@main.command("status")
@click.pass_context
def status_command(ctx: click.Context) -> None:
    """Engine status as JSON, right after start-up."""
    with start_engine(ctx) as engine:
        click.echo(json.dumps(engine.status().to_dict(), indent=2))


@main.command("extract")
@click.option("--dir", "target", type=click.Path(file_okay=False, path_type=Path), help="Default: the scripts dir.")
@click.option("--module", help="Only this module's scripts.")
@click.pass_context
def extract_command(ctx: click.Context, target: Path | None, module: str | None) -> None:
    """Write the embedded scripts to DIR/<module>/<file> as a starting point
    for overrides. Existing files are skipped, never overwritten."""
    config = engine_config(ctx)
    target = target or config.scripts_dir
    scripts = [s for p in discover_providers() for s in p.scripts()]
    if module is not None and not any(s.module == module for s in scripts):
        known = ", ".join(sorted({s.module for s in scripts})) or "none"
        usage_error(f"no embedded scripts for module {module!r} (modules: {known})")
    results = extract_scripts(scripts, target, module)
    for r in results:
        click.echo(f"{r.outcome:<8} {r.path}" + (f" ({r.reason})" if r.reason else ""))
    counts = collections.Counter(r.outcome for r in results)
    click.echo(
        f"{counts[WRITTEN]} written, {counts[SKIPPED]} skipped (already there), {counts[FAILED]} failed, into {target}"
    )
    sys.exit(1 if counts[FAILED] else 0)


if __name__ == "__main__":
    main()
