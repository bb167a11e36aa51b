/**
 * One Worker under wrangler's own `startWorker` (the API `wrangler dev` is built on), with the same config,
 * local state and dev registry, but without the DevTools inspector. `wrangler dev` always attaches one and
 * enables its Network domain, so workerd reports every chunk of every subrequest body to wrangler's inspector
 * proxy: tens of thousands of messages per 32 MiB download, many times the transfer time and ~17 MiB of the
 * proxy's memory per MiB of body. The benchmarks measure the Workers' own cost, so they start them here
 * (`LocalSystem(inspector=False)`); `make dev` keeps the inspector.
 *
 * Usage: node start_worker.mjs <wrangler config> <host> <port> <persist dir> [--test-scheduled], with the dev registry
 * in WRANGLER_REGISTRY_PATH (as `wrangler dev` reads it).
 * Prints wrangler's own lines (`Ready on ...`, one per request); stops on SIGTERM or SIGINT.
 */

import { unstable_startWorker } from "wrangler";

const [config, hostname, port, persist, ...flags] = process.argv.slice(2);
const registry = process.env.WRANGLER_REGISTRY_PATH;
if (!persist || !registry || flags.some((flag) => flag !== "--test-scheduled")) {
  console.error("usage: WRANGLER_REGISTRY_PATH=<dir> node start_worker.mjs <config> <host> <port> <persist dir> [--test-scheduled]");
  process.exit(2);
}
let worker;
try {
  worker = await unstable_startWorker({
    config,
    dev: {
      inspector: false,
      server: { hostname, port: Number(port) },
      persist,
      registry,
      testScheduled: flags.includes("--test-scheduled"),
      watch: false,
      liveReload: false,
    },
  });
  await worker.ready;
} catch (err) {
  // wrangler wraps the reason ("An error occurred when starting the server"); the cause says what is wrong.
  const reason = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  console.error(`start worker '${config}' failed: ${reason instanceof Error ? reason.message : reason}`);
  process.exit(1);
}
for (const signal of /** @type {const} */ (["SIGTERM", "SIGINT"])) {
  process.once(signal, () => worker?.dispose().finally(() => process.exit(0)));
}
