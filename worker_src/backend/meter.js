// @ts-check
/**
 * What an invocation costs in D1, in the units D1 bills: a D1 binding that passes every statement to the real one
 * and hands each result's `meta` (`rows_read`, `rows_written`) to a hook. index.js and queue.js meter every request,
 * delivery and cron tick and put the sums in its log line, so Workers Logs say what each one cost, and
 * `python -m bench.footprint` measures what a run costs end to end (infra/ops/footprint.json).
 * tests/infra/query_plans.mjs watches the backend's statements through the same binding, and the bench's
 * instrumented backend (bench/instrumented_backend) times its round trips with it.
 */

/**
 * @typedef {object} Hooks
 * @property {(sql: string, params: unknown[]) => void} [bound]  a statement was bound
 * @property {(meta: D1Meta) => void} ran  a statement's result came back (each of a batch's)
 * @property {(ms: number, statements: number) => void} [answered]  a round trip to D1 (a batch is one) took `ms`
 * @typedef {{queries: number, rows_read: number, rows_written: number}} Usage
 */

/**
 * `db` with `hooks.bound` told of every statement as it is bound, `hooks.ran` of every result, batches
 * included, and `hooks.answered` of every round trip; `first()` runs as `all()` so that its meta is seen.
 * @param {D1Database} db @param {Hooks} hooks @returns {D1Database}
 */
export function watchD1(db, hooks) {
  /** @template T @param {number} statements @param {() => Promise<T>} call @returns {Promise<T>} */
  const timed = async (statements, call) => {
    if (!hooks.answered) return call();
    const started = Date.now();
    const answer = await call();
    hooks.answered(Date.now() - started, statements);
    return answer;
  };
  /** Bound statements handed out, by the real ones a batch must be given. */
  const real = new WeakMap();
  /** @param {D1PreparedStatement} statement @param {string} sql @returns {D1PreparedStatement} */
  const watched = (statement, sql) => {
    const proxy = new Proxy(statement, {
      get(target, name) {
        if (name === "bind") {
          return (/** @type {unknown[]} */ ...params) => {
            hooks.bound?.(sql, params);
            return watched(target.bind(...params), sql);
          };
        }
        if (name === "all" || name === "run") {
          return async () => {
            const result = await timed(1, () => target[name]());
            hooks.ran(result.meta);
            return result;
          };
        }
        if (name === "first") {
          return async (/** @type {string | undefined} */ column) => {
            const result = await timed(1, () => target.all());
            hooks.ran(result.meta);
            const row = /** @type {Record<string, unknown> | undefined} */ (result.results[0]);
            return row === undefined ? null : column === undefined ? row : row[column];
          };
        }
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    real.set(proxy, statement);
    return proxy;
  };
  return /** @type {D1Database} */ (/** @type {unknown} */ ({
    prepare: (/** @type {string} */ sql) => watched(db.prepare(sql), sql),
    batch: async (/** @type {D1PreparedStatement[]} */ statements) => {
      const results = await timed(statements.length, () => db.batch(statements.map((s) => real.get(s) ?? s)));
      for (const result of results) hooks.ran(result.meta);
      return results;
    },
  }));
}

/**
 * `env` with its `DB` metered, and the running sums; an `env` without a usable `DB` is left as it is (the binding
 * check reports it).
 * @template {{DB?: unknown}} E
 * @param {E} env @returns {{env: E, used: Usage}}
 */
export function metered(env) {
  /** @type {Usage} */
  const used = { queries: 0, rows_read: 0, rows_written: 0 };
  const db = /** @type {D1Database | undefined} */ (env.DB);
  if (typeof db?.prepare !== "function") return { env, used };
  const ran = (/** @type {D1Meta} */ meta) => {
    used.queries += 1;
    used.rows_read += meta.rows_read ?? 0;
    used.rows_written += meta.rows_written ?? 0;
  };
  return { env: { ...env, DB: watchD1(db, { ran }) }, used };
}
