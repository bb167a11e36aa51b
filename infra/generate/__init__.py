"""Files derived from the stack model for the tools that cannot read Python: wrangler configs (`wrangler`)."""
