"""The Pulumi program (as a package) and the operations CLI of the Qwen image system on Cloudflare."""
