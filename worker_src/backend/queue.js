// @ts-check
/**
 * The `queue()` entry: both queues are consumed by this Worker and told apart by `batch.queue`. Messages of
 * a batch are handled concurrently and each is acked or retried explicitly, never the batch as a whole; one
 * log line per message, without the message body, with what it cost in D1 (meter.js).
 */

import { readConfig } from "./config.js";
import { handleJob, retry } from "./consumer.js";
import { Misconfigured } from "./contract.js";
import { handleDeadLetter } from "./deadletter.js";
import { parseJob } from "./jobs.js";
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
  if (!handler) {
    console.error(JSON.stringify({ queue: batch.queue, error: "no consumer for this queue in this Worker" }));
    batch.retryAll();
    return;
  }
  await Promise.all(
    batch.messages.map(async (message) => {
      const started = Date.now();
      const d1 = metered(env);
      const job = parseJob(message.body);
      /** @type {import("./consumer.js").Decision} */
      let decision;
      if (!job) {
        decision = { action: "ack", outcome: "malformed" };
      } else {
        try {
          decision = await handler(d1.env, cfg, job, { id: message.id, attempts: message.attempts });
        } catch (err) {
          console.error(JSON.stringify({ queue: batch.queue, message_id: message.id, error: String(err instanceof Error ? err.stack : err) }));
          decision = retry("error", cfg.jobs.initialDelaySeconds);
        }
      }
      if (decision.action === "retry") message.retry({ delaySeconds: decision.delaySeconds });
      else message.ack();
      console.log(
        JSON.stringify({
          queue: batch.queue,
          message_id: message.id,
          run_id: job?.run_id ?? null,
          seq: job?.seq ?? null,
          attempt: message.attempts,
          outcome: decision.outcome,
          action: decision.action,
          ...(decision.action === "retry" ? { delay_seconds: decision.delaySeconds } : {}),
          ms: Date.now() - started,
          d1: d1.used,
        }),
      );
    }),
  );
}
