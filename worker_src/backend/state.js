// @ts-check
/**
 * The run state machine. `runs.transition()` turns it into a conditional UPDATE (`WHERE status IN
 * (predecessors)`), so a repeated or concurrent step (a queue redelivery, a replayed request) can never
 * move a run backwards or out of a terminal state.
 *
 *   queued ─▶ submitted ─▶ running ─▶ persisting ─▶ succeeded
 *      │          │           │           │
 *      └──────────┴───────────┴───────────┴──▶ failed | dead_lettered ─▶ queued (admin re-drive)
 *
 * The sync path creates a run as `running` (the provider call starts at once); the async path (queues)
 * creates it `queued` and moves through `submitted`.
 */

export const STATUS = Object.freeze({
  QUEUED: "queued",
  SUBMITTED: "submitted",
  RUNNING: "running",
  PERSISTING: "persisting",
  SUCCEEDED: "succeeded",
  FAILED: "failed",
  DEAD_LETTERED: "dead_lettered",
});

/** @type {string[]} */
export const STATUSES = Object.values(STATUS);

const ENDINGS = [STATUS.FAILED, STATUS.DEAD_LETTERED];

/** @type {Readonly<Record<string, string[]>>} */
export const NEXT = Object.freeze({
  [STATUS.QUEUED]: [STATUS.SUBMITTED, STATUS.RUNNING, ...ENDINGS],
  [STATUS.SUBMITTED]: [STATUS.RUNNING, STATUS.PERSISTING, ...ENDINGS],
  [STATUS.RUNNING]: [STATUS.PERSISTING, ...ENDINGS],
  [STATUS.PERSISTING]: [STATUS.SUCCEEDED, ...ENDINGS],
  [STATUS.SUCCEEDED]: [],
  [STATUS.FAILED]: [STATUS.QUEUED],
  [STATUS.DEAD_LETTERED]: [STATUS.QUEUED],
});

/**
 * Statuses a run stops in until an operator re-drives it.
 * @type {readonly string[]}
 */
export const TERMINAL = Object.freeze([STATUS.SUCCEEDED, STATUS.FAILED, STATUS.DEAD_LETTERED]);

/** @param {string} to @returns {string[]} the statuses a run may be in to move to `to` */
export function predecessors(to) {
  if (!STATUSES.includes(to)) throw new Error(`unknown run status '${to}'`);
  return STATUSES.filter((from) => NEXT[from].includes(to));
}
