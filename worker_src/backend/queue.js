// @ts-check
/**
 * The `queue()` entry: both queues are consumed by this Worker and told apart by `batch.queue`. Messages of
 * a batch are handled concurrently and each is acked or retried explicitly, never the batch as a whole; one
 * log line per message (log.js: the message's id as `request_id`, `queue <name>` as its route, `ack`/`retry` as
 * its status, what the delivery did as its outcome, what it cost in D1: meter.js), never the message body.
 */

import { readConfig } from "./config.js";
import { handleJob, retry } from "./consumer.js";
import { Misconfigured } from "./contract.js";
import { handleDeadLetter } from "./deadletter.js";
import { parseJob } from "./jobs.js";
import { Invocation } from "./log.js";
import { metered } from "./meter.js";

/**
 * @param {MessageBatch<unknown>} batch @param {import("./config.js").Env} env
 * @returns {Promise<void>}
 */
export async function consume(batch, env) {
  const read = readConfig(env);
  if (!read.jobs) throw new Misconfigured([{ name: "ASYNC_ENABLED", problem: "is false, but this Worker consumes a queue" }]);
  /** @type {import("./config.js").AsyncConfig} */
  const cfg = { ...read, jobs: read.jobs };
  const handler =
    batch.queue === cfg.jobs.deadLetterQueue ? handleDeadLetter : batch.queue === cfg.jobs.queue ? handleJob : null;
  await Promise.all(
    batch.messages.map(async (message) => {
      const log = new Invocation(message.id, `queue ${batch.queue}`);
      const d1 = metered(env);
      const job = parseJob(message.body);
      if (job) log.about(job.run_id);
      /** @type {import("./consumer.js").Decision} */
      let decision;
      if (!handler) {
        decision = retry("no_consumer", cfg.jobs.initialDelaySeconds);
      } else if (!job) {
        decision = { action: "ack", outcome: "malformed" };
      } else {
        try {
          decision = await handler(d1.env, cfg, job, { id: message.id, attempts: message.attempts }, log);
        } catch (err) {
          log.failed(err);
          decision = retry("error", cfg.jobs.initialDelaySeconds);
        }
      }
      if (decision.action === "retry") message.retry({ delaySeconds: decision.delaySeconds });
      else message.ack();
      log.note({ seq: job?.seq ?? null, attempt: message.attempts, d1: d1.used });
      if (decision.action === "retry") log.note({ delay_seconds: decision.delaySeconds });
      log.end(decision.action, decision.outcome);
    }),
  );
}
