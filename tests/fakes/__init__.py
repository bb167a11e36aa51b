"""Local fakes of services that cannot run here, serving their documented shapes over HTTP (`cloudflare_api`)."""
