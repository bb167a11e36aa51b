"""A stack's D1 database from outside the Worker: where SQL runs (`executors`: the local miniflare file or the
D1 HTTP API) and the migration runner on top of them (`migrations`)."""
