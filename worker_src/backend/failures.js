// @ts-check
/**
 * The failure cause of a run's error code, as infra/model/contract.py declares it (`FAILURE_CODES`): the exact
 * code, else the longest prefix (a key ending in `*`) it starts with, else `unclassified`. The ops summary sorts
 * its failures by cause with it, for `infra report` and the /ops "sync health" view alike.
 */

import { FAILURE_CAUSES, FAILURE_CODES } from "./contract.js";

const PREFIXES = Object.freeze(
  Object.keys(FAILURE_CODES).filter((key) => key.endsWith("*")).sort((a, b) => b.length - a.length),
);
const UNCLASSIFIED = "unclassified";

/** @param {string} code @returns {string} a key of FAILURE_CAUSES */
export function causeOf(code) {
  if (Object.hasOwn(FAILURE_CODES, code)) return FAILURE_CODES[code];
  const prefix = PREFIXES.find((key) => code.startsWith(key.slice(0, -1)));
  return prefix ? FAILURE_CODES[prefix] : UNCLASSIFIED;
}

/** @param {string} cause @returns {boolean} whether async processing would absorb it (a later retry fixes it) */
export function absorbed(cause) {
  return FAILURE_CAUSES[cause]?.absorbed ?? false;
}
