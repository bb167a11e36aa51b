"""Files derived from the stack model for the tools that cannot read Python: local wrangler configs (`wrangler`)
and each Worker's committed `contract.js` (`contract`)."""
