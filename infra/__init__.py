"""The infrastructure of the Qwen image system on Cloudflare: the Pulumi program and the operations CLI.

Packages, each importing only from the ones above it (tests/infra/test_layout.py holds the order):

- `infra.errors`      the exception hierarchy every package raises
- `infra.model`       what a stack is: validated settings, physical names, the shared contract, each Worker
- `infra.generate`    files derived from the model: local wrangler configs, each Worker's contract.js
- `infra.d1`          a D1 database from outside the Worker: SQL executors and the migration runner
- `infra.components`  the Pulumi program: one ComponentResource per capability, composed in `stack`
- `infra.plan`        the program evaluated offline under Pulumi's mocks: plan, tables, stack diff
- `infra.ops`         against real services: the admin API, Cloudflare's API (preflight, adopt), DashScope
- `infra.cli`         the `infra` command (`python -m infra`), one module per command group

`infra.schema` is an alias kept for Pulumi state written before this layout (see its docstring).
"""
