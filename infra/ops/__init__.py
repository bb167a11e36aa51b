"""What the operations commands do against real services: the admin API of a deployed stack (`admin_api`),
read-only questions about a Cloudflare account (`cloudflare`), the DashScope key check (`upstream`), and on
top of them `preflight` (is a stack ready for `pulumi up`), `adopt` (the import file of an existing
deployment) and `report` (a stack's evidence for the async decision, `evidence`, the runbook's rule on it,
`decision`, and its monthly cost, `cost`, priced from `prices.yaml` and the measured `footprint.json`)."""
