"""A stack's D1 database from outside the Worker: where SQL runs (`executors`: the local miniflare file or the
D1 HTTP API), the migration runner on top of them (`migrations`), and the run rollups checked against a recount
of the raw rows (`rollups`)."""
