"""What the operations commands do against real services: the admin API of a deployed stack (`admin_api`),
read-only questions about a Cloudflare account (`cloudflare`), the DashScope key check (`upstream`), and on
top of them `preflight` (is a stack ready for `pulumi up`) and `adopt` (the import file of an existing
deployment)."""
