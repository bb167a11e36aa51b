"""Each Worker's `contract.js`: the shared facts (`infra.model.contract.EXPORTS`) as JavaScript constants, the
JSDoc `Env` typedef that `tsc` checks, the check of the Worker's bindings, and the one writer of its log lines
(`logLine`, to the shape `infra.model.contract.LOG` declares), all derived from the Python declarations the way
`wrangler types` derives `Env` from a wrangler config.

The files are committed (the Workers are uploaded module by module, without a build step); `make generate`
rewrites them and `tests/infra/test_contract.py` fails while one differs from a fresh generation. A binding
bound on every stack is a required property of `Env`; one with a condition (`bindings.When`) is optional, and
the generated check requires it exactly where the condition holds.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from enum import EnumType
from pathlib import Path

from infra.model.bindings import ENV, WORKER_SRC, Declared, Kind
from infra.model.contract import EXPORTS, LOG
from infra.model.naming import Role
from infra.model.settings import REPO_ROOT

FILE_NAME = "contract.js"
HEADER = ("// Generated from infra/model/contract.py and infra/model/bindings.py by `make generate`: do not edit.\n"
          "// @ts-check\n")
# Per binding kind: its type in @cloudflare/workers-types, and a method every binding of that kind has (how the
# check tells a real binding from a value of the wrong kind).
OBJECT_KINDS: Mapping[Kind, tuple[str, str]] = {
    Kind.R2: ("R2Bucket", "head"),
    Kind.D1: ("D1Database", "prepare"),
    Kind.QUEUE: ("Queue", "send"),
    Kind.SERVICE: ("Fetcher", "fetch"),
    Kind.RATE_LIMIT: ("RateLimit", "limit"),
}

_RUNTIME = r'''
/**
 * What is wrong with `env`: every binding this stack must have that is missing, of the wrong kind, or (text)
 * not in its format. Values are never quoted: some are secrets.
 * @param {object} env @returns {{name: string, problem: string}[]}
 */
export function bindingProblems(env) {
  const given = /** @type {Record<string, unknown>} */ (env);
  /** @type {{name: string, problem: string}[]} */
  const problems = [];
  for (const binding of BINDINGS) {
    if (binding.when && given[binding.when.name] !== binding.when.equals) continue;
    const value = given[binding.name];
    if (value === undefined) {
      problems.push({ name: binding.name, problem: `is missing (a ${binding.kind} binding)` });
    } else if (binding.pattern) {
      if (typeof value !== "string" || !binding.pattern.test(value)) {
        problems.push({ name: binding.name, problem: `must be ${binding.says}` });
      }
    } else if (typeof (/** @type {Record<string, unknown>} */ (value))[binding.method ?? ""] !== "function") {
      problems.push({ name: binding.name, problem: `is not a ${binding.kind} binding` });
    }
  }
  return problems;
}

/** Missing or malformed bindings: the Worker answers every request 503 `misconfigured`, naming them. */
export class Misconfigured extends Error {
  /** @param {{name: string, problem: string}[]} problems */
  constructor(problems) {
    const list = problems.map((p) => `${p.name} ${p.problem}`).join("; ");
    super(`read bindings of the ${WORKER} Worker failed: ${list}; they are declared in infra/model/bindings.py: ` +
      "redeploy the stack with pulumi up (locally: restart make dev)");
    /** @type {string[]} */
    this.bindings = problems.map((p) => p.name);
  }
}

/**
 * Write one log line: one JSON object with every field of `LOG.fields` (null where it says nothing) and those of
 * `LOG.detail` that are given; any other field is left out and named in `dropped`. Text is cut to `LOG.maxText`
 * characters and a URL loses its query (a signed URL's signature). Never pass a prompt, a token or a header.
 * @param {Record<string, unknown>} fields
 */
export function logLine(fields) {
  /** @type {Record<string, unknown>} */
  const line = {};
  for (const name of LOG.fields) line[name] = logValue(fields[name] ?? null);
  const dropped = [];
  for (const [name, value] of Object.entries(fields)) {
    if (LOG.detail.includes(name)) line[name] = logValue(value);
    else if (!LOG.fields.includes(name)) dropped.push(name);
  }
  if (dropped.length > 0) line.dropped = dropped;
  console.log(JSON.stringify(line));
}

/**
 * A value as a log line may hold it: text cut and without URL queries, a record's or list's entries the same
 * way one level down (deeper ones as text).
 * @param {unknown} value @param {boolean} [nested] @returns {unknown}
 */
function logValue(value, nested = false) {
  if (typeof value === "string") return value.replace(/(\/[^\s?#"']*)\?[^\s#"']*/g, "$1").slice(0, LOG.maxText);
  if (value === null || typeof value !== "object") return value;
  if (nested) return logValue(String(value));
  if (Array.isArray(value)) return value.map((item) => logValue(item, true));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, logValue(item, true)]));
}

/**
 * The API's one error shape (docs/api.md): `{"error": {"code", "message", "request_id", ...extra}}`.
 * @param {string} code @param {string} message @param {string} requestId @param {Record<string, unknown>} [extra]
 */
export function errorBody(code, message, requestId, extra = {}) {
  return { error: { code, message, request_id: requestId, ...extra } };
}
'''


def contract_path(role: Role) -> Path:
    return WORKER_SRC / str(role) / FILE_NAME


def render(role: Role) -> str:
    """The whole `contract.js` of one Worker."""
    parts = [HEADER, f"\nconst WORKER = {json.dumps(str(role))};\n"]
    for name, export in EXPORTS.items():
        if role in export.workers:
            doc = f"/**\n * {export.doc}\n * {_annotation(export.value)}\n */" if isinstance(export.value, Mapping) \
                else f"/** {export.doc} */"
            parts.append(f"\n{doc}\nexport const {name} = {_js(export.value)};\n")
    parts.append(_env_typedef(role, ENV[role]))
    parts.append(_bindings(ENV[role]))
    parts.append(f"\n/** The shape of every log line (infra/model/contract.py `LOG`). */\nconst LOG = {_js(LOG)};\n")
    parts.append(_RUNTIME)
    return "".join(parts)


def write_all() -> list[Path]:
    """Write every Worker's file; returns the paths that changed."""
    changed = []
    for role, text in generated().items():
        path = contract_path(role)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed


def stale() -> list[Path]:
    """The committed files that differ from a fresh generation (hand-edited, or a declaration changed)."""
    return [contract_path(role) for role, text in generated().items()
            if not contract_path(role).exists() or contract_path(role).read_text() != text]


def generated() -> dict[Role, str]:
    return {role: render(role) for role in ENV}


def relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def _js(value: object, indent: str = "") -> str:
    """A JavaScript literal for a contract value; containers are frozen, one entry a line when they are long."""
    if isinstance(value, EnumType):
        return _frozen("{}", [f"{m.name}: {json.dumps(m.value)}" for m in value], indent)  # type: ignore[attr-defined]
    if isinstance(value, re.Pattern):
        return _regex(value.pattern)
    inner = indent + "  "
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return _frozen("{}", [f"{_camel(f.name)}: {_js(getattr(value, f.name), inner)}" for f in fields], indent)
    if isinstance(value, Mapping):
        return _frozen("{}", [f"{json.dumps(str(k))}: {_js(v, inner)}" for k, v in value.items()], indent)
    if isinstance(value, tuple):
        return _frozen("[]", [_js(item, inner) for item in value], indent)
    if isinstance(value, str | int | float):
        return json.dumps(value)
    raise TypeError(f"render contract value failed: no JavaScript form for {type(value).__name__}")


def _frozen(brackets: str, entries: list[str], indent: str) -> str:
    opening, closing = brackets
    pad = " " if opening == "{" and entries else ""
    line = f"Object.freeze({opening}{pad}{', '.join(entries)}{pad}{closing})"
    if len(indent) + len(line) <= 100 and "\n" not in line:
        return line
    body = "".join(f"{indent}  {entry},\n" for entry in entries)
    return f"Object.freeze({opening}\n{body}{indent}{closing})"


def _regex(pattern: str) -> str:
    """Built from a string, so a `/` in the pattern needs no escaping; Python `re` and `RegExp` read these alike."""
    return f"new RegExp({json.dumps(pattern)})"


def _annotation(record: Mapping[object, object]) -> str:
    """The `@type` of a record, which JavaScript indexes by any string (an inferred type would not allow that)."""
    return f"@type {{Readonly<Record<string, {_ts_type(next(iter(record.values())))}>>}}"


def _ts_type(value: object) -> str:
    """The TypeScript type of a record's values (all alike), from its first one."""
    if isinstance(value, tuple):
        return "readonly string[]"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ", ".join(f"{_camel(f.name)}: {_ts_type(getattr(value, f.name))}" for f in dataclasses.fields(value))
        return f"{{{fields}}}"
    return "number"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _env_typedef(role: Role, declared: tuple[Declared, ...]) -> str:
    lines = [
        "",
        "/**",
        f" * The {role} Worker's `env`, derived from infra/model/bindings.py: a property in [brackets] is bound only",
        " * on stacks where its condition holds (and required there).",
        " * @typedef {object} Env",
    ]
    for entry in declared:
        js_type = OBJECT_KINDS[entry.kind][0] if entry.kind in OBJECT_KINDS else "string"
        name = f"[{entry.name}]" if entry.when else entry.name
        condition = f"; bound when {entry.when.name} is {json.dumps(entry.when.equals)}" if entry.when else ""
        lines.append(f" * @property {{{js_type}}} {name} {entry.doc}{condition}")
    lines.append(" */")
    return "\n".join(lines) + "\n"


def _bindings(declared: tuple[Declared, ...]) -> str:
    rows = []
    for entry in declared:
        row = {"name": json.dumps(entry.name), "kind": json.dumps(str(entry.kind))}
        if entry.format is not None:
            row |= {"pattern": _regex(entry.format.pattern), "says": json.dumps(entry.format.says)}
        else:
            row["method"] = json.dumps(OBJECT_KINDS[entry.kind][1])
        if entry.when:
            row["when"] = f"{{ name: {json.dumps(entry.when.name)}, equals: {json.dumps(entry.when.equals)} }}"
        rows.append("  { " + ", ".join(f"{key}: {value}" for key, value in row.items()) + " },")
    return "\n".join([
        "",
        "/**",
        " * Every binding as declared: text and secrets with the pattern their whole value must match, the others with",
        " * a method every binding of their kind has; `when`: bound only where that text binding has that value.",
        " * @typedef {{name: string, kind: string, pattern?: RegExp, says?: string, method?: string,",
        " *   when?: {name: string, equals: string}}} DeclaredBinding",
        " * @type {readonly DeclaredBinding[]}",
        " */",
        "const BINDINGS = Object.freeze([",
        *rows,
        "]);",
        "",
    ])
