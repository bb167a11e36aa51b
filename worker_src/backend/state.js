// @ts-check
/**
 * The run state machine, declared in infra/model/contract.py (`TRANSITIONS`) and generated into contract.js
 * (`NEXT`). `runs.transition()` turns it into a conditional UPDATE (`WHERE status IN (predecessors)`), so a
 * repeated or concurrent step (a queue redelivery, a replayed request) can never move a run backwards or out
 * of a terminal state.
 *
 *   queued ─▶ submitted ─▶ running ─▶ persisting ─▶ succeeded
 *      │          │           │           │
 *      └──────────┴───────────┴───────────┴──▶ failed | dead_lettered ─▶ queued (admin re-drive)
 *
 * The sync path creates a run as `running` (the provider call starts at once); the async path (queues)
 * creates it `queued` and moves through `submitted`.
 */

import { NEXT, STATUSES } from "./contract.js";

/** @param {string} to @returns {string[]} the statuses a run may be in to move to `to` */
export function predecessors(to) {
  if (!STATUSES.includes(to)) throw new Error(`unknown run status '${to}'`);
  return STATUSES.filter((from) => NEXT[from].includes(to));
}
