"""Deploys the Qwen image-generation system to Cloudflare: R2 media bucket, D1 metadata database, job
queues (when async is on) and the backend and frontend Workers. Settings: stacks/<stack>.yaml."""

from infra.components.program import main

main()
