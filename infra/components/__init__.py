"""The Pulumi program: one ComponentResource per capability (`media`, `metadata`, `queues`, `workers`), the
D1 schema as a dynamic resource (`schema`), their composition (`stack`) and the entry (`program`)."""
